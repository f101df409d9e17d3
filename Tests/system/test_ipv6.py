"""The appliance over IPv6 against the kernel in netns mtcp-c (2001:2::2 on the
bridge, DESIGN.md §5): ping -6 (Neighbor Discovery both ways, ICMPv6 echo),
curl -6, ab, wrk, openssl s_client (TLS) and a python AF_INET6 client against
the HTTP server listening on both families, the access log naming the IPv6
client, and the proxy reaching a kernel upstream of either family from clients
of either family (an IPv6 trusted proxy's X-Forwarded-For extended); scapy's
malformed extension headers, bad checksums and a forged advertisement for a
static neighbour. (mtcp-loadgen over IPv6 against kernel nginx is in
test_loadgen.py, beside its IPv4 runs.)"""

import json
import re
import shutil
import subprocess
import time

import pytest

from conftest import running_appliance, stop_process_group
from mtcp_ns import (APPLIANCE_ADDR, APPLIANCE_ADDR6, APPLIANCE_IF, BRIDGE, CLIENT_ADDR, CLIENT_ADDR6, NS_APPLIANCE,
                     NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, ab_without_errors, client, describe, link_mac, ns,
                     per_core, ping, show)

WWW = REPO / "www"
BASE6 = f"http://[{APPLIANCE_ADDR6}]"
FLUSH = 1.5  # the access log is appended once a second
DAD = 1.5  # the stack's addresses are tentative for its first second (RFC 4862)


@pytest.fixture(scope="module")
def access_log(tmp_path_factory):
    return tmp_path_factory.mktemp("ipv6") / "access.log"


@pytest.fixture
def httpd(topology, request, tmp_path_factory, access_log):
    with running_appliance(request, tmp_path_factory, ["--access-log", access_log]) as app:
        time.sleep(DAD)
        yield app


def test_ping6_resolves_the_appliance_and_is_answered(httpd):
    result, loss = ping(APPLIANCE_ADDR6, "-6", count=3)
    assert loss == 0.0, f"{result.stdout}{result.stderr}\n{httpd.log}"


def test_curl6_fetches_the_index_and_the_access_log_and_metrics_tell_the_families_apart(httpd, access_log):
    result = client("curl", "-6", "-sS", "--max-time", "10", f"http://[{APPLIANCE_ADDR6}]/index.html?v6=1")
    assert result.returncode == 0, show(result)
    assert result.stdout == (WWW / "index.html").read_bytes()
    # IPv4 is served beside it by the same listener.
    result = client("curl", "-4", "-sS", "--max-time", "10", f"http://{APPLIANCE_ADDR}/index.html?v4=1")
    assert result.returncode == 0, show(result)
    assert result.stdout == (WWW / "index.html").read_bytes()
    time.sleep(FLUSH)
    lines = access_log.read_text().splitlines()
    v6 = [line for line in lines if "?v6=1" in line]
    v4 = [line for line in lines if "?v4=1" in line]
    assert len(v6) == 1 and v6[0].startswith(f"{CLIENT_ADDR6} - - "), lines
    assert len(v4) == 1 and v4[0].startswith("198.18.0.2 - - "), lines
    # /metrics tells the families apart (published twice a second: FLUSH waited for it).
    opens = sum(per_core("mtcp_tcp_passive_opens_total").values())
    opens6 = sum(per_core("mtcp_tcp_passive_opens_ipv6_total").values())
    assert (opens, opens6) == (2, 1), httpd.log
    assert sum(per_core("mtcp_ipv6_received_packets_total").values()) >= 5, "ND, SYN, request, ACKs, FIN"


PYTHON_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
assert s.family == socket.AF_INET6
s.sendall(b"GET /robots.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.buffer.write(data)
"""


def test_a_python_inet6_socket_gets_a_whole_response(httpd):
    result = client(SYSTEM_PYTHON, "-c", PYTHON_CLIENT, APPLIANCE_ADDR6)
    assert result.returncode == 0, show(result)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), show(result)
    assert body == (WWW / "robots.txt").read_bytes()


@pytest.mark.parametrize("keep_alive", [False, True], ids=["short", "keep-alive"])
def test_ab_over_ipv6_completes_every_request(httpd, keep_alive):
    ab_without_errors(f"{BASE6}/bench/1k.html", 1024, requests=1000, concurrency=20, keep_alive=keep_alive)


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
def test_wrk_over_ipv6_sees_no_error(httpd, close):
    headers = ["-H", "Connection: close"] if close else []
    result = client("wrk", "-t", 1, "-c", 16, "-d", "2s", "--timeout", "5s", *headers, f"{BASE6}/bench/1k.html",
                    timeout=30)
    assert result.returncode == 0, show(result)
    out = result.stdout.decode()
    assert "Socket errors" not in out and "Non-2xx or 3xx responses" not in out, out
    assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out


def test_openssl_s_client_gets_the_index_over_tls_on_ipv6(httpd):
    request = f"GET /index.html HTTP/1.1\r\nHost: [{APPLIANCE_ADDR6}]\r\nConnection: close\r\n\r\n".encode()
    result = client("openssl", "s_client", "-connect", f"[{APPLIANCE_ADDR6}]:443", "-servername", "localhost",
                    "-ign_eof", "-quiet", input=request, timeout=20)
    assert result.returncode == 0, show(result)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), show(result)
    assert body == (WWW / "index.html").read_bytes()


@pytest.fixture(params=[CLIENT_ADDR6, CLIENT_ADDR], ids=["v6-upstream", "v4-upstream"])
def upstream(topology, request):
    """The kernel upstream in netns mtcp-c, on the bridge's address of either family;
    its address as a proxy server entry."""
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--host", request.param, "--port", "8080"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    yield f"[{request.param}]:8080" if ":" in request.param else f"{request.param}:8080"
    stop_process_group(proc, grace=5)


@pytest.fixture
def proxy(upstream, request, tmp_path_factory):
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["routes"] = [{"prefix": "/api/", "upstream": "backend"}]
    configuration["upstreams"] = [{"name": "backend", "servers": [upstream]}]
    # The bridge's IPv6 address is a front proxy of ours; its IPv4 address is not.
    configuration["trusted_proxies"] = [CLIENT_ADDR6]
    path = tmp_path_factory.mktemp("proxy6") / "httpd.json"
    path.write_text(json.dumps(configuration))
    with running_appliance(request, tmp_path_factory, ["--http-config", path]) as app:
        time.sleep(DAD)
        yield app


@pytest.mark.parametrize("family, base, forwarded_for", [
    ("-6", BASE6, f"192.0.2.7, {CLIENT_ADDR6}"),  # trusted: its X-Forwarded-For is extended
    ("-4", f"http://{APPLIANCE_ADDR}", CLIENT_ADDR),  # not: replaced
])
def test_the_proxy_reaches_a_kernel_upstream_of_either_family_from_either_family(proxy, family, base,
                                                                                  forwarded_for):
    result = client("curl", family, "-sS", "-D", "-", "--max-time", "10", "-H", "X-Forwarded-For: 192.0.2.7",
                    f"{base}/api/hello")
    assert result.returncode == 0, show(result)
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert " 200 " in head.splitlines()[0], show(result)
    assert body == "/api/hello\n"
    fields = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    assert fields["X-Seen-X-Forwarded-For"] == forwarded_for


STATIC_NEIGHBOUR = "2001:2::9"


@pytest.fixture
def guarded_httpd(topology, request, tmp_path_factory):
    """The appliance with a static IPv6 neighbour in arp.conf (for the spoofing case)."""
    directory = tmp_path_factory.mktemp("ipv6-static")
    shutil.copy(REPO / "conf/route.conf", directory / "route.conf")
    (directory / "arp.conf").write_text(f"ARP_ENTRY 1\n{STATIC_NEIGHBOUR}/128 02:00:00:00:00:99\n")
    (directory / "mtcp.conf").write_text((REPO / "conf/mtcp.conf").read_text())
    with running_appliance(request, tmp_path_factory, config=directory / "mtcp.conf") as app:
        time.sleep(DAD)
        yield app


def test_malformed_and_forged_ipv6_is_dropped_counted_and_answered_as_rfc_8200_says(guarded_httpd):
    mac = link_mac(NS_APPLIANCE, APPLIANCE_IF)
    result = ns(NS_CLIENT, SYSTEM_PYTHON, TOOLS / "malformed_ipv6.py", "--iface", BRIDGE, "--src", CLIENT_ADDR6,
                "--dst", APPLIANCE_ADDR6, "--dst-mac", mac, "--spoof", STATIC_NEIGHBOUR, timeout=30)
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # RFC 8200 §4: unknown next header (code 1 at the next header field), a routing
    # header with segments left (code 0 at its type), an unknown 10xxxxxx option (code 2).
    assert report["problems"] == [[0, 42], [1, 6], [2, 42]], report
    assert report["echo_replies"] == [6], f"only the valid echo is answered: {report}"
    assert guarded_httpd.alive()
    guarded_httpd.stop()
    assert guarded_httpd.proc.returncode == 0, guarded_httpd.log
    for reason in ("ipv6_unknown_next_header", "ipv6_routing_header", "ipv6_unrecognised_option", "ipv6_fragment",
                   "icmpv6_bad_checksum", "tcp_bad_checksum", "nd_spoofed_static"):
        assert re.search(rf"\b{reason} [1-9]", guarded_httpd.log), f"no {reason} drop counted:\n{guarded_httpd.log}"
