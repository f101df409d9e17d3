#!/bin/bash
# An idle appliance's CPU use for each `idle` mode (BENCHMARKS.md, "Idle CPU"):
# mtcp-httpd (release build) on a net_tap port in a namespace of its own, the
# tap up with an address but nothing sent to the stack, then utime + stime of
# /proc/PID/stat (every thread of the process) over MEASURE_S seconds (10) after
# SETTLE_S (3). Prints one row per mode: percent of one core.
# Usage: sudo scripts/idle-cpu.sh [poll] [backoff] [interrupt]
set -euo pipefail
cd "$(dirname "$0")/.."
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(poll backoff interrupt)
measure=${MEASURE_S:-10}
settle=${SETTLE_S:-3}
namespace=mtcp-idle$$
directory=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    ip netns del "$namespace" 2>/dev/null || true
    rm -rf "$directory"
}
trap cleanup EXIT
ip netns add "$namespace"
echo "ARP_ENTRY 0" >"$directory/arp.conf"
echo "ROUTES 0" >"$directory/route.conf"

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # utime + stime (fields 14, 15)

printf '%-10s %8s  %s\n' idle "CPU %" "ready line"
for mode in "${modes[@]}"; do
    printf 'port = dpdk0\nip_addr = 198.19.9.1/24\nvdev = net_tap0,iface=mtcpidle0\nfile_prefix = mtcp-idle-%s\nidle = %s\n' \
        "$$" "$mode" >"$directory/mtcp.conf"
    ip netns exec "$namespace" .build/release/mtcp-httpd --config "$directory/mtcp.conf" >"$directory/log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do grep -q '^mtcp-httpd: ready' "$directory/log" && break; sleep 0.1; done
    ready=$(grep '^mtcp-httpd: ready' "$directory/log") || { cat "$directory/log" >&2; exit 1; }
    ip netns exec "$namespace" ip addr add 198.19.9.2/24 dev mtcpidle0
    ip netns exec "$namespace" ip link set mtcpidle0 up
    sleep "$settle"
    start=$(ticks "$pid")
    sleep "$measure"
    end=$(ticks "$pid")
    kill -INT "$pid"
    wait "$pid" || { echo "mtcp-httpd ($mode) exited with an error:" >&2; cat "$directory/log" >&2; exit 1; }
    pid=
    hz=$(getconf CLK_TCK)
    percent=$(awk -v t=$((end - start)) -v hz="$hz" -v s="$measure" 'BEGIN {printf "%.1f", 100 * t / hz / s}')
    printf '%-10s %8s  %s\n' "$mode" "$percent" "${ready#*(}"
done
