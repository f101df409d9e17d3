"""Two appliance replicas behind a router with an ECMP route to their VIP
(scripts/ecmp.sh): both serve, and when one stops, the health check
(scripts/ecmp-health.sh) withdraws it and the clients keep being served.

The topology is its own (netns mtcp-ec, mtcp-er, mtcp-e1, mtcp-e2), made and
removed here, so this test does not need the default one.
"""

import os
import re
import subprocess
import time

import pytest

from conftest import HTTPD, READY, stop_process_group
from mtcp_ns import REPO, SYSTEM_PYTHON, describe, ns

ECMP_SH = REPO / "scripts/ecmp.sh"
HEALTH_SH = REPO / "scripts/ecmp-health.sh"
VIP = "198.18.5.10"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

# New connections to the VIP from the client namespace, one after another, each
# from a fresh source port (so ECMP's L4 hash spreads them); prints one line per
# request, "ok" or "fail", until killed.
CLIENT_LOOP = r"""
import http.client, sys, time
while True:
    try:
        c = http.client.HTTPConnection(sys.argv[1], 80, timeout=1)
        c.request("GET", "/"); r = c.getresponse(); r.read(); c.close()
        print("ok" if r.status == 200 else "fail", flush=True)
    except Exception:
        print("fail", flush=True)
    time.sleep(0.01)
"""


@pytest.fixture
def ecmp_topology():
    subprocess.run([str(ECMP_SH), "down"], check=True, timeout=60)
    subprocess.run([str(ECMP_SH), "up"], check=True, timeout=60)
    try:
        yield
    finally:
        subprocess.run([str(ECMP_SH), "down"], check=True, timeout=60)


def start_replica(n, directory):
    directory.mkdir()
    subprocess.run([str(ECMP_SH), "config", str(n), str(directory)], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", f"mtcp-e{n}", "stdbuf", "-oL", str(HTTPD),
                             "--config", str(directory / "mtcp.conf")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    deadline = time.monotonic() + 20
    for line in proc.stdout:
        if READY.search(line):
            return proc
        if time.monotonic() > deadline:
            break
    stop_process_group(proc)
    pytest.fail(f"replica {n} printed no ready line")


def passive_opens(n):
    text = ns(f"mtcp-e{n}", "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15).stdout
    return sum(float(v) for v in re.findall(r"(?m)^mtcp_tcp_passive_opens_total(?:\{[^}]*\})? (\S+)$", text))


def test_both_replicas_serve_and_a_stopped_one_is_withdrawn(ecmp_topology, tmp_path):
    replicas = {n: start_replica(n, tmp_path / f"replica{n}") for n in (1, 2)}
    health = subprocess.Popen([str(HEALTH_SH), "0.2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    clients = subprocess.Popen(["ip", "netns", "exec", "mtcp-ec", SYSTEM_PYTHON, "-c", CLIENT_LOOP, VIP],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    results = []
    try:
        def collect(seconds):
            deadline = time.monotonic() + seconds
            got = []
            while time.monotonic() < deadline:
                got.append(clients.stdout.readline().strip())
            return got

        before = collect(4)
        assert before.count("ok") > 50 and "fail" not in before, before[-20:]
        served = {n: passive_opens(n) for n in (1, 2)}
        assert served[1] > 5 and served[2] > 5, f"both replicas serve the VIP: {served}"

        stop_process_group(replicas.pop(2), grace=1)
        during = collect(3)
        after = collect(3)
        route = ns("mtcp-er", "ip", "route", "show", f"{VIP}/32").stdout
        assert "198.18.4.2" not in route, route
        assert after.count("ok") > 50 and "fail" not in after, after
        # Only the requests that reached replica 2 while it stopped and before
        # the health check withdrew it fail.
        failures = during.count("fail")
        assert failures < len(during) // 2, during
        results = [before, during, after]
    finally:
        stop_process_group(clients, grace=1)
        stop_process_group(health, grace=1)
        for proc in replicas.values():
            stop_process_group(proc)
    print(f"requests before/during/after the stop: {[len(r) for r in results]}, "
          f"failed during: {results[1].count('fail') if results else '?'}")
