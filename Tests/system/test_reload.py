"""Files that change under mtcp-httpd. `kill -HUP` reloads them on every core
(README), through the runtime's core loop and `EngineApplication.reload`: until
then, the per-core cache keeps serving what it loaded at start. A file streamed
from disk that shrinks while it is sent cannot keep its Content-Length: that
response ends early, and is counted."""

import random
import signal
import subprocess
import time

from conftest import running_appliance
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


# A client that keeps its receive buffer small and stops reading once the body
# has begun, until told to go on: the server cannot have sent more than that
# buffer's worth beyond what it read. Prints the status line, then after "go"
# the body bytes it got in all and how the transfer ended.
SLOW_READER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect((sys.argv[1], 80))
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data or len(data) < 70000:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(), flush=True)
sys.stdin.readline()
got, ending = len(body), "end of stream"
try:
    while chunk := s.recv(65536):
        got += len(chunk)
except ConnectionResetError:
    ending = "reset"
print(got, ending, flush=True)
"""


def test_a_streamed_file_cut_short_mid_download_ends_that_response_and_is_counted(topology, request,
                                                                                     tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "page.txt").write_bytes(b"still here\n")
    big = root / "big.bin"
    size = 8 << 20  # beyond the cache's max_file_bytes: read from disk as it is sent
    big.write_bytes(random.Random(7).randbytes(size))
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        before = sum(per_core("mtcp_http_file_errors_total").values())
        reader = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, "-c", SLOW_READER, APPLIANCE_ADDR],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert reader.stdout.readline().strip() == "HTTP/1.1 200 OK"
            big.write_bytes(b"")  # shrinks while its response is under way
            out, _ = reader.communicate("go\n", timeout=60)
        finally:
            reader.kill()
            reader.wait()
        got, ending = out.split(maxsplit=1)
        assert int(got) < size and ending.strip() == "reset", out
        # The counters are published twice a second.
        deadline = time.monotonic() + 5
        while sum(per_core("mtcp_http_file_errors_total").values()) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sum(per_core("mtcp_http_file_errors_total").values()) == before + 1
        assert fetch("page.txt") == b"still here\n"
        assert app.alive()
