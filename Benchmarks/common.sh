# Shared by the HTTP benchmark scripts (sourced, from the repository root): release builds of the
# server, the Gate emulator and the bench tool; a scratch directory and a dev-token secret;
# cleanup of started processes on exit; the build registration every deploy needs.
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --product dxcp-policy
swift build -c release --product gate-emulator
(cd Benchmarks && swift build -c release --product dxcp-bench)
bin=.build/release
bbin=Benchmarks/.build/release
work=$(mktemp -d)
secret="bench-$(date +%s)-secret-0123456789abcdef"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Registers demo-service 1.0.0 as the CI identity with the server at base URL $1.
register_build() {
  local ci
  ci=$("$bbin/dxcp-bench" tokens "$secret" ci 1)
  curl -sf -o /dev/null -H "Authorization: Bearer $ci" -H 'Idempotency-Key: bench-build' -H 'Content-Type: application/json' \
    -d '{"service":"demo-service","version":"1.0.0","artifactRef":"s3://artifacts/demo-service-1.0.0.zip","git_sha":"abc","git_branch":"main","ci_provider":"bench","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}' \
    "$1/v1/builds/register"
}
