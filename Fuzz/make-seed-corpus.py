#!/usr/bin/python3
"""Writes the seed corpus of the packet-input fuzzer: one valid frame of each kind
the stack handles (run with Debian's python3, which has scapy)."""
import sys
from pathlib import Path

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption_RR, Raw

STACK_MAC, PEER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
STACK_IP, PEER_IP = "198.18.0.1", "198.18.0.2"
eth = Ether(src=PEER_MAC, dst=STACK_MAC)
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
}
out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus/packet-input")
out.mkdir(parents=True, exist_ok=True)
for name, frame in seeds.items():
    (out / name).write_bytes(bytes(frame))
print(f"{len(seeds)} seeds in {out}")
