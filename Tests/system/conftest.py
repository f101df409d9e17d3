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

Also here: `loadgen_run` (mtcp-loadgen in netns mtcp-l, bounded in time) and
`kernel_echo_server` (a Linux echo server in netns mtcp-c, the loadgen's peer).
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import uuid
import threading
import time
from pathlib import Path

import pytest

from mtcp_ns import (APPLIANCE_IF, CLIENT_ADDR, NS_APPLIANCE, NS_CLIENT, NS_LOADGEN, REPO, SYSTEM_PYTHON, TOOLS,
                     link_mac, per_core)

READY = re.compile(r"^mtcp-httpd\b.*\bready\b")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

HTTPD = Path(os.environ.get("MTCP_HTTPD", REPO / ".build/release/mtcp-httpd"))
CONFIG = Path(os.environ.get("MTCP_CONFIG", REPO / "conf/mtcp.conf"))
LOADGEN = Path(os.environ.get("MTCP_LOADGEN", REPO / ".build/release/mtcp-loadgen"))
RSSNIC = Path(os.environ.get("MTCP_RSSNIC", REPO / ".build/release/mtcp-rssnic"))
LOADGEN_CONFIG = Path(os.environ.get("MTCP_LOADGEN_CONFIG", REPO / "conf/loadgen.conf"))
NETNS_SH = REPO / "scripts/netns.sh"
MAKE_CERT = REPO / "scripts/make-cert.sh"
TLS_DIR = REPO / "conf/tls"


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


@pytest.fixture(scope="session", autouse=True)
def tls_certificate():
    """conf/httpd.json turns TLS on, and mtcp-httpd refuses to start without the
    certificate and key it names (conf/tls/server.crt and server.key): make them
    when they are missing. They are made on each machine and never committed."""
    if (TLS_DIR / "server.crt").exists() and (TLS_DIR / "server.key").exists():
        return
    result = subprocess.run([str(MAKE_CERT), str(TLS_DIR)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"{MAKE_CERT} {TLS_DIR} failed:\n{result.stdout}{result.stderr}")


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
    with running_appliance(request, tmp_path_factory) as app:
        yield app


def two_core_config(directory, vdev, extra=""):
    """conf/mtcp.conf with two engines on `vdev`, `extra` lines appended, and no
    static ARP entries, in `directory`."""
    shutil.copy(REPO / "conf/route.conf", directory / "route.conf")
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    text = (REPO / "conf/mtcp.conf").read_text()
    text = re.sub(r"(?m)^num_cores = 1$", "num_cores = 2", text)
    text = re.sub(r"(?m)^vdev = .*$", f"vdev = {vdev}", text)
    assert "num_cores = 2" in text and f"vdev = {vdev}" in text, text
    (directory / "mtcp.conf").write_text(text + extra)
    return directory / "mtcp.conf"


def two_core_af_packet_config(directory):
    """Two engines over net_af_packet with two queue pairs: the kernel's fanout
    hash spreads the flows, and the cores forward segments to their owners."""
    return two_core_config(directory, "net_af_packet0,iface=mtcp-a0,qpairs=2")


def rss_nic_vdev(socket, namespace, interface):
    """The net_memif vdev of a stack behind mtcp-rssnic on `socket`, with the MAC
    of the veth end the NIC plays (as a NIC's own address)."""
    return f"net_memif0,role=client,socket={socket},mac={link_mac(namespace, interface)}"


def two_core_rss_nic_config(directory, socket):
    """Two engines behind mtcp-rssnic (`running_rss_nic` on mtcp-a0), steered by
    the NIC's RSS (`flow_spreading = rss`)."""
    return two_core_config(directory, rss_nic_vdev(socket, NS_APPLIANCE, APPLIANCE_IF), "flow_spreading = rss\n")


class RunningRSSNIC:
    """A running mtcp-rssnic: its output, and its per-queue counters once stopped."""

    QUEUE = re.compile(r"^queue (\d+): to stack (\d+) frames, from stack (\d+) frames$", re.M)

    def __init__(self, proc, socket):
        self.proc, self.socket, self.lines = proc, socket, []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("mtcp-rssnic: ready"):
                self.ready.set()

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log(self):
        return "".join(self.lines)

    def stop(self):
        """Stops it (SIGINT) and returns {queue: (frames to the stack, frames from it)}."""
        stop_process_group(self.proc, grace=5)
        self.proc.wait(5)
        time.sleep(0.2)  # the reader thread takes the last lines
        return {int(queue): (int(to_stack), int(from_stack))
                for queue, to_stack, from_stack in self.QUEUE.findall(self.log)}


@contextlib.contextmanager
def running_rss_nic(namespace, interface, socket, queues=2, seconds=300):
    """mtcp-rssnic on `interface` of `namespace`, serving `queues` queue pairs on
    the net_memif `socket`, ready (a stack may connect), then stopped by PID."""
    if not RSSNIC.exists():
        pytest.fail(f"{RSSNIC} does not exist: run `make build` first")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "stdbuf", "-oL", str(RSSNIC), "--interface", interface,
         "--socket", str(socket), "--queues", str(queues), "--seconds", str(seconds)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        start_new_session=True)
    nic = RunningRSSNIC(proc, socket)
    try:
        if not nic.ready.wait(20):
            pytest.fail(f"mtcp-rssnic did not get ready:\n{nic.log}")
        yield nic
    finally:
        stop_process_group(proc, grace=5)


def http_config_file(tmp_path_factory, name, **keys):
    """conf/httpd.json with `keys` replaced, written to a fresh directory named after `name`; its path."""
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration.update(keys)
    path = tmp_path_factory.mktemp(name) / "httpd.json"
    path.write_text(json.dumps(configuration))
    return path


@contextlib.contextmanager
def running_appliance(request, tmp_path_factory, extra_args=(), config=CONFIG, beside=()):
    """mtcp-httpd with `config` (conf/mtcp.conf) and `extra_args` in netns mtcp-a, ready, then stopped.
    `beside`: PIDs that may run in mtcp-a too (an mtcp-rssnic the appliance sits behind)."""
    if not HTTPD.exists():
        pytest.fail(f"{HTTPD} does not exist: run `make build` first")
    others = [pid for pid in subprocess.run(["ip", "netns", "pids", NS_APPLIANCE],
                                            capture_output=True, text=True).stdout.split()
              if int(pid) not in beside]
    if others:
        pytest.fail(f"netns {NS_APPLIANCE} already runs processes {others} "
                    "(a `make run` left open?): two stacks would share mtcp-a0")

    log_path = tmp_path_factory.mktemp("appliance") / "mtcp-httpd.log"
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS_APPLIANCE, "stdbuf", "-oL", "-eL",
         str(HTTPD), "--config", str(config), *map(str, extra_args)],
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


@contextlib.contextmanager
def running_appliance_with_upstreams(request, tmp_path_factory, extra_args, upstreams):
    """running_appliance, then `upstreams` (the processes started for it) stopped, whatever happened."""
    try:
        with running_appliance(request, tmp_path_factory, extra_args) as app:
            yield app
    finally:
        for proc in upstreams:
            stop_process_group(proc, grace=5)


# The two ways several cores share a port that the tests can build (issue 14).
TWO_CORE_DEVICES = {"af_packet": "forwarded", "rss_nic": "steered"}


@contextlib.contextmanager
def running_two_core_appliance(request, tmp_path_factory, device, extra_args=()):
    """mtcp-httpd with two engines and no static ARP entries on `device`:
    "af_packet" (two queue pairs, the kernel's fanout: flows forwarded) or
    "rss_nic" (behind mtcp-rssnic: flows steered). Yields (appliance, the RSSNIC or None)."""
    directory = tmp_path_factory.mktemp(f"two-core-{device}")
    with contextlib.ExitStack() as running:
        nic = None
        if device == "rss_nic":
            nic = running.enter_context(running_rss_nic(NS_APPLIANCE, APPLIANCE_IF, directory / "memif.sock"))
            config, beside = two_core_rss_nic_config(directory, nic.socket), (nic.pid,)
        else:
            config, beside = two_core_af_packet_config(directory), ()
        app = running.enter_context(running_appliance(request, tmp_path_factory, extra_args, config=config,
                                                      beside=beside))
        assert f"2 engines, flows {TWO_CORE_DEVICES[device]}" in app.log, app.log
        yield app, nic


def check_two_core_spreading(device):
    """After traffic through both cores of a `running_two_core_appliance`: over
    af_packet some segments were forwarded to their owner; behind the RSS NIC
    none was, and none arrived on a core its hash does not name."""
    time.sleep(1.2)  # each core publishes its counters twice a second
    forwarded = sum(per_core("mtcp_forwarded_frames_total").values())
    mismatches = sum(per_core("mtcp_steering_mismatches_total").values())
    if device == "rss_nic":
        assert (forwarded, mismatches) == (0, 0), "every segment arrived on the core owning its flow"
    else:
        assert forwarded > 0, "the fanout hash put some segments on the other core"
        assert mismatches == 0, "counted only where the port is steered"


def check_both_queues_busy(nic):
    """Stops the RSS NIC: each queue took frames to its core and from it."""
    queues = nic.stop()
    assert all(queues.get(queue, (0, 0))[0] > 0 and queues.get(queue, (0, 0))[1] > 0 for queue in (0, 1)), nic.log


def stop_process_group(proc, sig=signal.SIGINT, grace=10.0):
    """`sig` to `proc` itself, then SIGKILL to its process group if it has not exited
    within `grace` seconds. `proc` must have been started with start_new_session."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def loadgen_run(topology):
    """A function run(*args, timeout=60) that runs
    `mtcp-loadgen --config conf/loadgen.conf *args` inside netns mtcp-l and returns
    the CompletedProcess (stdout and stderr merged into stdout, as text). Past
    `timeout` seconds the loadgen gets SIGINT, then its process group SIGKILL, and
    the result's returncode is None with a note at the end of stdout."""
    if not LOADGEN.exists():
        pytest.fail(f"{LOADGEN} does not exist: run `make build` first")
    others = subprocess.run(["ip", "netns", "pids", NS_LOADGEN],
                            capture_output=True, text=True).stdout.split()
    if others:
        pytest.fail(f"netns {NS_LOADGEN} already runs processes {others}: "
                    "two stacks would share mtcp-l0")
    running = []

    def run(*args, timeout=60):
        cmd = ["ip", "netns", "exec", NS_LOADGEN, "stdbuf", "-oL", "-eL",
               str(LOADGEN), "--config", str(LOADGEN_CONFIG), *map(str, args)]
        proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                start_new_session=True)
        running.append(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
            return subprocess.CompletedProcess(cmd, proc.returncode, out, "")
        except subprocess.TimeoutExpired:
            stop_process_group(proc, grace=5)
            out, _ = proc.communicate(timeout=5)
            note = f"[fixture: no exit within {timeout} s; stopped by PID {proc.pid}]\n"
            return subprocess.CompletedProcess(cmd, None, (out or "") + note, "")

    try:
        yield run
    finally:
        for proc in running:
            stop_process_group(proc, grace=5)


class KernelEchoServer:
    """Tests/system/tools/echo_server.py running in netns mtcp-c."""

    def __init__(self, host, port, proc):
        self.host, self.port, self.proc = host, port, proc
        self.lines = []

    @property
    def url(self):
        return f"echo://{self.host}:{self.port}"


@pytest.fixture
def kernel_echo_server(topology):
    """A Linux TCP echo server (RFC 862) on 198.18.0.2:7000 in netns mtcp-c, up for
    the test and stopped by PID afterwards."""
    host, port = CLIENT_ADDR, 7000
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS_CLIENT, SYSTEM_PYTHON, str(TOOLS / "echo_server.py"),
         "--host", host, "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True)
    server = KernelEchoServer(host, port, proc)
    try:
        ready = threading.Event()

        def read():
            for line in proc.stdout:
                server.lines.append(line)
                if line.startswith("echo_server: ready"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            pytest.fail(f"echo_server.py did not start: {''.join(server.lines)}")
        yield server
    finally:
        stop_process_group(proc, sig=signal.SIGTERM, grace=5)


@pytest.fixture
def namespace():
    """A namespace of this test's own, deleted afterwards."""
    name = f"mtcp-v{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
