"""The stack on each kind of DPDK virtual device the project supports, beyond the
default topology's net_af_packet: net_tap (with the checksum offload it offers),
net_af_xdp on a veth, and net_memif joining two stacks in shared memory.

Each test makes its own namespace or socket, with its own addresses
(198.19.0.0/16, still RFC 2544 space), and removes them afterwards.
"""

import hashlib
import os
import signal
import subprocess
import time
import uuid

import pytest

from mtcp_ns import REPO, describe, ns

HTTPD = REPO / ".build/release/mtcp-httpd"
LOADGEN = REPO / ".build/release/mtcp-loadgen"


def write_config(directory, name, address, vdev):
    """An mtcp.conf for one stack, with empty arp.conf/route.conf beside it."""
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    (directory / "route.conf").write_text("ROUTES 0\n")
    path = directory / f"{name}.conf"
    path.write_text(f"port = dpdk0\nip_addr = {address}\nvdev = {vdev}\n"
                    f"file_prefix = mtcp-test-{name}-{os.getpid()}\n")
    return path


class Stack:
    """mtcp-httpd started (optionally inside a namespace) and stopped by PID."""

    def __init__(self, config, namespace=None):
        prefix = ["ip", "netns", "exec", namespace] if namespace else []
        self.proc = subprocess.Popen(prefix + ["stdbuf", "-oL", str(HTTPD), "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("mtcp-httpd: ready"):
                return
        self.stop()
        pytest.fail("mtcp-httpd did not get ready:\n" + "".join(self.lines))

    @property
    def ready_line(self):
        return self.lines[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.lines += self.proc.stdout.readlines()
        return "".join(self.lines)


@pytest.fixture
def namespace():
    """A namespace of this test's own, deleted afterwards."""
    name = f"mtcp-v{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


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
        ns(namespace, "ip", "addr", "add", "198.19.1.2/24", "dev", "mtcpvtap0", check=True)
        ns(namespace, "ip", "link", "set", "mtcpvtap0", "up", check=True)
        ping = ns(namespace, "ping", "-c", 2, "-W", 2, "198.19.1.1", timeout=15)
        assert ping.returncode == 0, describe(ping)
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
    socket = tmp_path / "memif.sock"
    server_dir, client_dir = tmp_path / "a", tmp_path / "l"
    server_dir.mkdir()
    client_dir.mkdir()
    server = write_config(server_dir, "memif-a", "198.19.0.1/24", f"net_memif0,role=server,socket={socket}")
    client = write_config(client_dir, "memif-l", "198.19.0.3/24", f"net_memif0,role=client,socket={socket}")
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
