"""logrotate's convention with the access log: rename the file, send SIGUSR1, and
every request of before and after is logged once, in the old file or the new; in
the combined format and in JSON lines (`--access-log-format json`), both with the
request's and the upstream's time; also with the rename and the signal in the
middle of a load (ab, 16 keep-alive connections)."""

import json
import re
import signal
import threading
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
    for line in rotated + current:
        if log_format == "json":
            entry = json.loads(line)
            assert entry["request"].startswith("GET /?") and entry["status"] == 200, line
            assert entry["request_time"] >= 0 and entry["upstream_time"] is None, line
        else:
            assert re.search(r'" 200 \d+ "-" "curl/[^"]+" rt=\d+\.\d{3} urt=-$', line), line


def test_rotation_under_load_loses_no_line(topology, request, tmp_path_factory, tmp_path):
    """ab sends 150 000 requests on 16 keep-alive connections; the log is renamed
    and SIGUSR1 sent while it runs: every request ab had answered is in one file
    or the other, exactly once, and both files have some."""
    log = tmp_path / "access.log"
    requests = 150_000
    with running_appliance(request, tmp_path_factory, ["--access-log", log]) as app:
        outcome = {}
        load = threading.Thread(target=lambda: outcome.update(result=client(
            "ab", "-q", "-k", "-s", "10", "-n", requests, "-c", 16, "http://198.18.0.1/?load=1", timeout=120)))
        load.start()
        deadline = time.monotonic() + 20
        while (not log.exists() or log.stat().st_size == 0) and time.monotonic() < deadline:
            time.sleep(0.05)  # the first lines are written: the load is on
        log.rename(tmp_path / "access.log.1")
        app.proc.send_signal(signal.SIGUSR1)
        load.join(150)
        time.sleep(FLUSH)
        assert app.alive(), app.log
    result = outcome["result"]
    assert result.returncode == 0, show(result)
    report = result.stdout.decode()
    assert re.search(rf"^Complete requests:\s+{requests}$", report, re.M), report
    assert re.search(r"^Failed requests:\s+0$", report, re.M), report
    rotated = (tmp_path / "access.log.1").read_text().splitlines()
    current = log.read_text().splitlines() if log.exists() else []
    assert 0 < len(rotated) < requests and 0 < len(current), (len(rotated), len(current))
    assert all('"GET /?load=1 HTTP/1.0" 200' in line for line in rotated + current), "a line was cut or merged"
    assert len(rotated) + len(current) == requests
