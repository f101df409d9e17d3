"""HTTP semantics of the reverse proxy against kernel upstreams in netns mtcp-c
(issue 24, item 4): a route's Host, Forwarded and header edits seen by the
upstream and by the client; Expect answered (100 Continue, or 417 for an
expectation nobody can meet); a WebSocket echo and a raw Upgrade tunnelled
both ways after the 101, the half-close passed on. And (item 2) a
`consistent_hash` pool keeps each key on one server."""

import hashlib
import json
import os
import subprocess
import time

import pytest

from conftest import running_appliance_with_upstreams
from mtcp_ns import APPLIANCE_ADDR, CLIENT_ADDR, NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, describe, ns, per_core

UPSTREAM_PORT = 8080
UPGRADE_PORT = 8090
SECOND_PORT = 8081


def start(*arguments):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, *map(str, arguments)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture(scope="module")
def semantics_proxy(topology, request, tmp_path_factory):
    upstreams = [start(TOOLS / "upstream_server.py", "--port", UPSTREAM_PORT),
                 start(TOOLS / "upstream_server.py", "--port", SECOND_PORT),
                 start(TOOLS / "upgrade_peer.py", "server", "--port", UPGRADE_PORT)]
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["routes"] = [
        {"prefix": "/api/", "upstream": "backend"},
        {"prefix": "/edit/", "upstream": "backend", "host": "backend.internal", "forwarded": True,
         "request_headers": {"add": {"X-Env": "prod"}, "remove": ["Cookie"]},
         "response_headers": {"add": {"X-Frame-Options": "DENY"}, "remove": ["Server"]}},
        {"prefix": "/ws/", "upstream": "upgrades"},
        {"prefix": "/hashed/", "upstream": "hashed"},
    ]
    configuration["upstreams"] = [{"name": "backend", "servers": [f"{CLIENT_ADDR}:{UPSTREAM_PORT}"]},
                                  {"name": "upgrades", "servers": [f"{CLIENT_ADDR}:{UPGRADE_PORT}"]},
                                  {"name": "hashed", "balance": "consistent_hash", "hash_header": "X-User",
                                   "servers": [f"{CLIENT_ADDR}:{port}" for port in (UPSTREAM_PORT, SECOND_PORT)]}]
    configuration["limits"]["max_body_bytes"] = 16 << 20
    path = tmp_path_factory.mktemp("semantics") / "httpd.json"
    path.write_text(json.dumps(configuration))
    with running_appliance_with_upstreams(request, tmp_path_factory, ["--http-config", path], upstreams) as app:
        yield app


def head_fields(*curl_arguments):
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "20", "-D", "-", "-o", "/dev/null", *curl_arguments)
    assert result.returncode == 0, describe(result)
    lines = result.stdout.replace("\r", "").strip().splitlines()
    return lines[0], dict(line.split(": ", 1) for line in lines[1:])


def test_a_route_sets_host_forwarded_and_edits_both_heads(semantics_proxy):
    status, fields = head_fields("-H", "Cookie: a=1", "-H", "X-Env: dev", f"http://{APPLIANCE_ADDR}/edit/x")
    assert " 200" in status, status
    assert fields["X-Seen-Host"] == "backend.internal"
    assert fields["X-Seen-X-Forwarded-Host"] == APPLIANCE_ADDR
    assert fields["X-Seen-X-Forwarded-Proto"] == "http"
    assert fields["X-Seen-Forwarded"] == f"for={CLIENT_ADDR};host={APPLIANCE_ADDR};proto=http"
    assert fields["X-Seen-Cookie"] == "-" and fields["X-Seen-X-Env"] == "prod"
    assert "Server" not in fields and fields["X-Frame-Options"] == "DENY", fields
    # A route without a policy: the client's Host, no Forwarded, the upstream's Server.
    status, fields = head_fields("-H", "Cookie: a=1", f"https://{APPLIANCE_ADDR}/api/x", "-k")
    assert fields["X-Seen-Host"] == APPLIANCE_ADDR and fields["X-Seen-X-Forwarded-Host"] == APPLIANCE_ADDR
    assert fields["X-Seen-X-Forwarded-Proto"] == "https"
    assert fields["X-Seen-Forwarded"] == "-" and fields["X-Seen-Cookie"] == "a=1"
    assert fields["Server"].startswith("BaseHTTP"), fields


def test_expect_100_continue_is_answered_and_other_expectations_are_417(semantics_proxy, tmp_path):
    data = os.urandom(300_000)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    result = ns(NS_CLIENT, "curl", "-sv", "--max-time", "20", "-H", "Expect: 100-continue",
                "--data-binary", f"@{upload}", f"http://{APPLIANCE_ADDR}/api/upload")
    assert result.stdout.strip() == hashlib.sha256(data).hexdigest(), describe(result)
    assert "HTTP/1.1 100 Continue" in result.stderr, result.stderr
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
                "-H", "Expect: x-fast", "--data-binary", "abc", f"http://{APPLIANCE_ADDR}/api/upload")
    assert result.stdout == "417", describe(result)


@pytest.mark.parametrize("port", [80, 443])
def test_websocket_echo_through_the_proxy(semantics_proxy, port):
    result = ns(NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upgrade_peer.py"), "websocket", APPLIANCE_ADDR, str(port),
                "/ws/chat", timeout=60)
    outcome = json.loads(result.stdout.splitlines()[-1]) if result.stdout else {}
    assert result.returncode == 0 and outcome.get("ok"), describe(result)
    assert outcome["upgrade"] == "websocket" and outcome["connection"] == "upgrade", outcome
    assert outcome["seen_connection"] == "upgrade" and outcome["seen_via"] == "1.1 mtcp-httpd", outcome


def test_upgrade_tunnel_passes_the_half_close_on(semantics_proxy):
    """1 MiB each way, then the client's FIN reaches the upstream, which still answers."""
    result = ns(NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upgrade_peer.py"), "echo", APPLIANCE_ADDR, "80", "/ws/raw",
                timeout=60)
    outcome = json.loads(result.stdout.splitlines()[-1]) if result.stdout else {}
    assert result.returncode == 0 and outcome.get("ok"), describe(result)
    deadline = time.monotonic() + 5  # the counters are published once a second
    while sum(per_core("mtcp_http_proxy_tunnels_total").values()) < 1:
        assert time.monotonic() < deadline, "no tunnel counted"
        time.sleep(0.5)


def test_consistent_hash_keeps_each_user_on_one_server(semantics_proxy):
    """24 users, three requests each on separate connections: each user always
    reaches the same server, and the users are spread over both."""
    script = ("for user in $(seq 1 24); do for round in 1 2 3; do "
              f"curl -s --max-time 10 -o /dev/null -D - -H \"X-User: user-$user\" http://{APPLIANCE_ADDR}/hashed/x "
              "| tr -d '\\r' | sed -n \"s/^X-Upstream-Port: /$user /p\"; done; done")
    result = ns(NS_CLIENT, "sh", "-c", script, timeout=120)
    assert result.returncode == 0, describe(result)
    assert len(result.stdout.splitlines()) == 72, result.stdout
    ports = {}
    for line in result.stdout.splitlines():
        user, port = line.split()
        ports.setdefault(user, set()).add(port)
    assert len(ports) == 24 and all(len(seen) == 1 for seen in ports.values()), ports
    assert {port for seen in ports.values() for port in seen} == {str(UPSTREAM_PORT), str(SECOND_PORT)}, ports
