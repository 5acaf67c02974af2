#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: `postgres.sh start DIR` runs Debian's initdb into DIR and
# starts the server with pg_ctl on a free loopback port, as the `postgres` user (PostgreSQL refuses
# to run as root), and prints its URL; `postgres.sh stop DIR` stops it and removes DIR. For fault
# tests: `crash DIR` stops it at once (`-m immediate`: no shutdown checkpoint, as a crash),
# `resume DIR` starts it again on its port, `restart DIR` does both.
set -euo pipefail
verb=${1:?usage: postgres.sh start|stop|crash|resume|restart DIR}
dir=${2:?usage: postgres.sh start|stop|crash|resume|restart DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$verb" in
start)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
  as_postgres "$bindir/initdb" -D "$dir/data" -U dxcp --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # Durable commits as in production (fsync and synchronous_commit stay on); sockets only on loopback.
  echo "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=400" > "$dir/options"
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start </dev/null >/dev/null 2>>"$dir/pg_ctl.log" \
    || { cat "$dir/pg_ctl.log" "$dir/server.log" >&2; exit 1; }
  as_postgres "$bindir/psql" -h 127.0.0.1 -p "$port" -U dxcp -d postgres -qc "CREATE DATABASE dxcp_test" >/dev/null
  echo "postgres://dxcp@127.0.0.1:$port/dxcp_test"
  ;;
stop)
  if [ -d "$dir/data" ]; then as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  ;;
crash)
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
resume)
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start </dev/null >/dev/null 2>>"$dir/pg_ctl.log" \
    || { cat "$dir/pg_ctl.log" "$dir/server.log" >&2; exit 1; }
  ;;
restart)
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m immediate -o "$(cat "$dir/options")" restart </dev/null >/dev/null 2>>"$dir/pg_ctl.log" \
    || { cat "$dir/pg_ctl.log" "$dir/server.log" >&2; exit 1; }
  ;;
*) echo "usage: postgres.sh start|stop|crash|resume|restart DIR" >&2; exit 2 ;;
esac
