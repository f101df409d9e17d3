"""TLS termination in mtcp-httpd against real TLS clients.

One appliance with the shipped configuration (netns mtcp-a: HTTP on 198.18.0.1:80,
TLS on 198.18.0.1:443 with conf/tls/server.crt, made by scripts/make-cert.sh) for
most of the module; clients run in netns mtcp-c:
  - curl: the site byte for byte over TLS 1.2 and 1.3, HTTP/1.1 chosen by ALPN,
    keep-alive reuse, a large file by SHA-256, the certificate checked against
    conf/tls/server.crt, the default cipher list;
  - curl --http1.0: ALPN http/1.0 offered alone is selected and served;
  - openssl s_client: ALPN (http/1.1 chosen; only h2 offered is refused with a
    no_application_protocol alert) and session resumption by ticket for TLS 1.3
    and 1.2, tried several times so that the connections land on every core;
  - Tests/system/tools/tls_client.py: bytes that are not a good ClientHello
    (garbage, HTTP in clear, an oversized record, a broken hello, TLS 1.0/1.1),
    and clients that vanish mid-handshake (RST, FIN, silence);
  - wrk, ab and mtcp-loadgen (netns mtcp-l) for many handshakes, short and
    kept alive: no errors (rates are not judged here). The loadgen's TLS against
    a reference server (kernel nginx) is in test_loadgen.py.
Before that appliance starts, others: configurations whose certificate or key is
wrong (a one-line error, no start), one with a 1 s handshake timeout, TLS 1.3
only and one TLS 1.3 cipher suite, and one with two engines (tickets made on one
core resume on the other).
Counters come from the Prometheus endpoint through `tls_counters` (their names in
TLS_COUNTERS). Every subprocess has a timeout; processes are stopped by PID.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import CONFIG, HTTPD, TLS_DIR, running_appliance, stop_process_group, two_core_af_packet_config
from mtcp_ns import (APPLIANCE_ADDR, NS_APPLIANCE, NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, client, describe, ns,
                     show)

WWW = REPO / "www"
HTTP_BASE = f"http://{APPLIANCE_ADDR}"
TLS_PORT = 443
BASE = f"https://{APPLIANCE_ADDR}"
CERTIFICATE = TLS_DIR / "server.crt"
BENCH_SUMS = dict(reversed(line.split()) for line in (WWW / "bench/SHA256SUMS").read_text().splitlines())
# The largest benchmark file (1m.bin, 1 MiB).
LARGE = max(BENCH_SUMS, key=lambda name: (WWW / "bench" / name).stat().st_size)

# The appliance's TLS counters in its Prometheus exposition, by the name the tests use.
TLS_COUNTERS = {
    "handshakes": "mtcp_http_tls_handshakes_total",
    "resumed": "mtcp_http_tls_resumed_total",
    "failures": "mtcp_http_tls_handshake_failures_total",
    "timeouts": "mtcp_http_tls_handshake_timeouts_total",
}
CONNECTIONS_GAUGE = "mtcp_connections"
# Lines the appliance prints about a handshake that failed (rate-limited).
TLS_LOG_LINE = re.compile(r"^mtcp-httpd: \[warn\] core \d+, connection \d+: TLS")
# TLS alert descriptions (RFC 8446 §6).
UNEXPECTED_MESSAGE, RECORD_OVERFLOW, HANDSHAKE_FAILURE, DECODE_ERROR = 10, 22, 40, 50
PROTOCOL_VERSION, NO_APPLICATION_PROTOCOL = 70, 120
FATAL = 2


# --- helpers ------------------------------------------------------------------------------

def metrics_text():
    """The appliance's Prometheus exposition."""
    result = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15)
    assert result.returncode == 0, describe(result)
    return result.stdout


def metric_samples():
    """The appliance's Prometheus samples: {(name, core or None): value}, without
    the samples that have labels other than `core`."""
    samples = {}
    for line in metrics_text().splitlines():
        match = re.match(r'(mtcp_\w+)(?:\{core="(\d+)"\})? (\d+)$', line)
        if match:
            core = None if match.group(2) is None else int(match.group(2))
            samples[(match.group(1), core)] = int(match.group(3))
    return samples


def metrics():
    """The appliance's Prometheus samples summed over the cores: {name: value}."""
    totals = {}
    for (name, _), value in metric_samples().items():
        totals[name] = totals.get(name, 0) + value
    return totals


def dropped_frames():
    """The appliance's dropped frames summed over the cores: {reason: count}."""
    drops = {}
    for reason, value in re.findall(r'^mtcp_dropped_frames_total\{core="\d+",reason="(\w+)"\} (\d+)$',
                                    metrics_text(), re.M):
        drops[reason] = drops.get(reason, 0) + int(value)
    return drops


def tls_counters(timeout=3.0, by_core=False):
    """The TLS counters by the names of TLS_COUNTERS (the one place that knows their
    metric names): {key: total}, or {key: {core: value}} with `by_core`. Each core
    publishes its counters once a second, so just after the start they may not be
    there yet: waits up to `timeout` seconds for them."""
    deadline = time.monotonic() + timeout
    while True:
        samples = metric_samples()
        present = {name for name, _ in samples}
        missing = [name for name in TLS_COUNTERS.values() if name not in present]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert not missing, (f"metrics lack {missing}; TLS-looking ones: "
                         f"{sorted(n for n in present if 'tls' in n or 'handshake' in n)}")
    counters = {}
    for key, name in TLS_COUNTERS.items():
        cores = {core: value for (sample, core), value in samples.items() if sample == name}
        counters[key] = cores if by_core else sum(cores.values())
    return counters


def settled_tls_counters(by_core=False):
    """The TLS counters once everything before has been published: each core
    publishes once a second, so a reading taken right after a busy test may still
    be short of that test's last second, which the next test would then count as
    its own."""
    time.sleep(1.1)
    return tls_counters(by_core=by_core)


def wait_for_counter(key, at_least, timeout=5.0):
    """Polls the TLS counters (published twice a second) until `key` reaches `at_least`;
    returns the last reading either way."""
    deadline = time.monotonic() + timeout
    while True:
        counters = tls_counters()
        if counters[key] >= at_least or time.monotonic() > deadline:
            return counters
        time.sleep(0.25)


def wait_for_connections_at_most(limit, timeout=15.0):
    """Polls the connection gauge until it is at most `limit`; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = metrics().get(CONNECTIONS_GAUGE)
        if value is not None and value <= limit or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def stop_report_tls_lines(log):
    """The lines of the stop report (after `mtcp-httpd: stopped`) that speak of TLS."""
    _, found, report = log.partition("mtcp-httpd: stopped")
    return [line for line in report.splitlines() if "tls" in line.lower()] if found else []


def tls_log_lines(app):
    return [line for line in app.lines if TLS_LOG_LINE.search(line)]


def curl(*args, timeout=30):
    """curl -sS -k *args in mtcp-c; the CompletedProcess (it must exit 0)."""
    result = client("curl", "-sS", "-k", "--max-time", timeout - 5, *args, timeout=timeout)
    assert result.returncode == 0, show(result)
    return result


def served(path="/robots.txt"):
    """One good TLS request still gets the file (the appliance serves after a bad client)."""
    result = curl(f"{BASE}{path}")
    name = path[1:] or "index.html"
    assert result.stdout == (WWW / name).read_bytes(), show(result)


def s_client(*args, timeout=20):
    """openssl s_client to 198.18.0.1:443 in mtcp-c sending one request with
    Connection: close and reading to the end (-ign_eof): in TLS 1.3 the session
    tickets come after the handshake, and only a client that reads sees them."""
    request = f"GET /robots.txt HTTP/1.1\r\nHost: {APPLIANCE_ADDR}\r\nConnection: close\r\n\r\n".encode()
    return client("openssl", "s_client", "-connect", f"{APPLIANCE_ADDR}:{TLS_PORT}", "-ign_eof", *args,
                  input=request, timeout=timeout)


def tls_tool(mode, *args, port=TLS_PORT, timeout=30):
    """Tests/system/tools/tls_client.py MODE 198.18.0.1 PORT *args in mtcp-c; its JSON report."""
    result = client(SYSTEM_PYTHON, TOOLS / "tls_client.py", mode, APPLIANCE_ADDR, port, *args, timeout=timeout)
    assert result.returncode == 0, show(result)
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def httpd_configuration(**tls):
    """conf/httpd.json with its certificate and key as absolute paths (the copy lives
    elsewhere) and `tls` merged into its tls section."""
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    section = configuration.setdefault("tls", {})
    for key, default in (("certificate", "conf/tls/server.crt"), ("private_key", "conf/tls/server.key")):
        path = section.get(key, default)
        section[key] = path if path.startswith("/") else str(REPO / path)
    section.update(tls)
    return configuration


@pytest.fixture(autouse=True)
def appliance_alive(request):
    """Each test that uses an appliance of this module shows its output on failure."""
    for name in ("httpd", "tuned_httpd", "two_core_httpd"):
        if name in request.fixturenames:
            app = request.getfixturevalue(name)
            request.node.mtcp_appliance = app
            assert app.alive(), f"mtcp-httpd is not running:\n{app.log}"
    yield


# --- configurations that must not start ----------------------------------------------------

def start_expecting_refusal(tmp_path, configuration):
    """mtcp-httpd with `configuration` as its --http-config in netns mtcp-a; returns
    (exit status, output). It must exit by itself within 20 s: if it is still
    running then (or said it was ready), it is stopped and the test fails."""
    others = subprocess.run(["ip", "netns", "pids", NS_APPLIANCE], capture_output=True, text=True).stdout.split()
    if others:
        pytest.fail(f"netns {NS_APPLIANCE} already runs processes {others}")
    path = tmp_path / "httpd.json"
    path.write_text(json.dumps(configuration))
    proc = subprocess.Popen(["ip", "netns", "exec", NS_APPLIANCE, "stdbuf", "-oL", "-eL", str(HTTPD),
                             "--config", str(CONFIG), "--http-config", str(path)],
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        stop_process_group(proc, grace=10)
        output, _ = proc.communicate(timeout=5)
        pytest.fail(f"mtcp-httpd started with a bad TLS configuration {configuration['tls']}:\n{output}")
    return proc.returncode, output


def make_bad_files(tmp_path):
    not_pem = tmp_path / "not-pem.crt"
    not_pem.write_text("this is not a certificate\n")
    other_key = tmp_path / "other.key"
    result = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                             "-out", str(other_key)], capture_output=True, timeout=30)
    assert result.returncode == 0, result
    return {"not-pem": str(not_pem), "other-key": str(other_key)}


# (id, tls settings, the field the error names); "@x" is a file of make_bad_files.
BAD_CERTIFICATES = [
    ("certificate missing", {"certificate": "/nonexistent/mtcp-tls/server.crt"}, "tls.certificate"),
    ("key missing", {"private_key": "/nonexistent/mtcp-tls/server.key"}, "tls.private_key"),
    ("certificate not PEM", {"certificate": "@not-pem"}, "tls.certificate"),
    ("key of another certificate", {"private_key": "@other-key"}, "tls."),
]


@pytest.mark.appliance
@pytest.mark.parametrize("settings,field", [c[1:] for c in BAD_CERTIFICATES], ids=[c[0] for c in BAD_CERTIFICATES])
def test_bad_certificate_or_key_is_a_one_line_startup_error(topology, tmp_path, settings, field):
    if not HTTPD.exists():
        pytest.fail(f"{HTTPD} does not exist: run `make build` first")
    files = make_bad_files(tmp_path)
    settings = {key: files[value[1:]] if value.startswith("@") else value for key, value in settings.items()}
    status, output = start_expecting_refusal(tmp_path, httpd_configuration(**settings))
    lines = output.strip().splitlines()
    assert status not in (0, None), output
    assert len(lines) == 1, f"one line, not {len(lines)}:\n{output}"
    assert "configuration error" in lines[0] and field in lines[0], output
    for value in settings.values():
        if "nonexistent" in value:
            assert value in lines[0], f"the error names the missing file: {output}"


# --- a tuned configuration: 1 s handshake timeout, TLS 1.3 only, one cipher suite ----------

TUNED = {"handshake_timeout_ms": 1000, "min_protocol": "TLSv1.3", "ciphersuites": "TLS_CHACHA20_POLY1305_SHA256"}


class TestTunedTLS:
    """An appliance whose tls section sets TUNED: handshakes must be done within 1 s
    of the connection's start, TLS 1.2 is refused, and TLS 1.3 has one suite."""

    @pytest.fixture(scope="class")
    def tuned_httpd(self, topology, request, tmp_path_factory):
        path = tmp_path_factory.mktemp("tuned-tls") / "httpd.json"
        path.write_text(json.dumps(httpd_configuration(**TUNED)))
        with running_appliance(request, tmp_path_factory, ["--http-config", path]) as app:
            yield app

    @pytest.mark.appliance
    @pytest.mark.parametrize("what,args", [
        ("half a ClientHello, then silence", ["hello", "--cut", 0.5, "--then", "wait"]),
        ("nothing at all", ["raw", "--hex", "", "--then", "wait"]),
        ("a ClientHello at one byte per 200 ms", ["hello", "--trickle", 0.2, "--then", "wait"]),
    ], ids=["half-hello", "nothing", "trickle"])
    def test_slow_client_is_closed_by_the_handshake_timeout(self, tuned_httpd, what, args):
        before = settled_tls_counters()
        report = tls_tool(*args, "--timeout", 10)
        assert report["ended"] in ("eof", "reset"), f"{what}: not closed within 10 s: {report}"
        assert 0.5 <= report["since_connect"] <= 6, \
            f"{what}: closed {report['since_connect']} s after the connect (timeout 1 s): {report}"
        after = wait_for_counter("timeouts", before["timeouts"] + 1)
        assert after["timeouts"] >= before["timeouts"] + 1, (before, after)
        served()

    @pytest.mark.appliance
    def test_the_timeout_ends_with_the_handshake(self, tuned_httpd):
        """A client quiet for 2.5 s after its handshake is past the handshake timeout's
        reach: its request is answered."""
        before = settled_tls_counters()
        report = tls_tool("idle", "--idle", 2.5, "--path", "/robots.txt", "--timeout", 10)
        assert report["alpn"] == "http/1.1" and report["status"] == 200, report
        assert report["sha256"] == sha256((WWW / "robots.txt").read_bytes()), report
        after = tls_counters()
        assert after["timeouts"] == before["timeouts"], (before, after)

    @pytest.mark.appliance
    def test_tls12_is_refused_when_the_minimum_is_tls13(self, tuned_httpd):
        report = tls_tool("hello", "--max-version", "TLSv1.2", "--then", "wait", "--timeout", 8)
        assert report["alerts"] == [[FATAL, PROTOCOL_VERSION]] and report["ended"] in ("eof", "reset"), report
        result = client("curl", "-sS", "-k", "--max-time", 10, "--tlsv1.2", "--tls-max", "1.2", f"{BASE}/",
                        timeout=20)
        assert result.returncode == 35, show(result)  # CURLE_SSL_CONNECT_ERROR
        served()

    @pytest.mark.appliance
    def test_tls13_cipher_suites_are_the_configured_ones(self, tuned_httpd):
        result = curl("-v", "--tlsv1.3", "-o", "/dev/null", f"{BASE}/")
        assert "SSL connection using TLSv1.3 / TLS_CHACHA20_POLY1305_SHA256" in result.stderr.decode("latin-1"), \
            show(result)
        result = client("curl", "-sS", "-k", "--max-time", 10, "--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256",
                        f"{BASE}/", timeout=20)
        assert result.returncode == 35, show(result)

    @pytest.mark.appliance
    def test_many_slow_handshakes_are_all_closed(self, tuned_httpd):
        """300 connections stuck in their handshake at once: the timeout closes every
        one of them, and each client is told (a FIN or an RST reaches it)."""
        before = settled_tls_counters()
        report = tls_tool("many", "--count", 300, "--cut", 0.5, "--timeout", 8, timeout=60)
        assert report["closed"] == 300, report
        after = wait_for_counter("timeouts", before["timeouts"] + 300)
        assert after["timeouts"] - before["timeouts"] == 300, (before, after)
        served()

    @pytest.mark.appliance
    def test_stop_report_has_the_tls_counters(self, tuned_httpd):
        """Last in the class: stops the appliance (SIGINT) and reads its report."""
        tuned_httpd.stop()
        assert tuned_httpd.proc.returncode == 0, tuned_httpd.log
        lines = stop_report_tls_lines(tuned_httpd.log)
        assert any("handshake" in line.lower() for line in lines), tuned_httpd.log


# --- a burst of handshake timeouts when the client's ARP entry has just expired -------------

@pytest.mark.appliance
@pytest.mark.skipif(not os.environ.get("MTCP_LONG_TESTS"), reason="takes 80 s; MTCP_LONG_TESTS=1 runs it")
def test_handshake_timeouts_reach_the_clients_after_the_arp_entry_expired(topology, request, tmp_path_factory):
    """A dynamic ARP entry lives 60 s from its last ARP confirmation, and traffic that
    flows keeps the kernel client from asking again. 300 handshakes stuck from second
    53 time out together at second 63, after the entry of their client expired: all
    300 closes must still reach the client (at most 64 frames wait for ARP; a reset
    that is dropped is never sent again, and the client's connection hangs)."""
    with running_appliance(request, tmp_path_factory) as app:
        request.node.mtcp_appliance = app
        start = time.monotonic()
        while time.monotonic() < start + 53:
            result = client("curl", "-sS", "-o", "/dev/null", "--max-time", 3, f"{HTTP_BASE}/robots.txt", timeout=10)
            assert result.returncode == 0, show(result)
            time.sleep(1)
        before = dropped_frames()
        report = tls_tool("many", "--count", 300, "--cut", 0.5, "--timeout", 20, timeout=60)
        time.sleep(1.5)
        after = dropped_frames()
        drops = {reason: after[reason] - before.get(reason, 0) for reason in after if after[reason] > before.get(reason, 0)}
        assert report["closed"] == 300, f"{report}; frames dropped meanwhile, by reason: {drops}"


# --- two engines: tickets made on one core resume on the other ----------------------------

class TestTwoCores:
    """The appliance with two engines over net_af_packet with two queue pairs (the
    kernel's fanout hash spreads the flows over them), with no static ARP entries:
    the cores share one neighbour table (they once needed the client in arp.conf)."""

    @pytest.fixture(scope="class")
    def two_core_httpd(self, topology, request, tmp_path_factory):
        config = two_core_af_packet_config(tmp_path_factory.mktemp("two-cores"))
        with running_appliance(request, tmp_path_factory, config=config) as app:
            assert "2 engines" in app.log, app.log
            yield app

    @pytest.mark.appliance
    def test_site_is_served_over_tls_by_both_cores(self, two_core_httpd):
        before = settled_tls_counters(by_core=True)["handshakes"]
        for _ in range(16):
            served("/")
        after = tls_counters(by_core=True)["handshakes"]
        deadline = time.monotonic() + 5
        while sum(after.values()) < sum(before.values()) + 16 and time.monotonic() < deadline:
            time.sleep(0.25)
            after = tls_counters(by_core=True)["handshakes"]
        assert sum(after.values()) >= sum(before.values()) + 16, (before, after)
        assert all(after[core] > before.get(core, 0) for core in (0, 1)), (before, after)

    @pytest.mark.appliance
    @pytest.mark.parametrize("flag,version", [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")],
                             ids=["tls1.3", "tls1.2"])
    def test_tickets_resume_on_either_core(self, two_core_httpd, tmp_path, flag, version):
        session = tmp_path / "session.pem"
        first = s_client(flag, "-sess_out", session)
        assert first.returncode == 0 and f"New, {version}" in first.stdout.decode("latin-1"), show(first)
        before = settled_tls_counters(by_core=True)["resumed"]
        for attempt in range(16):
            again = s_client(flag, "-sess_in", session)
            out = again.stdout.decode("latin-1")
            assert again.returncode == 0 and f"Reused, {version}" in out, f"attempt {attempt}:\n{show(again)}"
        deadline = time.monotonic() + 5
        while True:
            after = tls_counters(by_core=True)["resumed"]
            if sum(after.values()) >= sum(before.values()) + 16 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert sum(after.values()) >= sum(before.values()) + 16, (before, after)
        # 16 connections on two queues by hash: both cores resumed some.
        assert all(after[core] > before.get(core, 0) for core in (0, 1)), (before, after)


# --- the shipped configuration -------------------------------------------------------------

@pytest.fixture(scope="module")
def httpd(topology, request, tmp_path_factory):
    """mtcp-httpd with conf/httpd.json (TLS on 443) for the rest of the module. It must
    still be running after the last test, exit with status 0 on SIGINT, and its stop
    report must speak of TLS."""
    with running_appliance(request, tmp_path_factory) as app:
        yield app
        assert app.alive(), f"mtcp-httpd died during the tests:\n{app.log}"
        app.stop()
        assert app.proc.returncode == 0, f"mtcp-httpd exited with {app.proc.returncode}:\n{app.log}"
        assert stop_report_tls_lines(app.log), f"no TLS counters in the stop report:\n{app.log}"


SITE = {
    "/": "index.html",
    "/style.css": "style.css",
    "/about/": "about/index.html",
    "/bench/64.html": "bench/64.html",
    "/bench/32k.html": "bench/32k.html",
}


@pytest.mark.appliance
@pytest.mark.parametrize("path", SITE)
def test_curl_https_serves_the_file(httpd, path):
    result = curl("-i", f"{BASE}{path}")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), show(result)
    assert body == (WWW / SITE[path]).read_bytes()
    assert f"content-length: {len(body)}".encode() in head.lower(), show(result)


@pytest.mark.appliance
@pytest.mark.parametrize("args,version", [
    (["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2"),
    (["--tlsv1.3"], "TLSv1.3"),
], ids=["tls1.2", "tls1.3"])
def test_curl_tls_versions_and_alpn(httpd, args, version):
    result = curl("-v", *args, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", f"{BASE}/")
    stderr = result.stderr.decode("latin-1")
    assert f"SSL connection using {version}" in stderr, show(result)
    assert "ALPN: server accepted http/1.1" in stderr, show(result)
    assert result.stdout.decode() == "1.1 200", show(result)


@pytest.mark.appliance
def test_curl_http10_over_tls_is_served(httpd):
    """curl --http1.0 offers ALPN http/1.0 alone; we speak it, so it is selected
    (it used to get the no_application_protocol alert)."""
    result = curl("-v", "--http1.0", "-o", "/dev/null", "-w", "%{http_code}", f"{BASE}/")
    assert "ALPN: server accepted http/1.0" in result.stderr.decode("latin-1"), show(result)
    assert result.stdout.decode() == "200", show(result)


@pytest.mark.appliance
def test_curl_checks_the_certificate(httpd):
    """Without -k: conf/tls/server.crt as the only trusted certificate, and 198.18.0.1
    among its subject alternative names."""
    result = client("curl", "-sS", "--max-time", 20, "--cacert", CERTIFICATE, "-o", "/dev/null",
                    "-w", "%{http_code} %{ssl_verify_result}", f"{BASE}/", timeout=30)
    assert result.returncode == 0 and result.stdout.decode() == "200 0", show(result)


@pytest.mark.appliance
@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls12_default_ciphers(httpd, cipher):
    result = curl("-v", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", cipher, "-o", "/dev/null", f"{BASE}/")
    assert f"SSL connection using TLSv1.2 / {cipher}" in result.stderr.decode("latin-1"), show(result)


@pytest.mark.appliance
def test_tls12_cbc_only_client_is_refused(httpd):
    """The default TLS 1.2 list is ECDHE with AES-GCM or ChaCha20: a client that offers
    only CBC suites finds no common cipher."""
    result = client("curl", "-sS", "-k", "--max-time", 20, "--tlsv1.2", "--tls-max", "1.2",
                    "--ciphers", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA", f"{BASE}/", timeout=30)
    assert result.returncode == 35, show(result)  # CURLE_SSL_CONNECT_ERROR
    served()


@pytest.mark.appliance
def test_curl_keep_alive_over_tls_reuses_the_connection(httpd):
    result = curl("-v", "-w", "connects=%{num_connects} status=%{http_code}\n",
                  "-o", "/dev/null", f"{BASE}/bench/1k.html", "-o", "/dev/null", f"{BASE}/style.css",
                  "-o", "/dev/null", f"{BASE}/bench/32k.html")
    stderr = result.stderr.decode("latin-1")
    assert stderr.count("Re-using existing connection") == 2, show(result)
    assert stderr.count("SSL connection using") == 1, show(result)
    assert result.stdout.decode().split() == ["connects=1", "status=200", "connects=0", "status=200",
                                              "connects=0", "status=200"], show(result)


@pytest.mark.appliance
def test_large_file_over_tls_sha256(httpd, tmp_path):
    result = curl(f"{BASE}/bench/{LARGE}")
    assert sha256(result.stdout) == BENCH_SUMS[LARGE]
    # Four at once, each on its own connection.
    outputs = [tmp_path / f"large-{i}" for i in range(4)]
    args = [arg for out in outputs for arg in ("-o", out, f"{BASE}/bench/{LARGE}")]
    curl("-Z", "--parallel-max", 4, *args, timeout=60)
    for out in outputs:
        assert sha256(out.read_bytes()) == BENCH_SUMS[LARGE], out


@pytest.mark.appliance
def test_plain_http_is_served_beside_tls(httpd):
    """Port 80 answers in clear while a TLS connection is open on 443."""
    held = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "tls_client.py"),
                             "idle", APPLIANCE_ADDR, str(TLS_PORT), "--idle", "2", "--path", "/style.css",
                             "--timeout", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        time.sleep(0.5)
        result = client("curl", "-sS", "--max-time", 10, f"{HTTP_BASE}/", timeout=20)
        assert result.returncode == 0 and result.stdout == (WWW / "index.html").read_bytes(), show(result)
        output, _ = held.communicate(timeout=20)
    finally:
        stop_process_group(held, sig=signal.SIGTERM, grace=5)
    report = json.loads(output.strip().splitlines()[-1])
    assert report["status"] == 200 and report["sha256"] == sha256((WWW / "style.css").read_bytes()), output


@pytest.mark.appliance
def test_handshakes_are_counted(httpd):
    before = settled_tls_counters()
    for _ in range(3):
        served("/robots.txt")
    after = wait_for_counter("handshakes", before["handshakes"] + 3)
    assert after["handshakes"] >= before["handshakes"] + 3, (before, after)
    assert after["failures"] == before["failures"], (before, after)


# --- openssl s_client: ALPN and resumption -------------------------------------------------

@pytest.mark.appliance
@pytest.mark.parametrize("offer", ["http/1.1", "h2,http/1.1", None], ids=["http1.1", "h2-and-http1.1", "none"])
def test_alpn_selects_http11(httpd, offer):
    result = s_client(*(["-alpn", offer] if offer else []))
    out = result.stdout.decode("latin-1")
    assert result.returncode == 0, show(result)
    if offer:
        assert "ALPN protocol: http/1.1" in out, show(result)
    else:
        assert "No ALPN negotiated" in out, show(result)
    assert "HTTP/1.1 200" in out and (WWW / "robots.txt").read_text() in out, show(result)


@pytest.mark.appliance
def test_alpn_h2_only_is_refused(httpd):
    before = settled_tls_counters()
    result = s_client("-alpn", "h2")
    assert result.returncode != 0, show(result)
    assert "no application protocol" in result.stderr.decode("latin-1"), show(result)
    assert "HTTP/1.1" not in result.stdout.decode("latin-1"), show(result)
    report = tls_tool("hello", "--alpn", "h2", "--timeout", 8)
    assert report["alerts"] == [[FATAL, NO_APPLICATION_PROTOCOL]], report
    assert report["ended"] in ("eof", "reset"), report
    after = wait_for_counter("failures", before["failures"] + 2)
    assert after["failures"] >= before["failures"] + 2, (before, after)
    served()


@pytest.mark.appliance
@pytest.mark.parametrize("flag,version", [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")], ids=["tls1.3", "tls1.2"])
def test_session_resumption_by_ticket(httpd, tmp_path, flag, version):
    """A ticket from one connection resumes eight more, each on a new source port, so
    with several cores the resumptions land on cores other than the ticket's."""
    session = tmp_path / "session.pem"
    first = s_client(flag, "-sess_out", session)
    out = first.stdout.decode("latin-1")
    assert first.returncode == 0 and f"New, {version}" in out, show(first)
    assert session.exists() and "TLS session ticket:" in out, f"no ticket issued:\n{show(first)}"
    before = settled_tls_counters()
    for attempt in range(8):
        again = s_client(flag, "-sess_in", session)
        out = again.stdout.decode("latin-1")
        assert again.returncode == 0, show(again)
        assert f"Reused, {version}" in out, f"attempt {attempt}: not resumed:\n{show(again)}"
        assert "HTTP/1.1 200" in out, show(again)
    after = wait_for_counter("resumed", before["resumed"] + 8)
    assert after["resumed"] >= before["resumed"] + 8, (before, after)
    assert after["failures"] == before["failures"], (before, after)


def s_client_typing(flag, steps, timeout=30):
    """openssl s_client used interactively (its commands on): each step's text is
    typed and followed by a pause of that many seconds; stdin closes after the last
    pause. Returns (exit status, stdout, stderr) as text."""
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "openssl", "s_client", "-connect",
                             f"{APPLIANCE_ADDR}:{TLS_PORT}", flag],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        for text, pause in steps:
            try:
                proc.stdin.write(text.encode())
                proc.stdin.flush()
            except BrokenPipeError:
                break
            time.sleep(pause)
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop_process_group(proc, sig=signal.SIGTERM, grace=5)
    return proc.returncode, out.decode("latin-1"), err.decode("latin-1")


KEEP_ALIVE_GET = f"GET /robots.txt HTTP/1.1\r\nHost: {APPLIANCE_ADDR}\r\n\r\n"
CLOSING_GET = f"GET /robots.txt HTTP/1.1\r\nHost: {APPLIANCE_ADDR}\r\nConnection: close\r\n\r\n"


@pytest.mark.appliance
def test_tls13_key_updates_mid_connection(httpd):
    """The client updates its keys and asks the server to update its own (`K`), then
    updates only its own (`k`), with a request after each: both are answered."""
    status, out, err = s_client_typing("-tls1_3", [("K\n", 1), (KEEP_ALIVE_GET, 1), ("k\n", 1), (CLOSING_GET, 1.5)])
    assert err.count("KEYUPDATE") == 2, f"{out}\n{err}"  # s_client says it on stderr
    assert out.count("HTTP/1.1 200") == 2 and "closed" in out, f"{out}\n{err}"
    served()


@pytest.mark.appliance
def test_tls12_client_renegotiation_does_no_harm(httpd):
    """A TLS 1.2 client asks to renegotiate (`R`). Refusing (a no_renegotiation
    alert) is fine; if the server accepts, the request that follows is answered.
    Either way the appliance goes on serving."""
    status, out, err = s_client_typing("-tls1_2", [("R\n", 1), (CLOSING_GET, 1.5)])
    assert "RENEGOTIATING" in err, f"{out}\n{err}"  # s_client says it on stderr
    if "no renegotiation" not in err:
        assert "HTTP/1.1 200" in out, f"{out}\n{err}"
    served()


# --- clients that are not good TLS clients -------------------------------------------------

GARBAGE = b"hello, this is not TLS\r\n" * 3
HTTP_IN_CLEAR = f"GET / HTTP/1.1\r\nHost: {APPLIANCE_ADDR}\r\n\r\n".encode()
# (id, tls_client.py arguments, the alert that must come back first or None for any)
BAD_HELLOS = [
    ("garbage", ["raw", "--hex", GARBAGE.hex()], None),
    ("http-in-clear", ["raw", "--hex", HTTP_IN_CLEAR.hex()], None),
    # A handshake record that says it is 18433 bytes long (more than 2^14 + 2048).
    ("oversized-record", ["raw", "--hex", "16030148010100"], RECORD_OVERFLOW),
    ("bad-extensions-length", ["hello", "--mangle", "ext-length"], DECODE_ERROR),
    ("server-hello-from-client", ["hello", "--mangle", "server-hello"], UNEXPECTED_MESSAGE),
    ("tls1.0-only", ["hello", "--max-version", "TLSv1"], PROTOCOL_VERSION),
    ("tls1.1-only", ["hello", "--max-version", "TLSv1.1"], PROTOCOL_VERSION),
]


@pytest.mark.appliance
@pytest.mark.parametrize("args,alert", [b[1:] for b in BAD_HELLOS], ids=[b[0] for b in BAD_HELLOS])
def test_bad_client_hello_is_refused_and_counted(httpd, args, alert):
    """The connection closes at once (well before the 10 s handshake timeout), with
    OpenSSL's alert first when it makes one; the failure is counted and logged, and
    the next client is served."""
    before = settled_tls_counters()
    report = tls_tool(*args, "--then", "wait", "--timeout", 8)
    assert report["ended"] in ("eof", "reset"), f"not closed within 8 s: {report}"
    if alert is not None:
        assert report["alerts"] == [[FATAL, alert]], report
    after = wait_for_counter("failures", before["failures"] + 1)
    assert after["failures"] >= before["failures"] + 1, (before, after)
    deadline = time.monotonic() + 3
    while not tls_log_lines(httpd) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tls_log_lines(httpd), "no `mtcp-httpd: TLS` line about the failed handshake"
    served()


VANISHING = [
    ("half-hello-then-rst", ["hello", "--cut", 0.5, "--then", "rst", "--repeat", 50]),
    ("whole-hello-then-rst", ["hello", "--then", "rst", "--repeat", 50]),
    ("connect-then-rst", ["raw", "--hex", "", "--then", "rst", "--repeat", 50]),
    ("half-hello-then-fin", ["hello", "--cut", 0.5, "--then", "fin", "--repeat", 10, "--timeout", 8]),
    ("tls-record-cut-then-fin", ["raw", "--hex", "1603010040010000", "--then", "fin", "--repeat", 10,
                                 "--timeout", 8]),
]


@pytest.mark.appliance
@pytest.mark.parametrize("args", [v[1] for v in VANISHING], ids=[v[0] for v in VANISHING])
def test_client_vanishing_mid_handshake(httpd, args):
    """Clients that reset or half-close in the middle of their handshake: a FIN is
    answered by a close at once (not at the handshake timeout), nothing is left
    behind in the connection table, and the next client is served."""
    baseline = metrics()[CONNECTIONS_GAUGE]
    report = tls_tool(*args, timeout=150)
    if "fin" in args:
        assert set(report["endings"]) <= {"eof", "reset"}, f"not closed within 8 s after our FIN: {report}"
    left = wait_for_connections_at_most(baseline)
    assert left <= baseline, f"{left} connections, {baseline} before: some were never freed"
    served()


@pytest.mark.appliance
def test_openssl_client_killed_early(httpd):
    """openssl s_client killed by SIGKILL a few milliseconds after its start, as a
    crashed client would be: some are cut before they connect, some in their
    handshake, some after it; none may leave a connection behind."""
    baseline = metrics()[CONNECTIONS_GAUGE]
    for delay in (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.1):
        proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "openssl", "s_client", "-connect",
                                 f"{APPLIANCE_ADDR}:{TLS_PORT}", "-ign_eof"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait(5)
            proc.stdin.close()
    left = wait_for_connections_at_most(baseline)
    assert left <= baseline, f"{left} connections, {baseline} before: some were never freed"
    served()


# --- many handshakes: wrk, ab, mtcp-loadgen --------------------------------------------------

@pytest.mark.appliance
@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
def test_wrk_https(httpd, close):
    before = settled_tls_counters()
    headers = ["-H", "Connection: close"] if close else []
    result = client("wrk", "-t", 2, "-c", 16, "-d", "3s", "--timeout", "5s", *headers,
                    f"{BASE}/bench/1k.html", timeout=60)
    assert result.returncode == 0, show(result)
    out = result.stdout.decode()
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    assert requests > 0, out
    # Each request on a connection of its own: a handshake each (full or resumed).
    after = wait_for_counter("handshakes", before["handshakes"] + (requests if close else 1))
    assert after["failures"] == before["failures"], (before, after)
    if close:
        assert after["handshakes"] - before["handshakes"] >= requests, (requests, before, after)
    print(f"wrk https {'close' if close else 'keep-alive'}: {requests} requests, {rate:.0f}/s, "
          f"{after['handshakes'] - before['handshakes']} handshakes")


@pytest.mark.appliance
@pytest.mark.parametrize("keep_alive", [False, True], ids=["short", "keep-alive"])
def test_ab_https(httpd, keep_alive):
    result = client("ab", *(["-k"] if keep_alive else []), "-n", 1000, "-c", 20, "-s", 10,
                    f"{BASE}/bench/1k.html", timeout=120)
    assert result.returncode == 0, show(result)
    out = result.stdout.decode()
    counts = {k.strip(): int(v) for k, v in re.findall(r"^([A-Za-z -]+):\s+(\d+)", out, re.M)}
    assert "SSL/TLS Protocol:" in out, out
    assert counts["Complete requests"] == 1000 and counts["Failed requests"] == 0, out
    assert "Non-2xx responses" not in out and counts["Document Length"] == 1024, out
    if keep_alive:
        assert counts["Keep-Alive requests"] == 1000, out
    print(re.search(r"Requests per second:.*", out).group(0))


def loadgen_json(loadgen_run, tmp_path, *args, timeout=120):
    report = tmp_path / "report.json"
    result = loadgen_run(*args, "--json", report, timeout=timeout)
    assert report.exists(), describe(result)
    return result, json.loads(report.read_text())


def check_handshake_figures(report, result, connections):
    tls, figures = report["tls"], report["handshake_microseconds"]
    assert tls["handshake_failures"] == 0, describe(result)
    assert tls["handshakes_full"] + tls["handshakes_resumed"] == connections, describe(result)
    assert tls["handshakes_per_second"] > 0, describe(result)
    assert figures["count"] == connections, describe(result)
    ordered = [figures[k] for k in ("p50", "p99")]
    assert ordered == sorted(ordered) and 1 <= figures["p50"] < 10_000_000, describe(result)


@pytest.mark.appliance
@pytest.mark.parametrize("resume", [False, True], ids=["full", "resumed"])
def test_loadgen_https_against_the_appliance(httpd, loadgen_run, tmp_path, resume):
    """mtcp-loadgen (netns mtcp-l) makes 1000 TLS connections of one request each to
    the appliance; with --tls-resume all but the first few (the first of each
    concurrent slot, before any ticket came back) resume."""
    before = settled_tls_counters()
    result, report = loadgen_json(loadgen_run, tmp_path, f"{BASE}/bench/4k.html", 1000, "-c", 10,
                                  *(["--tls-resume"] if resume else []), "--verify-body", WWW)
    assert result.returncode == 0, describe(result)
    assert report["completed"] == 1000 and sum(report["errors"].values()) == 0, describe(result)
    opened = report["connections_opened"]
    check_handshake_figures(report, result, opened)
    after = wait_for_counter("handshakes", before["handshakes"] + opened)
    assert after["handshakes"] >= before["handshakes"] + opened, (before, after)
    assert after["failures"] == before["failures"], (before, after)
    if resume:
        assert report["tls"]["handshakes_resumed"] >= opened - 10, describe(result)
        after = wait_for_counter("resumed", before["resumed"] + report["tls"]["handshakes_resumed"])
        assert after["resumed"] - before["resumed"] >= report["tls"]["handshakes_resumed"], (before, after)
    else:
        assert report["tls"]["handshakes_resumed"] == 0, describe(result)
    print(f"loadgen https {'resumed' if resume else 'full'}: {report['tls']}")
