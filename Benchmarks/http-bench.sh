#!/usr/bin/env bash
# HTTP load on loopback, all in one run: a raw SwiftNIO server answering a fixed response (the
# ceiling here), dxcp-policy's /livez, validate, and durable deploys dispatched to the Gate
# emulator (wrk: one thread, 32 connections); then /livez and gateway decisions at 16
# connections. Server and client share the 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --product dxcp-policy
swift build -c release --product gate-emulator
(cd Benchmarks && swift build -c release)
bin=.build/release
bbin=Benchmarks/.build/release
work=$(mktemp -d)
secret="bench-$(date +%s)-secret-0123456789abcdef"
duration="${DURATION:-10s}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin/gate-emulator" --port 18100 --run-seconds 3600 >/dev/null & pids+=($!)
DXCP_DEV_JWT_SECRET="$secret" "$bin/dxcp-policy" serve --port 18101 --data-dir "$work/data" \
  --policy Benchmarks/bench-policy.yaml --gate-url http://127.0.0.1:18100 >"$work/serve.log" 2>&1 & pids+=($!)
"$bbin/raw-nio-server" 18102 >/dev/null & pids+=($!)
sleep 2

"$bbin/dxcp-bench" tokens "$secret" owner 256 > "$work/owner.tokens"
"$bbin/dxcp-bench" tokens "$secret" owner 2048 > "$work/gateway.tokens"
ci=$("$bbin/dxcp-bench" tokens "$secret" ci 1)
curl -sf -o /dev/null -H "Authorization: Bearer $ci" -H 'Idempotency-Key: bench-build' -H 'Content-Type: application/json' \
  -d '{"service":"demo-service","version":"1.0.0","artifactRef":"s3://artifacts/demo-service-1.0.0.zip","git_sha":"abc","git_branch":"main","ci_provider":"bench","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}' \
  http://127.0.0.1:18101/v1/builds/register

run() { echo "== $1"; shift; wrk -t1 -c"${CONNECTIONS:-32}" -d"$duration" --latency "$@" | grep -E 'Requests/sec|Latency  |  50%|  99%|Non-2xx|Socket errors'; }
run "raw SwiftNIO, fixed response" http://127.0.0.1:18102/
run "dxcp-policy GET /livez" http://127.0.0.1:18101/livez
TOKENS_FILE="$work/owner.tokens" run "dxcp-policy POST /v1/deployments/validate (allowed, 256 actors)" -s Benchmarks/validate.lua http://127.0.0.1:18101
TOKENS_FILE="$work/owner.tokens" run "dxcp-policy POST /v1/deployments (durable reservation + Gate trigger + record, 256 actors)" -s Benchmarks/deploy.lua http://127.0.0.1:18101
CONNECTIONS=16 run "dxcp-policy GET /livez (16 connections)" http://127.0.0.1:18101/livez
CONNECTIONS=16 TOKENS_FILE="$work/gateway.tokens" run "gateway decisions, NGINX flavour (16 connections, 2048 actors, half reads, half deploys)" -s Benchmarks/gateway.lua http://127.0.0.1:18101
