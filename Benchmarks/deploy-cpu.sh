#!/usr/bin/env bash
# Where the cores go, per request: validate@32 and deploy@32 against a fresh server and Gate
# emulator (unpinned, as deploy-bench.sh runs them). For each load, the CPU time of the server,
# of the emulator and of the whole machine (/proc/stat: wrk, the kernel and anything else too)
# divided by the requests answered, and how busy the cores were during the run. A deploy's CPU is
# counted until its execution has ended and the poller has freed its slot (DRAIN seconds after
# the run), so that the poll and the ended state are in it.
#   ROUNDS=3 ROUND=4s bash Benchmarks/deploy-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh

ticks=$(getconf CLK_TCK)
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine_cpu() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# measure CONNECTIONS DRAIN_SECONDS SCRIPT: one wrk run; prints requests, req/s, and per request
# µs of server, emulator and machine CPU, and the cores' busy share during the run.
measure() {
  local s0 e0 m0 s1 e1 m1 out requests rate elapsed m_run
  s0=$(proc_cpu "$serve") e0=$(proc_cpu "$emulator") m0=$(machine_cpu)
  out=$(wrk -t1 -c"$1" -d"${ROUND:-4s}" -s "$3" http://127.0.0.1:18261)
  m_run=$(machine_cpu)
  sleep "$2"
  s1=$(proc_cpu "$serve") e1=$(proc_cpu "$emulator") m1=$(machine_cpu)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  elapsed=$(awk '/requests in/ {v=$4; sub(/s,$/,"",v); print v}' <<<"$out")
  rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  awk -v n="$requests" -v r="$rate" -v t="$ticks" -v el="$elapsed" -v cores="$(nproc)" \
    -v s="$((s1 - s0))" -v e="$((e1 - e0))" -v m="$((m1 - m0))" -v mr="$((m_run - m0))" \
    'BEGIN {printf "%6.0f req/s  per request: server %4.0f µs, emulator %4.0f µs, machine %4.0f µs; cores %3.0f%% busy", r, s/t*1e6/n, e/t*1e6/n, m/t*1e6/n, 100*mr/t/(el*cores)}'
}

"$bbin/dxcp-bench" tokens "$secret" owner 256 > "$work/owner.tokens"
export TOKENS_FILE="$work/owner.tokens"
for round in $(seq "${ROUNDS:-3}"); do
  data=$(mktemp -d -p "$work")
  "$bin/gate-emulator" --port 18260 --run-seconds "${RUN_SECONDS:-1}" >/dev/null & emulator=$!
  DXCP_DEV_JWT_SECRET="$secret" "$bin/dxcp-policy" serve --port 18261 --data-dir "$data/data" --policy Benchmarks/bench-policy.yaml \
    --gate-url http://127.0.0.1:18260 >"$data/serve.log" 2>&1 & serve=$!
  pids+=("$emulator" "$serve")
  sleep 2
  register_build http://127.0.0.1:18261
  echo "round $round validate@32 $(measure 32 0 Benchmarks/validate.lua)"
  echo "round $round deploy@32   $(measure 32 "${DRAIN:-6}" Benchmarks/deploy.lua)"
  kill "$emulator" "$serve"; wait "$emulator" "$serve" 2>/dev/null || true
done
