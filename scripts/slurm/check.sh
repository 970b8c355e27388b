#!/usr/bin/env bash
# End-to-end check of the Slurm scripts on a single-node cluster on this machine:
#   scripts/slurm/check.sh BINARY
# Starts the cluster (cluster.sh start; it installs slurm-wlm and munge if missing), runs
# specs/matrix_fixtures.yaml once in a single process and once as a 3-task job array plus merge
# (submit.sh --wait), and fails unless the merged CSV has the same rows as the single run's CSV
# (order-insensitive, columns whose name contains "seconds" ignored) and the merge job printed the
# same tables (the summary's median-seconds column ignored). Prints both wall-clock times. A
# cluster that this script started is stopped at the end.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: check.sh BINARY" >&2; exit 2; }
BIN=$(realpath "$1")
cd "$(dirname "$0")/../.."
S=scripts/slurm
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

if ! sinfo -h >/dev/null 2>&1; then trap 'bash "$S/cluster.sh" stop' EXIT; fi
bash "$S/cluster.sh" start
mkdir -p target
T=$(realpath "$(mktemp -d target/slurm-check.XXXXXX)")
echo "slurm check in $T"

t0=$(now)
"$BIN" lrom --spec specs/matrix_fixtures.yaml --jsonl "$T/single.jsonl" --csv "$T/single.csv" \
  >"$T/single.out" 2>"$T/single.err" || { tail -n 20 "$T/single.err" >&2; exit 1; }
t1=$(now)
TWINVERIFY=$BIN bash "$S/submit.sh" --wait lrom specs/matrix_fixtures.yaml "$T/slurm" 3
t2=$(now)
echo "single process: $(secs "$t0" "$t1") s; 3-task array from submit to merge done: $(secs "$t1" "$t2") s"

python3 - "$T/single.csv" "$T/slurm/merged.csv" "$T/single.out" "$T"/slurm/merge-*.out <<'EOF'
import csv, sys

def rows(path):
    with open(path, newline="") as f:
        head, *body = list(csv.reader(f))
    keep = [i for i, h in enumerate(head) if "seconds" not in h]
    return [head[i] for i in keep], sorted(tuple(r[i] for i in keep) for r in body)

def tables(path):
    """Blocks of lines from a table header (the matrices' 'implication matrix …', the summary's
    'N1 ⇐ N2 …') to a blank or 'wrote' line, whitespace normalised; in the summary table (header
    with 'median s') each row loses its last field."""
    blocks, cur, timing = [], None, False
    for line in open(path, encoding="utf-8"):
        words = line.split()
        if cur is None:
            if line.startswith(("implication", "N1 ⇐ N2")):
                cur, timing = [" ".join(words)], "median s" in line or "seconds" in line
        elif not words or words[0] == "wrote":
            blocks.append(cur)
            cur = None
        else:
            cur.append(" ".join(words[:-1] if timing else words))
    return blocks + ([cur] if cur else [])

def fail(msg):
    sys.exit("slurm check FAILED: " + msg)

(h1, r1), (h2, r2) = rows(sys.argv[1]), rows(sys.argv[2])
if h1 != h2:
    fail(f"CSV columns differ: single {h1} vs merged {h2}")
if r1 != r2:
    only1, only2 = sorted(set(r1) - set(r2)), sorted(set(r2) - set(r1))
    fail(f"CSV rows differ ({len(r1)} single, {len(r2)} merged); only in single: {only1[:3]}; "
         f"only in merged: {only2[:3]}")
t1, t2 = tables(sys.argv[3]), tables(sys.argv[4])
if not any("median s" in b[0] for b in t2):
    fail(f"no summary table in {sys.argv[4]}")
for b in t2:
    if b not in t1:
        fail("table printed by merge differs from the single run's:\n" + "\n".join(b))
print(f"slurm check passed: {len(r1)} CSV rows and {len(t2)} tables equal apart from timings")
EOF
rm -rf "$T" # kept only when the check fails
