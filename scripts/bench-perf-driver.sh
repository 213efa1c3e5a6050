#!/usr/bin/env bash
# The shared perf driver (../shared/perf: run_all.sh, load.py) against a release `iaso serve
# --demo`, on the same 100k-unit country as the real Iaso's figures
# (../shared/perf/results/iaso-100k.md), on SQLite or a fresh PostgreSQL database.
#
#   scripts/bench-perf-driver.sh OUT_DIR [sqlite|postgres]
#
# Steps: a venv with `requests` (in $BENCH_DIR/venv), gen_country.py 100000 --seed 1 (cached in
# $BENCH_DIR), a fresh server, import_via_api.py (source perf100k, version 1, VALID), the
# version made the account's default (PUT /api/accounts/<id>/set-default-version/), a server
# restart, then run_all.sh (RSS sampled on the server) into OUT_DIR/<backend>-100k.md(.jsonl).
# ONLY/CONC/DUR are passed to run_all.sh as given (e.g. ONLY=submit_mobile CONC="4 8" DUR=30 for
# the ingest, which writes data). PostgreSQL: BENCH_DATABASE_URL, else a database is created on
# the server of scripts/pg-test-server.sh (started on port 55499 in $BENCH_DIR/pg).
set -euo pipefail
OUT_DIR=${1:?usage: $0 OUT_DIR [sqlite|postgres]}
BACKEND=${2:-sqlite}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PERF=${PERF_DIR:-$ROOT/../shared/perf}
[ -d "$PERF" ] || PERF=/work/shared/perf
BENCH_DIR=${BENCH_DIR:-/tmp/iaso-bench}
PORT=${BENCH_PORT:-18732}
BASE=http://127.0.0.1:$PORT
PASS=bench-password-123
BIN=${IASO_BIN:-$ROOT/target/release/iaso}
mkdir -p "$BENCH_DIR" "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -x "$BIN" ] || cargo build --release -p iaso-cli --manifest-path "$ROOT/Cargo.toml"
if [ ! -x "$BENCH_DIR/venv/bin/python" ]; then
  python3 -m venv "$BENCH_DIR/venv"
  "$BENCH_DIR/venv/bin/pip" install -q requests
fi
export PYTHON=$BENCH_DIR/venv/bin/python
PY=$PYTHON

GPKG=$BENCH_DIR/country100000.gpkg
[ -f "$GPKG" ] || "$PY" "$PERF/gen_country.py" 100000 "$GPKG" --seed 1

DATA=$(mktemp -d "$BENCH_DIR/driver.XXXX")
export IASO_DATA_DIR=$DATA IASO_DEMO_PASSWORD=$PASS IASO_SECRET_KEY=bench-secret-key-of-at-least-32-characters
export IASO_MAX_BODY_BYTES=$((2 * 1024 * 1024 * 1024)) IASO_LOG=${IASO_LOG:-warn}
if [ "$BACKEND" = postgres ]; then
  if [ -z "${BENCH_DATABASE_URL:-}" ]; then
    URL=$("$ROOT/scripts/pg-test-server.sh" start "$BENCH_DIR/pg" 55499 | tail -1)
    DB=driver_$$
    psql "$URL" -qc "CREATE DATABASE $DB" >/dev/null
    BENCH_DATABASE_URL=${URL%/*}/$DB
  fi
  export DATABASE_URL=$BENCH_DATABASE_URL
else
  unset DATABASE_URL || true
fi

PID=
start() {
  if curl -fs "$BASE/_health/" >/dev/null 2>&1; then echo "port $PORT is taken (BENCH_PORT=...)"; exit 1; fi
  "$BIN" serve --demo --bind 127.0.0.1:$PORT >>"$DATA/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -fs "$BASE/_health/" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start"; cat "$DATA/serve.log"; exit 1
}
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; PID=; }
trap stop EXIT

start
"$PY" "$PERF/import_via_api.py" "$BASE" demo "$PASS" "$GPKG" --source perf100k --create-source \
  --version-number 1 --default-valid --poll 0.5 --timeout 7200 --json-out "$OUT_DIR/$BACKEND-import.jsonl" | tail -1
"$PY" - "$BASE" "$PASS" <<'PY'
import sys, requests
base, password = sys.argv[1], sys.argv[2]
tok = requests.post(f"{base}/api/token/", json={"username": "demo", "password": password}).json()["access"]
h = {"Authorization": f"Bearer {tok}"}
me = requests.get(f"{base}/api/profiles/me/", headers=h).json()
account = me["account"]["id"]
sources = requests.get(f"{base}/api/datasources/", headers=h).json()["sources"]
src = [s for s in sources if s["name"] == "perf100k"][0]
version = [v["id"] for v in src["versions"] if v["number"] == 1][0]
r = requests.put(f"{base}/api/accounts/{account}/set-default-version/", json={"default_version": version}, headers=h)
r.raise_for_status()
print(f"default version of account {account}: {version}")
PY
stop
start
echo "server pid $PID; load: $(cut -d' ' -f1-3 /proc/loadavg)"
RSS_PID=$PID SOURCE=perf100k APP_ID=demo "$PERF/run_all.sh" "$BASE" demo "$PASS" "$OUT_DIR/$BACKEND-100k.md" "ours-$BACKEND"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
stop
[ -n "${KEEP_DATA:-}" ] && echo "data kept in $DATA" || rm -rf "$DATA"
