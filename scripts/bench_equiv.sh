#!/usr/bin/env bash
# The equiv benchmark on the paper's networks (needs ../shared/anchors beside the repo): fcnn7
# against fcnn7_float16 and fcnn7_quant16, delta 0.01, the first SAMPLES (10) test rows. Per row:
# the certified max |A − B|, the checked one, and, when numpy and onnxruntime are importable
# (PYTHON, default python3), onnxruntime's sampled maximum measured in the same run as the baseline
# (scripts/equiv_sampled.py) with the ratio certified / sampled; then seconds per sample.
set -euo pipefail
cd "$(dirname "$0")/.."
A=../shared/anchors/FANC
[ -d "$A" ] || { echo "SKIPPED: $A is not present"; exit 0; }
PY=${PYTHON:-python3}
N=${SAMPLES:-10}
cargo build --locked --release --bin twinverify
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for twin in fcnn7_float16 fcnn7_quant16; do
  nets="$A/proof_transfer/nets"
  ./target/release/twinverify equiv "$nets/fcnn7.onnx" "$nets/$twin.onnx" --data "$A/data/mnist_test.csv" \
    --scale 1/255 --samples "0..$N" --delta 0.01 --domain 0,1 --check epsilon --quiet --json "$out/$twin.json" >/dev/null \
    || [ $? -eq 4 ]
  if "$PY" -c 'import numpy, onnxruntime' 2>/dev/null; then
    "$PY" scripts/equiv_sampled.py "$nets/fcnn7.onnx" "$nets/$twin.onnx" "$A/data/mnist_test.csv" \
      --scale 1/255 --rows "0..$N" --delta 0.01 --domain 0,1 > "$out/$twin.sampled"
  else
    echo "note: $PY has no numpy/onnxruntime: no sampled baseline" >&2
    : > "$out/$twin.sampled"
  fi
  python3 - "$twin" "$out/$twin.json" "$out/$twin.sampled" <<'PY'
import json, re, statistics, sys
twin, doc, sampled_file = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
sampled = {int(m[1]): float(m[2]) for m in re.finditer(r"row (\d+): sampled max \|A - B\| = (\S+)", open(sampled_file).read())}
print(f"fcnn7 vs {twin}")
print(f"{'row':>4} {'certified':>12} {'attained':>12} {'sampled':>12} {'cert/sampled':>13} {'seconds':>8}")
ratios, secs = [], []
for r in doc["regions"]:
    c, a, s = r["epsilon"]["certified"], r["epsilon"]["attained"], sampled.get(r["sample"])
    ratio = c / s if s else None
    ratios += [ratio] if ratio else []
    secs.append(r["seconds"])
    print(f"{r['sample']:>4} {c:>12.4e} {a:>12.4e} {s if s else float('nan'):>12.4e} {ratio if ratio else float('nan'):>13.2f} {r['seconds']:>8.3f}")
summary = f"median {statistics.median(secs):.3f} s per sample"
if ratios:
    summary += f"; certified/sampled median {statistics.median(ratios):.2f}, max {max(ratios):.2f}, {sum(x <= 2 for x in ratios)}/{len(ratios)} within 2x"
print(summary + "\n")
PY
done
