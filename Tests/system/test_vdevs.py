"""The stack on each kind of DPDK virtual device the project supports, beyond the
default topology's net_af_packet: net_tap (with the checksum offload it offers),
net_af_xdp on a veth, and net_memif joining two stacks in shared memory.

Each test makes its own namespace or socket, with its own addresses
(198.19.0.0/16, still RFC 2544 space), and removes them afterwards.
"""

import hashlib
import os
import re
import subprocess

from mtcp_ns import SYSTEM_PYTHON, describe, ns
from stacks import LOADGEN, Stack, memif_pair, tap_peer_up, write_config


def echo_through(namespace, address, size):
    """Echoes `size` random bytes through the stack's port 7 with kernel nc."""
    data = os.urandom(size)
    result = subprocess.run(["ip", "netns", "exec", namespace, "timeout", "20", "nc", "-N", address, "7"],
                            input=data, capture_output=True, timeout=30)
    return hashlib.sha256(result.stdout).hexdigest() == hashlib.sha256(data).hexdigest(), result


def test_net_tap_with_checksum_offload(tmp_path, namespace):
    """net_tap offers TX checksum offload: ping and a 1 MiB TCP echo must survive it."""
    config = write_config(tmp_path, "tap", "198.19.1.1/24", "net_tap0,iface=mtcpvtap0")
    stack = Stack(config, namespace)
    try:
        assert "checksum offload on" in stack.ready_line, stack.ready_line
        tap_peer_up(namespace, "mtcpvtap0", "198.19.1.2/24", "198.19.1.1")
        ok, result = echo_through(namespace, "198.19.1.1", 1 << 20)
        assert ok, f"echo differs ({len(result.stdout)} bytes back)"
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log


def test_net_af_xdp_on_a_veth(tmp_path, namespace):
    """net_af_xdp bound to one end of a veth; the kernel on the other end talks TCP to it."""
    for cmd in (["ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1"],
                ["ip", "link", "set", "vx0", "up"], ["ip", "link", "set", "vx1", "up"],
                ["ip", "addr", "add", "198.19.2.2/24", "dev", "vx1"],
                ["ethtool", "-K", "vx1", "tx", "off", "gso", "off", "tso", "off", "gro", "off"]):
        ns(namespace, *cmd, check=True)
    config = write_config(tmp_path, "xdp", "198.19.2.1/24", "net_af_xdp0,iface=vx0,start_queue=0,queue_count=1")
    stack = Stack(config, namespace)
    try:
        ping = ns(namespace, "ping", "-c", 2, "-W", 2, "198.19.2.1", timeout=15)
        assert ping.returncode == 0, describe(ping)
        ok, result = echo_through(namespace, "198.19.2.1", 200_000)
        assert ok, f"echo differs ({len(result.stdout)} bytes back)"
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log
    # The port's own counters (the driver's) saw what the engine saw: one queue, one core.
    engine = re.search(r"^frames: received (\d+) \((\d+) bytes\), transmitted (\d+) \((\d+) bytes\)$", log, re.M)
    port = re.search(r"^port: received (\d+) \((\d+) bytes\), transmitted (\d+) \((\d+) bytes\), "
                     r"missed (\d+), receive errors (\d+), transmit errors (\d+), no mbuf (\d+)$", log, re.M)
    assert engine and port, log
    assert port.groups()[:4] == engine.groups() and int(engine[1]) > 100, log
    assert port.groups()[4:] == ("0",) * 4, log


ANNOUNCEMENTS = """
import sys, time
from scapy.all import ARP, AsyncSniffer, conf
conf.verb = 0
address = sys.argv[2]
sniffer = AsyncSniffer(iface=sys.argv[1], filter="arp", store=True)
sniffer.start()
time.sleep(0.5)  # the capture runs before the stack starts
print("sniffing", flush=True)
time.sleep(float(sys.argv[3]))
frames = sniffer.stop()
print(sum(1 for f in frames if ARP in f and f[ARP].psrc == address and f[ARP].pdst == address))
"""


def test_net_af_xdp_sends_its_first_frames_from_a_small_pool(tmp_path, namespace):
    """The gratuitous ARPs a stack sends as it starts (RFC 5227: two, 2 s apart)
    leave a net_af_xdp port with a small mbuf pool too. DPDK 22.11's PMD registers
    the pool as the AF_XDP UMEM assuming objects back to back; mbufs of the usual
    size lie a page apart without hugepages, so the first 2,000 odd mbufs were
    covered and those after were not: with max_num_buffers = 256 every frame of
    the first seconds went from one of those, and the kernel dropped it."""
    for cmd in (["ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1"],
                ["ip", "link", "set", "vx0", "up"], ["ip", "link", "set", "vx1", "up"]):
        ns(namespace, *cmd, check=True)
    config = write_config(tmp_path, "xdp-small", "198.19.3.1/24", "net_af_xdp0,iface=vx0,start_queue=0,queue_count=1",
                          "max_num_buffers = 256\n")
    sniffer = subprocess.Popen(["ip", "netns", "exec", namespace, SYSTEM_PYTHON, "-c", ANNOUNCEMENTS, "vx1",
                                "198.19.3.1", "6"], stdout=subprocess.PIPE, text=True)
    try:
        assert sniffer.stdout.readline().strip() == "sniffing"
        stack = Stack(config, namespace)
        try:
            announcements = int(sniffer.communicate(timeout=20)[0])
        finally:
            log = stack.stop()
    finally:
        if sniffer.poll() is None:
            sniffer.kill()
    assert announcements == 2, log
    assert stack.proc.returncode == 0, log


def test_two_stacks_over_net_memif(tmp_path):
    """Two processes, each its own stack, joined by net_memif: the loadgen's echo flows
    against the appliance's echo service, every byte checked, no kernel on the path."""
    server, client = memif_pair(tmp_path, "memif", "198.19.0")
    stack = Stack(server)
    try:
        result = subprocess.run([str(LOADGEN), "--config", str(client), "echo://198.19.0.1:7", "1000",
                                 "-c", "100", "--bytes", "3000", "--timeout", "30"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, describe(result)
        assert "echo: completed 1000 of 1000, failed 0, bytes verified 3000000" in result.stdout, describe(result)
    finally:
        log = stack.stop()
    assert "passive opens 1000" in log, log
