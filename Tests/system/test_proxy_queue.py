"""`max_connections` of an upstream server and its pool's queue, against a
kernel upstream in netns mtcp-c that takes a second per request: one request
in flight per core, one more waiting per core, and the rest refused with 503
at once; the waiting ones are answered 200 once the first is done; /metrics
counts what waited and what was refused."""

import re
import subprocess
import threading
import time

import pytest

from conftest import http_config_file, running_appliance, stop_process_group
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, SYSTEM_PYTHON, TOOLS, metrics_text, ns

PORT = 8080
REQUESTS = 12


@pytest.fixture
def slow_upstream(topology):
    upstream = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                                 "--port", str(PORT)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert upstream.stdout.readline().strip() == "ready"
    yield upstream
    stop_process_group(upstream, grace=5)


@pytest.fixture
def queued_proxy(slow_upstream, request, tmp_path_factory):
    path = http_config_file(tmp_path_factory, "queue", routes=[{"prefix": "/api/", "upstream": "limited"}], upstreams=[{
        "name": "limited", "queue_size": 1, "queue_timeout_ms": 5000,
        "servers": [{"address": f"198.18.0.2:{PORT}", "max_connections": 1}],
    }])
    with running_appliance(request, tmp_path_factory, ["--http-config", path]) as app:
        yield app


def pool_samples():
    """{name: [value per core]} of the pool's queue families."""
    samples = {}
    for line in metrics_text().splitlines():
        match = re.match(r'mtcp_(http_upstream_queue\w*)\{core="\d+",pool="limited"\} (\d+)$', line)
        if match:
            samples.setdefault(match.group(1), []).append(int(match.group(2)))
    return samples


def test_requests_beyond_the_limit_wait_or_get_503(queued_proxy):
    statuses = []
    lock = threading.Lock()

    def fetch():
        fetched = ns(NS_CLIENT, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                     f"http://{APPLIANCE_ADDR}/api/delay?ms=1000", timeout=20)
        with lock:
            statuses.append(fetched.stdout)

    threads = [threading.Thread(target=fetch) for _ in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok, refused = statuses.count("200"), statuses.count("503")
    print(f"statuses: {sorted(statuses)}")
    assert ok + refused == REQUESTS, statuses
    time.sleep(1.2)  # /metrics shows what the cores published last (twice a second)
    samples = pool_samples()
    cores = len(samples["http_upstream_queued_total"])
    # Per core one in flight and one waiting (served after the first, within the timeout).
    assert 1 <= ok <= 2 * cores, statuses
    assert refused >= REQUESTS - 2 * cores, statuses
    assert sum(samples["http_upstream_queue_overflows_total"]) == refused, samples
    assert sum(samples["http_upstream_queue_timeouts_total"]) == 0, samples
    assert sum(samples["http_upstream_queued_total"]) >= 1, samples
    assert sum(samples["http_upstream_queue_length"]) == 0, samples
