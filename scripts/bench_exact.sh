#!/usr/bin/env bash
# Exact mode's benchmark (issue 15) on the paper's networks (needs ../shared/anchors beside the
# repo): fcnn7 against fcnn7_prune_tune5 and fcnn7_quant8, first SAMPLES (10) correctly classified
# MNIST test rows, delta 0.01 and 0.001; relaxed mode (the baseline) and the branch and bound with
# BAB_SECONDS (2) per objective, measured in the same run. Release build: the search is CPU-bound.
set -euo pipefail
cd "$(dirname "$0")/.."
A=../shared/anchors/FANC
[ -d "$A" ] || { echo "SKIPPED: $A is not present"; exit 0; }
cargo build --locked --release --bin twinverify
./target/release/twinverify bench --mode exact \
  --original "$A/proof_transfer/nets/fcnn7.onnx" \
  --compact "$A/proof_transfer/nets/fcnn7_prune/fcnn7_prune_tune5.onnx" \
  --compact "$A/proof_transfer/nets/fcnn7_quant8.onnx" \
  --data "$A/data/mnist_test.csv" --scale 1/255 --count "${SAMPLES:-10}" --delta 0.01 --delta 0.001 \
  --bab-time-limit "${BAB_SECONDS:-2}" "$@"
