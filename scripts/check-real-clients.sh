#!/usr/bin/env bash
# Drives the real Python clients of Iaso against `iaso serve --demo`: iaso-client 1.2.0 and
# openhexa-toolbox 2.9.0 (pip-installed into a throw-away venv) on forms, form versions,
# submissions (list, detail, JsonLogic filter, attachments and their count, uploads through the
# mobile pair) and the submissions CSV export read as a dataframe; shapes are compared with the
# toolbox's recordings of the real Iaso in $SHARED_DIR/reference/iaso-data/openhexa-toolbox.
#
#   scripts/check-real-clients.sh            # builds the debug binary if needed
#   IASO_BIN=target/release/iaso scripts/check-real-clients.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SHARED_DIR:-$root/../shared}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${IASO_BIN:-$target/debug/iaso}
port=${IASO_CLIENTS_PORT:-18791}
work=$(mktemp -d /tmp/iaso-clients.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$bin" ]; then
  (cd "$root" && cargo build -p iaso-cli)
fi

python3 -m venv "$work/venv"
pip=("$work/venv/bin/pip" install --quiet --disable-pip-version-check)
# The clients without their heavy dependencies, then only what their iaso modules import.
"${pip[@]}" --no-deps iaso-client==1.2.0 openhexa-toolbox==2.9.0
"${pip[@]}" requests pyjwt polars fiona 2>&1 | grep -v "requires\|dependency resolver" || true

export IASO_DEMO_PASSWORD=real-clients-demo-pw
IASO_DATA_DIR="$work/data" IASO_BIND="127.0.0.1:$port" IASO_SECRET_KEY=real-clients-check-secret-key-0123456789abcdef \
  IASO_ACCESS_TOKEN_LIFETIME=86400 "$bin" serve --demo >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  if curl -fsS "http://127.0.0.1:$port/_health/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; echo "server died" >&2; exit 1; fi
  sleep 0.1
done

"$work/venv/bin/python" "$root/scripts/real-clients/drive.py" \
  "http://127.0.0.1:$port" demo "$IASO_DEMO_PASSWORD" \
  "$shared/reference/iaso-data/openhexa-toolbox/tests/iaso/responses/dataframe" \
  || { echo "---- server log"; tail -50 "$work/server.log"; exit 1; }
