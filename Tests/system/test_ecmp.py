"""Two appliance replicas behind a router with an ECMP route to their VIP
(scripts/ecmp.sh): both serve, and when one is stopped (SIGTERM), it drains
(`drain_s`: /healthz answers 503 while it still serves), the health check
(scripts/ecmp-health.sh) withdraws its route before it stops accepting, and the
clients keep being served by the other, losing at most the request in flight.

The topology is its own (netns mtcp-ec, mtcp-er, mtcp-e1, mtcp-e2), made and
removed here, so this test does not need the default one.
"""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import HTTPD, READY, stop_process_group
from mtcp_ns import REPO, SYSTEM_PYTHON, describe, ns

ECMP_SH = REPO / "scripts/ecmp.sh"
HEALTH_SH = REPO / "scripts/ecmp-health.sh"
VIP = "198.18.5.10"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

# New connections to the VIP from the client namespace, one at a time, each from
# a fresh source port (so ECMP's L4 hash spreads them); prints one line per
# request, "ok TIME" or "fail TIME" (CLOCK_MONOTONIC, the test's clock too).
# SIGTERM ends the loop between two requests, never in one (the handler only
# sets a flag; an interrupted system call is resumed), then it prints "end": every
# request sent has its line, to be compared with the replicas' counters.
CLIENT_LOOP = r"""
import http.client, signal, sys, time
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
while not stopping:
    try:
        c = http.client.HTTPConnection(sys.argv[1], 80, timeout=1)
        c.request("GET", "/"); r = c.getresponse(); r.read(); c.close()
        outcome = "ok" if r.status == 200 else "fail"
    except Exception:
        outcome = "fail"
    print(outcome, time.monotonic(), flush=True)
    time.sleep(0.01)
print("end", flush=True)
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


def vip_route():
    return ns("mtcp-er", "ip", "route", "show", f"{VIP}/32").stdout


def stopped_counters(proc):
    """Waits for a replica sent SIGTERM to finish its drain (it says so) and its
    graceful stop (one signal only: a second would skip the drain) and returns
    the application counters it prints at exit: the ones /metrics serves, but final (/metrics is
    published twice a second, so it may lag by half a second)."""
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, sig=signal.SIGKILL, grace=5)
        pytest.fail("a replica did not stop within 15 s of SIGTERM")
    out = proc.stdout.read()
    assert "stopping: draining for 2 s" in out, out
    line = re.search(r"(?m)^application: (.*)$", out)
    assert line, out
    return {name: int(value) for name, value in re.findall(r"(\w+) (\d+)", line.group(1))}


def test_a_stopped_replica_drains_is_withdrawn_and_loses_at_most_its_request_in_flight(ecmp_topology, tmp_path):
    replicas = {n: start_replica(n, tmp_path / f"replica{n}") for n in (1, 2)}
    health = subprocess.Popen([str(HEALTH_SH), "0.2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    clients = subprocess.Popen(["ip", "netns", "exec", "mtcp-ec", SYSTEM_PYTHON, "-c", CLIENT_LOOP, VIP],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        before = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            before.append(clients.stdout.readline().split()[0])
        assert before.count("ok") > 50 and "fail" not in before, before[-20:]
        served = {n: passive_opens(n) for n in (1, 2)}
        assert served[1] > 5 and served[2] > 5, f"both replicas serve the VIP: {served}"

        # Replica 2 drains for drain_s = 2 s (scripts/ecmp.sh): its /healthz says
        # 503 and the health check withdraws it while it still accepts and serves.
        replicas[2].send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        while "198.18.4.2" in vip_route() and time.monotonic() < signalled + 3:
            time.sleep(0.05)
        withdrawn = time.monotonic()
        assert "198.18.4.2" not in vip_route(), vip_route()
        assert replicas[2].poll() is None, "the route was withdrawn during the drain, before the replica stopped"
        second = stopped_counters(replicas.pop(2))
        exited = time.monotonic()
        assert second["http_health_draining"] > 0, second
        time.sleep(2)  # replica 1 alone
        clients.send_signal(signal.SIGTERM)
        rest, _ = clients.communicate(timeout=10)
        lines = rest.split("\n")
        assert "end" in lines, rest[-200:]
        results = [line.split() for line in lines[:lines.index("end")]]
        replicas[1].send_signal(signal.SIGTERM)
        first = stopped_counters(replicas.pop(1))
    finally:
        stop_process_group(clients, grace=1)
        stop_process_group(health, grace=1)
        for proc in replicas.values():
            stop_process_group(proc)

    after = [outcome for outcome, at in results if float(at) > exited]
    assert after.count("ok") > 50 and "fail" not in after, after
    # The client has one request open at a time. Replica 2 accepts and serves all
    # through its drain, and its route is gone (checked above) before its
    # listeners close, so no connection meets a closed listener. What can fail is
    # the one connection open when the router's route changes: its next segments
    # hash to replica 1, which does not know it and resets it. So at most one.
    outcomes = before + [outcome for outcome, _ in results]
    failures = outcomes.count("fail")
    assert failures <= 1, [(outcome, at) for outcome, at in results if outcome == "fail"]
    # Cross-check with the replicas' own counters (the health path's answers are
    # counted apart): every "ok" is a 2xx one of them sent; a 2xx the client did
    # not see can only be the failed request's.
    sent = first["http_responses_2xx"] + second["http_responses_2xx"]
    assert outcomes.count("ok") <= sent <= outcomes.count("ok") + failures, (first, second, outcomes.count("ok"))
    assert first["http_responses_5xx"] == second["http_responses_5xx"] == 0
    print(f"requests: {len(outcomes)} ({len(before)} before the stop, {len(after)} after replica 2 exited), "
          f"failed: {failures}; 2xx sent by replica 1: {first['http_responses_2xx']}, by replica 2: "
          f"{second['http_responses_2xx']}; route withdrawn {withdrawn - signalled:.2f} s after SIGTERM, "
          f"replica 2 exited {exited - signalled:.2f} s after it")
