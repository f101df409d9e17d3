"""The exception path and virtual addresses against real kernel peers.

The appliance runs with `exception_path = on`: DPDK makes the kernel interface
`mtcp-k0` (net_tap) in netns mtcp-a with the port's MAC. The test gives it the
appliance's address (so SSH-like and UDP services in mtcp-a answer on
198.18.0.1, beside the stack's HTTP) and an address of its own (198.18.0.4,
whose ARP and pings only the kernel answers). The stack keeps answering pings to
198.18.0.1: an echo is cheaper there, and it shows the data path is alive.

Also `vip` addresses: 198.18.0.10 answered like the own address, 198.18.0.11
with `noarp` (direct server return: served, but ARP for it left to others).
"""

import re
import socket
import subprocess
import time

import pytest

from conftest import CONFIG, running_appliance, stop_process_group
from mtcp_ns import NS_APPLIANCE, NS_CLIENT, REPO, SYSTEM_PYTHON, client, describe, link_mac, ns, ping, show

KERNEL_IF = "mtcp-k0"
KERNEL_OWN_ADDR = "198.18.0.4"
VIP, SILENT_VIP = "198.18.0.10", "198.18.0.11"

# Echo services of the kernel in mtcp-a: TCP on 22 (standing for sshd) and UDP on 5353.
KERNEL_SERVICES = r"""
import socket, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 22)); s.listen(8)
    while True:
        c, _ = s.accept()
        data = c.recv(1024)
        c.sendall(b"kernel-tcp:" + data); c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
    while True:
        data, peer = u.recvfrom(2048); u.sendto(b"kernel-udp:" + data, peer)
threading.Thread(target=udp, daemon=True).start()
print("listening", flush=True)
tcp()
"""

CLIENT_TCP = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hello"); print(s.recv(1024).decode())
"""

CLIENT_UDP = r"""
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
for _ in range(3):
    u.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
    try:
        print(u.recvfrom(2048)[0].decode()); break
    except socket.timeout:
        pass
"""


def exception_config(directory):
    """conf/mtcp.conf with the exception path on and two vips, in `directory`."""
    text = CONFIG.read_text()
    for table in ("arp.conf", "route.conf"):
        if (CONFIG.parent / table).exists():
            (directory / table).write_text((CONFIG.parent / table).read_text())
    text += (f"\nexception_path = on\nexception_iface = {KERNEL_IF}\n"
             f"vip = {VIP}\nvip = {SILENT_VIP} noarp\n")
    (directory / "mtcp.conf").write_text(text)
    return directory / "mtcp.conf"


def metric(name):
    """The sum of a counter over the cores, once the engines have published what
    happened so far (they publish twice a second)."""
    time.sleep(1.2)
    text = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15).stdout
    return sum(float(value) for value in re.findall(rf"(?m)^mtcp_{name}(?:{{[^}}]*}})? (\S+)$", text))


@pytest.fixture
def exception_appliance(topology, request, tmp_path_factory):
    config = exception_config(tmp_path_factory.mktemp("exception"))
    with running_appliance(request, tmp_path_factory, config=config) as app:
        setup = [("ip", "addr", "add", "198.18.0.1/24", "dev", KERNEL_IF),
                 ("ip", "addr", "add", f"{KERNEL_OWN_ADDR}/32", "dev", KERNEL_IF),
                 ("ip", "link", "set", KERNEL_IF, "up")]
        for command in setup:
            result = ns(NS_APPLIANCE, *command)
            assert result.returncode == 0, describe(result)
        services = subprocess.Popen(["ip", "netns", "exec", NS_APPLIANCE, SYSTEM_PYTHON, "-c", KERNEL_SERVICES],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
        try:
            assert services.stdout.readline().strip() == "listening"
            yield app
        finally:
            stop_process_group(services, grace=2)
            # The client kernel must not keep the silent VIP's neighbour entry.
            ns(NS_CLIENT, "ip", "neigh", "del", SILENT_VIP, "dev", "mtcp-br")


def client_python(script, *args):
    result = ns(NS_CLIENT, SYSTEM_PYTHON, "-c", script, *args, timeout=20)
    return result.stdout.strip(), result


def test_kernel_services_answer_beside_the_stacks_http(exception_appliance):
    assert link_mac(NS_APPLIANCE, KERNEL_IF) == link_mac(NS_APPLIANCE, "mtcp-a0"), \
        "the kernel interface carries the port's MAC"
    before_to, before_from = metric("exception_frames_to_kernel_total"), metric("exception_frames_from_kernel_total")

    http = client("curl", "-sS", "--max-time", 5, "-o", "/dev/null", "-w", "%{http_code}", "http://198.18.0.1/")
    assert http.stdout == b"200", show(http)
    served = metric("tcp_passive_opens_total")

    answer, result = client_python(CLIENT_TCP, "198.18.0.1", "22")
    assert answer == "kernel-tcp:hello", describe(result)
    answer, result = client_python(CLIENT_UDP, "198.18.0.1", "5353")
    assert answer == "kernel-udp:hello", describe(result)
    assert metric("tcp_passive_opens_total") == served, "port 22 was the kernel's, not the stack's"

    replies_before = metric("icmp_echo_replies_sent_total")
    result, loss = ping("198.18.0.1")
    assert loss == 0.0, describe(result)
    assert metric("icmp_echo_replies_sent_total") == replies_before + 3, "the stack answers its address"

    # The kernel's own address: its ARP and echo replies leave through the port.
    result, loss = ping(KERNEL_OWN_ADDR)
    assert loss == 0.0, describe(result)
    assert metric("icmp_echo_replies_sent_total") == replies_before + 3

    assert metric("exception_frames_to_kernel_total") > before_to
    assert metric("exception_frames_from_kernel_total") > before_from


def test_vips_serve_http_and_tls_and_a_silent_vip_answers_no_arp(exception_appliance):
    for url in (f"http://{VIP}/", f"https://{VIP}/"):
        result = client("curl", "-ksS", "--max-time", 5, "-o", "/dev/null", "-w", "%{http_code}", url)
        assert result.stdout == b"200", show(result)

    arping = ns(NS_CLIENT, "arping", "-c", 2, "-w", 3, "-I", "mtcp-br", SILENT_VIP, timeout=10)
    assert arping.returncode != 0 and "Received 0 response" in arping.stdout, describe(arping)
    # Behind a director the router's neighbour entry points at the replica: do the same.
    mac = link_mac(NS_APPLIANCE, "mtcp-a0")
    result = ns(NS_CLIENT, "ip", "neigh", "replace", SILENT_VIP, "lladdr", mac, "dev", "mtcp-br", "nud", "permanent")
    assert result.returncode == 0, describe(result)
    for url in (f"http://{SILENT_VIP}/", f"https://{SILENT_VIP}/"):
        result = client("curl", "-ksS", "--max-time", 5, "-o", "/dev/null", "-w", "%{http_code}", url)
        assert result.stdout == b"200", show(result)
