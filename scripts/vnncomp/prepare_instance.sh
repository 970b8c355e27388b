#!/usr/bin/env bash
# VNN-COMP: prepare_instance.sh v1 CATEGORY ONNX VNNLIB — checks that both files exist and
# that the network loads (twinverify keeps no state between instances, so nothing else to do).
set -euo pipefail
if [ "$#" -ne 4 ] || [ "$1" != "v1" ]; then
    echo "usage: prepare_instance.sh v1 CATEGORY ONNX VNNLIB" >&2; exit 1
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$ROOT/target/release/twinverify"; [ -x "$BIN" ] || BIN="$ROOT/target/debug/twinverify"
ONNX="$3"; VNNLIB="$4"
for f in "$ONNX" "$VNNLIB"; do [ -f "$f" ] || { echo "missing file: $f" >&2; exit 1; }; done
"$BIN" info "$ONNX" > /dev/null
