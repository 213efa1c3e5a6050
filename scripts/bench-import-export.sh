#!/usr/bin/env bash
# Import/export benchmark with the shared perf driver (../shared/perf), against a release
# `iaso serve --demo` on loopback, on SQLite or a fresh PostgreSQL database.
#
#   scripts/bench-import-export.sh N [sqlite|postgres]   (N units, e.g. 100000 or 1000000)
#
# Steps: gen_country.py N (cached in $BENCH_DIR), import through the API
# (import_via_api.py: POST /api/tasks/create/importgpkg/ + polling), restart the server, then
# GET /api/orgunits/?csv|xlsx|gpkg=true&version=V one at a time, timing each and sampling the
# server's RSS every 50 ms. Prints one markdown line per step. PostgreSQL: needs
# scripts/pg-test-server.sh (started here on port 55499 in $BENCH_DIR/pg) unless
# BENCH_DATABASE_URL is given.
set -euo pipefail
N=${1:-100000}
BACKEND=${2:-sqlite}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PERF=${PERF_DIR:-$ROOT/../shared/perf}
[ -d "$PERF" ] || PERF=/work/shared/perf
BENCH_DIR=${BENCH_DIR:-/tmp/iaso-bench}
PORT=${BENCH_PORT:-18731}
BASE=http://127.0.0.1:$PORT
PASS=bench-password-123
BIN=${IASO_BIN:-$ROOT/target/release/iaso}
mkdir -p "$BENCH_DIR"
[ -x "$BIN" ] || cargo build --release -p iaso-cli --manifest-path "$ROOT/Cargo.toml"
python3 -c 'import requests' 2>/dev/null || pip install -q requests

GPKG=$BENCH_DIR/country$N.gpkg
[ -f "$GPKG" ] || python3 "$PERF/gen_country.py" "$N" "$GPKG" --seed 1

DATA=$(mktemp -d "$BENCH_DIR/data.XXXX")
export IASO_DATA_DIR=$DATA IASO_DEMO_PASSWORD=$PASS IASO_SECRET_KEY=bench-secret-key-of-at-least-32-characters
export IASO_MAX_BODY_BYTES=$((2 * 1024 * 1024 * 1024)) IASO_LOG=${IASO_LOG:-warn}
if [ "$BACKEND" = postgres ]; then
  if [ -z "${BENCH_DATABASE_URL:-}" ]; then
    URL=$("$ROOT/scripts/pg-test-server.sh" start "$BENCH_DIR/pg" 55499 | tail -1)
    DB=bench_$$
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
  "$BIN" serve --demo --bind 127.0.0.1:$PORT >"$DATA/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do curl -fs "$BASE/_health/" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start"; cat "$DATA/serve.log"; exit 1
}
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; PID=; }
trap stop EXIT
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null || echo 0; }

start
echo "| step | backend | units | time | figure | server RSS |"
echo "|---|---|---|---|---|---|"
OUT=$(python3 "$PERF/import_via_api.py" "$BASE" demo "$PASS" "$GPKG" --source "bench$N" \
  --create-source --version-number 1 --default-valid --poll 0.5 --timeout 7200 | tail -1)
RUN=$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["task_run_s"], d["wall_s"], d["status"])')
echo "| GPKG import (API, task run / wall) | $BACKEND | $N | ${RUN% *} s | $(echo "$RUN" | awk '{print $3}') | peak $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$PID/status) |"

stop
start
TOKEN=$(curl -fs -X POST "$BASE/api/token/" -H 'Content-Type: application/json' \
  -d "{\"username\":\"demo\",\"password\":\"$PASS\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
V=$(curl -fs "$BASE/api/datasources/" -H "Authorization: Bearer $TOKEN" | python3 -c "
import json,sys
d=json.load(sys.stdin); s=d.get('sources', d) if isinstance(d, dict) else d
src=[x for x in s if x['name']=='bench$N'][0]
print([v['id'] for v in src['versions'] if v['number']==1][0])")
for fmt in ${FORMATS:-csv xlsx gpkg geojson}; do
  # A fresh server per export: each peak is that export's own.
  stop; start
  base_rss=$(rss); peak=$base_rss
  t0=$(date +%s.%N)
  curl -fs "$BASE/api/orgunits/?$fmt=true&validation_status=VALID&version=$V" \
    -H "Authorization: Bearer $TOKEN" -o "$DATA/export.$fmt" &
  # (the token stays valid across restarts: same secret key)
  CPID=$!
  while kill -0 $CPID 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05; done
  wait $CPID
  t1=$(date +%s.%N)
  secs=$(echo "$t1 - $t0" | bc -l)
  size=$(stat -c %s "$DATA/export.$fmt")
  printf "| %s export | %s | %s | %.1f s | %.0f rows/s, %.1f MB | %.0f → %.0f MB |\n" \
    "$fmt" "$BACKEND" "$N" "$secs" "$(echo "$N / $secs" | bc -l)" "$(echo "$size / 1000000" | bc -l)" \
    "$(echo "$base_rss / 1024" | bc -l)" "$(echo "$peak / 1024" | bc -l)"
done
stop
[ -n "${KEEP_DATA:-}" ] && echo "data kept in $DATA" || rm -rf "$DATA"
