#!/usr/bin/env bash
# The LROM benchmark on the paper's networks (needs ../shared/anchors beside the repo): fcnn7
# against fcnn7_prune_tune5 and fcnn7_quant8 on the first 20 correctly classified MNIST test rows
# at delta 0.01, baseline and fast path measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
A=../shared/anchors/FANC
[ -d "$A" ] || { echo "SKIPPED: $A is not present"; exit 0; }
cargo build --locked --bin twinverify
./target/debug/twinverify bench \
  --original "$A/proof_transfer/nets/fcnn7.onnx" \
  --compact "$A/proof_transfer/nets/fcnn7_prune/fcnn7_prune_tune5.onnx" \
  --compact "$A/proof_transfer/nets/fcnn7_quant8.onnx" \
  --data "$A/data/mnist_test.csv" --scale 1/255 --count "${SAMPLES:-20}" --delta 0.01
