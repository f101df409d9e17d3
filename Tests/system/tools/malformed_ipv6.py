#!/usr/bin/python3
"""Sends malformed or forged IPv6 frames at the stack and reports what came back;
run inside netns mtcp-c with Debian's python (python3-scapy), e.g.

    ip netns exec mtcp-c /usr/bin/python3 malformed_ipv6.py --iface mtcp-br \
        --src 2001:2::2 --dst 2001:2::1 --dst-mac 02:00:c6:12:00:01 --spoof 2001:2::9

Prints one JSON object: the Parameter Problems received (code, pointer), and the
answers to the frames that must get none (bad checksums, a fragment).
"""

import argparse
import json
import time

from scapy.all import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6NDOptDstLLAddr, ICMPv6ND_NA, ICMPv6ParamProblem,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrRouting, TCP, AsyncSniffer, Ether,
                       PadN, Raw, conf, get_if_hwaddr, sendp)

conf.verb = 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iface", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--dst-mac", required=True)
    parser.add_argument("--spoof", required=True, help="an address the stack has a static entry for")
    parser.add_argument("--wait", type=float, default=1.5)
    args = parser.parse_args()
    ether = Ether(src=get_if_hwaddr(args.iface), dst=args.dst_mac)
    ip = IPv6(src=args.src, dst=args.dst)

    def echo(ident, **fields):
        return ether / ip / ICMPv6EchoRequest(id=ident, seq=1, data=b"mtcp-swift ipv6", **fields)

    frames = [
        # Unknown next header 253 (RFC 3692's experiment value): Parameter Problem code 1, pointer 6.
        ether / IPv6(src=args.src, dst=args.dst, nh=253) / Raw(b"\0" * 16),
        # Routing header type 0 with a segment left: code 0, pointer 42 (its type field).
        ether / ip / IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:2::99"]) / ICMPv6EchoRequest(id=2),
        # An unknown option of type 0b10xxxxxx in Destination Options: code 2, pointer 44.
        ether / ip / IPv6ExtHdrDestOpt(options=[PadN(otype=0x9E, optdata=b"\0\0\0\0")]) / ICMPv6EchoRequest(id=3),
        # A fragment: counted and dropped, no answer.
        ether / ip / IPv6ExtHdrFragment(offset=0, m=1, id=7) / ICMPv6EchoRequest(id=4, data=b"x" * 64),
        # An echo request with a bad checksum: no reply.
        echo(5, cksum=0x1234),
        # A TCP SYN with a bad checksum: no SYN-ACK.
        ether / ip / TCP(sport=40001, dport=80, flags="S", seq=1, chksum=0x1234),
        # A forged advertisement claiming the static neighbour's address.
        ether / IPv6(src="fe80::bad", dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=args.spoof, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:0b:ad"),
        # The control: a valid echo request, answered.
        echo(6),
    ]
    sniffer = AsyncSniffer(iface=args.iface, filter="icmp6")
    sniffer.start()
    time.sleep(0.3)
    for frame in frames:
        sendp(frame, iface=args.iface)
    time.sleep(args.wait)
    received = sniffer.stop() or []
    problems = [(p[ICMPv6ParamProblem].code, p[ICMPv6ParamProblem].ptr)
                for p in received if ICMPv6ParamProblem in p and p[IPv6].src == args.dst]
    replies = sorted(p[ICMPv6EchoReply].id for p in received if ICMPv6EchoReply in p and p[IPv6].src == args.dst)
    print(json.dumps({"problems": sorted(problems), "echo_replies": replies}))


if __name__ == "__main__":
    main()
