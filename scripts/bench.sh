#!/usr/bin/env bash
# Benchmarks (DESIGN.md §6): each prints figures as a ratio to Linux measured in
# the same run. None is built yet; this placeholder says so and prints no figures.
set -euo pipefail

cat <<'TXT'
bench: no benchmark scenario is built yet, so no figures are printed.
Scenarios planned (DESIGN.md §5-6; results go to BENCHMARKS.md):
  - short flows: new connection per request, www/bench/{64,1k,4k,32k}.html,
    mtcp-loadgen -> mtcp-httpd over net_af_packet in the default topology   [not built]
  - keep-alive requests, same files and topology                            [not built]
  - mtcp-loadgen <-> mtcp-httpd directly over net_memif (no kernel on path) [not built]
  - bulk transfer: www/bench/1m.bin                                         [not built]
  - baseline: nginx (1 worker per core, reuseport) driven by wrk on the
    kernel stack, same cores, same run                                      [not built]
  - instructions per transaction under valgrind --tool=callgrind           [not built]
TXT
