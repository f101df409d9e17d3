"""`kill -HUP` reloads the files of mtcp-httpd on every core (README), through the
runtime's core loop and `EngineApplication.reload`: until then, the per-core cache
keeps serving what it loaded at start."""

import signal
import time

from conftest import running_appliance
from mtcp_ns import APPLIANCE_ADDR, client, show


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
