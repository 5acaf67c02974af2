#!/usr/bin/env bash
# Sets up what is missing, builds dxcp-policy and the Gate emulator, seeds ./data with the demo
# policy, starts the emulator on 127.0.0.1:8084 beside it, and walks one deployment end to end:
# the decision, the reservation, the pipeline trigger, the execution's end, the slot's release.
# Run again at any time: seeding keeps existing records and counters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product dxcp-policy
swift build --product gate-emulator
bin="$(swift build --show-bin-path)"
data="${DXCP_DATA_DIR:-./data}"
gate_port="${DXCP_GATE_PORT:-8084}"

"$bin/dxcp-policy" seed --data-dir "$data" --policy examples/demo-policy.yaml

"$bin/gate-emulator" --port "$gate_port" --run-seconds 2 &
gate_pid=$!
trap 'kill $gate_pid 2>/dev/null || true' EXIT
sleep 1

echo
echo "== an offline decision: the same deploy by an observer (nothing written):"
"$bin/dxcp-policy" eval --policy examples/demo-policy.yaml --data-dir "$data" --request examples/requests/deploy-as-observer.json || true
echo
echo "== a deploy end to end through the Gate emulator at http://127.0.0.1:$gate_port:"
"$bin/dxcp-policy" drive --data-dir "$data" --gate "http://127.0.0.1:$gate_port" --count 1 --concurrency 1 \
  --register-version 1.0.0 --tag "demo-$(date +%s)" --follow
echo
echo "The audit log of all of it:"
"$bin/dxcp-policy" audit verify --data-dir "$data"
echo
echo "Try your own decisions: $bin/dxcp-policy eval --policy examples/demo-policy.yaml --data-dir $data --request FILE"
