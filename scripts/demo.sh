#!/usr/bin/env bash
# The main job on bundled fixtures: installs what is missing, builds, then runs the LROM /
# implication analysis of the MLP fixture against its pruned and quantised twins, and its chart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --locked --bin twinverify
./target/debug/twinverify info tests/fixtures/twin_mlp.onnx
echo
./target/debug/twinverify lrom --spec specs/twin_mlp.yaml
echo
./target/debug/twinverify plot out/twin_mlp.csv --out out/twin_mlp.svg
