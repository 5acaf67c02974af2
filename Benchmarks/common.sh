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

# Registers version 1.0.0 of every service of Benchmarks/bench-policy.yaml as the CI identity with
# the server at base URL $1.
register_build() {
  local ci service
  ci=$("$bbin/dxcp-bench" tokens "$secret" ci 1)
  for service in demo-service load-service-1 load-service-2 load-service-3 load-service-4 load-service-5 load-service-6 load-service-7; do
    curl -sf -o /dev/null -H "Authorization: Bearer $ci" -H "Idempotency-Key: bench-build-$service" -H 'Content-Type: application/json' \
      -d '{"service":"'"$service"'","version":"1.0.0","artifactRef":"s3://artifacts/'"$service"'-1.0.0.zip","git_sha":"abc","git_branch":"main","ci_provider":"bench","ci_run_id":"1","built_at":"2026-01-01T00:00:00Z"}' \
      "$1/v1/builds/register"
  done
}
