#!/usr/bin/env bash
# Export benchmark: streams the CSV (or XLSX) export of one form from a running server and
# reports rows/s and the server's peak RSS while it runs (sampled every 20 ms from /proc).
#
#   scripts/bench-export.sh BASE USER PASS FORM_ID SERVER_PID [csv|xlsx]
set -euo pipefail
base=$1 user=$2 pass=$3 form=$4 pid=$5 fmt=${6:-csv}
token=$(curl -fsS -X POST "$base/api/token/" -H 'Content-Type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$pass\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["access"])')
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
before=$(rss)
peak_file=$(mktemp)
( peak=0; while kill -0 "$pid" 2>/dev/null && [ ! -e "$peak_file.stop" ]; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$peak_file"; sleep 0.02; done ) &
sampler=$!
start=$(date +%s.%N)
bytes=$(curl -fsS "$base/api/instances/?form_id=$form&$fmt=true" -H "Authorization: Bearer $token" -o /tmp/bench-export.out -w '%{size_download}')
end=$(date +%s.%N)
touch "$peak_file.stop"; wait "$sampler" 2>/dev/null || true
rows=$(python3 - "$fmt" <<'PY'
import sys
if sys.argv[1] == "csv":
    import csv
    with open("/tmp/bench-export.out", newline="", encoding="utf-8") as f:
        print(sum(1 for _ in csv.reader(f)) - 1)
else:
    import zipfile, re
    z = zipfile.ZipFile("/tmp/bench-export.out")
    print(len(re.findall(rb"<row ", z.read("xl/worksheets/sheet1.xml"))) - 2)
PY
)
peak=$(cat "$peak_file" 2>/dev/null || echo "$before")
rm -f "$peak_file" "$peak_file.stop"
python3 -c "
rows, secs, b, before, peak = $rows, $end - $start, $bytes, $before, $peak
print(f'$fmt export: {rows} rows, {b/1e6:.1f} MB in {secs:.2f} s = {rows/secs:,.0f} rows/s; server RSS {before/1024:.0f} MB before, peak {peak/1024:.0f} MB (+{(peak-before)/1024:.0f} MB)')"
