#!/usr/bin/env bash
# Writes one JSON document per command (OUT_DIR/COMMAND.json) from the fixtures, the examples
# scripts/json_schema.py infers schemas/output.schema.json from. tests/suite/json_schema.rs runs the
# same commands and validates their output against the committed schema.
#   bash scripts/json_examples.sh BINARY OUT_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: json_examples.sh BINARY OUT_DIR" >&2; exit 2; }
B=$1 O=$2 F=tests/fixtures
cd "$(dirname "$0")/.."
mkdir -p "$O"
D=(--data $F/twin_mlp_data.csv)
q() { "$@" >/dev/null 2>&1; }
$B info $F/twin_mlp.onnx --json >"$O/info.json"
$B eval $F/twin_mlp.onnx "${D[@]}" --row 0 --json >"$O/eval.json"
$B bounds $F/twin_mlp.onnx "${D[@]}" --row 0 --delta 0.01,0.05 --json >"$O/bounds.json"
$B compress $F/twin_mlp.onnx --prune 0.5 --out "$O/c.onnx" --json >"$O/compress.json"
$B sparsify $F/twin_mlp.onnx "${D[@]}" --rows 10 --out "$O/s.onnx" --json >"$O/sparsify.json"
q $B lrom $F/twin_mlp.onnx $F/twin_mlp_prune50.onnx "${D[@]}" --samples 0..6 --json "$O/lrom.json" --overwrite
q $B robust $F/twin_mlp.onnx "${D[@]}" --samples 0..6 --delta 0.01,0.05 --json "$O/robust.json" --overwrite
q $B boundary $F/twin_mlp.onnx "${D[@]}" --samples 0..6 --json "$O/boundary.json" --overwrite
q $B boundary $F/twin_mlp.onnx --reference $F/twin_mlp_prune50.onnx "${D[@]}" --samples 0..6 \
  --json "$O/boundary_pair.json" --overwrite
q $B resilience $F/twin_mlp.onnx "${D[@]}" --row 0 --radius 0.05 --json "$O/resilience.json" --overwrite
q $B equiv $F/equiv_torch.onnx $F/equiv_changed.onnx "${D[@]}" --samples 0..3 --json "$O/equiv.json" || true
q $B bench --original $F/twin_mlp.onnx --compact $F/twin_mlp_prune50.onnx "${D[@]}" --count 2 --json "$O/bench.json"
rm -f "$O"/*.jsonl "$O"/*.status.json "$O"/*.onnx
