"""The HTTP/1.1 static-file server of mtcp-httpd against real clients.

One appliance (netns mtcp-a, 198.18.0.1:80, serving the repository's www/) for the
whole module; clients run in netns mtcp-c: curl (GET, HEAD, Range, conditionals,
keep-alive reuse, traversal with --path-as-is), ab and wrk (short and kept-alive
connections; they must report no errors, their rates are not judged here), and
Tests/system/tools/http_client.py for what needs raw sockets (pipelining,
malformed requests). Every subprocess has a timeout.
"""

import hashlib
import json
import re
import subprocess

import pytest

from conftest import CONFIG, HTTPD, READY_TIMEOUT, Appliance
from mtcp_ns import APPLIANCE_ADDR, NS_APPLIANCE, NS_CLIENT, REPO, SYSTEM_PYTHON, TOOLS, ab_without_errors, client, show

WWW = REPO / "www"
BASE = f"http://{APPLIANCE_ADDR}"
BENCH_SUMS = dict(reversed(line.split()) for line in (WWW / "bench/SHA256SUMS").read_text().splitlines())


@pytest.fixture(scope="module")
def httpd(topology, tmp_path_factory):
    """mtcp-httpd for the whole module (as the `appliance` fixture, but started once:
    the tests here do not depend on each other's connections). It must still be
    running after the last test and exit with status 0 on SIGINT."""
    if not HTTPD.exists():
        pytest.fail(f"{HTTPD} does not exist: run `make build` first")
    others = subprocess.run(["ip", "netns", "pids", NS_APPLIANCE], capture_output=True, text=True).stdout.split()
    if others:
        pytest.fail(f"netns {NS_APPLIANCE} already runs processes {others}: two stacks would share mtcp-a0")
    log_path = tmp_path_factory.mktemp("appliance") / "mtcp-httpd.log"
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS_APPLIANCE, "stdbuf", "-oL", "-eL", str(HTTPD), "--config", str(CONFIG)],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True)
    app = Appliance(proc, log_path)
    try:
        if not app.wait_ready(READY_TIMEOUT):
            app.stop()
            pytest.fail(f"mtcp-httpd printed no ready line; its output:\n{app.log}")
        yield app
        assert app.alive(), f"mtcp-httpd died during the tests:\n{app.log}"
        app.stop()
        assert proc.returncode == 0, f"mtcp-httpd exited with {proc.returncode}:\n{app.log}"
    finally:
        app.stop()


@pytest.fixture(autouse=True)
def appliance_alive(request):
    """Each test that uses `httpd` shows its output on failure and needs it alive."""
    if "httpd" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("httpd")
    request.node.mtcp_appliance = app
    assert app.alive(), f"mtcp-httpd is not running:\n{app.log}"
    yield


def curl(*args, timeout=30):
    """curl -sS -i *args: returns (status, fields of the last response, body, result)."""
    result = client("curl", "-sS", "-i", "--max-time", timeout - 5, *args, timeout=timeout)
    assert result.returncode == 0, show(result)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    while head.split(b" ", 2)[1:2] in ([b"301"], [b"302"]) and body.startswith(b"HTTP/1."):  # -L
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, body, result


def http_client(mode, *args, timeout=30):
    """Tests/system/tools/http_client.py in mtcp-c; its JSON report."""
    result = client(SYSTEM_PYTHON, TOOLS / "http_client.py", mode, *args, timeout=timeout)
    assert result.returncode == 0, show(result)
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- curl ----------------------------------------------------------------------------------

SITE = {
    "/": ("index.html", "text/html"),
    "/index.html": ("index.html", "text/html"),
    "/style.css": ("style.css", "text/css"),
    "/robots.txt": ("robots.txt", "text/plain"),
    "/about/": ("about/index.html", "text/html"),
    "/bench/64.html": ("bench/64.html", "text/html"),
    "/bench/1k.html": ("bench/1k.html", "text/html"),
    "/bench/32k.html": ("bench/32k.html", "text/html"),
}


@pytest.mark.appliance
@pytest.mark.parametrize("path", SITE)
def test_curl_get_serves_the_file(httpd, path):
    name, content_type = SITE[path]
    status, fields, body, _ = curl(f"{BASE}{path}")
    assert status == 200
    assert body == (WWW / name).read_bytes()
    assert fields["content-length"] == str(len(body))
    assert fields["content-type"].startswith(content_type), fields
    assert fields["etag"].startswith('"') and fields["last-modified"].endswith("GMT"), fields
    assert fields["date"].endswith("GMT") and fields["server"] == "mtcp-httpd", fields


@pytest.mark.appliance
def test_curl_directory_redirect_and_not_found(httpd):
    status, fields, body, _ = curl(f"{BASE}/about")
    assert status == 301 and fields["location"] == "/about/", fields
    status, fields, body, _ = curl("-L", f"{BASE}/about")
    assert status == 200 and body == (WWW / "about/index.html").read_bytes()
    status, fields, _, _ = curl(f"{BASE}/no/such/file.html")
    assert status == 404


@pytest.mark.appliance
def test_curl_head(httpd):
    status, fields, body, result = curl("-I", f"{BASE}/bench/4k.html")
    assert status == 200 and body == b"", show(result)
    assert fields["content-length"] == "4096"
    # HEAD then GET on one connection: a body after the HEAD would corrupt the GET.
    report = http_client("pipeline", APPLIANCE_ADDR, 80, "/bench/4k.html", "/bench/4k.html", "--head", 0)
    head, get = report["responses"]
    assert head["status"] == 200 and head["length"] == 0 and head["fields"]["content-length"] == "4096"
    assert get["status"] == 200 and get["sha256"] == BENCH_SUMS["4k.html"]
    assert report["leftover"] == 0


@pytest.mark.appliance
@pytest.mark.parametrize("spec,first,last", [("100-199", 100, 199), ("-100", 1048476, 1048575),
                                             ("1048000-", 1048000, 1048575), ("0-0", 0, 0)])
def test_curl_range(httpd, spec, first, last):
    status, fields, body, _ = curl("-r", spec, f"{BASE}/bench/1m.bin")
    assert status == 206
    assert fields["content-range"] == f"bytes {first}-{last}/1048576", fields
    assert body == (WWW / "bench/1m.bin").read_bytes()[first:last + 1]


@pytest.mark.appliance
def test_curl_range_unsatisfiable(httpd):
    status, fields, body, _ = curl("-r", "2000000-", f"{BASE}/bench/1m.bin")
    assert status == 416 and fields["content-range"] == "bytes */1048576", fields
    assert body == b""


@pytest.mark.appliance
@pytest.mark.parametrize("path", ["/bench/1k.html", "/bench/1m.bin"])
def test_curl_conditional(httpd, path):
    _, fields, _, _ = curl("-I", f"{BASE}{path}")
    etag, modified = fields["etag"], fields["last-modified"]
    status, fields, body, _ = curl("-H", f"If-None-Match: {etag}", f"{BASE}{path}")
    assert status == 304 and body == b"" and fields["etag"] == etag, fields
    status, _, body, _ = curl("-H", f"If-Modified-Since: {modified}", f"{BASE}{path}")
    assert status == 304 and body == b""
    status, _, body, _ = curl("-H", 'If-None-Match: "something-else"', f"{BASE}{path}")
    assert status == 200 and sha256(body) == BENCH_SUMS[path.rsplit("/", 1)[1]]
    status, _, body, _ = curl("-H", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", f"{BASE}{path}")
    assert status == 200 and sha256(body) == BENCH_SUMS[path.rsplit("/", 1)[1]]


@pytest.mark.appliance
def test_curl_keep_alive_reuses_the_connection(httpd):
    result = client("curl", "-sS", "-v", "--max-time", 20, "-w", "connects=%{num_connects} status=%{http_code}\n",
                    "-o", "/dev/null", f"{BASE}/bench/1k.html", "-o", "/dev/null", f"{BASE}/style.css",
                    "-o", "/dev/null", f"{BASE}/bench/32k.html", timeout=30)
    assert result.returncode == 0, show(result)
    stderr = result.stderr.decode("latin-1")
    assert stderr.count("Re-using existing connection") == 2, show(result)
    assert result.stdout.decode().split() == ["connects=1", "status=200", "connects=0", "status=200",
                                              "connects=0", "status=200"], show(result)


@pytest.mark.appliance
def test_large_file_sha256(httpd, tmp_path):
    status, fields, body, _ = curl(f"{BASE}/bench/1m.bin")
    assert status == 200 and fields["content-length"] == "1048576"
    assert sha256(body) == BENCH_SUMS["1m.bin"]
    # Four at once, each on its own connection.
    outputs = [tmp_path / f"1m-{i}.bin" for i in range(4)]
    args = [arg for out in outputs for arg in ("-o", out, f"{BASE}/bench/1m.bin")]
    result = client("curl", "-sS", "-Z", "--parallel-max", 4, "--max-time", 50, *args, timeout=60)
    assert result.returncode == 0, show(result)
    for out in outputs:
        assert sha256(out.read_bytes()) == BENCH_SUMS["1m.bin"], out


# Targets that try to leave www/ (the repository around it holds conf/, README.md...);
# the status the server gives, and strings that must never appear in the answer.
TRAVERSAL = [
    ("/../conf/mtcp.conf", 403),
    ("/../README.md", 403),
    ("/../../../../../../etc/passwd", 403),
    ("/bench/../../conf/mtcp.conf", 403),
    ("/./../README.md", 403),
    ("//../README.md", 403),
    ("/%2e%2e/conf/mtcp.conf", 403),
    ("/%2E%2E/README.md", 403),
    ("/.%2e/README.md", 403),
    ("/%2e./README.md", 403),
    ("/bench/%2e%2e/%2e%2e/conf/mtcp.conf", 403),
    ("/..%2fconf%2fmtcp.conf", 400),
    ("/..%2Fconf/mtcp.conf", 400),
    ("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
    ("/..%5cREADME.md", 400),
    ("/..\\README.md", 400),
    ("/index.html%00.txt", 400),
    ("/%00/../README.md", 400),
    ("/%252e%252e/README.md", 404),
    ("/..%252fREADME.md", 404),
]
SECRETS = ["ip_addr", "root:x:", "mtcp-swift", "net_af_xdp"]


@pytest.mark.appliance
@pytest.mark.parametrize("target,expected", TRAVERSAL, ids=[t for t, _ in TRAVERSAL])
def test_traversal_never_leaves_www(httpd, target, expected):
    result = client("curl", "-sS", "-i", "--path-as-is", "--max-time", 10, f"{BASE}{target}", timeout=20)
    assert result.returncode == 0, show(result)
    text = result.stdout.decode("latin-1")
    status = int(text.split()[1])
    assert status != 200 and status in (400, 403, 404), show(result)
    assert status == expected, show(result)
    for secret in SECRETS:
        assert secret not in text, show(result)


# --- pipelining and malformed requests (raw sockets) ---------------------------------------

@pytest.mark.appliance
def test_python_pipelines_ten_requests(httpd):
    paths = ["/bench/64.html", "/bench/1k.html", "/style.css", "/bench/4k.html", "/nope", "/bench/32k.html",
             "/robots.txt", "/bench/1m.bin", "/", "/bench/64.html"]
    report = http_client("pipeline", APPLIANCE_ADDR, 80, *paths, "--head", 3, timeout=40)
    responses = report["responses"]
    assert len(responses) == 10, report
    for index, (path, response) in enumerate(zip(paths, responses)):
        if path == "/nope":
            assert response["status"] == 404, (index, response)
            continue
        assert response["status"] == 200, (index, response)
        name = "index.html" if path == "/" else path[1:]
        content = (WWW / name).read_bytes()
        if index == 3:
            assert response["length"] == 0 and response["fields"]["content-length"] == str(len(content))
        else:
            assert response["sha256"] == sha256(content), (index, path)
    assert report["leftover"] == 0, report
    assert report["ended"] == "timeout", "the connection stays open after ten requests"


def raw(request, then=None, more=None, timeout=5):
    args = ["--request-hex", request.hex(), "--timeout", timeout]
    if more is not None:
        args += ["--more-hex", more.hex()]
    if then is not None:
        args += ["--then-hex", then.hex()]
    return http_client("raw", APPLIANCE_ADDR, 80, *args, timeout=timeout + 20)


GET = b"GET /robots.txt HTTP/1.1\r\nHost: t\r\n\r\n"
MALFORMED = [
    ("bad request line", b"HELLO WORLD\r\n\r\n", 400),
    ("no version", b"GET /\r\n\r\n", 400),
    ("missing Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("CL and TE", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("conflicting CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ("POST without length", b"POST / HTTP/1.1\r\nHost: t\r\n\r\n", 411),
    ("body too large", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n", 413),
    ("URI too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    ("too many fields", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n", 431),
    ("header section too large", b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 20000 + b"\r\n\r\n", 431),
    ("head beyond the buffer", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(60)) + b"\r\n", 431),
    ("unknown method", b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    ("unknown transfer coding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
]


@pytest.mark.appliance
@pytest.mark.parametrize("request_bytes,status", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_request_gets_status_then_close(httpd, request_bytes, status):
    # A valid request pipelined behind the bad one is never answered.
    report = raw(request_bytes + GET)
    assert [r["status"] for r in report["responses"]] == [status], report
    response = report["responses"][0]
    assert response["fields"].get("connection", "").lower() == "close", report
    assert report["ended"] == "eof", f"closed with a FIN after the response: {report}"


@pytest.mark.appliance
def test_431_reaches_a_client_whose_head_fills_the_request_buffer(httpd):
    """A head just short of every limit is sent first (the server reads all of it);
    the rest arrives later, more than the request buffer has room for. The server
    answers 431 with bytes still unread in the socket: closing then would reset the
    connection and drop the 431 unsent; it half-closes and drains instead."""
    line = b"GET /?" + b"q" * (8192 - len(b"GET /? HTTP/1.1")) + b" HTTP/1.1\r\n"
    fields = b"Host: t\r\n" + b"X: " + b"v" * (16380 - len(b"Host: t\r\nX: "))
    report = raw(line + fields, more=b"w" * 20000)
    assert [r["status"] for r in report["responses"]] == [431], report
    assert report["ended"] == "eof", report


@pytest.mark.appliance
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_method_not_allowed_keeps_the_connection(httpd, method):
    body = b"GET /bench/64.html HTTP/1.1\r\nHost: t\r\n\r\n"
    request = (f"{method} /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()
               + body + GET)
    report = raw(request, timeout=2)
    assert [r["status"] for r in report["responses"]] == [405, 200], report
    assert report["responses"][0]["fields"]["allow"] == "GET, HEAD, OPTIONS"
    assert report["responses"][1]["sha256"] == sha256((WWW / "robots.txt").read_bytes())
    assert report["ended"] == "timeout", f"still open: {report}"


@pytest.mark.appliance
def test_connection_close_and_http10_close(httpd):
    report = raw(b"GET /robots.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET)
    assert [r["status"] for r in report["responses"]] == [200] and report["ended"] == "eof", report
    report = raw(b"GET /robots.txt HTTP/1.0\r\n\r\n")
    assert [r["status"] for r in report["responses"]] == [200] and report["ended"] == "eof", report
    assert report["responses"][0]["version"] == "HTTP/1.1"


# --- load: ab and wrk (errors are failures, rates are only reported) -----------------------

@pytest.mark.appliance
@pytest.mark.parametrize("keep_alive", [False, True], ids=["short", "keep-alive"])
def test_ab(httpd, keep_alive):
    out = ab_without_errors(f"{BASE}/bench/1k.html", 1024, requests=2000, concurrency=50, keep_alive=keep_alive)
    print(re.search(r"Requests per second:.*", out).group(0))


@pytest.mark.appliance
@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
def test_wrk(httpd, close):
    headers = ["-H", "Connection: close"] if close else []
    result = client("wrk", "-t", 2, "-c", 32, "-d", "3s", "--timeout", "5s", *headers,
                    f"{BASE}/bench/1k.html", timeout=60)
    assert result.returncode == 0, show(result)
    out = result.stdout.decode()
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    assert rate > 0 and requests > 0, out
    print(f"wrk {'close' if close else 'keep-alive'}: {requests} requests, {rate:.0f}/s")
