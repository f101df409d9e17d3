#!/usr/bin/env bash
# The default test topology of DESIGN.md §5, made and removed idempotently.
#
#   netns mtcp-a (appliance)        netns mtcp-c (kernel clients)          netns mtcp-l (loadgen)
#   mtcp-a0  (no kernel IPv4;  <--> mtcp-ca --+                      +-- mtcp-cl <--> mtcp-l0  (no kernel IPv4;
#   DPDK owns 198.18.0.1/24)                  +-- mtcp-br 198.18.0.2/24                          DPDK owns 198.18.0.3/24)
#                                                 2001:2::2/64 (RFC 5180's benchmarking prefix)
#   The stacks own 2001:2::1 and 2001:2::3 beside their IPv4 addresses.
#
# Usage: scripts/netns.sh up|down|status
#        MTCP_MTU=9000 scripts/netns.sh up   (every veth and the bridge at that MTU; default 1500)
#
# Everything lives inside the three namespaces: the veth pairs are created inside
# mtcp-c with their peer placed straight into mtcp-a / mtcp-l, so the root
# namespace and the machine's own interfaces are never touched.
set -euo pipefail

NS_C=mtcp-c NS_A=mtcp-a NS_L=mtcp-l
BRIDGE=mtcp-br
BRIDGE_ADDR=198.18.0.2/24
# Jumbo frames (mtu = 9000 in mtcp.conf) need every link of the path at that MTU.
MTU=${MTCP_MTU:-1500}
BRIDGE_ADDR6=2001:2::2/64
# Locally administered, fixed MACs (02:00 + 198.18.0.x in hex) so that captures
# and static ARP entries (conf/arp.conf) stay the same from run to run.
BRIDGE_MAC=02:00:c6:12:00:02
# "appliance-side veth:bridge port:MAC"
PAIRS=("$NS_A:mtcp-a0:mtcp-ca:02:00:c6:12:00:01" "$NS_L:mtcp-l0:mtcp-cl:02:00:c6:12:00:03")

die() { echo "netns.sh: $*" >&2; exit 1; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# The kernel must not send router solicitations, DAD or MLD into the stack.
no_ipv6() { ip netns exec "$1" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$2/disable_ipv6"; }

# The bridge is the kernel clients' IPv6 host: no router solicitations or
# autoconfiguration, and its address is usable at once (nodad), so tests
# need not wait out duplicate address detection.
quiet_ipv6() {
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_ra=0" "net.ipv6.conf.$2.router_solicitations=0" \
        "net.ipv6.conf.$2.accept_dad=0" "net.ipv6.conf.$2.autoconf=0" "net.ipv6.conf.$2.disable_ipv6=0"
}

# veth checksum offload leaves CHECKSUM_PARTIAL frames that reach af_packet with
# unfinished checksums; GRO/GSO would merge or keep super-segments. All off.
no_offloads() { ip netns exec "$1" ethtool -K "$2" gro off tso off gso off tx off rx off >/dev/null; }

up() {
    local ns
    for ns in "$NS_C" "$NS_A" "$NS_L"; do
        ns_exists "$ns" || ip netns add "$ns"
        ip -n "$ns" link set lo up
    done

    if ! link_exists "$NS_C" "$BRIDGE"; then
        ip -n "$NS_C" link add "$BRIDGE" address "$BRIDGE_MAC" type bridge forward_delay 0 stp_state 0
    fi
    quiet_ipv6 "$NS_C" "$BRIDGE"
    # The bridge only switches: without this, every frame between the stacks also
    # passes the bridge's netfilter hooks (br_nf_*: about 5% of the CPU in a perf
    # profile of loadgen traffic), though nothing filters here. (The keys exist
    # only where br_netfilter is loaded.)
    if ip netns exec "$NS_C" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
        ip netns exec "$NS_C" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
            net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
    fi
    ip -n "$NS_C" addr replace "$BRIDGE_ADDR" dev "$BRIDGE"
    ip -n "$NS_C" -6 addr replace "$BRIDGE_ADDR6" dev "$BRIDGE" nodad
    ip -n "$NS_C" link set "$BRIDGE" up

    local pair peer_ns inner port mac
    for pair in "${PAIRS[@]}"; do
        IFS=: read -r peer_ns inner port mac <<<"$pair"
        # A half-made pair (one end missing) cannot be repaired: start it afresh.
        if link_exists "$NS_C" "$port" && ! link_exists "$peer_ns" "$inner"; then
            ip -n "$NS_C" link del "$port"
        fi
        if link_exists "$peer_ns" "$inner" && ! link_exists "$NS_C" "$port"; then
            ip -n "$peer_ns" link del "$inner"
        fi
        if ! link_exists "$NS_C" "$port"; then
            ip -n "$NS_C" link add "$port" type veth peer name "$inner" netns "$peer_ns"
            ip -n "$peer_ns" link set "$inner" address "$mac"
        fi
        no_ipv6 "$NS_C" "$port"
        no_ipv6 "$peer_ns" "$inner"
        no_offloads "$NS_C" "$port"
        no_offloads "$peer_ns" "$inner"
        # The kernel on the stack's side holds no IPv4 address: DPDK owns the link.
        ip -n "$peer_ns" -4 addr flush dev "$inner"
        ip -n "$NS_C" link set "$port" mtu "$MTU"
        ip -n "$peer_ns" link set "$inner" mtu "$MTU"
        ip -n "$NS_C" link set "$port" master "$BRIDGE"
        ip -n "$NS_C" link set "$port" up
        ip -n "$peer_ns" link set "$inner" up
    done
    # A bridge takes the smallest MTU of its ports unless told otherwise.
    ip -n "$NS_C" link set "$BRIDGE" mtu "$MTU"
}

down() {
    local ns
    for ns in "$NS_A" "$NS_L" "$NS_C"; do
        if ns_exists "$ns"; then
            ip netns del "$ns"
        fi
    done
}

# Exit 0 when the whole topology is in place, 1 otherwise.
status() {
    local ok=0 ns pair peer_ns inner port rest
    for ns in "$NS_C" "$NS_A" "$NS_L"; do
        if ns_exists "$ns"; then echo "netns $ns: present"; else echo "netns $ns: absent"; ok=1; fi
    done
    [ "$ok" -eq 0 ] || return 1
    if link_exists "$NS_C" "$BRIDGE"; then
        echo "$NS_C: $(ip -n "$NS_C" -br addr show dev "$BRIDGE")"
    else
        echo "$NS_C: $BRIDGE absent"; ok=1
    fi
    for pair in "${PAIRS[@]}"; do
        IFS=: read -r peer_ns inner port rest <<<"$pair"
        if link_exists "$NS_C" "$port"; then
            echo "$NS_C: $(ip -n "$NS_C" -br link show dev "$port")"
        else
            echo "$NS_C: $port absent"; ok=1
        fi
        if link_exists "$peer_ns" "$inner"; then
            echo "$peer_ns: $(ip -n "$peer_ns" -br link show dev "$inner")"
        else
            echo "$peer_ns: $inner absent"; ok=1
        fi
    done
    return "$ok"
}

cmd=${1:-}
case "$cmd" in
    up|down|status) ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || die "$cmd needs root (network namespaces)"
command -v ip >/dev/null || die "ip (iproute2) not found: run 'make deps'"
[ "$cmd" != up ] || command -v ethtool >/dev/null || die "ethtool not found: run 'make deps'"

# Serialise concurrent callers (two test sessions, make run beside make test).
if [ "$cmd" != status ] && command -v flock >/dev/null; then
    exec 9>/run/mtcp-netns.lock
    flock 9
fi
"$cmd"
