"""`kill -HUP` reloads httpd.json and the TLS certificate and key (README, "Reload"):
the management thread reads and checks the files once, every core takes the result
between two iterations; a file that does not parse, or a change only a restart can
make, is refused with its error and the old configuration keeps serving.

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

from conftest import MAKE_CERT, running_appliance
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


def test_reload_under_load_loses_no_request_and_changes_the_headers(topology, request, tmp_path, tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    httpd_json(configuration, "one")
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        assert generation_served() == "one"

        def reload_midway():
            time.sleep(2)
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

        # A change only a restart can make is named, and refused as a whole.
        httpd_json(configuration, "two")
        text = json.loads(configuration.read_text())
        text["listen_port"] = 8080
        configuration.write_text(json.dumps(text))
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "cannot change while running (restart to change them): listen_port" in app.log), app.log
        assert reload_counts() == (0, 2)
        assert generation_served() == "one"
        assert app.alive()


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
            time.sleep(1)  # the cores take it within half a second

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
