#!/usr/bin/env bash
# VNN-COMP: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS TIMEOUT — writes RESULTS with
# sat | unsat | unknown | timeout (VNN-COMP spelling) and, after sat, the counterexample as
# ((X_0 v) ... (Y_0 v)) re-executed through tract. Gzipped .vnnlib.gz / .onnx.gz are unpacked.
set -euo pipefail
if [ "$#" -ne 6 ] || [ "$1" != "v1" ]; then
    echo "usage: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS TIMEOUT" >&2; exit 1
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$ROOT/target/release/twinverify"; [ -x "$BIN" ] || BIN="$ROOT/target/debug/twinverify"
ONNX="$3"; VNNLIB="$4"; RESULTS="$5"; TIMEOUT="$6"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
case "$ONNX" in *.gz) gunzip -c "$ONNX" > "$TMP/net.onnx"; ONNX="$TMP/net.onnx";; esac
case "$VNNLIB" in *.gz) gunzip -c "$VNNLIB" > "$TMP/prop.vnnlib"; VNNLIB="$TMP/prop.vnnlib";; esac
rm -f "$RESULTS"
status=0
"$BIN" verify "$VNNLIB" --network "N=$ONNX" --timeout "$TIMEOUT" --vnncomp-result "$RESULTS" > "$TMP/stdout" || status=$?
if [ ! -s "$RESULTS" ]; then
    # no answer written: the watchdog answered timed-out, or the run failed
    case "$(head -n 1 "$TMP/stdout")" in
        timed-out) echo "timeout" > "$RESULTS" ;;
        *) if [ "$status" -ne 0 ]; then echo "error"; else echo "unknown"; fi > "$RESULTS" ;;
    esac
fi
head -n 1 "$RESULTS"
