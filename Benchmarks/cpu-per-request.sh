#!/usr/bin/env bash
# Server CPU per request, for comparing builds: dxcp-policy pinned to CPU 1, wrk (and the Gate
# emulator) to CPU 0, so the two do not compete. Rounds of GET /livez and of validate (or, with
# LOAD=gateway, of gateway decisions as NGINX asks them), each the
# server's user+system time (from /proc) divided by the requests answered. Steadier than the
# throughput ratios of http-bench.sh (about ±0.3 µs against ±20% between runs), but it leaves out
# what a request costs the client and the kernel on the client's side.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { echo "needs taskset (util-linux)" >&2; exit 1; }
source Benchmarks/common.sh

taskset -c 0 "$bin/gate-emulator" --port 18100 --run-seconds 3600 >/dev/null & pids+=($!)
DXCP_DEV_JWT_SECRET="$secret" taskset -c 1 "$bin/dxcp-policy" serve --port 18101 --data-dir "$work/data" \
  --policy Benchmarks/bench-policy.yaml --gate-url http://127.0.0.1:18100 >"$work/serve.log" 2>&1 & server=$!; pids+=($server)
sleep 2
load="${LOAD:-validate}"
actors=256
[ "$load" = gateway ] && actors=2048
"$bbin/dxcp-bench" tokens "$secret" owner "$actors" > "$work/owner.tokens"
register_build http://127.0.0.1:18101
export TOKENS_FILE="$work/owner.tokens"

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# One wrk run; prints "µs-of-server-CPU-per-request requests".
measure() {
  local before after requests
  before=$(cpu)
  requests=$(taskset -c 0 wrk -t1 -c16 -d"${ROUND:-3s}" "$@" | awk '/requests in/ {print $1}')
  after=$(cpu)
  awk -v a="$before" -v b="$after" -v n="$requests" -v t="$ticks" 'BEGIN {if (n == 0) {print "wrk got no answers" > "/dev/stderr"; exit 1}; printf "%.2f %d\n", (b - a) / t * 1e6 / n, n}'
}

taskset -c 0 wrk -t1 -c16 -d2s -s "Benchmarks/$load.lua" http://127.0.0.1:18101 >/dev/null
ratios=()
for round in $(seq "${ROUNDS:-5}"); do
  read -r livez livez_n < <(measure http://127.0.0.1:18101/livez)
  read -r validate validate_n < <(measure -s "Benchmarks/$load.lua" http://127.0.0.1:18101)
  ratio=$(awk -v l="$livez" -v v="$validate" 'BEGIN {printf "%.3f", l / v}')
  ratios+=("$ratio")
  echo "round $round: /livez ${livez} µs/request ($livez_n)   $load ${validate} µs/request ($validate_n)   /livez ÷ $load $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median %s (min %s, max %s)\n", a[int((NR+1)/2)], a[1], a[NR]}'
