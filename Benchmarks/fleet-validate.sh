#!/usr/bin/env bash
# validate@32 against one node on LMDB and one fleet replica on PostgreSQL, alternating, in one
# run; 4,096 actors, so no request meets a rate limit. Needs a PostgreSQL:
#   DXCP_BENCH_POSTGRES_URL=$(bash scripts/postgres.sh start /tmp/pg) ROUNDS=2 bash Benchmarks/fleet-validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
server=${DXCP_BENCH_POSTGRES_URL:?set DXCP_BENCH_POSTGRES_URL to a PostgreSQL URL}
"$bbin/dxcp-bench" tokens "$secret" owner 4096 > "$work/owner.tokens"
for round in $(seq "${ROUNDS:-2}"); do
  for kind in lmdb fleet; do
    if [ "$kind" = fleet ]; then
      db="fleet_validate_$(date +%s%N)"
      psql "$server" -qc "CREATE DATABASE $db"
      store=(--store "${server%/*}/$db")
    else
      store=(--data-dir "$work/data-$round")
    fi
    DXCP_DEV_JWT_SECRET="$secret" "$bin/dxcp-policy" serve --port 18501 "${store[@]}" --policy Benchmarks/bench-policy.yaml >"$work/serve.log" 2>&1 &
    pid=$!
    sleep 2
    register_build http://127.0.0.1:18501
    result=$(TOKENS_FILE="$work/owner.tokens" wrk -t1 -c32 -d"${ROUND:-6s}" --latency -s Benchmarks/validate.lua http://127.0.0.1:18501 | awk '
      /Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
      END {print r " req/s, p50 " p50 ", p99 " p99 ", non-2xx " bad+0}')
    echo "round $round $kind validate@32: $result"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
