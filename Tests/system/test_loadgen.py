"""mtcp-loadgen's HTTP mode against kernel HTTP servers in netns mtcp-c.

The loadgen (netns mtcp-l, 198.18.0.3) drives:
  - nginx (1 worker, serving www/ on 198.18.0.2:8080 and [2001:2::2]:8080): the
    counts add up (completed + errors + unfinished = attempted), latency figures
    are ordered and plausible, keep-alive reuses connections, bodies match the
    files, an open-loop rate is held within 1% over a few seconds, and IPv6 URLs
    (plain and TLS) are driven from the loadgen's 2001:2::3;
  - Tests/system/tools/http_server.py with a fault on purpose (short body, bad
    status, bytes that are not HTTP): every request is caught and counted in the
    right class, and the exit status says the run failed; slow (an open loop it
    cannot keep up with: the shortfall is counted and in the tail) and silent
    (requests never answered: in the tail at their timeout).

Figures come from the loadgen's --json report. Every subprocess has a timeout;
the servers are stopped by PID by their fixtures.
"""

import contextlib
import json
import signal
import subprocess
import threading
import time

import pytest

from conftest import TWO_CORE_DEVICES, check_both_queues_busy, rss_nic_vdev, running_rss_nic, stop_process_group
from mtcp_ns import CLIENT_ADDR, CLIENT_ADDR6, NS_CLIENT, NS_LOADGEN, REPO, SYSTEM_PYTHON, TOOLS, describe
from stacks import write_config

NGINX_PORT = 8080
FAULT_PORT = 8000
TLS_PORT = 8443
ERROR_CLASSES = ["connect_timeout", "refused_or_reset", "bad_status", "short_response",
                 "malformed_response", "body_mismatch", "read_timeout", "tls_handshake", "local"]

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
    uwsgi_temp_path {dir}; scgi_temp_path {dir};
    keepalive_requests 1000000;
    server {{
        listen {addr}:{port} backlog=4096;
        listen {addr}:{tls_port} ssl backlog=4096;
        listen [{addr6}]:{port} backlog=4096;
        listen [{addr6}]:{tls_port} ssl backlog=4096;
        ssl_certificate {dir}/server.crt;
        ssl_certificate_key {dir}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        root {root};
    }}
}}
"""


def wait_for_port(host, port, timeout=10):
    """Waits until a TCP connect to host:port from mtcp-c succeeds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(["ip", "netns", "exec", NS_CLIENT, "bash", "-c",
                                f"exec 3<>/dev/tcp/{host}/{port}"], capture_output=True, timeout=5)
        if probe.returncode == 0:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def kernel_nginx(topology, tmp_path):
    """nginx serving www/ on 198.18.0.2:8080 and [2001:2::2]:8080 (TLS on 8443) in
    netns mtcp-c, stopped by PID afterwards; the IPv4 base URL."""
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, addr=CLIENT_ADDR, addr6=CLIENT_ADDR6, port=NGINX_PORT,
                                      tls_port=TLS_PORT, root=REPO / "www"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=loadgen-test", "-keyout", tmp_path / "server.key",
                    "-out", tmp_path / "server.crt"], check=True, capture_output=True, timeout=30)
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "nginx", "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        if not wait_for_port(CLIENT_ADDR, NGINX_PORT):
            pytest.fail(f"nginx did not start: {(tmp_path / 'error.log').read_text() if (tmp_path / 'error.log').exists() else ''}")
        yield f"http://{CLIENT_ADDR}:{NGINX_PORT}"
    finally:
        stop_process_group(proc, sig=signal.SIGQUIT, grace=5)


@pytest.fixture
def fault_server(topology):
    """A function start(fault) that runs tools/http_server.py with that fault on
    198.18.0.2:8000 in mtcp-c and returns its base URL; stopped by PID afterwards."""
    procs = []

    def start(fault, *options):
        proc = subprocess.Popen([*["ip", "netns", "exec", NS_CLIENT], SYSTEM_PYTHON, str(TOOLS / "http_server.py"),
                                 "--host", CLIENT_ADDR, "--port", str(FAULT_PORT), "--root", str(REPO / "www"),
                                 "--fault", fault, *map(str, options)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        procs.append(proc)
        ready = threading.Event()

        def read():
            for line in proc.stdout:
                if line.startswith("http_server: ready"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            pytest.fail("http_server.py did not start")
        return f"http://{CLIENT_ADDR}:{FAULT_PORT}"

    try:
        yield start
    finally:
        for proc in procs:
            stop_process_group(proc, sig=signal.SIGTERM, grace=5)


def run_json(loadgen_run, tmp_path, *args, timeout=90):
    """Runs the loadgen with --json; returns (CompletedProcess, report)."""
    report = tmp_path / "report.json"
    result = loadgen_run(*args, "--json", report, timeout=timeout)
    assert report.exists(), describe(result)
    return result, json.loads(report.read_text())


def check_counts_add_up(report, result):
    errors = sum(report["errors"][name] for name in ERROR_CLASSES)
    assert set(report["errors"]) == set(ERROR_CLASSES), describe(result)
    assert report["scheduled"] == report["attempted"] + report["shortfall"], describe(result)
    assert report["scheduled"] == report["completed"] + errors + report["unfinished"], describe(result)
    assert report["unfinished"] == report["in_flight_at_end"] + report["shortfall"], describe(result)
    # The latency distribution holds completed, timed-out and unfinished requests.
    included = report["latency_includes"]
    assert included == {"completed": report["completed"], "unfinished": report["unfinished"],
                        "timed_out": report["errors"]["read_timeout"] + report["errors"]["connect_timeout"]}, \
        describe(result)
    assert report["latency_microseconds"]["count"] == sum(included.values()), describe(result)
    return errors


def check_latency_plausible(figures, count, result):
    assert figures["count"] == count, describe(result)
    ordered = [figures[k] for k in ("p50", "p90", "p99", "p99_9", "max")]
    assert ordered == sorted(ordered), describe(result)
    # Over a veth pair, well above zero and far below the 10 s response timeout.
    assert 1 <= figures["p50"] and figures["max"] < 10_000_000, describe(result)


def test_closed_loop_new_connection_per_request_against_nginx(kernel_nginx, loadgen_run, tmp_path):
    """2000 requests for a 4 KiB file, 32 connections at a time, each on its own
    connection (Connection: close): all complete with the file's exact bytes, and
    every figure is accounted for."""
    result, report = run_json(loadgen_run, tmp_path, f"{kernel_nginx}/bench/4k.html", 2000, "-c", 32,
                              "--verify-body", REPO / "www")
    assert result.returncode == 0, describe(result)
    errors = check_counts_add_up(report, result)
    assert (report["attempted"], report["completed"], errors) == (2000, 2000, 0), describe(result)
    assert report["connections_opened"] == 2000, describe(result)
    assert report["bytes_read"] > 2000 * 4096, describe(result)
    check_latency_plausible(report["latency_microseconds"], 2000, result)
    check_latency_plausible(report["connect_microseconds"], 2000, result)
    check_latency_plausible(report["first_byte_microseconds"], 2000, result)
    # A request's latency contains its handshake and its first byte.
    assert report["latency_microseconds"]["p50"] >= report["connect_microseconds"]["p50"], describe(result)
    assert "Requests/sec:" in result.stdout and "Latency Distribution" in result.stdout, describe(result)


def test_keep_alive_and_cellular_mix_against_nginx(kernel_nginx, loadgen_run, tmp_path):
    """The cellular size mix over keep-alive connections of 50 requests: bodies match
    the files of www/bench, and connections are reused."""
    result, report = run_json(loadgen_run, tmp_path, f"{kernel_nginx}/", 1000, "-c", 10, "--mix", "cellular",
                              "--requests-per-connection", 50, "--verify-body", REPO / "www")
    assert result.returncode == 0, describe(result)
    errors = check_counts_add_up(report, result)
    assert (report["completed"], errors) == (1000, 0), describe(result)
    assert report["connections_opened"] <= 1000 // 50 + 10, describe(result)
    assert len(report["setup"]["urls"]) == 5, describe(result)


@pytest.mark.parametrize("resume", [False, True], ids=["full", "resumed"])
def test_tls_short_flows_against_nginx(kernel_nginx, loadgen_run, tmp_path, resume):
    """HTTPS to kernel nginx, a connection per request: every response complete and
    byte-exact, one handshake per request, and with --tls-resume all but the first
    connections (those opened before any ticket came) resume their session."""
    url = f"https://{CLIENT_ADDR}:{TLS_PORT}/bench/4k.html"
    result, report = run_json(loadgen_run, tmp_path, url, 600, "-c", 8, "--verify-body", REPO / "www",
                              *(["--tls-resume"] if resume else []))
    assert result.returncode == 0, describe(result)
    errors = check_counts_add_up(report, result)
    assert (report["completed"], errors) == (600, 0), describe(result)
    tls = report["tls"]
    assert tls["handshakes_full"] + tls["handshakes_resumed"] == 600, describe(result)
    assert tls["handshake_failures"] == 0 and tls["handshakes_per_second"] > 0, describe(result)
    if resume:
        assert tls["handshakes_resumed"] >= 600 - 8, describe(result)
    else:
        assert tls["handshakes_resumed"] == 0, describe(result)
    check_latency_plausible(report["handshake_microseconds"], 600, result)
    assert "TLS handshakes:" in result.stdout and "Handshakes/sec:" in result.stdout, describe(result)


@pytest.mark.parametrize("scheme, port", [("http", NGINX_PORT), ("https", TLS_PORT)])
def test_ipv6_short_flows_against_nginx(kernel_nginx, loadgen_run, tmp_path, scheme, port):
    """The loadgen's own IPv6 address (2001:2::3, conf/loadgen.conf) to nginx's
    [2001:2::2], a connection per request, plain and over TLS: every response
    complete and byte-exact, nothing lost to Neighbor Discovery or to the
    loadgen's duplicate address detection at start."""
    url = f"{scheme}://[{CLIENT_ADDR6}]:{port}/bench/4k.html"
    result, report = run_json(loadgen_run, tmp_path, url, 500, "-c", 16, "--verify-body", REPO / "www")
    assert result.returncode == 0, describe(result)
    errors = check_counts_add_up(report, result)
    assert (report["attempted"], report["completed"], errors) == (500, 500, 0), describe(result)
    assert report["connections_opened"] == 500, describe(result)
    check_latency_plausible(report["latency_microseconds"], 500, result)


def test_tls_to_a_plain_server_is_a_handshake_error(kernel_nginx, loadgen_run, tmp_path):
    """--tls against nginx's plain HTTP port: every request fails as tls_handshake
    and the exit status says so."""
    result, report = run_json(loadgen_run, tmp_path, f"{kernel_nginx}/", 20, "-c", 2, "--tls",
                              "--max-error-rate", 1)
    errors = check_counts_add_up(report, result)
    assert report["errors"]["tls_handshake"] == 20 == errors, describe(result)
    assert result.returncode == 1, describe(result)


def test_open_loop_rate_is_held_within_one_percent(kernel_nginx, loadgen_run, tmp_path):
    """--rate 500 for 5 s after a 1 s warm-up, on keep-alive connections that the
    server easily keeps up with: the measured rate is within 1% of 500/s and the
    warm-up is excluded from the figures."""
    result, report = run_json(loadgen_run, tmp_path, f"{kernel_nginx}/bench/64.html", "-d", 5, "--warmup", 1,
                              "--rate", 500, "-c", 50, "--requests-per-connection", 1000000)
    assert result.returncode == 0, describe(result)
    errors = check_counts_add_up(report, result)
    assert errors == 0, describe(result)
    assert abs(report["requests_per_second"] - 500) <= 5, describe(result)
    assert abs(report["completed"] - 2500) <= 25, describe(result)
    assert report["warmup_requests"] >= 450, describe(result)
    assert report["shortfall"] == 0 and report["offered_rate_achieved"], describe(result)
    # The series covers the measured 5 s, whole clock seconds between partial ends, warm-up excluded.
    series = report["per_second"]
    assert sum(second["completed"] for second in series) == report["completed"], describe(result)
    assert abs(sum(second["seconds"] for second in series) - report["elapsed_seconds"]) < 0.01, describe(result)
    assert all(second["seconds"] == 1 for second in series if not second["partial"]), describe(result)
    check_latency_plausible(report["latency_microseconds"], report["completed"], result)


@pytest.mark.parametrize("fault, error_class", [
    ("short-body", "short_response"),
    ("bad-status", "bad_status"),
    ("garbage", "malformed_response"),
])
def test_wrong_server_is_caught_and_classified(fault_server, loadgen_run, tmp_path, fault, error_class):
    """A server that sends half of the announced body, a 503, or bytes that are not
    HTTP: every request fails in the right class and the exit status is 1."""
    base = fault_server(fault)
    result, report = run_json(loadgen_run, tmp_path, f"{base}/bench/4k.html", 100, "-c", 10)
    assert result.returncode == 1, describe(result)
    check_counts_add_up(report, result)
    assert report["attempted"] == 100 and report["completed"] == 0, describe(result)
    assert report["errors"][error_class] == 100, describe(result)


def test_open_loop_shortfall_against_a_slow_server(fault_server, loadgen_run, tmp_path):
    """200 requests/s for 2 s offered to a server that takes 50 ms a response, over
    2 keep-alive connections (at most 40/s): the requests that found no free
    connection are the shortfall, counted unfinished and in the tail, and the
    summary says that the offered rate was not achieved."""
    base = fault_server("slow", "--delay", 0.05)
    result, report = run_json(loadgen_run, tmp_path, f"{base}/bench/64.html", "-d", 2, "--rate", 200, "-c", 2,
                              "--requests-per-connection", 1000000)
    check_counts_add_up(report, result)
    assert abs(report["scheduled"] - 400) <= 2, describe(result)
    assert report["completed"] <= 100 and report["shortfall"] >= 250, describe(result)
    assert report["offered_rate_achieved"] is False, describe(result)
    assert "NOT achieved" in result.stdout, describe(result)
    # The never-sent requests waited up to the end of the 2 s: the p99 shows it.
    assert report["latency_microseconds"]["count"] == report["scheduled"], describe(result)
    assert report["latency_microseconds"]["p99"] >= 1_000_000, describe(result)


def test_unanswered_requests_are_in_the_tail(fault_server, loadgen_run, tmp_path):
    """A server that never answers every 10th request: those time out after 0.5 s
    and are in the latency distribution at their timeout (p99 at least 0.5 s),
    while the answered ones are fast."""
    base = fault_server("silent", "--every", 10)
    result, report = run_json(loadgen_run, tmp_path, f"{base}/bench/64.html", 100, "-c", 5, "--timeout", 0.5)
    assert result.returncode == 1, describe(result)
    check_counts_add_up(report, result)
    assert report["errors"]["read_timeout"] == 10 and report["completed"] == 90, describe(result)
    latency = report["latency_microseconds"]
    assert latency["count"] == 100, describe(result)
    assert latency["p99"] >= 500_000 and latency["p50"] < 500_000, describe(result)


def test_refused_connections_are_counted(topology, loadgen_run, tmp_path):
    """Nothing listens on the port: every request is refused (RST to the SYN)."""
    result, report = run_json(loadgen_run, tmp_path, f"http://{CLIENT_ADDR}:8099/", 50, "-c", 5)
    assert result.returncode == 1, describe(result)
    assert report["errors"]["refused_or_reset"] == 50, describe(result)


@pytest.mark.parametrize("device", TWO_CORE_DEVICES)
def test_two_cores_get_every_byte(kernel_nginx, loadgen_run, tmp_path, device):
    """-N 2 with no static ARP entries. Over net_af_packet with two queues the
    kernel's fanout hash, seeded at random, spreads the replies without regard
    to the core that opened each connection, so about half of them land on the
    other core and are forwarded to the opening one (without that, those
    connections would never complete). Behind the RSS NIC (mtcp-rssnic on
    mtcp-l0, started after loadgen_run checked that mtcp-l was empty) each core
    opens from the ports whose replies hash to its queue: nothing can be
    forwarded there, so a wrong port would be a connection that never
    completes. Every response complete and byte-exact."""
    with contextlib.ExitStack() as running:
        nic = None
        if device == "rss_nic":
            nic = running.enter_context(running_rss_nic(NS_LOADGEN, "mtcp-l0", tmp_path / "memif.sock"))
            vdev, extra = rss_nic_vdev(nic.socket, NS_LOADGEN, "mtcp-l0"), "flow_spreading = rss\n"
        else:
            vdev, extra = "net_af_packet1,iface=mtcp-l0,qpairs=2", ""
        config = write_config(tmp_path, "loadgen-2", "198.18.0.3/24", vdev,
                              "io = dpdk\nnum_cores = 2\nhugepages = no\nmemory_mb = 512\n" + extra)
        (tmp_path / "arp.conf").write_text("ARP_ENTRY 0\n")  # every core learns nginx's MAC from the shared table
        result, report = run_json(loadgen_run, tmp_path, "--config", config, f"{kernel_nginx}/bench/4k.html", 2000,
                                  "-c", 32, "-N", 2, "--verify-body", REPO / "www")
        assert result.returncode == 0, describe(result)
        assert f"flows {TWO_CORE_DEVICES[device]}" in result.stdout, describe(result)
        errors = check_counts_add_up(report, result)
        assert (report["attempted"], report["completed"], errors) == (2000, 2000, 0), describe(result)
        if nic:
            check_both_queues_busy(nic)


def test_a_second_run_reusing_the_first_runs_ports_does_not_stall(kernel_nginx, loadgen_run, tmp_path):
    """Two runs of 12,000 short flows in a row to nginx. Each run takes a block of
    the 16,384 ephemeral ports from a random start, so at least 7,616 of the
    second run's ports are the first's, and nginx, which closed first, holds those 4-tuples in
    TIME-WAIT: with the boot's shared key (BootSecret) the new SYN's sequence
    number and TSval are above the old connection's, and Linux takes it (RFC
    6191). With a key per process about one reused tuple in two met the old
    TIME-WAIT instead, drew its ACK, reset it and connected one SYN timeout (1 s)
    later: far more than 1% of the connects (a lone lost SYN would not fail this)."""
    for _ in range(2):
        result, report = run_json(loadgen_run, tmp_path, f"{kernel_nginx}/bench/64.html", 12_000, "-c", 20)
        assert result.returncode == 0, describe(result)
        assert check_counts_add_up(report, result) == 0, describe(result)
        assert report["completed"] == 12_000, describe(result)
    assert report["connect_microseconds"]["p99"] < 900_000, describe(result)
