#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL server for the test suite.
#
#   scripts/pg-test-server.sh start DIR PORT   # prints the DATABASE_URL to use
#   scripts/pg-test-server.sh stop DIR
#
# The cluster lives in DIR (initdb'd on first start), listens on 127.0.0.1:PORT only and trusts
# local connections. PostgreSQL refuses to run as root, so when called as root the cluster is
# owned by and run as the `postgres` system user (created if missing). The server binaries are
# installed with apt when absent.
set -euo pipefail

cmd=${1:?usage: $0 start|stop DIR [PORT]}
dir=${2:?usage: $0 start|stop DIR [PORT]}
port=${3:-55433}

find_bin() {
  local b
  for b in /usr/lib/postgresql/*/bin; do
    if [ -x "$b/initdb" ]; then echo "$b"; return 0; fi
  done
  return 1
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  echo "PostgreSQL server not found; installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

run_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres; chown postgres "$dir"; }
    if [ ! -f "$dir/PG_VERSION" ]; then
      run_as_owner "'$bin/initdb' -D '$dir' -U iaso --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
    fi
    if ! run_as_owner "'$bin/pg_ctl' -D '$dir' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100\" start >/dev/null"; then
      echo "PostgreSQL did not start; its log ($dir/server.log) says:" >&2
      cat "$dir/server.log" >&2 || true
      exit 1
    fi
    echo "postgres://iaso@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$dir/postmaster.pid" ]; then
      run_as_owner "'$bin/pg_ctl' -D '$dir' -m fast -w stop >/dev/null"
    fi
    ;;
  *)
    echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
