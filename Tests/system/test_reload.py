"""Files that change under mtcp-httpd. `kill -HUP` reloads them on every core
(README), through the runtime's core loop and `EngineApplication.reload`: until
then, the per-core cache keeps serving what it loaded at start, and a response
under way from it keeps its bytes through one reload. A file streamed from disk
that shrinks while it is sent cannot keep its Content-Length: that response
ends early, and is counted."""

import hashlib
import os
import random
import signal
import subprocess
import time

from conftest import CONFIG, running_appliance
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, SYSTEM_PYTHON, client, per_core, show


def fetch(name):
    result = client("curl", "-s", "--max-time", "5", f"http://{APPLIANCE_ADDR}/{name}")
    assert result.returncode == 0, show(result)
    return result.stdout


def test_sighup_reloads_the_files(topology, request, tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    page = root / "page.txt"
    page.write_bytes(b"before the reload\n")
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        assert fetch("page.txt") == b"before the reload\n"
        page.write_bytes(b"after the reload, longer\n")
        assert fetch("page.txt") == b"before the reload\n", "served from the cache until SIGHUP"

        app.proc.send_signal(signal.SIGHUP)
        # The core loop passes the signal on twice a second.
        deadline = time.monotonic() + 5
        while fetch("page.txt") != b"after the reload, longer\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fetch("page.txt") == b"after the reload, longer\n", app.log
        assert app.alive()


# A client that keeps its receive buffer small (4 KiB) and stops reading once
# the body has begun, until told to go on: the server cannot have sent more
# than that buffer's worth beyond what it read. Prints the status line, then after "go"
# the body bytes it got in all, how the transfer ended and the body's SHA-256.
SLOW_READER = r"""
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], 80))
s.sendall(b"GET " + sys.argv[2].encode() + b" HTTP/1.1\r\nHost: a\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 1000:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")][0])
print(head.split(b"\r\n")[0].decode(), flush=True)
sys.stdin.readline()
ending = "complete"
try:
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            ending = "end of stream"
            break
        body += chunk
except ConnectionResetError:
    ending = "reset"
print(len(body), ending, hashlib.sha256(body).hexdigest(), flush=True)
"""


def slow_reader(path):
    """SLOW_READER in the client namespace for `path`, once the body has begun."""
    reader = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", SLOW_READER, APPLIANCE_ADDR, path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "HTTP/1.1 200 OK"
    return reader


def go_on(reader):
    """Lets `reader` finish: (body bytes, how it ended, SHA-256 of the body)."""
    try:
        out, _ = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
        reader.wait()
    got, ending, digest = out.split()
    return int(got), ending, digest


def reloaded(app, name, content):
    """SIGHUP, then until `name` is served with `content` (the reload is done)."""
    app.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while fetch(name) != content and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fetch(name) == content, app.log


def counter(name):
    """A counter of the appliance, all cores."""
    return sum(per_core(name).values())


def counter_reaches(name, value):
    """Whether counter `name` reaches `value` within 5 s (they are published twice a second)."""
    deadline = time.monotonic() + 5
    while counter(name) < value and time.monotonic() < deadline:
        time.sleep(0.1)
    return counter(name) == value


def test_a_response_from_the_cache_outlives_one_reload_byte_for_byte(topology, request, tmp_path_factory):
    """A cached file is sent by reference from the cache's memory: a reload
    that replaces it mid-transfer leaves the old generation for the response
    under way, which ends with the old bytes; a second reload frees that
    memory and resets the connection still sending from it."""
    root = tmp_path_factory.mktemp("www")
    cached = root / "cached.bin"
    old = random.Random(11).randbytes(200 << 10)  # held in memory (cache.max_file_bytes 4 MiB)
    cached.write_bytes(old)
    (root / "page.txt").write_bytes(b"one\n")
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        reader = slow_reader("/cached.bin")
        cached.write_bytes(random.Random(12).randbytes(200 << 10))
        (root / "page.txt").write_bytes(b"two\n")
        reloaded(app, "page.txt", b"two\n")
        got, ending, digest = go_on(reader)
        assert (got, ending, digest) == (len(old), "complete", hashlib.sha256(old).hexdigest())

        resets = counter("mtcp_http_reload_resets_total")
        reader = slow_reader("/cached.bin")  # the new content, generation 1
        (root / "page.txt").write_bytes(b"three\n")
        reloaded(app, "page.txt", b"three\n")
        (root / "page.txt").write_bytes(b"four\n")
        reloaded(app, "page.txt", b"four\n")
        got, ending, _ = go_on(reader)
        assert ending == "reset" and got < 200 << 10
        assert counter_reaches("mtcp_http_reload_resets_total", resets + 1)
        assert app.alive()


def test_a_cached_body_the_stack_still_sends_is_reset_when_a_reload_frees_it(topology, request,
                                                                            tmp_path_factory):
    """With a send buffer larger than the file, mtcp-httpd hands the whole body
    to the stack at once and is done with the response; the stack still sends
    it from the cache's memory. The second reload frees that memory: the
    stack resets the connection, whose socket the server no longer watches."""
    root = tmp_path_factory.mktemp("www")
    (root / "cached.bin").write_bytes(random.Random(13).randbytes(200 << 10))
    (root / "page.txt").write_bytes(b"one\n")
    config = tmp_path_factory.mktemp("conf") / "mtcp.conf"
    config.write_text(CONFIG.read_text() + "sndbuf = 262144\nrcvbuf = 262144\nmax_concurrency = 64\n"
                      "max_num_buffers = 64\n")
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root], config=config) as app:
        resets = counter("mtcp_http_reload_resets_total")
        reader = slow_reader("/cached.bin")
        for generation in ("two", "three"):
            (root / "page.txt").write_bytes(f"{generation}\n".encode())
            reloaded(app, "page.txt", f"{generation}\n".encode())
        got, ending, _ = go_on(reader)
        assert ending == "reset" and got < 200 << 10, (got, ending)
        assert counter_reaches("mtcp_http_reload_resets_total", resets + 1)
        assert fetch("page.txt") == b"three\n"
        assert app.alive()


def test_a_file_beyond_the_cache_is_streamed_byte_for_byte(topology, request, tmp_path_factory):
    """A file beyond the default cache.max_file_bytes (4 MiB) arrives whole, read
    from disk as it is sent: replaced without a reload, it is refused (500, as
    its pre-built head would lie), where a file held in memory would still be
    served as it was loaded."""
    root = tmp_path_factory.mktemp("www")
    big = root / "big.bin"
    content = random.Random(5).randbytes(5 << 20)
    big.write_bytes(content)
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        got = fetch("big.bin")
        assert len(got) == len(content) and hashlib.sha256(got).digest() == hashlib.sha256(content).digest()
        before = counter("mtcp_http_file_errors_total")
        big.write_bytes(random.Random(6).randbytes(5 << 20))
        loaded = os.stat(big).st_mtime
        os.utime(big, (loaded + 10, loaded + 10))
        status = client("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                        f"http://{APPLIANCE_ADDR}/big.bin")
        assert status.stdout == b"500", show(status)
        assert counter_reaches("mtcp_http_file_errors_total", before + 1)
        assert app.alive()


def test_a_streamed_file_cut_short_mid_download_ends_that_response_and_is_counted(topology, request,
                                                                                     tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "page.txt").write_bytes(b"still here\n")
    big = root / "big.bin"
    size = 8 << 20  # beyond the cache's max_file_bytes (4 MiB): read from disk as it is sent
    big.write_bytes(random.Random(7).randbytes(size))
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        before = counter("mtcp_http_file_errors_total")
        reader = slow_reader("/big.bin")
        big.write_bytes(b"")  # shrinks while its response is under way
        got, ending, _ = go_on(reader)
        assert got < size and ending == "reset", (got, ending)
        assert counter_reaches("mtcp_http_file_errors_total", before + 1)
        assert fetch("page.txt") == b"still here\n"
        assert app.alive()
