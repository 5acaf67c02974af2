#!/usr/bin/env bash
# Sets up what is missing and runs every test of dxcp-policy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
swift build --build-tests
swift test --skip-build
