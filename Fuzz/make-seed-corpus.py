#!/usr/bin/python3
"""Writes the seed corpus of the packet-input fuzzer: one valid frame of each kind
the stack handles (run with Debian's python3, which has scapy)."""
import sys
from pathlib import Path

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPOption_RR, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, HBHOptUnknown, Raw)

STACK_MAC, PEER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
STACK_IP, PEER_IP = "198.18.0.1", "198.18.0.2"
# The harness's IPv6 side: 2001:2::1/64, and a static neighbour 2001:2::9.
STACK_IP6, PEER_IP6, STATIC_IP6 = "2001:2::1", "2001:2::2", "2001:2::9"
SOLICITED_NODE, SOLICITED_NODE_MAC = "ff02::1:ff00:1", "33:33:ff:00:00:01"
eth = Ether(src=PEER_MAC, dst=STACK_MAC)
ip6 = IPv6(src=PEER_IP6, dst=STACK_IP6)
syn_options = [("MSS", 1440), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
seeds = {
    "echo-request": eth / IP(src=PEER_IP, dst=STACK_IP) / ICMP(id=7, seq=1) / Raw(b"x" * 32),
    "echo-request-ip-options": eth / IP(src=PEER_IP, dst=STACK_IP, options=[IPOption_RR()]) / ICMP(),
    "arp-request": Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=STACK_IP),
    "arp-reply": eth / ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=STACK_MAC, pdst=STACK_IP),
    "tcp-syn": eth / IP(src=PEER_IP, dst=STACK_IP)
    / TCP(sport=40000, dport=80, flags="S", seq=1000,
          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]),
    "udp": eth / IP(src=PEER_IP, dst=STACK_IP) / UDP(sport=5000, dport=53) / Raw(b"q"),
    "fragment": eth / IP(src=PEER_IP, dst=STACK_IP, flags="MF", frag=0) / ICMP() / Raw(b"f" * 16),
    "ipv6-echo-request": eth / ip6 / ICMPv6EchoRequest(id=7, seq=1, data=b"x" * 32),
    "ipv6-neighbor-solicitation": Ether(src=PEER_MAC, dst=SOLICITED_NODE_MAC)
    / IPv6(src=PEER_IP6, dst=SOLICITED_NODE, hlim=255) / ICMPv6ND_NS(tgt=STACK_IP6) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
    "ipv6-neighbor-advertisement": eth / IPv6(src=PEER_IP6, dst=STACK_IP6, hlim=255)
    / ICMPv6ND_NA(tgt=PEER_IP6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC),
    "ipv6-advertisement-for-static": eth / IPv6(src=STATIC_IP6, dst=STACK_IP6, hlim=255)
    / ICMPv6ND_NA(tgt=STATIC_IP6, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC),
    "ipv6-tcp-syn": eth / ip6 / TCP(sport=40000, dport=80, flags="S", seq=1000, options=syn_options),
    "ipv6-hop-by-hop-destination-options": eth / ip6 / IPv6ExtHdrHopByHop()
    / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"ab")]) / ICMPv6EchoRequest(),
    "ipv6-unknown-option-discard": eth / ip6 / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"ab")])
    / ICMPv6EchoRequest(),
    "ipv6-routing-segments-left": eth / ip6 / IPv6ExtHdrRouting(type=0, addresses=["2001:2::5"], segleft=1)
    / ICMPv6EchoRequest(),
    "ipv6-fragment": eth / ip6 / IPv6ExtHdrFragment(m=1, id=7) / ICMPv6EchoRequest() / Raw(b"f" * 16),
    "ipv6-unknown-next-header": eth / IPv6(src=PEER_IP6, dst=STACK_IP6, nh=253) / Raw(b"\0" * 8),
}
out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus/packet-input")
out.mkdir(parents=True, exist_ok=True)
for name, frame in seeds.items():
    (out / name).write_bytes(bytes(frame))
print(f"{len(seeds)} seeds in {out}")
