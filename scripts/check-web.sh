#!/usr/bin/env bash
# The web dashboard's CI: npm ci, unit tests, type check, a rebuild of the bundle that must be
# byte-identical to the committed web/dist (the binary embeds web/dist), then the Playwright
# end-to-end suite in Debian's chromium against a real `iaso serve --demo` on a free port.
#
#   scripts/check-web.sh            everything
#   SKIP_E2E=1 scripts/check-web.sh everything but the browser tests
#
# Screenshots (1366×768) land in web/screenshots/ (gitignored).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
web="$root/web"
cd "$web"
say() { printf -- '--- %s\n' "$*"; }

command -v npm >/dev/null || { echo "check-web: npm is missing (Node.js 20.19+ needed)" >&2; exit 1; }

say "npm ci"
npm ci --no-audit --no-fund --loglevel=error

say "unit tests (vitest)"
npx vitest run

say "type check (vue-tsc)"
npx vue-tsc --noEmit -p tsconfig.json

say "rebuild: the committed web/dist must match the sources"
fresh=$(mktemp -d /tmp/iaso-web-dist.XXXXXX)
server_pid=""
work=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$fresh"
  if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
npx vite build --outDir "$fresh" --emptyOutDir --logLevel warn
if ! diff -r "$fresh" "$web/dist" >/dev/null; then
  echo "check-web: web/dist differs from a fresh build of web/src:" >&2
  diff -rq "$fresh" "$web/dist" >&2 || true
  echo "run 'cd web && npm run build' and commit web/dist" >&2
  exit 1
fi
node scripts/bundle-report.mjs | tail -1

if [ "${SKIP_E2E:-}" = 1 ]; then
  say "end-to-end tests skipped (SKIP_E2E=1)"
  exit 0
fi

say "chromium"
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "check-web: $chromium is missing; install Debian's chromium package" >&2
    exit 1
  fi
fi
"$chromium" --version 2>/dev/null | head -1 || true

say "iaso serve --demo"
cargo build --locked --quiet --bin iaso --manifest-path "$root/Cargo.toml"
iaso="${CARGO_TARGET_DIR:-$root/target}/debug/iaso"
work=$(mktemp -d /tmp/iaso-web-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export IASO_DATA_DIR="$work/data"
export IASO_SECRET_KEY="e2e-secret-key-$(date +%s%N)-0123456789abcdef"
export IASO_BIND="127.0.0.1:$port"
export IASO_PUBLIC_URL="http://127.0.0.1:$port"
export IASO_MAIL_MODE=folder
export IASO_MAIL_FOLDER="$work/mails"
export IASO_DEMO_PASSWORD="demo-e2e-$(date +%s)"
export IASO_E2E_SUPERUSER=e2e_root
export IASO_E2E_SUPERUSER_PASSWORD="root-e2e-$(date +%s)"
mkdir -p "$IASO_MAIL_FOLDER"
IASO_SUPERUSER_PASSWORD="$IASO_E2E_SUPERUSER_PASSWORD" "$iaso" create-superuser \
  --username "$IASO_E2E_SUPERUSER" --email root@example.org >/dev/null
"$iaso" serve --demo >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/_health/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "check-web: iaso serve stopped:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/_health/" >/dev/null

say "end-to-end tests (Playwright, chromium)"
export IASO_E2E_URL="http://127.0.0.1:$port"
export IASO_E2E_MAIL_DIR="$IASO_MAIL_FOLDER"
export IASO_E2E_SCREENSHOTS="$web/screenshots"
export CHROMIUM_PATH="$chromium"
if ! npx playwright test; then
  echo "check-web: end-to-end tests failed; server log:" >&2
  tail -50 "$work/server.log" >&2
  exit 1
fi
