"""Frames of 9000 bytes (`mtu` in mtcp.conf): the stack announces and sends with
the MSS the MTU gives, on a veth (net_af_packet, a kernel curl as the peer) and
between two stacks over net_memif; a device that cannot carry the MTU stops the
start with the reason. Segment sizes are read from the stack's own capture.

Each test makes its own namespace or memif socket (198.19.9.0/24, 198.19.10.0/24).
"""

import hashlib
import os
import subprocess

from mtcp_ns import describe, ns
from stacks import HTTPD, LOADGEN, Stack, memif_pair, write_config

JUMBO = 9000
MSS = JUMBO - 40
# Both sides use timestamps: 12 option bytes ride in every data segment.
FULL_PAYLOAD = MSS - 12
PACKET_RING = "framesz=9216,blocksz=36864"


def tshark(pcap, display_filter, field):
    """The values of `field` in the frames of `pcap` that match `display_filter`."""
    read = subprocess.run(["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-e", field],
                          capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, describe(read)
    return [int(value) for value in read.stdout.split()]


def jumbo_veth(namespace, address):
    """A veth pair vj0 (the stack's) / vj1 (the kernel's, `address`) at MTU 9000,
    with the kernel's offloads off so that it sends and receives real frames."""
    for cmd in (["ip", "link", "add", "vj0", "mtu", JUMBO, "type", "veth", "peer", "name", "vj1", "mtu", JUMBO],
                ["ip", "link", "set", "vj0", "up"], ["ip", "link", "set", "vj1", "up"],
                ["ip", "addr", "add", f"{address}/24", "dev", "vj1"],
                ["ethtool", "-K", "vj1", "tx", "off", "rx", "off", "gso", "off", "tso", "off", "gro", "off"]):
        ns(namespace, *cmd, check=True)


def test_curl_fetches_one_mebibyte_with_the_jumbo_mss(tmp_path, namespace):
    """A 1 MiB file over a 9000-byte veth: SHA-256 exact, our SYN-ACK announces MSS
    8960, and the body leaves in full 8948-byte segments (8960 less timestamps)."""
    jumbo_veth(namespace, "198.19.9.2")
    www = tmp_path / "www"
    www.mkdir()
    body = os.urandom(1 << 20)
    (www / "big.bin").write_bytes(body)
    pcap = tmp_path / "jumbo.pcap"
    config = write_config(tmp_path, "jumbo", "198.19.9.1/24", f"net_af_packet0,iface=vj0,{PACKET_RING}",
                          f"mtu = {JUMBO}\nsndbuf = 262144\nrcvbuf = 65536\npcap_file = {pcap}\n")
    stack = Stack(config, namespace, args=["--root", str(www)])
    try:
        assert f"MTU {JUMBO} (MSS {MSS})" in stack.ready_line, stack.ready_line
        fetch = subprocess.run(["ip", "netns", "exec", namespace, "curl", "-sS", "--max-time", "30",
                                "http://198.19.9.1/big.bin"], capture_output=True, timeout=40)
        assert fetch.returncode == 0, fetch.stderr
        assert hashlib.sha256(fetch.stdout).hexdigest() == hashlib.sha256(body).hexdigest(), \
            f"{len(fetch.stdout)} bytes differ"
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log
    assert tshark(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 1", "tcp.options.mss_val") == [MSS]
    sizes = tshark(pcap, "tcp.srcport == 80 && tcp.len > 0", "tcp.len")
    assert max(sizes) == FULL_PAYLOAD, sorted(set(sizes))
    assert sum(1 for size in sizes if size == FULL_PAYLOAD) >= len(body) // FULL_PAYLOAD - 1, sorted(set(sizes))


def test_two_stacks_over_memif_at_mtu_9000(tmp_path):
    """Two stacks at MTU 9000 over net_memif (buffers of 9216 bytes, which hold a
    frame): echo flows carry every byte back, in full jumbo segments."""
    pcap = tmp_path / "memif.pcap"
    server, client = memif_pair(tmp_path, "jumbo", "198.19.10", f"mtu = {JUMBO}\nsndbuf = 65536\nrcvbuf = 65536\n",
                                server_extra=f"pcap_file = {pcap}\n", device_arguments=",bsize=9216")
    stack = Stack(server)
    try:
        assert f"MTU {JUMBO} (MSS {MSS})" in stack.ready_line, stack.ready_line
        result = subprocess.run([str(LOADGEN), "--config", str(client), "echo://198.19.10.1:7", "20",
                                 "-c", "4", "--bytes", "200000", "--timeout", "30"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, describe(result)
        assert "echo: completed 20 of 20, failed 0, bytes verified 4000000" in result.stdout, describe(result)
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log
    sizes = tshark(pcap, "tcp.srcport == 7 && tcp.len > 0", "tcp.len")
    assert max(sizes) == FULL_PAYLOAD, sorted(set(sizes))


def test_an_mtu_the_interface_cannot_carry_stops_the_start(tmp_path, namespace):
    """mtu = 9000 on a veth whose kernel MTU is 1500: no ready line, exit status 1,
    and the error names the interface and the command that fixes it."""
    for cmd in (["ip", "link", "add", "vj0", "type", "veth", "peer", "name", "vj1"],
                ["ip", "link", "set", "vj0", "up"], ["ip", "link", "set", "vj1", "up"]):
        ns(namespace, *cmd, check=True)
    config = write_config(tmp_path, "small", "198.19.9.1/24", f"net_af_packet0,iface=vj0,{PACKET_RING}",
                          f"mtu = {JUMBO}\n")
    result = ns(namespace, HTTPD, "--config", config, timeout=60)
    assert result.returncode != 0, describe(result)
    assert "ready" not in result.stdout, describe(result)
    assert f"interface vj0 has MTU 1500, mtu = {JUMBO} (ip link set vj0 mtu {JUMBO})" in result.stdout + result.stderr, \
        describe(result)
