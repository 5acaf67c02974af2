#!/usr/bin/env bash
# Durable deploys dispatched to the Gate emulator, measured in the same run as validate: rounds of
# validate (32 connections), deploy (8 connections: p50, p99) and deploy (32 connections: req/s),
# back to back, with the ratio deploy/validate at 32 connections per round and the medians.
# Every deploy is a full reservation committed durably, a trigger over libcurl on a fresh
# connection, and its execution recorded afterwards. Server, emulator and wrk share the 2 cores.
#   ROUNDS=5 ROUND=4s bash Benchmarks/deploy-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh

# Executions end after RUN_SECONDS, so the poller frees their slots as in a real run.
"$bin/gate-emulator" --port 18200 --run-seconds "${RUN_SECONDS:-1}" >/dev/null & pids+=($!)
DXCP_DEV_JWT_SECRET="$secret" "$bin/dxcp-policy" serve --port 18201 --data-dir "$work/data" \
  --policy Benchmarks/bench-policy.yaml --gate-url http://127.0.0.1:18200 >"$work/serve.log" 2>&1 & pids+=($!)
sleep 2
"$bbin/dxcp-bench" tokens "$secret" owner 256 > "$work/owner.tokens"
register_build http://127.0.0.1:18201
export TOKENS_FILE="$work/owner.tokens"

# One wrk run; prints "requests/s p50-ms p99-ms non-2xx".
measure() { wrk -t1 -c"$1" -d"${ROUND:-4s}" --latency "${@:2}" | awk '
  function ms(v) { if (v ~ /ms$/) {sub(/ms$/,"",v); return v} if (v ~ /us$/) {sub(/us$/,"",v); return v/1000} sub(/s$/,"",v); return v*1000 }
  /Requests\/sec/ {r=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /Non-2xx/ {bad=$NF}
  END {printf "%.0f %.2f %.2f %d\n", r, p50, p99, bad}'; }

ratios=(); tails=()
for round in $(seq "${ROUNDS:-5}"); do
  read -r v _ vp99 vbad < <(measure 32 -s Benchmarks/validate.lua http://127.0.0.1:18201)
  read -r d8 d8p50 d8p99 d8bad < <(measure 8 -s Benchmarks/deploy.lua http://127.0.0.1:18201)
  read -r d32 d32p50 d32p99 d32bad < <(measure 32 -s Benchmarks/deploy.lua http://127.0.0.1:18201)
  ratio=$(awk -v d="$d32" -v v="$v" 'BEGIN {printf "%.3f", d/v}')
  ratios+=("$ratio"); tails+=("$d8p99")
  echo "round $round: validate@32 $v req/s (p99 $vp99 ms, non-2xx $vbad) | deploy@8 $d8 req/s p50 $d8p50 ms p99 $d8p99 ms (non-2xx $d8bad) | deploy@32 $d32 req/s p50 $d32p50 ms p99 $d32p99 ms (non-2xx $d32bad) | deploy@32/validate@32 $ratio"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%s (min %s, max %s)", a[int((NR+1)/2)], a[1], a[NR]}'; }
echo "median deploy@32/validate@32: $(median "${ratios[@]}")"
echo "median deploy p99 at 8 connections: $(median "${tails[@]}") ms"
curl -s http://127.0.0.1:18201/metrics | grep -E '^dxcp_engine_(dispatches_total|dispatches_pending|reconciled_total)' || true
