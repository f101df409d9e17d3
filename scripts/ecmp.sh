#!/usr/bin/env bash
# Two appliance replicas behind a router with an ECMP route to their service
# address (README, "Running several"), made and removed idempotently.
#
#   netns mtcp-ec (clients)      netns mtcp-er (router)                 netns mtcp-e1 / mtcp-e2 (replicas)
#   mtcp-ec0 198.18.2.2/24 <--> mtcp-erc 198.18.2.1/24
#                               mtcp-er1 198.18.3.1/24 <----------------> mtcp-e10 (DPDK owns 198.18.3.2/24)
#                               mtcp-er2 198.18.4.1/24 <----------------> mtcp-e20 (DPDK owns 198.18.4.2/24)
#                               198.18.5.10/32 nexthop via 198.18.3.2 nexthop via 198.18.4.2
#                               (fib_multipath_hash_policy = 1: the 5-tuple picks the replica)
#
# Usage: scripts/ecmp.sh up|down|status|run|route [N...]|config N DIR
#   run           up, then both replicas (mtcp-httpd) and the health check until Ctrl-C
#   route N...    the VIP's route through replicas N... (what the health check calls)
#   config N DIR  writes DIR/mtcp.conf and DIR/route.conf for replica N (1 or 2)
set -euo pipefail

NS_CLIENT=mtcp-ec NS_ROUTER=mtcp-er
VIP=198.18.5.10
replica_ns() { echo "mtcp-e$1"; }
replica_addr() { echo "198.18.$(($1 + 2)).2"; }
router_addr() { echo "198.18.$(($1 + 2)).1"; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
quiet_link() {  # no IPv6 chatter, no offloads (see netns.sh)
    ip netns exec "$1" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$2/disable_ipv6"
    ip netns exec "$1" ethtool -K "$2" gro off tso off gso off tx off rx off >/dev/null
}

up() {
    local ns n
    for ns in "$NS_CLIENT" "$NS_ROUTER" "$(replica_ns 1)" "$(replica_ns 2)"; do
        ns_exists "$ns" || ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    ip netns exec "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
    link_exists "$NS_ROUTER" mtcp-erc || ip -n "$NS_ROUTER" link add mtcp-erc type veth peer name mtcp-ec0 netns "$NS_CLIENT"
    quiet_link "$NS_ROUTER" mtcp-erc
    quiet_link "$NS_CLIENT" mtcp-ec0
    ip -n "$NS_ROUTER" addr replace 198.18.2.1/24 dev mtcp-erc
    ip -n "$NS_CLIENT" addr replace 198.18.2.2/24 dev mtcp-ec0
    ip -n "$NS_ROUTER" link set mtcp-erc up
    ip -n "$NS_CLIENT" link set mtcp-ec0 up
    ip -n "$NS_CLIENT" route replace default via 198.18.2.1
    for n in 1 2; do
        ns=$(replica_ns "$n")
        link_exists "$NS_ROUTER" "mtcp-er$n" || ip -n "$NS_ROUTER" link add "mtcp-er$n" type veth peer name "mtcp-e${n}0" netns "$ns"
        ip -n "$ns" link set "mtcp-e${n}0" address "02:00:c6:12:0$((n + 2)):02"
        quiet_link "$NS_ROUTER" "mtcp-er$n"
        quiet_link "$ns" "mtcp-e${n}0"
        ip -n "$NS_ROUTER" addr replace "$(router_addr "$n")/24" dev "mtcp-er$n"
        ip -n "$NS_ROUTER" link set "mtcp-er$n" up
        ip -n "$ns" link set "mtcp-e${n}0" up
    done
    route 1 2
}

# The VIP's route through the replicas named (none: the route is removed).
route() {
    local hops=() n
    for n in "$@"; do hops+=(nexthop via "$(replica_addr "$n")"); done
    if [ ${#hops[@]} -eq 0 ]; then
        ip -n "$NS_ROUTER" route del "$VIP/32" 2>/dev/null || true
    else
        ip -n "$NS_ROUTER" route replace "$VIP/32" "${hops[@]}"
    fi
}

down() {
    local ns
    for ns in "$(replica_ns 1)" "$(replica_ns 2)" "$NS_ROUTER" "$NS_CLIENT"; do
        ! ns_exists "$ns" || ip netns del "$ns"
    done
}

status() {
    local ns ok=0
    for ns in "$NS_CLIENT" "$NS_ROUTER" "$(replica_ns 1)" "$(replica_ns 2)"; do
        if ns_exists "$ns"; then echo "netns $ns: present"; else echo "netns $ns: absent"; ok=1; fi
    done
    [ "$ok" -ne 0 ] || ip -n "$NS_ROUTER" route show "$VIP/32"
    return "$ok"
}

# mtcp.conf for replica N: one core, net_af_packet on its veth, the VIP, metrics
# on 9180, and a drain of 2 s on SIGTERM: ten times the health check's interval
# (0.2 s), so the route is withdrawn before the replica refuses anything.
config() {
    local n=$1 dir=$2
    cat >"$dir/mtcp.conf" <<CONF
io = dpdk
num_cores = 1
port = dpdk0
ip_addr = $(replica_addr "$n")/24
vip = $VIP
vdev = net_af_packet0,iface=mtcp-e${n}0
file_prefix = mtcp-ecmp-$n
hugepages = no
memory_mb = 512
prometheus_port = 9180
drain_s = 2
route_conf = route.conf
CONF
    printf 'ROUTES 2\n%s/24 dpdk0\n0.0.0.0/0 dpdk0 %s\n' "$(router_addr "$n" | sed 's/\.1$/.0/')" \
        "$(router_addr "$n")" >"$dir/route.conf"
}

# For a person (make ecmp): both replicas from the repository's release build,
# logs in a temporary directory, and the health check in the foreground.
run() {
    local repo dir n pids=()
    repo=$(cd "$(dirname "$0")/.." && pwd)
    up
    dir=$(mktemp -d /tmp/mtcp-ecmp.XXXXXX)
    for n in 1 2; do
        mkdir -p "$dir/$n"
        config "$n" "$dir/$n"
        (cd "$repo" && exec ip netns exec "$(replica_ns "$n")" .build/release/mtcp-httpd \
            --config "$dir/$n/mtcp.conf" >"$dir/$n/log" 2>&1) &
        pids+=($!)
    done
    trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' EXIT
    cat <<TEXT
Two replicas serve $VIP behind router netns $NS_ROUTER (logs: $dir/N/log). Try:
    sudo ip netns exec $NS_CLIENT curl http://$VIP/
    sudo ip netns exec $(replica_ns 1) curl -s 127.0.0.1:9180/metrics | grep passive_opens
    sudo ip netns exec $NS_ROUTER ip route show $VIP
Stop one replica (kill -TERM its mtcp-httpd): its /healthz answers 503 while it drains for 2 s,
and the health check withdraws it before it stops accepting. Ctrl-C ends all.
TEXT
    "$(dirname "$0")/ecmp-health.sh" 1
}

cmd=${1:-}
case "$cmd" in
    up|down|status|run) [ $# -eq 1 ] || { echo "usage: $0 up|down|status" >&2; exit 2; } ;;
    route) shift ;;
    config) [ $# -eq 3 ] || { echo "usage: $0 config N DIR" >&2; exit 2; }; config "$2" "$3"; exit 0 ;;
    *) echo "usage: $0 up|down|status|run|route [N...]|config N DIR" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "ecmp.sh: $cmd needs root (network namespaces)" >&2; exit 1; }
if [ "$cmd" = route ]; then route "$@"; else "$cmd"; fi
