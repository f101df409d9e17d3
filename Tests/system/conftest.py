"""Fixtures for the system tests: the default topology and a running appliance.

Contract with the binary (`mtcp-httpd --config conf/mtcp.conf`, run inside netns
mtcp-a):
  - within 20 s of start it prints, on stdout, a line that begins with `mtcp-httpd`
    and contains the word `ready` once it answers on 198.18.0.1, e.g.
    `mtcp-httpd: ready: 198.18.0.1/24 on port 0 (...)`. Only such lines count:
    DPDK's own `EAL: lcore N is ready` lines would otherwise be taken for it.
    The binary should flush stdout after that line; it is also run under
    `stdbuf -oL` so that a libc-buffered pipe does not hold it back.
  - SIGINT stops it; after 10 s the fixture SIGKILLs its process group.
"""

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mtcp_ns import NS_APPLIANCE, REPO

READY = re.compile(r"^mtcp-httpd\b.*\bready\b")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

HTTPD = Path(os.environ.get("MTCP_HTTPD", REPO / ".build/release/mtcp-httpd"))
CONFIG = Path(os.environ.get("MTCP_CONFIG", REPO / "conf/mtcp.conf"))
NETNS_SH = REPO / "scripts/netns.sh"


def pytest_collection_modifyitems(config, items):
    """Without root there are no namespaces: skip every test that needs them."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="system tests need root (network namespaces, raw sockets): "
                                   "run `sudo make system-test`")
    for item in items:
        if "topology" in item.fixturenames:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used the appliance shows the appliance's output."""
    outcome = yield
    report = outcome.get_result()
    appliance = getattr(item, "mtcp_appliance", None)
    if appliance is not None and report.failed:
        report.sections.append((f"mtcp-httpd output ({appliance.log_path})",
                                appliance.log or "(nothing printed)"))


@pytest.fixture(scope="session")
def topology():
    """The default topology of DESIGN.md §5, up for the whole session, removed after."""
    try:
        subprocess.run([str(NETNS_SH), "up"], check=True, timeout=60)
        yield
    finally:
        subprocess.run([str(NETNS_SH), "down"], check=True, timeout=60)


class Appliance:
    """A running mtcp-httpd and everything it printed (stdout and stderr)."""

    def __init__(self, proc, log_path):
        self.proc = proc
        self.log_path = log_path
        self.lines = []
        self.ready = threading.Event()
        self.eof = threading.Event()
        self._stopped = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                self.lines.append(line)
                log.write(line)
                log.flush()
                if READY.search(line):
                    self.ready.set()
        self.eof.set()

    @property
    def log(self):
        return "".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.1):
                return True
            if not self.alive() and self.eof.is_set():
                return self.ready.is_set()
        return self.ready.is_set()

    def stop(self):
        """SIGINT to the process itself; SIGKILL to its process group if it lingers."""
        if self._stopped:
            return
        self._stopped = True
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.lines.append(f"[fixture: no exit {STOP_TIMEOUT:.0f} s after SIGINT; "
                                  f"SIGKILL to process group {self.proc.pid}]\n")
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.eof.wait(5)
        self.lines.append(f"[fixture: exit status {self.proc.returncode}]\n")


@pytest.fixture
def appliance(topology, request, tmp_path_factory):
    """Starts mtcp-httpd in netns mtcp-a, waits for its ready line, stops it after the test."""
    if not HTTPD.exists():
        pytest.fail(f"{HTTPD} does not exist: run `make build` first")
    others = subprocess.run(["ip", "netns", "pids", NS_APPLIANCE],
                            capture_output=True, text=True).stdout.split()
    if others:
        pytest.fail(f"netns {NS_APPLIANCE} already runs processes {others} "
                    "(a `make run` left open?): two stacks would share mtcp-a0")

    log_path = tmp_path_factory.mktemp("appliance") / "mtcp-httpd.log"
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS_APPLIANCE, "stdbuf", "-oL", "-eL",
         str(HTTPD), "--config", str(CONFIG)],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True)
    app = Appliance(proc, log_path)
    request.node.mtcp_appliance = app
    try:
        if not app.wait_ready(READY_TIMEOUT):
            exited_by_itself = not app.alive()
            app.stop()
            why = (f"exited with status {proc.returncode}" if exited_by_itself
                   else f"still running after {READY_TIMEOUT:.0f} s")
            pytest.fail(f"mtcp-httpd printed no ready line ({why}); its output:\n{app.log}")
        yield app
    finally:
        app.stop()
