"""A scripted TCP peer for conformance tests: a private network namespace with a
veth pair (the appliance on one end through DPDK net_af_packet, a raw AF_PACKET
socket of this process on the other), and a TCP endpoint driven segment by
segment with scapy building and parsing the frames.

The kernel never sees our TCP: the peer's address is not configured on any
interface (the appliance gets a static ARP entry for it, and the peer answers
the appliance's ARP requests itself), so no kernel RST can interfere.

Everything made here is named `cf-...` plus a unique suffix and removed by the
fixture that made it; processes are stopped by PID.
"""

import contextlib
import ctypes
import os
import random
import re
import socket
import subprocess
import threading
import time
import urllib.request
import uuid

from scapy.layers.inet import IP, TCP, in4_chksum
from scapy.packet import Raw
from scapy.layers.l2 import ARP, Ether

from stacks import Stack, write_config

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(name):
    """Runs the block with this thread inside network namespace `name`: sockets
    made in it belong to that namespace and stay there afterwards."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({name})")
        yield
    finally:
        if _libc.setns(own, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(back)")
        os.close(own)
        os.close(target)


def run(*cmd, check=True, **kwargs):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, **kwargs)


class PrivateNet:
    """Namespace `cf-<tag>-<hex>` with veth `<cfXXXXXXa>` (the appliance's) and
    `<cfXXXXXXb>` (the peer's), IPv6 off, offloads off, loopback up."""

    def __init__(self, tag):
        suffix = uuid.uuid4().hex[:6]
        self.name = f"cf-{tag}-{suffix}"
        self.appliance_if, self.peer_if = f"cf{suffix}a", f"cf{suffix}b"
        run("ip", "netns", "add", self.name)
        try:
            for cmd in (
                ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
                ["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", self.appliance_if, "type", "veth", "peer", "name", self.peer_if],
                ["ip", "link", "set", self.appliance_if, "up"],
                ["ip", "link", "set", self.peer_if, "up"],
            ):
                run("ip", "netns", "exec", self.name, *cmd)
            for ifname in (self.appliance_if, self.peer_if):
                run("ip", "netns", "exec", self.name, "ethtool", "-K", ifname,
                    "rx", "off", "tx", "off", "gro", "off", "gso", "off", "tso", "off")
        except Exception:
            self.remove()
            raise

    def mac(self, ifname):
        out = run("ip", "-n", self.name, "link", "show", "dev", ifname).stdout
        return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)

    def remove(self):
        run("ip", "netns", "del", self.name, check=False)


class Appliance:
    """mtcp-httpd on `net.appliance_if` (net_af_packet), with a static ARP entry
    for the peer and Prometheus on 127.0.0.1:9180 inside the namespace."""

    METRICS_PORT = 9180

    def __init__(self, net, directory, address, peer_address, peer_mac, extra="", args=()):
        self.net, self.address = net, address
        config = write_config(directory, net.name, f"{address}/24",
                              f"net_af_packet0,iface={net.appliance_if}",
                              f"checksum_offload = off\nprometheus_port = {self.METRICS_PORT}\n{extra}")
        (directory / "arp.conf").write_text(f"ARP_ENTRY 1\n{peer_address}/32 {peer_mac}\n")
        self.stack = Stack(config, net.name, args=args)

    def counters(self):
        """Every counter of the Prometheus exposition, summed over cores:
        {'tcp_challenge_acks_sent': n, 'dropped_frames{tcp_bad_checksum}': n, ...}."""
        with netns(self.net.name):
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.METRICS_PORT}/metrics", timeout=5).read()
        values = {}
        for line in text.decode().splitlines():
            match = re.match(r'mtcp_(\w+?)(?:_total)?\{core="\d+"(?:,reason="(\w+)")?\} (\d+)$', line)
            if match:
                name = match.group(1) + (f"{{{match.group(2)}}}" if match.group(2) else "")
                values[name] = values.get(name, 0) + int(match.group(3))
        return values

    def wait_counter(self, name, at_least, timeout=3.0):
        """Polls until counter `name` reaches `at_least` (the board is published
        twice a second); returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.counters().get(name, 0)
            if value >= at_least or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def alive(self):
        return self.stack.proc.poll() is None

    def stop(self):
        return self.stack.stop()


class Link:
    """A raw AF_PACKET socket on the peer's veth with a receiver thread that keeps
    every incoming frame (parsed by scapy) with its arrival time, and answers
    ARP requests for the peer's address."""

    def __init__(self, net, address):
        self.address = address
        self.mac = net.mac(net.peer_if)
        self.appliance_mac = net.mac(net.appliance_if)
        with netns(net.name):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.bind((net.peer_if, 0))
        self.sock.settimeout(0.2)
        self.frames = []          # (arrival time, scapy packet), in order
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while not self.closed:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            arrived = time.monotonic()
            frame = Ether(data)
            if ARP in frame and frame[ARP].op == 1 and frame[ARP].pdst == self.address:
                self.send(Ether(dst=frame.src, src=self.mac) /
                          ARP(op=2, hwsrc=self.mac, psrc=self.address, hwdst=frame.src, pdst=frame[ARP].psrc))
                continue
            with self.cond:
                self.frames.append((arrived, frame))
                self.cond.notify_all()

    def send(self, frame):
        self.sock.send(bytes(frame))

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()


class Segment:
    """A TCP segment the appliance sent, with its arrival time."""

    def __init__(self, arrived, frame):
        self.time = arrived
        self.frame = frame
        self.tcp = frame[TCP]
        self.seq, self.ack = self.tcp.seq, self.tcp.ack
        self.flags = str(self.tcp.flags)
        self.window = self.tcp.window
        self.payload = bytes(self.tcp.payload)
        self.options = {}
        for kind, value in self.tcp.options:
            self.options[kind] = value

    def has(self, flags):
        return all(f in self.flags for f in flags)

    @property
    def length(self):
        return len(self.payload) + ("S" in self.flags) + ("F" in self.flags)

    def __repr__(self):
        return (f"<{self.flags} seq={self.seq} ack={self.ack} win={self.window} len={len(self.payload)} "
                f"opts={self.tcp.options} t={self.time:.3f}>")


_ports = iter(random.Random(os.getpid()).sample(range(20000, 60000), 20000))


class Peer:
    """One TCP connection of ours to the appliance, driven by hand. Sequence
    numbers are absolute; `snd_nxt` is ours, `rcv_nxt` what we have received of
    the appliance's sequence space. With timestamps negotiated every segment we
    send carries TSval (our clock, ms) and TSecr (the last TSval we saw)."""

    def __init__(self, link, dport, sport=None):
        self.link, self.dport = link, dport
        self.sport = sport or next(_ports)
        self.iss = random.randrange(1 << 32)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.irs = None
        self.timestamps = False
        self.ts_recent = 0
        self.ts_offset = random.randrange(1 << 30)
        self.cursor = 0           # index into link.frames of the next unread frame
        self.received = b""       # in-order payload delivered to us
        self.window = 65535
        self.max_payload = 0      # largest payload the appliance sent us

    # --- sending

    def tsval(self):
        return (self.ts_offset + int(time.monotonic() * 1000)) & 0xFFFFFFFF

    def frame(self, flags="A", seq=None, ack=None, data=b"", options=None, window=None, **tcp):
        if options is None:
            options = [("Timestamp", (self.tsval(), self.ts_recent))] if self.timestamps else []
        if ack is None:
            ack = self.rcv_nxt if (self.rcv_nxt is not None and "A" in flags) else 0
        segment = TCP(sport=self.sport, dport=self.dport, flags=flags,
                      seq=(self.snd_nxt if seq is None else seq) & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF,
                      window=self.window if window is None else window, options=options, **tcp)
        return (Ether(src=self.link.mac, dst=self.link.appliance_mac) /
                IP(src=self.link.address, dst=self.appliance_address) / segment / data)

    appliance_address = None  # set by the fixture

    def send(self, flags="A", seq=None, ack=None, data=b"", options=None, window=None, advance=None, **tcp):
        """Sends one segment; by default at snd_nxt, which advances by its length
        (`advance=False` keeps it, e.g. for retransmissions)."""
        frame = self.frame(flags, seq, ack, data, options, window, **tcp)
        self.link.send(frame)
        if advance is None:
            advance = seq is None
        if advance:
            self.snd_nxt = (self.snd_nxt + len(data) + ("S" in flags) + ("F" in flags)) & 0xFFFFFFFF
        return frame

    def raw_frame(self, flags, option_bytes=b"", data=b"", header_length=None, segment_length=None):
        """A frame whose TCP header is written byte by byte (for malformed options and
        lengths scapy would correct): options padded with zeros to a multiple of 4,
        Data Offset from `header_length` (default: the real length), the segment cut
        to `segment_length` bytes; the checksum is valid for what is sent."""
        clean = bytes(self.frame(flags, options=[])[TCP])[:20]
        options = option_bytes + b"\x00" * (-len(option_bytes) % 4)
        segment = bytearray(clean + options + data)
        segment[12] = ((header_length or 20 + len(options)) // 4) << 4
        segment = segment[:segment_length]
        segment[16:18] = b"\x00\x00"
        ip = IP(src=self.link.address, dst=self.appliance_address, proto=6)
        segment[16:18] = in4_chksum(6, ip, bytes(segment)).to_bytes(2, "big")
        return Ether(src=self.link.mac, dst=self.link.appliance_mac) / ip / Raw(bytes(segment))

    def send_raw(self, frame):
        self.link.send(frame)

    # --- receiving

    def recv(self, timeout=2.0, where=None):
        """The next segment from the appliance to this port (matching `where`,
        skipping others), or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.link.cond:
            while True:
                while self.cursor < len(self.link.frames):
                    arrived, frame = self.link.frames[self.cursor]
                    self.cursor += 1
                    if TCP in frame and frame[TCP].dport == self.sport and frame[TCP].sport == self.dport:
                        segment = Segment(arrived, frame)
                        self.max_payload = max(self.max_payload, len(segment.payload))
                        if "Timestamp" in segment.options:
                            self.ts_recent = segment.options["Timestamp"][0]
                        if where is None or where(segment):
                            return segment
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.link.cond.wait(remaining)

    def expect(self, what="a segment", timeout=2.0, where=None):
        segment = self.recv(timeout, where)
        assert segment is not None, f"port {self.sport}: no {what} within {timeout} s"
        return segment

    def expect_nothing(self, timeout=0.6, where=None):
        segment = self.recv(timeout, where)
        assert segment is None, f"port {self.sport}: unexpected {segment}"

    # --- whole steps

    def connect(self, mss=1460, wscale=None, sack=False, timestamps=True, window=65535):
        """Three-way handshake; returns the SYN-ACK."""
        options = [("MSS", mss)] if mss is not None else []
        if sack:
            options.append(("SAckOK", b""))
        if timestamps:
            options.append(("Timestamp", (self.tsval(), 0)))
        if wscale is not None:
            options += [("NOP", None), ("WScale", wscale)]
        self.send("S", options=options, window=min(window, 65535))
        synack = self.expect("SYN-ACK", where=lambda s: s.has("SA"))
        assert synack.ack == self.snd_nxt, f"SYN-ACK acknowledges {synack.ack}, expected {self.snd_nxt}"
        self.irs = synack.seq
        self.rcv_nxt = (synack.seq + 1) & 0xFFFFFFFF
        self.timestamps = timestamps and "Timestamp" in synack.options
        self.window = window if wscale is None else window >> wscale
        self.send("A")
        return synack

    def ack(self, window=None):
        self.send("A", window=window)

    def read(self, count, timeout=3.0, ack=True):
        """Receives until `count` more in-order payload bytes arrived, ACKing each
        in-order segment; returns those bytes."""
        want = len(self.received) + count
        deadline = time.monotonic() + timeout
        while len(self.received) < want:
            segment = self.recv(max(0.0, deadline - time.monotonic()), where=lambda s: s.payload)
            assert segment is not None, (f"port {self.sport}: {len(self.received)} of {want} bytes "
                                         f"after {timeout} s")
            if segment.seq == self.rcv_nxt:
                self.received += segment.payload
                self.rcv_nxt = (self.rcv_nxt + len(segment.payload)) & 0xFFFFFFFF
            if ack:
                self.ack()
        data = self.received[want - count:want]
        return data

    def close(self):
        """Ends the connection with a RST at the appliance's expected sequence."""
        self.send("R", options=[], advance=False)


def seq_add(a, b):
    return (a + b) & 0xFFFFFFFF
