#!/usr/bin/env bash
# Sets up what is missing, builds dxcp-policy, seeds ./data with the demo policy, and shows a
# first decision. Run again at any time: seeding keeps existing records and counters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product dxcp-policy
bin="$(swift build --product dxcp-policy --show-bin-path)/dxcp-policy"
data="${DXCP_DATA_DIR:-./data}"

"$bin" seed --data-dir "$data" --policy examples/demo-policy.yaml
echo
echo "== a deploy the demo owner may make (decided against $data, nothing written):"
"$bin" eval --policy examples/demo-policy.yaml --data-dir "$data" --request examples/requests/deploy-unregistered.json || true
echo
echo "== the same deploy by an observer:"
"$bin" eval --policy examples/demo-policy.yaml --data-dir "$data" --request examples/requests/deploy-as-observer.json || true
echo
echo "Try your own: $bin eval --policy examples/demo-policy.yaml --data-dir $data --request FILE"
