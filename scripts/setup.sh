#!/usr/bin/env bash
# Installs the system packages dxcp-policy builds and tests against, when they are missing.
# Run by scripts/run.sh and scripts/test.sh (`setup.sh test` also installs what only the tests
# need: nginx, for the gateway tests, and PostgreSQL, for the fleet backend's); safe to run again.
set -euo pipefail

need=()
dpkg -s liblmdb-dev >/dev/null 2>&1 || need+=(liblmdb-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need+=(libcurl4-openssl-dev)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ "${1:-}" = "test" ] && [ ! -x /usr/sbin/nginx ]; then need+=(nginx-light); fi
if [ "${1:-}" = "test" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    # Packages install without starting services (nginx's package would start one on port 80,
    # PostgreSQL's a cluster on 5432): the tests start their own.
    blocker=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      blocker=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$blocker" && chmod +x "$blocker"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    if [ -n "$blocker" ]; then rm -f "$blocker"; fi
  else
    echo "missing system packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH; install Swift 6.1 or later" >&2; exit 1; }

# The HTTP fuzzer of the test command (schemathesis, from PyPI), pinned, in a virtual environment
# under .build so nothing is installed system-wide.
if [ "${1:-}" = "test" ]; then
  tools="$(cd "$(dirname "$0")/.." && pwd)/.build/tools/schemathesis"
  if ! "$tools/bin/st" --version 2>/dev/null | grep -q "4.32.5"; then
    echo "installing schemathesis 4.32.5 into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
  fi
fi
