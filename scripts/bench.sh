#!/usr/bin/env bash
# `make bench`: every scenario of BENCHMARKS.md, ours against Linux (nginx + wrk)
# on the same cores in one run. Needs root (namespaces, DPDK) and a release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec /usr/bin/python3 scripts/bench/run.py "$@"
