"""The HTTPS upstream options a real server makes matter: a client certificate
(`certificate` and `private_key`) for an upstream that requires one, and `min_protocol`
against an upstream that offers no newer protocol than TLS 1.2. Kernel upstreams
in netns mtcp-c (python's http.server over ssl), certificates of the test
authority of test_proxy_tls."""

import subprocess

import pytest

from conftest import http_config_file, running_appliance_with_upstreams
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, SYSTEM_PYTHON, TOOLS, describe, ns
from test_proxy_tls import SERVER_NAME, certificates, openssl, wait_for_metrics  # noqa: F401 (a fixture)

CLIENT_CERT_PORT, TLS12_PORT = 8444, 8445
CLIENT_NAME = "mtcp proxy client"


@pytest.fixture(scope="module")
def client_certificate(certificates):
    """The proxy's client certificate, signed by the same test authority."""
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={CLIENT_NAME}", "-keyout", certificates / "client.key", "-out", certificates / "client.csr")
    openssl("x509", "-req", "-in", certificates / "client.csr", "-CA", certificates / "ca.crt",
            "-CAkey", certificates / "ca.key", "-CAcreateserial", "-days", 2, "-out", certificates / "client.crt")
    return certificates / "client.crt", certificates / "client.key"


def start_upstream(certificates, port, *options):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "upstream_server.py"),
                             "--port", str(port), "--tls", str(certificates / "upstream.crt"),
                             str(certificates / "upstream.key"), *options],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def proxy(topology, certificates, client_certificate, request, tmp_path_factory):
    upstreams = [start_upstream(certificates, CLIENT_CERT_PORT, "--client-ca", certificates / "ca.crt"),
                 start_upstream(certificates, TLS12_PORT, "--max-tls", "1.2")]
    verified = {"ca_file": str(certificates / "ca.crt"), "server_name": SERVER_NAME}
    cert, key = client_certificate
    path = http_config_file(tmp_path_factory, "proxy-tls-options", routes=[
        {"prefix": f"/{name}/", "upstream": name} for name in ("with-cert", "no-cert", "tls13", "tls12")
    ], upstreams=[
        {"name": "with-cert", "servers": [f"198.18.0.2:{CLIENT_CERT_PORT}"],
         "tls": dict(verified, certificate=str(cert), private_key=str(key))},
        {"name": "no-cert", "servers": [f"198.18.0.2:{CLIENT_CERT_PORT}"], "tls": verified},
        {"name": "tls13", "servers": [f"198.18.0.2:{TLS12_PORT}"], "tls": dict(verified, min_protocol="TLSv1.3")},
        {"name": "tls12", "servers": [f"198.18.0.2:{TLS12_PORT}"], "tls": verified},
    ])
    with running_appliance_with_upstreams(request, tmp_path_factory, ["--http-config", path], upstreams) as app:
        yield app


def get(path):
    """The body and the status, one line each."""
    return ns(NS_CLIENT, "curl", "-s", "--max-time", "30", "-w", "%{http_code}", f"http://{APPLIANCE_ADDR}{path}")


def test_the_client_certificate_is_presented_and_an_upstream_requiring_one_refuses_a_pool_without(proxy):
    result = get("/with-cert/api/client-cert")
    assert result.stdout == f"{CLIENT_NAME}\n200", describe(result)
    result = get("/no-cert/api/client-cert")
    assert result.stdout.endswith("502"), describe(result)
    samples = wait_for_metrics(lambda s: s.get(("http_upstream_server_tls_failures", "no-cert"), 0) >= 1)
    assert samples[("http_upstream_server_tls_failures", "no-cert")] == 1, samples
    assert samples[("http_upstream_server_tls_failures", "with-cert")] == 0, samples


def test_min_protocol_tls13_refuses_an_upstream_that_offers_only_tls12(proxy):
    result = get("/tls12/api/x")
    assert result.stdout == "/tls12/api/x\n200", describe(result)
    result = get("/tls13/api/x")
    assert result.stdout.endswith("502"), describe(result)
    samples = wait_for_metrics(lambda s: s.get(("http_upstream_server_tls_failures", "tls13"), 0) >= 1)
    assert samples[("http_upstream_server_tls_failures", "tls13")] == 1, samples
    assert samples[("http_upstream_server_tls_failures", "tls12")] == 0, samples
