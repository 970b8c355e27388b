#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test. Tests that need
# ../shared/anchors, Gurobi or CPLEX print SKIPPED with the reason when those are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --locked "$@"
