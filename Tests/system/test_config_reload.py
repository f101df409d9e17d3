"""`kill -HUP` reloads httpd.json and the TLS certificate and key (README, "Reload"):
the management thread reads and checks the files once, every core takes the result
between two iterations; a file that does not parse is refused with its error and the
old configuration keeps serving; a change only a restart can make is named and kept
as it runs while the rest applies.

Each test starts mtcp-httpd (netns mtcp-a) with an httpd.json of its own in a
temporary directory; clients run in netns mtcp-c. Reload counts come from the
Prometheus endpoint (conf/mtcp.conf: 127.0.0.1:9180 in mtcp-a).
"""

import hashlib
import json
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time

from conftest import MAKE_CERT, running_appliance, two_core_af_packet_config
from mtcp_ns import APPLIANCE_ADDR, NS_APPLIANCE, NS_CLIENT, REPO, SYSTEM_PYTHON, client, ns, show

BASE = f"http://{APPLIANCE_ADDR}"


def httpd_json(path, generation, tls=None):
    """An httpd.json serving www/ whose responses carry `X-Generation: generation`."""
    configuration = {"document_root": str(REPO / "www"),
                     "headers": [{"prefix": "/", "add": {"X-Generation": generation}}]}
    if tls:
        configuration["tls"] = {"listen_port": 443, "certificate": str(tls / "server.crt"),
                                "private_key": str(tls / "server.key")}
    path.write_text(json.dumps(configuration, indent=4) + "\n")


def generation_served(path="/index.html"):
    result = client("curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "5", BASE + path)
    assert result.returncode == 0, show(result)
    match = re.search(rb"^x-generation: (\S+)\r$", result.stdout, re.I | re.M)
    return match and match.group(1).decode()


def reload_counts():
    """(reloads done, reloads refused) from the Prometheus endpoint."""
    text = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15).stdout
    done = re.search(r"^mtcp_reloads_total (\d+)$", text, re.M)
    refused = re.search(r"^mtcp_reloads_refused_total (\d+)$", text, re.M)
    assert done and refused, text
    return int(done.group(1)), int(refused.group(1))


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def per_core(name):
    """{core: value} of a per-core metric."""
    text = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15).stdout
    return {int(core): float(value) for core, value in re.findall(rf'^{name}{{core="(\d+)"}} (\S+)$', text, re.M)}


def cores_run_generation(generation, cores=1):
    """Every core reports that it runs configuration `generation` (they take a
    reload within half a second of its publication)."""
    return wait_for(lambda: per_core("mtcp_configuration_generation") == {core: generation for core in range(cores)})


def test_reload_under_load_loses_no_request_and_changes_the_headers(topology, request, tmp_path, tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one")
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        assert generation_served() == "one"

        served_before = sum(per_core("mtcp_http_requests_total").values())

        def reload_midway():
            # Once both loads are well under way (a few hundred requests served).
            wait_for(lambda: sum(per_core("mtcp_http_requests_total").values()) > served_before + 500, timeout=4)
            httpd_json(configuration, "two")
            app.proc.send_signal(signal.SIGHUP)

        reloader = threading.Thread(target=reload_midway)
        reloader.start()
        # Keep-alive and a new connection per request, both through the reload.
        results = [None, None]

        def load(slot, headers):
            results[slot] = client("wrk", "-t", 1, "-c", 8, "-d", "5s", "--timeout", "5s", *headers,
                                   f"{BASE}/index.html", timeout=60)

        loads = [threading.Thread(target=load, args=(0, [])),
                 threading.Thread(target=load, args=(1, ["-H", "Connection: close"]))]
        for thread in loads:
            thread.start()
        for thread in loads + [reloader]:
            thread.join()
        for result in results:
            assert result.returncode == 0, show(result)
            out = result.stdout.decode()
            assert "Socket errors" not in out, out
            assert "Non-2xx or 3xx responses" not in out, out
            assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
        assert wait_for(lambda: generation_served() == "two"), app.log
        assert reload_counts() == (1, 0)
        assert "reload: configuration 1 read" in app.log, app.log


def test_a_bad_reload_keeps_serving_and_logs_the_error(topology, request, tmp_path, tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one")
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        configuration.write_text('{\n    "document_root": "www",\n    "limits": {"max_body": 5}\n}\n')
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused" in app.log), app.log
        assert f"reload refused: {configuration}:3: limits.max_body: unknown key" in app.log, app.log
        assert reload_counts() == (0, 1)
        assert generation_served() == "one"

        assert app.alive()


def test_a_change_only_a_restart_makes_is_named_and_the_rest_applies(topology, request, tmp_path, tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one")
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        httpd_json(configuration, "two")
        text = json.loads(configuration.read_text())
        text["listen_port"] = 8080
        configuration.write_text(json.dumps(text))
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "kept as running until a restart: listen_port" in app.log), app.log
        assert cores_run_generation(1), app.log
        assert generation_served() == "two", "served on port 80 still, with the new headers"
        assert reload_counts() == (1, 0)


# A TLS client in netns mtcp-c: prints the SHA-256 of the server's certificate and
# the status of a GET, then, for each line read from stdin, the status of another
# GET on the same connection.
TLS_CLIENT = r"""
import hashlib, socket, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connection = context.wrap_socket(socket.create_connection((sys.argv[1], 443), timeout=10))
def get():
    connection.sendall(b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += connection.recv(65536)
    print(head.split(b"\r\n")[0].decode(), flush=True)
print(hashlib.sha256(connection.getpeercert(True)).hexdigest(), flush=True)
get()
for _ in sys.stdin:
    get()
"""


def fingerprint(certificate):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(certificate.read_text())).hexdigest()


def test_a_rotated_certificate_is_seen_by_new_clients_while_an_old_connection_goes_on(topology, request, tmp_path, tmp_path_factory):
    old, new, live = tmp_path / "old", tmp_path / "new", tmp_path / "live"
    for directory in (old, new):
        subprocess.run([str(MAKE_CERT), str(directory)], check=True, capture_output=True, timeout=60)
    shutil.copytree(old, live)
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one", tls=live)
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        first = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", TLS_CLIENT, APPLIANCE_ADDR],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        watchdog = threading.Timer(60, first.kill)  # a read below must not wait forever
        watchdog.start()
        try:
            assert first.stdout.readline().strip() == fingerprint(old / "server.crt")
            assert first.stdout.readline().startswith("HTTP/1.1 200")

            for name in ("server.crt", "server.key"):
                shutil.copy(new / name, live / name)
            app.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "reload: configuration 1 read" in app.log), app.log
            assert cores_run_generation(1), app.log

            second = ns(NS_CLIENT, SYSTEM_PYTHON, "-c", TLS_CLIENT, APPLIANCE_ADDR, timeout=30)
            assert second.returncode == 0, second.stderr
            assert second.stdout.splitlines()[0] == fingerprint(new / "server.crt"), second.stdout
            assert second.stdout.splitlines()[1].startswith("HTTP/1.1 200"), second.stdout

            first.stdin.write("again\n")
            first.stdin.flush()
            assert first.stdout.readline().startswith("HTTP/1.1 200"), "the old connection goes on"
        finally:
            first.stdin.close()
            first.wait(10)
            watchdog.cancel()
        assert reload_counts() == (1, 0)


def test_a_bad_certificate_is_refused_and_the_old_one_keeps_serving(topology, request, tmp_path, tmp_path_factory):
    live = tmp_path / "live"
    subprocess.run([str(MAKE_CERT), str(live)], check=True, capture_output=True, timeout=60)
    old_fingerprint = fingerprint(live / "server.crt")
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one", tls=live)
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        # The cores read the certificate as they start, just after the ready line: served first.
        assert tls_fingerprint_served() == old_fingerprint
        (live / "server.crt").write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused" in app.log), app.log
        assert re.search(rf"reload refused: {re.escape(str(configuration))}:\d+: tls.certificate: ", app.log), app.log
        assert reload_counts() == (0, 1)
        assert per_core("mtcp_configuration_generation") == {0: 0}
        assert tls_fingerprint_served() == old_fingerprint, "a new client still gets the old certificate"


def tls_fingerprint_served():
    """The SHA-256 of the certificate a new TLS client gets (after a 200 for its GET)."""
    fresh = ns(NS_CLIENT, SYSTEM_PYTHON, "-c", TLS_CLIENT, APPLIANCE_ADDR, timeout=30)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.splitlines()[1].startswith("HTTP/1.1 200"), fresh.stdout
    return fresh.stdout.splitlines()[0]


def test_tls_tickets_issued_before_a_reload_resume_after_it(topology, request, tmp_path, tmp_path_factory):
    live = tmp_path / "live"
    subprocess.run([str(MAKE_CERT), str(live)], check=True, capture_output=True, timeout=60)
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one", tls=live)
    session = tmp_path / "session.pem"
    request_bytes = f"GET /index.html HTTP/1.1\r\nHost: {APPLIANCE_ADDR}\r\nConnection: close\r\n\r\n".encode()

    def s_client(*args):
        return client("openssl", "s_client", "-connect", f"{APPLIANCE_ADDR}:443", "-ign_eof", "-tls1_3", *args,
                      input=request_bytes, timeout=20)

    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        first = s_client("-sess_out", session)
        assert first.returncode == 0 and "TLS session ticket:" in first.stdout.decode("latin-1"), show(first)
        httpd_json(configuration, "two", tls=live)
        app.proc.send_signal(signal.SIGHUP)
        assert cores_run_generation(1), app.log
        again = s_client("-sess_in", session)
        out = again.stdout.decode("latin-1")
        assert again.returncode == 0 and "Reused, TLSv1.3" in out, show(again)
        assert re.search(r"^x-generation: two\r?$", out, re.I | re.M), out


def test_both_cores_take_a_reload(topology, request, tmp_path, tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one")
    config = two_core_af_packet_config(tmp_path_factory.mktemp("two-cores"))
    with running_appliance(request, tmp_path_factory, config=config,
                           extra_args=["--http-config", configuration]) as app:
        assert "2 engines" in app.log, app.log
        httpd_json(configuration, "two")
        app.proc.send_signal(signal.SIGHUP)
        assert cores_run_generation(1, cores=2), (per_core("mtcp_configuration_generation"), app.log)
        before = per_core("mtcp_http_requests_total")
        # New connections from new source ports: the kernel's fanout hash spreads them over both cores.
        assert [generation_served() for _ in range(24)] == ["two"] * 24
        assert wait_for(lambda: sum(per_core("mtcp_http_requests_total").values()) >= sum(before.values()) + 24)
        after = per_core("mtcp_http_requests_total")
        assert all(after[core] > before.get(core, 0) for core in (0, 1)), (before, after)
        assert per_core("mtcp_reload_failures_total") == {0: 0, 1: 0}
        assert reload_counts() == (1, 0)
