"""The reverse proxy while kernel upstreams die and come back under wrk load:
two upstreams in netns mtcp-c behind one pool with an active health check.
One is killed in the middle of the run: the GETs in flight on it (and those
sent before its death is known) go once to the other server, so wrk sees no
error at all beyond those in flight on the dying upstream; the retries are
counted; /metrics shows the dead server down on every core, then up again
once it is restarted, and it takes requests again."""

import json
import re
import subprocess
import threading
import time

import pytest

from conftest import running_appliance, stop_process_group
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, describe, metrics_text, ns

PORTS = (8080, 8081)
CONNECTIONS = 16


def start_upstream(port):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--port", str(port)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def upstreams(topology):
    procs = {port: start_upstream(port) for port in PORTS}
    yield procs
    for proc in procs.values():
        stop_process_group(proc, grace=5)


@pytest.fixture
def failover_proxy(upstreams, request, tmp_path_factory):
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["routes"] = [{"prefix": "/api/", "upstream": "pair"}]
    configuration["upstreams"] = [{
        "name": "pair", "servers": [f"198.18.0.2:{port}" for port in PORTS],
        "health_check": {"path": "/api/health", "interval_ms": 1000, "rise": 2, "fall": 2},
    }]
    path = tmp_path_factory.mktemp("failover") / "httpd.json"
    path.write_text(json.dumps(configuration))
    with running_appliance(request, tmp_path_factory, ["--http-config", path]) as app:
        yield app


def upstream_samples():
    """{(name, server): [value per core]} of the http_upstream families, and the retries summed over cores."""
    samples, retries = {}, 0
    for line in metrics_text().splitlines():
        match = re.match(r'mtcp_(http_upstream_\w+)\{core="\d+",pool="pair",server="198\.18\.0\.2:(\d+)"\} (\d+)$', line)
        if match:
            samples.setdefault((match.group(1), int(match.group(2))), []).append(int(match.group(3)))
        match = re.match(r'mtcp_http_proxy_retries_total\{core="\d+"\} (\d+)$', line)
        if match:
            retries += int(match.group(1))
    return samples, retries


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return condition()


def test_a_dying_upstream_loses_no_request_and_comes_back(failover_proxy, upstreams):
    assert wait_for(lambda: all(v == [1] * len(v) for (name, _), v in upstream_samples()[0].items()
                                if name == "http_upstream_up"), 5)
    wrk = {}

    def load():
        wrk["result"] = ns(NS_CLIENT, "wrk", "-t", 1, "-c", CONNECTIONS, "-d", "6s", "--timeout", "5s",
                           f"http://{APPLIANCE_ADDR}/api/load", timeout=60)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(2)
    stop_process_group(upstreams[PORTS[1]], grace=1)
    thread.join()
    result = wrk["result"]
    assert result.returncode == 0, describe(result)
    out = result.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    assert requests > 0, out
    # At most the requests in flight on the dying upstream may fail; the retries take the rest.
    assert failed <= CONNECTIONS, out

    samples, retries = upstream_samples()
    print(f"wrk: {requests} requests, {failed} failed; retries {retries}")
    assert retries > 0, "requests cut by the dying upstream went to the other server"
    assert wait_for(lambda: set(upstream_samples()[0][("http_upstream_up", PORTS[1])]) == {0}, 5)
    assert set(upstream_samples()[0][("http_upstream_up", PORTS[0])]) == {1}

    upstreams[PORTS[1]] = start_upstream(PORTS[1])
    assert wait_for(lambda: set(upstream_samples()[0][("http_upstream_up", PORTS[1])]) == {1}, 6)
    before = sum(upstream_samples()[0][("http_upstream_requests_total", PORTS[1])])
    for index in range(8):
        fetched = ns(NS_CLIENT, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                     f"http://{APPLIANCE_ADDR}/api/again{index}")
        assert fetched.stdout == "200", describe(fetched)
    # /metrics shows what the cores published last (twice a second): wait for the next publication.
    assert wait_for(lambda: sum(upstream_samples()[0][("http_upstream_requests_total", PORTS[1])]) > before, 2), \
        "back in the pool's choice"
