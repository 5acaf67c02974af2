#!/usr/bin/env bash
# Sets up what is missing and runs every test of dxcp-policy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
swift build --build-tests
# The seeded property fuzzers (docs/DECISIONS.md 62) run on their own, after the rest: they keep
# the cores busy for a minute, which beside the engine and gateway tests' real timeouts would
# only turn those into races against the machine.
swift test --skip-build --skip FuzzTests
swift test --skip-build --filter FuzzTests
