"""The engine runtime (issue 4): several engines over net_memif, the per-second
statistics, the Prometheus endpoint (and a scraper that never reads), pcap
capture, the graceful stop and the start-up failures. Each test brings its own configuration, socket or namespace
and removes them afterwards."""

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from mtcp_ns import REPO, describe, ns
from stacks import LOADGEN, Stack, write_config


def metrics(port):
    """The Prometheus exposition from 127.0.0.1:port, as {(name, core): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r'(mtcp_\w+)\{core="(\d+)"\} (\d+)$', line)
        if match:
            samples[(match.group(1), int(match.group(2)))] = int(match.group(3))
    return text, samples


def test_two_engines_over_net_memif_with_statistics_metrics_and_capture(tmp_path):
    """Appliance and loadgen with two engines each over a two-queue memif: queue
    pair i carries core i's flows both ways, so both engines of each side carry
    traffic; the statistics lines, the metrics and the pcap files say so."""
    sock = tmp_path / "memif.sock"
    (tmp_path / "a").mkdir()
    (tmp_path / "l").mkdir()
    pcap = tmp_path / "capture.pcap"
    common = "num_cores = 2\nmax_concurrency = 2000\nmax_num_buffers = 2000\n"
    server = write_config(tmp_path / "a", "mc-a", "198.19.4.1/24", f"net_memif0,role=server,socket={sock}",
                          common + f"stat_print = dpdk0\nprometheus_port = 9187\npcap_file = {pcap}\n")
    client = write_config(tmp_path / "l", "mc-l", "198.19.4.3/24", f"net_memif0,role=client,socket={sock}",
                          common)
    stack = Stack(server)
    try:
        assert "2 engines" in stack.ready_line, stack.ready_line
        result = subprocess.run([str(LOADGEN), "--config", str(client), "echo://198.19.4.1:7", "4000",
                                 "-N", "2", "-c", "100", "--bytes", "500", "--timeout", "30"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, describe(result)
        assert "echo: completed 4000 of 4000, failed 0, bytes verified 2000000" in result.stdout, describe(result)
        time.sleep(1.2)  # counters are published twice a second
        echo_opens = [metrics(9187)[1][("mtcp_tcp_passive_opens_total", core)] for core in (0, 1)]
        http = subprocess.run([str(LOADGEN), "--config", str(client), "http://198.19.4.1/bench/1k.html", "3000",
                               "-N", "2", "-c", "50", "--verify-body", "www"],
                              capture_output=True, text=True, timeout=60, cwd=REPO)
        assert http.returncode == 0, describe(http)
        assert "Requests 3000 = completed 3000 + errors 0 + unfinished 0" in http.stdout, describe(http)
        time.sleep(2.2)  # counters are published twice a second, lines printed once a second
        text, samples = metrics(9187)
        assert "# TYPE mtcp_tcp_passive_opens_total counter" in text
        opens = [samples[("mtcp_tcp_passive_opens_total", core)] for core in (0, 1)]
        assert sum(opens) == 7000 and min(opens) > 0, opens
        assert all(samples[("mtcp_received_frames_total", core)] > 0 for core in (0, 1)), text
        http_opens = [opens[core] - echo for core, echo in enumerate(echo_opens)]
        # DPDK 22.11's net_memif keeps no port counters (it answers zeros): none are
        # shown rather than a port that received nothing (test_vdevs checks a port that does).
        assert "mtcp_port_" not in text, text
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log
    assert not re.search(r"^port: |port missed", log, re.M), log
    lines = [line for line in log.splitlines() if line.startswith("[core 1]") and " new 0/s" not in line]
    assert lines, f"no per-second line shows core 1 with new connections:\n{log}"
    assert any(line.startswith("[ALL]") for line in log.splitlines()), log
    for core in (0, 1):
        path = tmp_path / f"capture-core{core}.pcap"
        read = subprocess.run(["tshark", "-r", str(path), "-Y", "tcp.flags.syn == 1 && tcp.port == 7", "-T", "fields",
                               "-e", "tcp.flags.ack", "-e", "tcp.dstport"], capture_output=True, text=True,
                              timeout=60)
        assert read.returncode == 0, describe(read)
        flags = read.stdout.split("\n")
        syns = sum(1 for line in flags if line.startswith("0\t7"))
        synacks = sum(1 for line in flags if line.startswith("1\t"))
        assert syns == synacks == opens[core] - http_opens[core], (core, syns, synacks, opens)


def test_graceful_stop_finishes_open_connections_and_refuses_new_ones(tmp_path, namespace):
    """After SIGINT the appliance stops listening (new connections are reset)
    while an open connection keeps being served; when it closes, the appliance
    exits at once with status 0 instead of waiting out the grace period."""
    config = write_config(tmp_path, "grace", "198.19.5.1/24", "net_tap0,iface=mtcpgrace0", "shutdown_grace_s = 20\n")
    stack = Stack(config, namespace)
    try:
        ns(namespace, "ip", "addr", "add", "198.19.5.2/24", "dev", "mtcpgrace0", check=True)
        ns(namespace, "ip", "link", "set", "mtcpgrace0", "up", check=True)
        client = subprocess.Popen(["ip", "netns", "exec", namespace, "python3", "-c", GRACE_CLIENT],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "echoed hello"
        stack.proc.send_signal(subprocess.signal.SIGINT)
        time.sleep(1)
        assert stack.proc.poll() is None, "exited while a connection was open"
        refused = ns(namespace, "python3", "-c", REFUSED_CLIENT, timeout=20)
        assert refused.stdout.strip() == "refused", describe(refused)
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "echoed after stop"
        client.wait(10)
        started = time.monotonic()
        stack.proc.wait(10)
        assert time.monotonic() - started < 5, "did not exit when the last connection closed"
    finally:
        log = stack.stop()
    assert stack.proc.returncode == 0, log


GRACE_CLIENT = """
import socket, sys
s = socket.create_connection(("198.19.5.1", 7), timeout=10)
s.sendall(b"hello")
print("echoed", s.recv(100).decode(), flush=True)
sys.stdin.readline()
s.sendall(b"after stop")
data = b""
while len(data) < 10:
    data += s.recv(100)
print("echoed", data.decode(), flush=True)
s.close()
"""

REFUSED_CLIENT = """
import socket
try:
    socket.create_connection(("198.19.5.1", 7), timeout=5)
    print("connected")
except ConnectionRefusedError:
    print("refused")
"""


def test_pools_larger_than_memory_fail_with_one_line(tmp_path):
    """A configuration whose buffer pools cannot fit in memory is refused before
    anything is allocated, with one line that says why."""
    config = write_config(tmp_path, "huge", "198.19.6.1/24", "net_memif0,role=server,socket=" + str(tmp_path / "s"),
                          "max_num_buffers = 16000000\nrcvbuf = 65536\nsndbuf = 65536\n")
    result = subprocess.run([str(Stack.binary()), "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0, describe(result)
    failure = [line for line in (result.stdout + result.stderr).splitlines() if "MiB" in line]
    assert len(failure) == 1 and "only" in failure[0] and "available" in failure[0], describe(result)


def test_prometheus_port_in_use_is_a_start_up_error(tmp_path):
    """The metrics port is taken: the appliance says so and exits non-zero."""
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 9188))
    blocker.listen()
    try:
        config = write_config(tmp_path, "prom", "198.19.7.1/24", "net_memif0,role=server,socket=" + str(tmp_path / "s"),
                              "prometheus_port = 9188\n")
        result = subprocess.run([str(Stack.binary()), "--config", str(config)], capture_output=True, text=True,
                                timeout=30)
    finally:
        blocker.close()
    assert result.returncode != 0, describe(result)
    assert "cannot listen on 127.0.0.1:9188" in result.stdout + result.stderr, describe(result)


STALLED_SCRAPER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the smallest window: the response cannot fit
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print("sent", flush=True)
sys.stdin.readline()  # never reads the answer
"""


def test_a_scraper_that_never_reads_stalls_neither_metrics_nor_shutdown(tmp_path, namespace):
    """A metrics client sends its request and never reads the answer, which is
    larger than the socket buffers can hold (send buffers are made small in this
    namespace, as several cores' answers are large): other scrapes are still
    answered, and SIGINT stops the appliance within its grace period."""
    ns(namespace, "ip", "link", "set", "lo", "up", check=True)
    ns(namespace, "sysctl", "-w", "net.ipv4.tcp_wmem=4096 4096 4096", check=True)
    config = write_config(tmp_path, "stall", "198.19.8.1/24", f"net_memif0,role=server,socket={tmp_path / 's'}",
                          "prometheus_port = 9189\nshutdown_grace_s = 5\n")
    stack = Stack(config, namespace)
    scraper = subprocess.Popen(["ip", "netns", "exec", namespace, "python3", "-c", STALLED_SCRAPER, "9189"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert scraper.stdout.readline().strip() == "sent"
        time.sleep(0.5)  # the management thread has taken the stalled request
        other = ns(namespace, "curl", "-s", "--max-time", "5", "127.0.0.1:9189/metrics")
        assert other.returncode == 0 and "mtcp_received_frames_total" in other.stdout, describe(other)
        stack.proc.send_signal(subprocess.signal.SIGINT)
        try:
            stack.proc.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail("no exit within the 5 s grace period after SIGINT")
    finally:
        scraper.kill()
        scraper.wait(5)
        log = stack.stop()
    assert stack.proc.returncode == 0, log


def test_the_management_thread_runs_beside_the_engines_not_on_them(tmp_path, namespace):
    """EAL pins the main thread (engine 0) to its CPU; the management thread
    must not inherit that pinning when other CPUs are free. One engine here, so
    the management thread gets every other CPU and no thread but engine 0's own
    is confined to engine 0's CPU."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    config = write_config(tmp_path, "affinity", "198.19.9.1/24", f"net_memif0,role=server,socket={tmp_path / 's'}")
    stack = Stack(config, namespace)
    try:
        threads = {}
        for task in Path(f"/proc/{stack.proc.pid}/task").iterdir():
            status = (task / "status").read_text()
            allowed = re.search(r"Cpus_allowed_list:\s*(\S+)", status).group(1)
            threads[int(task.name)] = ((task / "comm").read_text().strip(), allowed)
    finally:
        log = stack.stop()
    engine0 = threads[stack.proc.pid][1]
    on_engine0 = [name for tid, (name, allowed) in threads.items() if allowed == engine0 and tid != stack.proc.pid]
    assert not on_engine0, f"threads confined to engine 0's CPU {engine0}: {on_engine0} ({threads})"
    management = [cpu_list(allowed) for name, allowed in threads.values() if name == "mtcp-management"]
    assert management == [cpus - cpu_list(engine0)], threads
    assert stack.proc.returncode == 0, log


def cpu_list(text):
    """The CPUs of a list like "0-2,5", as a set."""
    cpus = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus
