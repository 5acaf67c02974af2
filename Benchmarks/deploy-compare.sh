#!/usr/bin/env bash
# Two dxcp-policy binaries side by side, alternated: for each, a fresh server and Gate emulator,
# then validate@32, deploy@8 and deploy@32 (ROUND each). For before/after figures of a change:
#   git worktree add /tmp/before <rev> && (cd /tmp/before && swift build -c release --product dxcp-policy)
#   ROUNDS=2 bash Benchmarks/deploy-compare.sh /tmp/before/.build/release/dxcp-policy .build/release/dxcp-policy
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
before=$1 after=$2

measure() { wrk -t1 -c"$1" -d"${ROUND:-4s}" --latency "${@:2}" | awk '
  function ms(v) { if (v ~ /ms$/) {sub(/ms$/,"",v); return v} if (v ~ /us$/) {sub(/us$/,"",v); return v/1000} sub(/s$/,"",v); return v*1000 }
  /Requests\/sec/ {r=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /Non-2xx/ {bad=$NF}
  END {printf "%.0f req/s p50 %.2f ms p99 %.2f ms non-2xx %d", r, p50, p99, bad}'; }

one() {
  local label=$1 server=$2 data
  data=$(mktemp -d -p "$work")
  "$bin/gate-emulator" --port 18250 --run-seconds "${RUN_SECONDS:-1}" >/dev/null & local emulator=$!
  DXCP_DEV_JWT_SECRET="$secret" "$server" serve --port 18251 --data-dir "$data/data" --policy Benchmarks/bench-policy.yaml \
    --gate-url http://127.0.0.1:18250 >"$data/serve.log" 2>&1 & local serve=$!
  sleep 2
  register_build http://127.0.0.1:18251
  echo "$label: validate@32 $(measure 32 -s Benchmarks/validate.lua http://127.0.0.1:18251) | deploy@8 $(measure 8 -s Benchmarks/deploy.lua http://127.0.0.1:18251) | deploy@32 $(measure 32 -s Benchmarks/deploy.lua http://127.0.0.1:18251)"
  kill "$emulator" "$serve"; wait "$emulator" "$serve" 2>/dev/null || true
}

"$bbin/dxcp-bench" tokens "$secret" owner 256 > "$work/owner.tokens"
export TOKENS_FILE="$work/owner.tokens"
for round in $(seq "${ROUNDS:-2}"); do
  one "round $round before" "$before"
  one "round $round after " "$after"
done
