"""Floods and exhaustion against the appliance on the default topology, each
test printing its figures (run pytest with -s, or see the log of `make test`):
a SYN flood from spoofed addresses while real clients keep being served (SYN
cookies), more connections than `max_concurrency` (new ones refused, old ones
unaffected, full recovery), slow clients trickling their heads (408 after
`header_ms`, freed, others unaffected), and an ARP flood from spoofed senders
(a new neighbour is still learned and served)."""

import json
import shutil
import subprocess
import time

import pytest

from conftest import running_appliance
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, REPO, SYSTEM_PYTHON, ns

SYN_FLOOD = """
import random, sys, time
from scapy.all import Ether, IP, TCP, conf, get_if_hwaddr, sendp
conf.verb = 0
count, mac = int(sys.argv[1]), sys.argv[2]
iface = "mtcp-br"
frames = [Ether(src=get_if_hwaddr(iface), dst=mac) / IP(src="198.18.0.%d" % random.randint(100, 250), dst="198.18.0.1")
          / TCP(sport=random.randint(1024, 65535), dport=80, flags="S", seq=random.getrandbits(32)) for _ in range(count)]
start = time.monotonic()
sendp(frames, iface=iface)
print("%d %.3f" % (count, time.monotonic() - start))
"""

ARP_FLOOD = """
import sys, time
from scapy.all import ARP, Ether, conf, get_if_hwaddr, sendp
conf.verb = 0
count = int(sys.argv[1])
iface = "mtcp-br"
# Distinct spoofed senders across 198.18.0.0/16 (ours is 198.18.0.0/24), each
# with its own MAC, skipping the addresses of the topology and of the new client.
senders = ["198.18.%d.%d" % (n // 250, 3 + n % 250) for n in range(count + 1) if n != 74][:count]
frames = [Ether(src="02:aa:%02x:%02x:%02x:01" % (n >> 16, (n >> 8) & 255, n & 255), dst="ff:ff:ff:ff:ff:ff")
          / ARP(op=1, hwsrc="02:aa:%02x:%02x:%02x:01" % (n >> 16, (n >> 8) & 255, n & 255), psrc=sender,
                pdst="198.18.0.1") for n, sender in enumerate(senders)]
start = time.monotonic()
sendp(frames, iface=iface)
print("%d %.3f" % (count, time.monotonic() - start))
"""

NEW_CLIENT_ADDR = "198.18.0.77"


def metrics():
    text = ns("mtcp-a", "curl", "-s", "127.0.0.1:9180/metrics").stdout
    totals = {}
    for line in text.splitlines():
        if line.startswith("mtcp_") and "{core=" in line and "reason=" not in line:
            name = line.split("{", 1)[0]
            totals[name] = totals.get(name, 0) + float(line.rsplit(" ", 1)[1])  # busy seconds are fractional
    return totals


def curl_status(path="/bench/64.html"):
    return ns(NS_CLIENT, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
              f"http://{APPLIANCE_ADDR}{path}").stdout


def test_syn_flood_from_spoofed_addresses_while_clients_are_served(appliance):
    """RFC 4987: with the SYN queue full of half-open connections that will never
    complete, SYN cookies answer new SYNs, so real clients still get through."""
    mac = ns("mtcp-a", "cat", "/sys/class/net/mtcp-a0/address").stdout.strip()
    flood = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", SYN_FLOOD, "20000", mac],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = []
    while flood.poll() is None:  # real clients for as long as the flood lasts
        results.append(curl_status())
        time.sleep(0.05)
    out, err = flood.communicate()
    assert flood.returncode == 0, err
    sent, seconds = out.split()
    time.sleep(1.2)  # counters are published twice a second
    counters = metrics()
    print(f"\nSYN flood: {sent} spoofed SYNs in {float(seconds):.1f} s; clients: {results.count('200')} of "
          f"{len(results)} requests answered 200; SYN cookies sent {counters['mtcp_tcp_syn_cookies_sent_total']}, "
          f"passive opens {counters['mtcp_tcp_passive_opens_total']}")
    assert results.count("200") == len(results), results
    assert counters["mtcp_tcp_syn_cookies_sent_total"] > 0, counters


def test_arp_flood_from_spoofed_senders_does_not_lock_out_a_new_client(appliance):
    """Thousands of ARP requests from distinct spoofed senders used to fill the
    neighbour table for good, so a client that arrived later never got its
    SYN-ACK. Every request for our address is answered, but senders off our
    subnet are not learned, and a full table replaces only entries no core sends
    to, so the new client is served."""
    flood = ns(NS_CLIENT, SYSTEM_PYTHON, "-c", ARP_FLOOD, "5000", timeout=120)
    assert flood.returncode == 0, flood.stderr
    sent, seconds = flood.stdout.split()
    ns(NS_CLIENT, "ip", "addr", "add", f"{NEW_CLIENT_ADDR}/24", "dev", "mtcp-br", check=True)
    try:
        status = ns(NS_CLIENT, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "8",
                    "--interface", NEW_CLIENT_ADDR, f"http://{APPLIANCE_ADDR}/bench/64.html").stdout
    finally:
        ns(NS_CLIENT, "ip", "addr", "del", f"{NEW_CLIENT_ADDR}/24", "dev", "mtcp-br")
    time.sleep(1.2)  # counters are published twice a second
    counters = metrics()
    print(f"\nARP flood: {sent} requests from spoofed senders in {float(seconds):.1f} s; ARP replies sent "
          f"{counters['mtcp_arp_replies_sent_total']}, cache evictions {counters.get('mtcp_arp_cache_evictions_total')}; "
          f"new client {NEW_CLIENT_ADDR}: {status}")
    assert status == "200"
    assert counters["mtcp_arp_replies_sent_total"] >= 4000, counters  # the flood did reach the appliance


@pytest.fixture
def small_appliance(topology, request, tmp_path_factory):
    """The appliance with room for 64 connections and a 2 s header timeout."""
    directory = tmp_path_factory.mktemp("small")
    for name in ("arp.conf", "route.conf"):
        shutil.copy(REPO / "conf" / name, directory / name)
    text = (REPO / "conf/mtcp.conf").read_text()
    (directory / "mtcp.conf").write_text(text + "\nmax_concurrency = 64\nmax_num_buffers = 256\n")
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["timeouts"]["header_ms"] = 2000
    (directory / "httpd.json").write_text(json.dumps(configuration))
    with running_appliance(request, tmp_path_factory, ["--http-config", directory / "httpd.json"],
                           config=directory / "mtcp.conf") as app:
        yield app


HOLD = """
import socket, sys, time
count = int(sys.argv[1])
held = []
for _ in range(count):
    s = socket.create_connection(("198.18.0.1", 80), timeout=5)
    held.append(s)
print("held", len(held), flush=True)
sys.stdin.readline()
answered = 0
for s in held:
    s.sendall(b"GET /bench/64.html HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
    if s.recv(4096).startswith(b"HTTP/1.1 200"):
        answered += 1
print("answered", answered, flush=True)
for s in held:
    s.close()
"""


def test_more_connections_than_max_concurrency(small_appliance):
    """A full connection pool refuses new connections with a RST and a counter;
    the connections it holds are unaffected; once they close, it serves again."""
    holder = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", HOLD, "64"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().split() == ["held", "64"]
        refused = [curl_status() for _ in range(10)]
        time.sleep(1.2)
        counters = metrics()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        answered = holder.stdout.readline().split()
        holder.wait(30)
    finally:
        if holder.poll() is None:
            holder.kill()
    time.sleep(0.5)
    recovered = [curl_status() for _ in range(20)]
    print(f"\nexhaustion: 64 connections held; {refused.count('000')} of 10 new connections refused "
          f"(refused for lack of resources: {counters['mtcp_tcp_refused_no_resources_total']}); held connections "
          f"answered {answered[1]} of 64; after they closed {recovered.count('200')} of 20 new requests served")
    assert refused.count("000") == 10, refused
    assert counters["mtcp_tcp_refused_no_resources_total"] >= 10, counters
    assert answered == ["answered", "64"]
    assert recovered.count("200") == 20, recovered


TRICKLE = """
import socket, sys, time
count = int(sys.argv[1])
clients = [socket.create_connection(("198.18.0.1", 80), timeout=10) for _ in range(count)]
start = time.monotonic()
for s in clients:
    s.sendall(b"GET / HTTP/1.1\\r\\n")
statuses = []
for second in range(8):
    for s in clients:
        try:
            s.sendall(b"X: y\\r\\n")
        except OSError:
            pass
    time.sleep(0.5)
for s in clients:
    try:
        data = s.recv(4096)
        statuses.append(data.split(b" ")[1].decode() if data else "closed")
    except OSError as error:
        statuses.append(type(error).__name__)
print(" ".join(statuses))
"""


def test_slow_clients_are_timed_out_and_others_are_served(small_appliance):
    """Clients that trickle a head never finish it: after header_ms they get 408
    and their connections are freed; a normal client is served meanwhile."""
    trickle = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", TRICKLE, "20"],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    during = [curl_status() for _ in range(5)]
    statuses = trickle.communicate(timeout=60)[0].split()
    deadline = time.monotonic() + 6
    while True:  # closing handshakes (and lingering closes) end within a few seconds
        time.sleep(0.6)
        counters = metrics()
        if counters["mtcp_connections"] == 0 or time.monotonic() > deadline:
            break
    print(f"\nslow clients: 20 trickling heads got {statuses.count('408')} x 408; "
          f"{during.count('200')} of 5 normal requests served meanwhile; connections in use afterwards: "
          f"{counters['mtcp_connections']}")
    assert statuses.count("408") == 20, statuses
    assert during.count("200") == 5, during
    assert counters["mtcp_connections"] == 0, counters
