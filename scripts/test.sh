#!/usr/bin/env bash
# Sets up what is missing and runs every test of dxcp-policy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
swift build --build-tests
# A real PostgreSQL for the fleet backend's tests, on a free loopback port, stopped at the end.
pgdir=$(mktemp -d)
trap 'bash scripts/postgres.sh stop "$pgdir"' EXIT
DXCP_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start "$pgdir")
export DXCP_TEST_POSTGRES_URL
# The seeded property fuzzers (docs/DECISIONS.md 62) and the fleet's tests (replicas, PostgreSQL
# crashed and restarted, the conformance suite through NGINX, and the PostgreSQL cases of the
# store's suites that run on both backends) run on their own, after the rest: they keep the cores
# busy, which beside the engine and gateway tests' real timeouts would only turn those into races
# against the machine.
DXCP_TEST_BACKENDS=lmdb swift test --skip-build --skip FuzzTests --skip Fleet
swift test --skip-build --filter Fleet
# Every suite with `Backend.underTest` arguments, named here for its PostgreSQL cases.
both='WritePathTests|ContentionTests|ExpiryTests|AuditLogTests|BackpressureTests|SlotIndexTests|IndexedReadsTests|DeploymentIndexTests|DispatchTests/'
DXCP_TEST_BACKENDS=postgres swift test --skip-build --filter "$both"
swift test --skip-build --filter FuzzTests
