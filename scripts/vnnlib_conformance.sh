#!/usr/bin/env bash
# Runs the PyPI conformance suite vnnlib-satisfactory 1.0.1 against twinverify (its `supports`
# answers decide which cases run), prints the report and the CLI compliance checks.
# Needs python3 with venv; the suite is installed into target/conformance-venv.
#   bash scripts/vnnlib_conformance.sh            # TIMEOUT=10 seconds per case by default
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --locked --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/debug/twinverify"
VENV="$ROOT/target/conformance-venv"
if [ ! -x "$VENV/bin/vnnlib-satisfactory" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet vnnlib-satisfactory==1.0.1
fi
WORK="$ROOT/target/conformance"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
"$VENV/bin/vnnlib-satisfactory" run --solver "$BIN" --timeout "${TIMEOUT:-10}" | tail -n 3 || true
# `report view` exits 1 when any case is not a pass (suspects included): keep going
"$VENV/bin/vnnlib-satisfactory" report view | tail -n 40 || true
for check in opset vnnlib serialise-assignments; do
    "$VENV/bin/vnnlib-satisfactory" compliance "$check" --solver "$BIN" | tail -n 1
done
