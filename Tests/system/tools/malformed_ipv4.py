#!/usr/bin/python3
"""Sends malformed IPv4 frames at the stack; run inside netns mtcp-c with Debian's
python (python3-scapy), e.g.

    ip netns exec mtcp-c /usr/bin/python3 malformed_ipv4.py send \
        --iface mtcp-br --dst 198.18.0.1 --dst-mac 02:00:c6:12:00:01

Modes (each prints one JSON object on stdout):
  send   the whole malformed set, once each; prints the names of the frames sent.
  probe  a valid ICMP echo request (the control) and one with a bad IPv4 header
         checksum, then counts the echo replies to each for --wait seconds.
"""

import argparse
import json
import sys
import threading

from scapy.all import ICMP, IP, AsyncSniffer, Ether, Raw, conf, get_if_hwaddr, sendp

conf.verb = 0

ECHO_ID = 0x4D54  # "MT"
PAYLOAD = b"mtcp-swift malformed-frame test payload.."  # 41 bytes


def echo(args, seq, **ip_fields):
    return (Ether(src=get_if_hwaddr(args.iface), dst=args.dst_mac)
            / IP(src=args.src, dst=args.dst, **ip_fields)
            / ICMP(type=8, id=ECHO_ID, seq=seq) / Raw(PAYLOAD))


def bad_ip_checksum(args, seq):
    """An echo request whose IPv4 header checksum is off by one (never valid by chance)."""
    frame = echo(args, seq)
    good = IP(bytes(frame[IP])).chksum
    return echo(args, seq, chksum=(good + 1) & 0xFFFF)


def with_header_checksum(frame, eth_len=14):
    """`frame` (bytearray) with its 20-byte IPv4 header checksum recomputed, so that a
    mutated field is the only fault."""
    frame[eth_len + 10:eth_len + 12] = b"\0\0"
    total = sum(int.from_bytes(frame[i:i + 2], "big") for i in range(eth_len, eth_len + 20, 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    frame[eth_len + 10:eth_len + 12] = (~total & 0xFFFF).to_bytes(2, "big")
    return bytes(frame)


def malformed_set(args):
    """(name, raw frame bytes) for each malformed frame."""
    eth_len = 14
    valid = bytes(echo(args, 100))

    frames = [("bad IPv4 header checksum", bytes(bad_ip_checksum(args, 101)))]
    # Ethernet header and only the first 10 bytes of an IPv4 header.
    frames.append(("truncated IPv4 header (10 of 20 bytes)", valid[:eth_len + 10]))
    # A correct header (total length 69) cut after 28 bytes of the datagram.
    frames.append(("total length beyond the frame", valid[:eth_len + 28]))
    # Header length field 4 (16 bytes), below the minimum of 5.
    ihl4 = bytearray(valid)
    ihl4[eth_len] = 0x44
    frames.append(("IHL 4", with_header_checksum(ihl4)))
    # Total length field smaller than the header itself.
    short_len = echo(args, 102, len=12)
    frames.append(("total length 12 < header", bytes(short_len)))
    # Valid IPv4, ICMP checksum wrong.
    bad_icmp = echo(args, 103)
    bad_icmp[ICMP].chksum = (ICMP(bytes(bad_icmp[ICMP])).chksum + 1) & 0xFFFF
    frames.append(("bad ICMP checksum", bytes(bad_icmp)))
    # Version 6 in an IPv4 ethertype frame.
    v6 = bytearray(valid)
    v6[eth_len] = 0x65
    frames.append(("version 6 in an IPv4 frame", with_header_checksum(v6)))
    # Just an Ethernet header with the IPv4 ethertype.
    frames.append(("empty IPv4 payload", valid[:eth_len]))
    return frames


def send(args):
    sent = []
    for name, raw in malformed_set(args):
        sendp(raw, iface=args.iface)
        sent.append(name)
    return {"sent": sent}


def probe(args):
    replies = {}
    started = threading.Event()

    def on_packet(pkt):
        if ICMP in pkt and pkt[ICMP].type == 0 and pkt[ICMP].id == ECHO_ID \
                and pkt[IP].src == args.dst:
            replies[pkt[ICMP].seq] = replies.get(pkt[ICMP].seq, 0) + 1

    sniffer = AsyncSniffer(iface=args.iface, prn=on_packet, store=False,
                           started_callback=started.set)
    sniffer.start()
    if not started.wait(5):
        raise SystemExit("sniffer did not start")
    sendp(echo(args, 1), iface=args.iface)                 # control: must be answered
    sendp(bad_ip_checksum(args, 2), iface=args.iface)      # must be dropped silently
    threading.Event().wait(args.wait)
    sniffer.stop()
    return {"valid_replies": replies.get(1, 0), "bad_checksum_replies": replies.get(2, 0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["send", "probe"])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--dst-mac", required=True)
    parser.add_argument("--src", default="198.18.0.2")
    parser.add_argument("--wait", type=float, default=2.0)
    args = parser.parse_args()
    result = send(args) if args.mode == "send" else probe(args)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
