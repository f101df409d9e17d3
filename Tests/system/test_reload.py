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
from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, client, per_core, show


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


def test_a_streamed_file_cut_short_mid_download_ends_that_response_and_is_counted(topology, request,
                                                                                     tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "page.txt").write_bytes(b"still here\n")
    big = root / "big.bin"
    size = 32 << 20  # beyond the cache's max_file_bytes: read from disk as it is sent
    big.write_bytes(random.Random(7).randbytes(size))
    with running_appliance(request, tmp_path_factory, extra_args=["--root", root]) as app:
        before = sum(per_core("mtcp_http_file_errors_total").values())
        # A slow reader: after a second the server has read at most what curl
        # took plus what the client's socket buffer holds, far below 32 MiB.
        download = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "curl", "-s", "--limit-rate", "2M",
                                     "--max-time", "60", "-o", "/dev/null", "-w", "%{size_download}",
                                     f"http://{APPLIANCE_ADDR}/big.bin"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1)
            big.write_bytes(b"")
            out, err = download.communicate(timeout=90)
        finally:
            download.kill()
            download.wait()
        assert download.returncode != 0, f"curl took a cut response as whole: {out} {err}"
        assert int(out) < size, out
        # The counters are published twice a second.
        deadline = time.monotonic() + 5
        while sum(per_core("mtcp_http_file_errors_total").values()) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sum(per_core("mtcp_http_file_errors_total").values()) == before + 1
        assert fetch("page.txt") == b"still here\n"
        assert app.alive()
