"""logrotate's convention with the access log: rename the file, send SIGUSR1, and
every request of before and after is logged once, in the old file or the new; in
the combined format and in JSON lines (`--access-log-format json`), where every
line is a JSON object with the request's time."""

import json
import signal
import time

import pytest

from conftest import running_appliance
from mtcp_ns import client, show

FLUSH = 1.5  # the access log is appended once a second


def get(count, tag):
    for index in range(count):
        result = client("curl", "-sS", "-o", "/dev/null", "--max-time", "5", f"http://198.18.0.1/?{tag}={index}")
        assert result.returncode == 0, show(result)


@pytest.mark.parametrize("log_format", ["combined", "json"])
def test_rename_and_sigusr1_lose_no_line(topology, request, tmp_path_factory, tmp_path, log_format):
    log = tmp_path / "access.log"
    with running_appliance(request, tmp_path_factory,
                           ["--access-log", log, "--access-log-format", log_format]) as app:
        get(20, "before")
        time.sleep(FLUSH)
        log.rename(tmp_path / "access.log.1")
        get(5, "between")  # after the rename, before the signal: still the old file's
        app.proc.send_signal(signal.SIGUSR1)
        time.sleep(FLUSH)
        get(20, "after")
        time.sleep(FLUSH)
        assert app.alive(), app.log
    rotated = (tmp_path / "access.log.1").read_text().splitlines()
    current = log.read_text().splitlines()
    assert [line for line in rotated if "?before=" in line or "?between=" in line] == rotated
    assert sum("?before=" in line for line in rotated) == 20
    assert sum("?between=" in line for line in rotated) == 5
    assert len(current) == 20 and all("?after=" in line for line in current), current
    if log_format == "json":
        for line in rotated + current:
            entry = json.loads(line)
            assert entry["request"].startswith("GET /?") and entry["status"] == 200, line
            assert entry["request_time"] >= 0 and entry["upstream_time"] is None, line
