"""The event log (README, "Logs"): one line per event on standard error, with its
level, core and connection; `log_level` in httpd.json decides what shows and a
SIGHUP changes it on every core. A refused request is a debug event: hidden at
`info`, shown once the reload turns `debug` on, hidden again at `error`. When
standard error is the journal's stream ($JOURNAL_STREAM names its device and
inode), the level is a `<N>` syslog priority prefix instead."""

import json
import os
import re
import select
import signal
import subprocess
import time

from conftest import CONFIG, HTTPD, READY, running_appliance, stop_process_group
from mtcp_ns import APPLIANCE_ADDR, NS_APPLIANCE, REPO, SYSTEM_PYTHON, client, show
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


def test_journal_priorities_when_stderr_is_the_journal(topology, tmp_path):
    """Standard error is a file whose device and inode $JOURNAL_STREAM names, as
    systemd does for StandardError=journal: events carry `<6>` (info) and `<3>`
    (error) instead of `[info]`/`[error]`, which journald turns into priorities."""
    configuration = tmp_path / "httpd.json"
    set_level(configuration, "info")
    stderr_path = tmp_path / "stderr"
    with open(stderr_path, "w") as stream:
        status = os.fstat(stream.fileno())
        environment = dict(os.environ, JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino}")
        proc = subprocess.Popen(["ip", "netns", "exec", NS_APPLIANCE, str(HTTPD), "--config", str(CONFIG),
                                 "--http-config", str(configuration)], cwd=REPO, env=environment,
                                stdout=subprocess.PIPE, stderr=stream, text=True, start_new_session=True)
    try:
        printed = []
        while not printed or not READY.search(printed[-1]):
            assert select.select([proc.stdout], [], [], 20)[0], "".join(printed) + stderr_path.read_text()
            printed.append(proc.stdout.readline())
            assert printed[-1], "".join(printed) + stderr_path.read_text()
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "<6>mtcp-httpd: reload: configuration 1 read" in stderr_path.read_text()), \
            stderr_path.read_text()
        configuration.write_text('{"log_level": "loud"}\n')
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: re.search(rf"^<3>mtcp-httpd: reload refused: {re.escape(str(configuration))}:1: "
                                          r"log_level: must be one of error, warn, info, debug$",
                                          stderr_path.read_text(), re.M)), stderr_path.read_text()
        assert "[info]" not in stderr_path.read_text() and "[error]" not in stderr_path.read_text()
    finally:
        stop_process_group(proc)
