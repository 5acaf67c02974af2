#!/usr/bin/env bash
# HTTP load on loopback, all in one run: a raw SwiftNIO server answering a fixed response (the
# ceiling here), dxcp-policy's /livez, validate, and durable deploys dispatched to the Gate
# emulator (wrk: one thread, 32 connections); then rounds of /livez against validate (32
# connections) and against gateway decisions (16 connections), back to back, with the median
# ratio. Server and client share the 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
(cd Benchmarks && swift build -c release --product raw-nio-server)
duration="${DURATION:-10s}"

"$bin/gate-emulator" --port 18100 --run-seconds 3600 >/dev/null & pids+=($!)
DXCP_DEV_JWT_SECRET="$secret" "$bin/dxcp-policy" serve --port 18101 --data-dir "$work/data" \
  --policy Benchmarks/bench-policy.yaml --gate-url http://127.0.0.1:18100 >"$work/serve.log" 2>&1 & pids+=($!)
"$bbin/raw-nio-server" 18102 >/dev/null & pids+=($!)
sleep 2

"$bbin/dxcp-bench" tokens "$secret" owner 256 > "$work/owner.tokens"
"$bbin/dxcp-bench" tokens "$secret" owner 2048 > "$work/gateway.tokens"
register_build http://127.0.0.1:18101

run() { echo "== $1"; shift; wrk -t1 -c"${CONNECTIONS:-32}" -d"$duration" --latency "$@" | grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors'; }
# One wrk run; prints "requests/s p99-ms".
rate() { wrk -t1 -c"$1" -d"${ROUND:-5s}" --latency "${@:2}" | awk '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} END {
  if (p ~ /ms$/) {sub(/ms$/,"",p)} else if (p ~ /us$/) {sub(/us$/,"",p); p=p/1000} else if (p ~ /s$/) {sub(/s$/,"",p); p=p*1000}
  printf "%.0f %.2f\n", r, p }'; }
# Rounds of a pair measured back to back; the ratio per round and its median (the VM's absolute
# figures drift by ±20% between runs; a ratio measured back to back much less).
pairs() {
  local label=$1 connections=$2 base=$3; shift 3
  local ratios=()
  for round in $(seq "${ROUNDS:-5}"); do
    read -r b bp < <(rate "$connections" "$base")
    read -r t tp < <(rate "$connections" "$@")
    ratio=$(awk -v t="$t" -v b="$b" 'BEGIN {printf "%.3f", t/b}')
    ratios+=("$ratio")
    echo "   round $round: /livez $b req/s (p99 $bp ms)   $label $t req/s (p99 $tp ms)   ratio $ratio"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {printf "   median ratio %s (min %s, max %s)\n", a[int((NR+1)/2)], a[1], a[NR]}'
}

run "raw SwiftNIO, fixed response" http://127.0.0.1:18102/
run "dxcp-policy GET /livez" http://127.0.0.1:18101/livez
TOKENS_FILE="$work/owner.tokens" run "dxcp-policy POST /v1/deployments/validate (allowed, 256 actors)" -s Benchmarks/validate.lua http://127.0.0.1:18101
echo "== validate / livez, 32 connections, rounds"
TOKENS_FILE="$work/owner.tokens" pairs validate 32 http://127.0.0.1:18101/livez -s Benchmarks/validate.lua http://127.0.0.1:18101
echo "== gateway decisions (NGINX flavour, 2048 actors, half reads, half deploys) / livez, 16 connections, rounds"
TOKENS_FILE="$work/gateway.tokens" pairs gateway 16 http://127.0.0.1:18101/livez -s Benchmarks/gateway.lua http://127.0.0.1:18101
# Last: the deploys leave thousands of executions for the poller to follow.
TOKENS_FILE="$work/owner.tokens" run "dxcp-policy POST /v1/deployments (durable reservation + Gate trigger + record, 256 actors)" -s Benchmarks/deploy.lua http://127.0.0.1:18101
