"""The reverse proxy of mtcp-httpd against a kernel upstream in netns mtcp-c:
bodies both ways byte-exact (Content-Length and chunked), forwarded and
hop-by-hop fields, upstream connections kept alive, 502 when the upstream is
down, 504 when it is too slow, and the static site still served beside it.
Against a raw-logging upstream: request smuggling attempts arrive framed as
the proxy read them, and the next client's request arrives intact and alone."""

import hashlib
import json
import os
import random
import re
import subprocess

import pytest

from conftest import (TWO_CORE_DEVICES, check_both_queues_busy, check_two_core_spreading, running_appliance,
                      running_two_core_appliance, stop_process_group)
from mtcp_ns import APPLIANCE_ADDR, CLIENT_ADDR, NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, describe, ns, per_core

UPSTREAM_PORT = 8080


@pytest.fixture
def upstream(topology):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--port", str(UPSTREAM_PORT)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    stop_process_group(proc, grace=5)


def proxy_configuration(tmp_path_factory):
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["routes"] = [{"prefix": "/api/", "upstream": "backend"},
                               {"prefix": "/down/", "upstream": "nobody"}]
    configuration["upstreams"] = [{"name": "backend", "servers": [f"198.18.0.2:{UPSTREAM_PORT}"]},
                                  {"name": "nobody", "servers": ["198.18.0.2:8099"]}]
    configuration["timeouts"]["upstream_read_ms"] = 2000
    configuration["limits"]["max_body_bytes"] = 16 << 20
    path = tmp_path_factory.mktemp("proxy") / "httpd.json"
    path.write_text(json.dumps(configuration))
    return path


@pytest.fixture
def proxy(topology, upstream, request, tmp_path_factory):
    with running_appliance(request, tmp_path_factory, ["--http-config", proxy_configuration(tmp_path_factory)]) as app:
        yield app


@pytest.fixture
def raw_upstream(topology, request, tmp_path):
    """The raw-logging upstream, with the options of the test's `upstream_options` mark."""
    mark = request.node.get_closest_marker("upstream_options")
    log = tmp_path / "upstream"
    log.mkdir()
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--port", str(UPSTREAM_PORT), "--raw-log", str(log), *(mark.args if mark else ())],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    yield log
    stop_process_group(proc, grace=5)


@pytest.fixture
def raw_proxy(raw_upstream, request, tmp_path_factory):
    with running_appliance(request, tmp_path_factory, ["--http-config", proxy_configuration(tmp_path_factory)]):
        yield raw_upstream


def curl(*args, timeout=60):
    return ns(NS_CLIENT, "curl", "-s", "--max-time", "30", *args, timeout=timeout)


def test_get_through_the_proxy_adds_forwarded_and_via_and_drops_hop_by_hop(proxy):
    result = ns(NS_CLIENT, "curl", "-s", "-D", "-", "-H", "Connection: keep-alive, X-Custom", "-H", "X-Custom: 1",
                "-H", "Keep-Alive: timeout=5", f"http://{APPLIANCE_ADDR}/api/hello")
    assert result.returncode == 0, describe(result)
    head, _, body = result.stdout.partition("\n\n")  # text mode turned CRLF into LF
    assert head.startswith("HTTP/1.") and " 200 " in head.splitlines()[0], head
    assert body == "/api/hello\n"
    fields = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    assert fields["X-Seen-X-Forwarded-For"] == "198.18.0.2"
    assert fields["X-Seen-Via"] == "1.1 mtcp-httpd"
    assert fields["X-Seen-Keep-Alive"] == "-", "Keep-Alive is hop-by-hop"
    assert fields["X-Seen-X-Custom"] == "-", "a field named by Connection is hop-by-hop"
    assert fields["Via"] == "1.1 mtcp-httpd"


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("size", [0, 1, 70_000, 3_000_000])
def test_response_bodies_arrive_byte_exact(proxy, size, scheme):
    """Also over TLS: the client's side of the exchange is HTTPS, the upstream's plain."""
    result = ns(NS_CLIENT, "sh", "-c", f"curl -sk --max-time 30 {scheme}://{APPLIANCE_ADDR}/api/big?n={size} | sha256sum")
    expected = hashlib.sha256(random.Random(size).randbytes(size)).hexdigest()
    assert result.stdout.split()[0] == expected, describe(result)


def test_chunked_response_relayed(proxy):
    result = ns(NS_CLIENT, "sh", "-c", f"curl -s --raw --max-time 30 http://{APPLIANCE_ADDR}/api/chunked | wc -c")
    decoded = ns(NS_CLIENT, "sh", "-c", f"curl -s --max-time 30 http://{APPLIANCE_ADDR}/api/chunked | sha256sum")
    assert decoded.stdout.split()[0] == hashlib.sha256(random.Random(7).randbytes(50_000)).hexdigest()
    assert int(result.stdout.split()[0]) > 50_000, "the chunked framing was relayed unchanged"


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("chunked", [False, True])
def test_uploads_arrive_byte_exact(proxy, tmp_path, chunked, scheme):
    data = os.urandom(2_000_000)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    extra = ["-H", "Transfer-Encoding: chunked"] if chunked else []
    result = curl("-k", *extra, "--data-binary", f"@{path}", f"{scheme}://{APPLIANCE_ADDR}/api/upload")
    assert result.stdout.strip() == hashlib.sha256(data).hexdigest(), describe(result)


def test_upstream_connections_are_reused(proxy):
    urls = [f"http://{APPLIANCE_ADDR}/api/{index}" for index in range(20)]
    result = curl(*urls)
    assert result.stdout == "".join(f"/api/{index}\n" for index in range(20))
    counters = ns("mtcp-a", "curl", "-s", "127.0.0.1:9180/metrics").stdout
    opens = [line for line in counters.splitlines() if line.startswith("mtcp_tcp_active_opens_total")]
    assert opens and sum(int(line.split()[-1]) for line in opens) < 20, opens


def test_upstream_down_is_502_and_the_site_still_works(proxy):
    result = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{APPLIANCE_ADDR}/down/x")
    assert result.stdout == "502", describe(result)
    result = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{APPLIANCE_ADDR}/index.html")
    assert result.stdout == "200", describe(result)


def test_slow_upstream_is_504(proxy):
    result = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{APPLIANCE_ADDR}/api/slow")
    assert result.stdout == "504", describe(result)


def test_stalled_upstream_requests_time_out_while_slow_ones_keep_flowing(proxy):
    """wrk drives requests the upstream answers 100 ms late while four clients
    wait on requests it never answers: those get 504 after the read timeout
    (2 s), every one of wrk's gets its 200, none is lost or cut."""
    stalled = [subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "curl", "-s", "--max-time", "30", "-o", "/dev/null",
                                 "-w", "%{http_code} %{time_total}", f"http://{APPLIANCE_ADDR}/api/stall?{index}"],
                                stdout=subprocess.PIPE, text=True) for index in range(4)]
    result = ns(NS_CLIENT, "wrk", "-t", 1, "-c", 8, "-d", "4s", "--timeout", "5s",
                f"http://{APPLIANCE_ADDR}/api/delay?ms=100", timeout=60)
    assert result.returncode == 0, describe(result)
    requests = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    assert "Non-2xx" not in result.stdout and "Socket errors" not in result.stdout, result.stdout
    print(f"wrk through the proxy to a 100 ms upstream: {requests} requests in 4 s, beside 4 stalled requests")
    # 8 connections, 100 ms each: about 80 a second for 4 s.
    assert requests >= 160, result.stdout
    for proc in stalled:
        out, _ = proc.communicate(timeout=40)
        status, seconds = out.split()
        assert status == "504" and 1.5 <= float(seconds) < 10, out
        print(f"stalled request: {status} after {seconds} s")


def test_early_hints_reach_the_client_before_the_response(proxy):
    result = curl("-v", f"http://{APPLIANCE_ADDR}/api/hints")
    assert result.stdout == "final\n", describe(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("< ")]
    assert lines[0].startswith("< HTTP/1.1 103"), result.stderr
    assert "< Link: </style.css>; rel=preload" in lines, result.stderr
    assert any(line.startswith("< HTTP/1.1 200") for line in lines), result.stderr


def test_many_clients_through_the_proxy(proxy):
    result = ns(NS_CLIENT, "ab", "-q", "-n", "400", "-c", "20", f"http://{APPLIANCE_ADDR}/api/ab", timeout=120)
    assert result.returncode == 0, describe(result)
    assert "Failed requests:        0" in result.stdout, result.stdout
    assert "Complete requests:      400" in result.stdout, result.stdout


# Against the raw-logging upstream (issue 27).

ADDED = ("X-Forwarded-For: 198.18.0.2\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\nVia: 1.1 mtcp-httpd\r\n"
         "Connection: keep-alive\r\n\r\n")
VICTIM = "GET /api/victim HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\n\r\n"
VICTIM_FORWARDED = "GET /api/victim HTTP/1.1\r\nHost: h\r\nCookie: secret=1\r\n" + ADDED


def raw_exchanges(*connections):
    """Runs raw_client.py's script (a list of connections, each a list of steps)."""
    result = ns(NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "raw_client.py"), APPLIANCE_ADDR, "80",
                json.dumps(list(connections)))
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout.splitlines()[-1])


def upstream_received(log):
    """The requests the upstream found, in order, after checking that each
    connection received exactly its requests, nothing before, between or after."""
    requests = [json.loads(line) for line in (log / "requests.jsonl").read_text().splitlines()]
    for path in log.glob("conn-*.bin"):
        number = int(path.stem.split("-")[1])
        mine = "".join(bytes.fromhex(entry["hex"]).decode("latin-1") for entry in requests
                       if entry["connection"] == number)
        assert path.read_bytes().decode("latin-1") == mine, f"connection {number} received more than its requests"
    return [bytes.fromhex(entry["hex"]).decode("latin-1") for entry in requests]


SMUGGLED = "GET /api/admin HTTP/1.1\r\nHost: h\r\nX: "
SMUGGLING = {
    "content-length": ("GET /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 37\r\nConnection: Content-Length\r\n\r\n"
                       + SMUGGLED,
                       "GET /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 37\r\n" + ADDED + SMUGGLED),
    "host": ("GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: Host\r\n\r\n",
             "GET /api/x HTTP/1.1\r\nHost: h\r\n" + ADDED),
    "transfer-encoding": ("POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                          "Connection: Transfer-Encoding\r\n\r\n25\r\n" + SMUGGLED + "\r\n0\r\n\r\n",
                          "POST /api/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + ADDED
                          + "25\r\n" + SMUGGLED + "\r\n0\r\n\r\n"),
}


@pytest.mark.parametrize("variant", SMUGGLING)
def test_connection_cannot_strip_framing_or_host(raw_proxy, variant):
    attack, forwarded = SMUGGLING[variant]
    result = raw_exchanges([["send", attack], ["response"]], [["send", VICTIM], ["response"]])
    assert [text.split("\r\n")[0] for text in result["received"]] == ["HTTP/1.1 200 OK"] * 2, result
    assert upstream_received(raw_proxy) == [forwarded, VICTIM_FORWARDED]


@pytest.mark.upstream_options("--early", "401")
def test_body_left_by_an_early_401_is_not_a_request(raw_proxy):
    smuggled = "GET /api/smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
    head = f"POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    result = raw_exchanges([["send", head], ["response"], ["send", smuggled], ["close"]],
                           [["send", VICTIM], ["response"]])
    attacker, victim = result["received"]
    assert attacker.startswith("HTTP/1.1 401 ") and "\r\nConnection: close\r\n" in attacker, attacker
    assert attacker.count("HTTP/1.1") == 1 and result["closed"][0], result
    assert victim.startswith("HTTP/1.1 401 "), victim
    # The early answer leaves the upstream connection mid-body: it is not reused,
    # and the body reaches the upstream as body or not at all, never as a request.
    requests = [bytes.fromhex(json.loads(line)["hex"]).decode("latin-1")
                for line in (raw_proxy / "requests.jsonl").read_text().splitlines()]
    assert not any(text.startswith("GET /api/smuggled") for text in requests), requests
    heads = b"".join(path.read_bytes() for path in raw_proxy.glob("conn-*.bin")).decode("latin-1")
    assert heads.count("GET /api/smuggled") <= 1 and heads.count(VICTIM_FORWARDED) == 1, heads


@pytest.mark.upstream_options("--http10")
def test_http10_upstream_is_relayed_as_http11_and_closes(raw_proxy):
    result = raw_exchanges([["send", "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n"], ["close"]])
    # Via names the version received (1.0); the upstream sent no Date, so the proxy adds one.
    assert len(result["received"]) == 1, result
    assert re.fullmatch(r"HTTP/1\.1 200 OK\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n"
                        r"Via: 1\.0 mtcp-httpd\r\nConnection: close\r\n\r\nok", result["received"][0]), result
    assert result["closed"] == [True]


# Two engines, each opening upstream connections: over net_af_packet with two
# queues the kernel's fanout hash spreads the upstream's replies without regard
# to the core that opened each connection, so they reach it through the
# forwarding rings; behind the RSS NIC each core opens from the ports whose
# replies hash to its queue, and nothing is forwarded (#14).

@pytest.mark.parametrize("device", TWO_CORE_DEVICES)
def test_two_cores_proxy_every_byte(topology, upstream, request, tmp_path_factory, device):
    """Bodies through the proxy byte-exact, and 400 requests from 20 clients at
    once (spread over both cores) all answered; both cores opened upstream
    connections and none found its ports exhausted."""
    arguments = ["--http-config", proxy_configuration(tmp_path_factory)]
    with running_two_core_appliance(request, tmp_path_factory, device, arguments) as (app, nic):
        for size in (1, 70_000, 3_000_000):
            result = ns(NS_CLIENT, "sh", "-c",
                        f"curl -s --max-time 30 http://{APPLIANCE_ADDR}/api/big?n={size} | sha256sum")
            assert result.stdout.split()[0] == hashlib.sha256(random.Random(size).randbytes(size)).hexdigest(), \
                describe(result)
        result = ns(NS_CLIENT, "ab", "-q", "-n", "400", "-c", "20", f"http://{APPLIANCE_ADDR}/api/ab", timeout=120)
        assert result.returncode == 0, describe(result)
        assert "Failed requests:        0" in result.stdout and "Complete requests:      400" in result.stdout, \
            result.stdout
        check_two_core_spreading(device)
        opens = per_core("mtcp_tcp_active_opens_total")
        assert all(opens.get(core, 0) > 0 for core in (0, 1)), opens
        assert sum(per_core("mtcp_tcp_local_ports_exhausted_total").values()) == 0
        if nic:
            app.stop()
            check_both_queues_busy(nic)
