#!/usr/bin/env bash
# Sets up what is missing, builds dxcp-policy and the Gate emulator, starts the emulator on
# 127.0.0.1:8084 and the service on 127.0.0.1:8080 in demo mode: embedded LMDB in ./data, the demo
# policy, a development signing key, and a token per role printed with curl lines to try.
# Ctrl-C stops both. Data in ./data is kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product dxcp-policy
swift build --product gate-emulator
bin="$(swift build --show-bin-path)"
data="${DXCP_DATA_DIR:-./data}"
port="${DXCP_PORT:-8080}"
gate_port="${DXCP_GATE_PORT:-8084}"

"$bin/gate-emulator" --port "$gate_port" --run-seconds 5 &
gate_pid=$!
trap 'kill $gate_pid 2>/dev/null || true' EXIT

"$bin/dxcp-policy" serve --demo --data-dir "$data" --port "$port" --gate-url "http://127.0.0.1:$gate_port"
