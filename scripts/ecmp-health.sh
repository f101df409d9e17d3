#!/usr/bin/env bash
# Health check of the ECMP replicas (scripts/ecmp.sh), as a router's BGP daemon
# or keepalived would run it: every INTERVAL seconds, GET /healthz from each
# replica's own address (from the router's namespace); the VIP's route keeps
# exactly the replicas that answered 200, so a replica is withdrawn as soon as
# it drains (/healthz answers 503 during drain_s after SIGTERM, while it still
# serves) or stops, and a returning one is put back. Prints one line per change.
# Runs until killed.
#
# Usage: scripts/ecmp-health.sh [INTERVAL]   (default 0.2 s)
set -euo pipefail
interval=${1:-0.2}
here=$(dirname "$0")
current=""
while true; do
    healthy=()
    for n in 1 2; do
        if ip netns exec mtcp-er curl -sf -o /dev/null --max-time 0.5 "http://198.18.$((n + 2)).2/healthz"; then
            healthy+=("$n")
        fi
    done
    if [ "${healthy[*]}" != "$current" ]; then
        "$here/ecmp.sh" route "${healthy[@]}"
        echo "ecmp-health: serving replicas: ${healthy[*]:-none}"
        current="${healthy[*]}"
    fi
    sleep "$interval"
done
