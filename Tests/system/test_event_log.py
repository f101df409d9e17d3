"""The event log (README, "Logs"): one line per event on standard error, with its
level, core and connection; `log_level` in httpd.json decides what shows and a
SIGHUP changes it on every core. A refused request is a debug event: hidden at
`info`, shown once the reload turns `debug` on, hidden again at `error`."""

import json
import re
import signal
import time

from conftest import running_appliance
from mtcp_ns import APPLIANCE_ADDR, REPO, SYSTEM_PYTHON, client, show
from test_config_reload import reload_counts, wait_for

REFUSED = re.compile(r"^mtcp-httpd: \[debug\] core 0, connection \d+: request from 198\.18\.0\.2 refused with 400",
                     re.M)
GARBAGE = f"""
import socket
with socket.create_connection(("{APPLIANCE_ADDR}", 80), timeout=5) as s:
    s.sendall(b"G\\x01T / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    print(s.recv(100).split(b"\\r\\n")[0].decode())
"""


def send_garbage():
    result = client(SYSTEM_PYTHON, "-c", GARBAGE)
    assert result.returncode == 0 and result.stdout.startswith(b"HTTP/1.1 400"), show(result)


def set_level(path, level):
    path.write_text(json.dumps({"document_root": str(REPO / "www"), "log_level": level}) + "\n")


def test_log_level_is_reloaded_and_debug_events_name_core_and_connection(topology, request, tmp_path,
                                                                           tmp_path_factory):
    configuration = tmp_path / "httpd.json"
    set_level(configuration, "info")
    with running_appliance(request, tmp_path_factory, extra_args=["--http-config", configuration]) as app:
        send_garbage()
        time.sleep(0.5)
        assert not REFUSED.search(app.log), app.log

        set_level(configuration, "debug")
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "mtcp-httpd: [info] reload: configuration 1 read" in app.log), app.log
        send_garbage()
        assert wait_for(lambda: REFUSED.search(app.log)), app.log

        set_level(configuration, "error")
        app.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: reload_counts() == (2, 0))
        assert "reload: configuration 2 read" not in app.log, "an info line passed at log_level error"
        shown = len(REFUSED.findall(app.log))
        send_garbage()
        time.sleep(0.5)
        assert len(REFUSED.findall(app.log)) == shown, app.log
        assert app.alive()
