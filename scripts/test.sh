#!/usr/bin/env bash
# The test command (exactly what .ci/run runs): installs what is missing, checks formatting and
# lints, then runs every test and the Slurm job-array check, and lists the checks that did not
# run. Tests that need ../shared/anchors or cbc/glpsol fail under CI=true when those are missing
# (CI always has them); elsewhere they are skipped and listed, as are the opt-in ones
# (TWINVERIFY_SLOW, Gurobi, CPLEX).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
skipped=target/skipped-checks.txt
mkdir -p target && rm -f "$skipped"
cargo test --locked "$@"
# Slurm job arrays for real, on a single-node cluster on this machine (installs slurm-wlm and
# munge if missing; about 30 s once installed). TWINVERIFY_SLURM=0 leaves it out, e.g. where
# there is no root.
if [ "${TWINVERIFY_SLURM:-1}" != 0 ]; then
  bash scripts/slurm/check.sh target/debug/twinverify
else
  echo "slurm job-array check: left out (TWINVERIFY_SLURM=0)" >>"$skipped"
fi
if [ -s "$skipped" ]; then
  echo "checks that did not run ($(sort -u "$skipped" | wc -l)):"
  sort -u "$skipped" | sed 's/^/  /'
fi
