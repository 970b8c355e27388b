#!/usr/bin/env bash
# VNN-COMP: install_tool.sh v1 — system packages (scripts/deps.sh) and a release build.
set -euo pipefail
if [ "${1:-v1}" != "v1" ]; then echo "expected version string v1, got '$1'" >&2; exit 1; fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$ROOT/scripts/deps.sh"
cargo build --release --locked --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/twinverify" --version
