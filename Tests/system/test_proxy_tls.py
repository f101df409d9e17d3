"""The reverse proxy to an HTTPS upstream: a kernel upstream in netns mtcp-c
(python's http.server over ssl) with a certificate of a test authority made
here with the openssl command, which the proxy is told to trust; bodies go
both ways byte-exact over kept-alive TLS connections, a body delimited by the
close is complete only after the upstream's close_notify, and a pool that
checks another name than the certificate's gets 502, counted in /metrics."""

import hashlib
import os
import random
import re
import subprocess
import time

import pytest

from conftest import http_config_file, running_appliance, stop_process_group
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, SYSTEM_PYTHON, TOOLS, describe, metrics_text, ns

UPSTREAM_PORT = 8443
SERVER_NAME = "upstream.test"


def openssl(*args):
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test authority, and the upstream's certificate it signed (naming SERVER_NAME and 198.18.0.2)."""
    directory = tmp_path_factory.mktemp("upstream-tls")
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *new_key, "-days", 2, "-subj", "/CN=mtcp test authority",
            "-keyout", directory / "ca.key", "-out", directory / "ca.crt")
    openssl("req", "-new", *new_key, "-subj", f"/CN={SERVER_NAME}",
            "-keyout", directory / "upstream.key", "-out", directory / "upstream.csr")
    (directory / "upstream.ext").write_text(f"subjectAltName=DNS:{SERVER_NAME},IP:198.18.0.2\n")
    openssl("x509", "-req", "-in", directory / "upstream.csr", "-CA", directory / "ca.crt",
            "-CAkey", directory / "ca.key", "-CAcreateserial", "-days", 2, "-extfile", directory / "upstream.ext",
            "-out", directory / "upstream.crt")
    return directory


@pytest.fixture
def https_upstream(topology, certificates):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--port", str(UPSTREAM_PORT), "--tls", str(certificates / "upstream.crt"),
                             str(certificates / "upstream.key")],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    stop_process_group(proc, grace=5)


@pytest.fixture
def proxy(https_upstream, certificates, request, tmp_path_factory):
    authority = str(certificates / "ca.crt")
    server = f"198.18.0.2:{UPSTREAM_PORT}"
    path = http_config_file(tmp_path_factory, "proxy-tls", routes=[
        {"prefix": "/api/", "upstream": "secure"},
        {"prefix": "/by-address/", "upstream": "by-address"},
        {"prefix": "/wrong-name/", "upstream": "wrong-name"},
    ], upstreams=[
        {"name": "secure", "servers": [server], "tls": {"ca_file": authority, "server_name": SERVER_NAME}},
        {"name": "by-address", "servers": [server], "tls": {"ca_file": authority}},
        {"name": "wrong-name", "servers": [server], "tls": {"ca_file": authority, "server_name": "other.test"}},
    ])
    with running_appliance(request, tmp_path_factory, ["--http-config", path]) as app:
        yield app


def metrics():
    """{(name without _total, pool or None): value summed over cores} of the http_upstream families."""
    samples = {}
    for line in metrics_text().splitlines():
        match = re.match(r'mtcp_(http_upstream_\w+?)(?:_total)?\{core="\d+"(?:,pool="([^"]*)"[^}]*)?\} (\d+)$', line)
        if match:
            key = (match.group(1), match.group(2))
            samples[key] = samples.get(key, 0) + int(match.group(3))
    return samples


def wait_for_metrics(condition, seconds=5):
    """/metrics shows what the cores published last: polled until `condition` holds."""
    deadline = time.monotonic() + seconds
    while True:
        samples = metrics()
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


@pytest.mark.parametrize("size", [0, 70_000, 3_000_000])
def test_response_bodies_arrive_byte_exact(proxy, size):
    result = ns(NS_CLIENT, "sh", "-c", f"curl -s --max-time 30 http://{APPLIANCE_ADDR}/api/big?n={size} | sha256sum")
    expected = hashlib.sha256(random.Random(size).randbytes(size)).hexdigest()
    assert result.stdout.split()[0] == expected, describe(result)


@pytest.mark.parametrize("chunked", [False, True])
def test_uploads_arrive_byte_exact(proxy, tmp_path, chunked):
    data = os.urandom(1_000_000)  # within conf/httpd.json's max_body_bytes
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    extra = ["-H", "Transfer-Encoding: chunked"] if chunked else []
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "30", *extra, "--data-binary", f"@{path}",
                f"http://{APPLIANCE_ADDR}/api/upload")
    assert result.stdout.strip() == hashlib.sha256(data).hexdigest(), describe(result)


def test_kept_alive_tls_connections_are_reused_and_the_address_is_checked(proxy):
    urls = [f"http://{APPLIANCE_ADDR}/api/echo-path"] * 20 + [f"http://{APPLIANCE_ADDR}/by-address/echo-path"]
    outputs = [argument for url in urls for argument in ("-o", "/dev/null", url)]
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "30", "-w", "%{http_code}\n", *outputs)
    assert result.stdout.split() == ["200"] * 21, describe(result)
    # The cores publish /metrics on their own beat: wait for the last request's count too.
    samples = wait_for_metrics(lambda s: s.get(("http_upstream_requests", "secure"), 0) >= 20
                               and s.get(("http_upstream_requests", "by-address"), 0) >= 1)
    assert samples[("http_upstream_requests", "secure")] == 20
    assert samples[("http_upstream_requests", "by-address")] == 1
    # One curl connection: its requests reach one core, whose one TLS connection serves them all.
    assert samples[("http_upstream_tls_handshakes", None)] <= 2, samples
    assert samples[("http_upstream_tls_failures", None)] == 0


def test_a_certificate_for_another_name_gets_502_and_is_counted(proxy):
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                f"http://{APPLIANCE_ADDR}/wrong-name/x")
    assert result.stdout == "502", describe(result)
    samples = wait_for_metrics(lambda s: s.get(("http_upstream_tls_failures", None), 0) >= 1)
    assert samples[("http_upstream_tls_failures", None)] == 1, samples
    assert samples[("http_upstream_server_tls_failures", "wrong-name")] == 1, samples
    assert samples[("http_upstream_connect_failures", "wrong-name")] == 1, samples
    assert samples[("http_upstream_server_tls_failures", "secure")] == 0, samples
    deadline = time.monotonic() + 5
    while "certificate refused: hostname mismatch" not in proxy.log and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "certificate refused: hostname mismatch" in proxy.log, proxy.log


@pytest.mark.parametrize("close_notify", [True, False])
def test_a_body_delimited_by_the_close_is_complete_only_after_close_notify(proxy, close_notify):
    query = "" if close_notify else "?bare-fin"
    result = ns(NS_CLIENT, "curl", "-s", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                f"http://{APPLIANCE_ADDR}/api/close-delimited{query}")
    if close_notify:
        assert (result.returncode, result.stdout) == (0, "200 100000"), describe(result)
    else:
        # A bare FIN may have cut the body short: the client is reset (curl: "Recv failure"), never ended cleanly.
        assert result.returncode == 56, describe(result)
    samples = wait_for_metrics(lambda s: s.get(("http_upstream_tls_truncations", None), 0) >= (0 if close_notify else 1))
    assert samples[("http_upstream_tls_truncations", None)] == (0 if close_notify else 1), samples
