#!/usr/bin/env bash
# Drives the real Iaso clients against `iaso serve --demo`: iaso-client 1.2.0 and
# openhexa-toolbox 2.9.0, installed from PyPI into a virtualenv (kept in the target dir, reused when
# present).
#  - georegistry calls (org unit types, org units, data sources, groups, projects), checked against
#    the clients' own response types (scripts/real_clients_check.py);
#  - forms, form versions, submissions (list, detail, JsonLogic filter, attachments, uploads through
#    the mobile pair) and the submissions CSV export read as a dataframe, compared with the
#    toolbox's recordings of the real Iaso in $SHARED_DIR/reference/iaso-data/openhexa-toolbox
#    (scripts/real-clients/drive.py).
#
#   scripts/check-real-clients.sh            # builds target/debug/iaso if needed
#   IASO_BIN=target/release/iaso scripts/check-real-clients.sh
#
# Idempotent: a fresh data folder and a free port each run; the server is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED_DIR:-$root/../shared}
target=${CARGO_TARGET_DIR:-$root/target}
venv=${IASO_CLIENTS_VENV:-$target/real-clients-venv}
bin=${IASO_BIN:-$target/debug/iaso}
password=${IASO_DEMO_PASSWORD:-real-clients-demo-pass}
units=${IASO_CLIENTS_UNITS:-3000}

say() { printf '[real-clients] %s\n' "$*"; }
die() { printf '[real-clients] FAILED: %s\n' "$*" >&2; exit 1; }

# 1. The clients, pinned, without their unrelated heavy dependencies (iaso-clients.md §4).
if ! "$venv/bin/python" -c 'import iaso_client, openhexa.toolbox.iaso, fiona' 2>/dev/null; then
    say "creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
    "$venv/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
    "$venv/bin/pip" install --quiet --no-deps "iaso-client==1.2.0" "openhexa-toolbox==2.9.0" \
        || die "pip install of the clients failed"
    "$venv/bin/pip" install --quiet requests pyjwt polars fiona || die "pip install of requests/pyjwt/polars/fiona failed"
fi
"$venv/bin/python" -c 'import iaso_client, openhexa.toolbox.iaso' || die "the clients do not import"

# 2. The server, on a free port with a fresh data folder.
if [ -z "${IASO_BIN:-}" ]; then
    say "building the iaso binary"
    cargo build --quiet -p iaso-cli || die "cargo build failed"
fi
[ -x "$bin" ] || die "no binary at $bin"
data=$(mktemp -d /tmp/iaso-real-clients.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
log="$data/server.log"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$data"
}
trap cleanup EXIT
say "starting iaso serve --demo (${units} units) on 127.0.0.1:$port"
IASO_DATA_DIR="$data" IASO_DEMO_PASSWORD="$password" IASO_LOG="warn,sqlx=error" \
    IASO_SECRET_KEY=real-clients-check-secret-key-0123456789abcdef IASO_ACCESS_TOKEN_LIFETIME=86400 \
    "$bin" serve --demo --demo-units "$units" --bind "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/_health/" >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || { tail -c 3000 "$log" >&2; die "the server exited"; }
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/_health/" >/dev/null || { tail -c 3000 "$log" >&2; die "the server did not answer"; }

# 3. The clients' calls and shape checks.
if ! SHARED_DIR="$shared" "$venv/bin/python" "$root/scripts/real_clients_check.py" "http://127.0.0.1:$port" demo "$password"; then
    say "server log (tail):"
    tail -c 3000 "$log" >&2
    die "a georegistry real-client check failed"
fi
if ! "$venv/bin/python" "$root/scripts/real-clients/drive.py" "http://127.0.0.1:$port" demo "$password" \
    "$shared/reference/iaso-data/openhexa-toolbox/tests/iaso/responses/dataframe"; then
    say "server log (tail):"
    tail -c 3000 "$log" >&2
    die "a forms/submissions real-client check failed"
fi
say "all real-client checks passed"
