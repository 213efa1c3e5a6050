#!/usr/bin/env bash
# Build the seed corpus for `cargo fuzz run convert` from the conformance forms
# (xlsx), the crate's test data (xlsx, xls, csv) and small CSV forms.
# Usage: fuzz/seed.sh [SHARED_DIR]   (run from crates/iaso-xlsform)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARED="${1:-${SHARED_DIR:-/work/shared}}"
OUT="$HERE/corpus/convert"
mkdir -p "$OUT"
n=0
add() { # selector-byte file
  local sel="$1" f="$2"
  { printf "\\x$(printf %02x "$sel")"; cat "$f"; } > "$OUT/seed-$n"
  n=$((n + 1))
}
for f in "$SHARED"/conformance/xlsform/corpus/cases/*/data.xlsx "$HERE"/../tests/data/*.xlsx; do
  [[ -f "$f" ]] && add 0 "$f"
done
for f in "$HERE"/../tests/data/*.xls; do [[ -f "$f" ]] && add 1 "$f"; done
for f in "$HERE"/../tests/data/*.csv; do [[ -f "$f" ]] && add 2 "$f"; done
echo "seeded $n inputs into $OUT"
