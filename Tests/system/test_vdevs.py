"""The stack on each kind of DPDK virtual device the project supports, beyond the
default topology's net_af_packet: net_tap (with the checksum offload it offers),
net_af_xdp on a veth, and net_memif joining two stacks in shared memory.

Each test makes its own namespace or socket, with its own addresses
(198.19.0.0/16, still RFC 2544 space), and removes them afterwards.
"""

import hashlib
import os
import subprocess

from mtcp_ns import describe, ns
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
