#!/usr/bin/env bash
# The main job on bundled fixtures: installs what is missing, builds, then runs the LROM /
# implication analysis of the MLP fixture against its pruned and quantised twins, and its chart.
# Outputs go to target/demo (replaced on every run); nothing is written into the repository.
# cargo build only checks the binary when it is up to date (about a second).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --locked --bin twinverify
bin=./target/debug/twinverify
out=target/demo
$bin info tests/fixtures/twin_mlp.onnx
echo
$bin lrom --spec specs/twin_mlp.yaml --csv $out/twin_mlp.csv --json $out/twin_mlp.json --overwrite
echo
$bin plot $out/twin_mlp.csv --out $out/twin_mlp.svg
