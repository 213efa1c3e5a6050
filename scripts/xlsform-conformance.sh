#!/usr/bin/env bash
# XLSForm conformance: build the converter, score it on the shared corpus, and
# compare the four scores with the ratchet in conformance/xlsform-ratchet.json.
# Usage: scripts/xlsform-conformance.sh [--update]
#   SHARED_DIR (default: <repo>/../shared) points at the shared folder.
set -euo pipefail

ROOT="$(git rev-parse --show-toplevel)"
SHARED_DIR="${SHARED_DIR:-$ROOT/../shared}"
CORPUS="$SHARED_DIR/conformance/xlsform/corpus"
CHECK="$SHARED_DIR/conformance/xlsform/check.py"
RATCHET="$ROOT/conformance/xlsform-ratchet.json"
UPDATE=0
[[ "${1:-}" == "--update" ]] && UPDATE=1

if [[ ! -f "$CHECK" ]]; then
  echo "xlsform-conformance: $CHECK not found (set SHARED_DIR)" >&2
  exit 1
fi
if ! python3 -c 'import lxml' 2>/dev/null; then
  python3 -m pip install --quiet lxml || python3 -m pip install --quiet --break-system-packages lxml
fi

cargo build --release -p iaso-xlsform --bin xlsform-convert >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/xlsform-convert"

OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
python3 "$CHECK" --corpus "$CORPUS" --cmd "$BIN {input} --form-name {form_name} --json" \
  --jobs 2 --show-failures 20 | tee "$OUT"

python3 - "$OUT" "$RATCHET" "$UPDATE" <<'PY'
import json, re, sys
out, ratchet_path, update = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
text = open(out).read()
scores = {}
for key in ("valid", "identical", "rejected", "messages"):
    m = re.search(r"^%s[^:]*:\s+(\d+)/(\d+)" % key, text, re.M)
    if not m:
        sys.exit(f"xlsform-conformance: could not parse the '{key}' score")
    scores[key] = round(100.0 * int(m.group(1)) / int(m.group(2)), 1)
try:
    ratchet = json.load(open(ratchet_path))
except FileNotFoundError:
    ratchet = {}
if update:
    json.dump(scores, open(ratchet_path, "w"), indent=2)
    open(ratchet_path, "a").write("\n")
    print(f"xlsform-conformance: ratchet updated to {scores}")
    sys.exit(0)
failed, raised = [], []
for k, v in scores.items():
    best = ratchet.get(k, 0.0)
    if v < best:
        failed.append(f"{k}: {v}% < ratchet {best}%")
    elif v > best:
        raised.append(f"{k}: {v}% > ratchet {best}%")
print("xlsform-conformance scores:", ", ".join(f"{k} {v}%" for k, v in scores.items()))
if failed:
    print("xlsform-conformance: FAILED, scores dropped below the ratchet:\n  " + "\n  ".join(failed))
    sys.exit(1)
if raised:
    print("xlsform-conformance: scores rose; raise the ratchet with "
          "'scripts/xlsform-conformance.sh --update' and commit conformance/xlsform-ratchet.json:\n  "
          + "\n  ".join(raised))
print("xlsform-conformance: OK")
PY
