"""Our side of the benchmarks: mtcp-httpd and mtcp-loadgen, each with one
engine on its own core, joined by net_memif (shared memory, no kernel on the
path), both busy-polling. Configuration files are written to a work directory."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HTTPD = REPO / ".build/release/mtcp-httpd"
LOADGEN = REPO / ".build/release/mtcp-loadgen"
SERVER_ADDRESS = "198.19.20.1"
CLIENT_ADDRESS = "198.19.20.3"
# The same memif link's IPv6 addresses (RFC 5180's benchmarking prefix), for
# the IPv6 scenarios: both sides then run dual stack.
SERVER_ADDRESS6 = "2001:2:20::1"
CLIENT_ADDRESS6 = "2001:2:20::3"


def ipv6_key(address):
    """The mtcp.conf line that gives a stack `address` on a /64."""
    return f"ip6_addr = {address}/64\n"
HTTP_CONFIG = REPO / "conf/httpd.json"

# mtcp-httpd's TLS 1.2 cipher list when conf/httpd.json names none; keep equal
# to the appliance's default so that nginx gets the same list.
DEFAULT_TLS12_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                         "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def tls_settings():
    """The "tls" object of conf/httpd.json with absolute certificate and key
    paths and the appliance's defaults filled in, for both servers of the TLS
    scenarios; None when the configuration has no TLS. Makes the self-signed
    certificate when it is missing (scripts/make-cert.sh, else openssl)."""
    tls = json.loads(HTTP_CONFIG.read_text()).get("tls")
    if not tls:
        return None
    settings = {"port": tls.get("listen_port", 443),
                "certificate": str((REPO / tls.get("certificate", "conf/tls/server.crt")).resolve()),
                "private_key": str((REPO / tls.get("private_key", "conf/tls/server.key")).resolve()),
                "min_protocol": tls.get("min_protocol", "TLSv1.2"),
                "ciphers": tls.get("ciphers") or DEFAULT_TLS12_CIPHERS,
                "ciphersuites": tls.get("ciphersuites") or None,
                "session_tickets": tls.get("session_tickets", True)}
    certificate, key = Path(settings["certificate"]), Path(settings["private_key"])
    if not (certificate.exists() and key.exists()):
        script = REPO / "scripts/make-cert.sh"
        if script.exists() and certificate.parent == key.parent:
            subprocess.run([str(script), str(certificate.parent)], check=True, capture_output=True)
        else:
            certificate.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "3650", "-subj", "/CN=mtcp-httpd", "-keyout", str(key),
                            "-out", str(certificate)], check=True, capture_output=True)
    return settings


def _write_conf(directory, name, address, role, core_mask, socket_path, concurrency, extra="", vdev=None, mtu=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    (directory / "route.conf").write_text("ROUTES 0\n")
    path = directory / f"{name}.conf"
    buffers = max(concurrency + 1024, 4096)
    vdev = vdev or f"net_memif0,role={role},socket={socket_path}"
    if mtu:
        # memif's buffers must hold a whole frame on both sides (README: Frame size).
        extra = f"mtu = {mtu}\n" + extra
        if vdev.startswith("net_memif") and mtu > 1500:
            vdev += ",bsize=9216"
    path.write_text(f"port = dpdk0\ncore_mask = {core_mask}\nip_addr = {address}/24\n"
                    f"vdev = {vdev}\n"
                    f"file_prefix = bench-{name}-{os.getpid()}\n"
                    f"max_concurrency = {concurrency}\nmax_num_buffers = {buffers}\nmemory_mb = 1024\n{extra}")
    return path


class Appliance:
    """mtcp-httpd on core 1 (or the cores of `core_mask`, one engine each)
    serving www/ over a memif socket of the work directory (or, with `vdev` and
    `netns`, over that device in that namespace)."""

    def __init__(self, workdir, concurrency=20000, busy_poll=True, wrapper=(), extra="", vdev=None, netns=None,
                 address=SERVER_ADDRESS, core_mask="0x2", mtu=None, both_sides=""):
        self.workdir = Path(workdir)
        self.socket = self.workdir / "memif.sock"
        self.concurrency = concurrency
        # /metrics on a port of its own per benchmark process, for the engine's busy share.
        self.metrics_port = None if netns else 19000 + os.getpid() % 1000
        metrics = f"prometheus_port = {self.metrics_port}\n" if self.metrics_port else ""
        self.conf = _write_conf(self.workdir / "appliance", "httpd", address, "server", core_mask,
                                self.socket, concurrency, both_sides + extra + metrics, vdev=vdev, mtu=mtu)
        # What `loadgen` writes in its own mtcp.conf too.
        self.mtu, self.both_sides = mtu, both_sides
        self.busy_poll = busy_poll
        self.wrapper = (["ip", "netns", "exec", netns] if netns else []) + list(wrapper)
        self.proc = None
        self.log = ""

    def __enter__(self):
        cmd = self.wrapper + [str(HTTPD), "--config", str(self.conf), "--root", str(REPO / "www"),
                              "--http-config", str(REPO / "conf/httpd.json"), "--echo-port", "0",
                              "--discard-port", "0"]
        if self.busy_poll:
            cmd.append("--busy-poll")
        self.proc = subprocess.Popen(["stdbuf", "-oL"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True, cwd=REPO)
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("mtcp-httpd: ready"):
                return self
        self.stop()
        raise RuntimeError("mtcp-httpd did not start:\n" + "".join(lines))

    def metrics(self):
        """The text of the appliance's /metrics (None without them)."""
        if not self.metrics_port:
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as reply:
                return reply.read().decode()
        except OSError:
            return None

    def load(self):
        """{core: (busy seconds, idle seconds)} from the appliance's /metrics (None without them)."""
        text = self.metrics()
        return engine_load(text) if text else None

    def tcp_counters(self):
        """The appliance's TCP segments sent and retransmitted and the frames it
        dropped (any reason), all cores (None without /metrics)."""
        text = self.metrics()
        if not text:
            return None
        totals = dict.fromkeys(TCP_COUNTERS, 0)
        for line in text.splitlines():
            for name, metric in TCP_COUNTERS.items():
                if line.startswith(metric + "{"):
                    totals[name] += int(float(line.rsplit(" ", 1)[1]))
        return totals

    def resident_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log = self.proc.stdout.read()
        return self.log

    def __exit__(self, *exc):
        self.stop()


class LoadSampler:
    """The appliance's engine load read every 0.25 s while a client runs (its
    /metrics are published every 0.5 s), so that the server's busy share can be
    taken over the window the client measured, without start-up or warm-up."""

    INTERVAL = 0.25

    def __init__(self, appliance):
        self.appliance, self.samples = appliance, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()

    def _sample(self):
        while not self.stopped.is_set():
            load = self.appliance.load()
            if load:
                self.samples.append((time.time(), load))
            self.stopped.wait(self.INTERVAL)

    def busy_percent(self, start, end):
        """{core: busy %} between the first sample after `start` (Unix seconds)
        and the last before `end` (None with fewer than two such samples)."""
        inside = [load for when, load in self.samples if start <= when <= end]
        if len(inside) < 2:
            return None
        first, last = inside[0], inside[-1]
        return {core: round(100 * (last[core][0] - first[core][0])
                            / max(1e-9, sum(last[core]) - sum(first[core])), 1) for core in last if core in first}


# Counters of `tcp_counters` and their /metrics names.
TCP_COUNTERS = {"segments_sent": "mtcp_tcp_segments_sent_total",
                "retransmitted_segments": "mtcp_tcp_retransmitted_segments_total",
                "dropped_frames": "mtcp_dropped_frames_total"}
# rcvbuf and sndbuf when mtcp.conf has none (TCPConfiguration's default).
DEFAULT_TCP_BUFFER = 8192


def engine_load(metrics):
    """{core: [busy seconds, idle seconds]} from the text of an appliance's /metrics."""
    seconds = {}
    for line in metrics.splitlines():
        for kind, index in (("busy", 0), ("idle", 1)):
            if line.startswith(f"mtcp_{kind}_seconds_total{{"):
                core = line.split('core="', 1)[1].split('"', 1)[0]
                seconds.setdefault(core, [0.0, 0.0])[index] = float(line.rsplit(" ", 1)[1])
    return seconds


def loadgen(appliance, path, seconds=5, warmup=1, connections=100, requests_per_connection=1, rate=None,
            extra_args=(), client_core_mask="0x1", scheme="http", family=4):
    """One mtcp-loadgen run against `appliance` (`scheme` https: over TLS to
    its port 443; `family` 6: from and to the IPv6 addresses, which the
    appliance must have been given with `ipv6_key`); returns its --json figures."""
    workdir = appliance.workdir
    conf = _write_conf(workdir / "loadgen", "loadgen", CLIENT_ADDRESS, "client", client_core_mask,
                       appliance.socket, max(appliance.concurrency, connections + 1024),
                       extra=getattr(appliance, "both_sides", "") + (ipv6_key(CLIENT_ADDRESS6) if family == 6 else ""),
                       mtu=getattr(appliance, "mtu", None))
    out = workdir / "loadgen.json"
    if out.exists():
        out.unlink()
    host = f"[{SERVER_ADDRESS6}]" if family == 6 else SERVER_ADDRESS
    cmd = [str(LOADGEN), "--config", str(conf), f"{scheme}://{host}{path}", "-d", str(seconds),
           "--warmup", str(warmup), "-c", str(connections), "--requests-per-connection",
           str(requests_per_connection), "--json", str(out), "--max-error-rate", "0.001", *extra_args]
    if rate:
        cmd += ["--rate", str(rate)]
    before = appliance.load()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + warmup + 120)
    after = appliance.load()
    if not out.exists():
        raise RuntimeError(f"mtcp-loadgen failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = json.loads(out.read_text())
    figures["exit"] = result.returncode
    # The stack's notice when it could not use the boot's TCP key (BootSecret).
    figures["keyed_at_random"] = "keyed at random" in result.stdout + result.stderr
    if before and after:
        figures["appliance_busy_percent_by_core"] = {
            core: round(100 * (after[core][0] - before[core][0])
                        / max(1e-9, sum(after[core]) - sum(before[core])), 1) for core in after}
    return figures


PROBE_NAMESPACE = "mtcp-bench-probe"
PROBE_CLIENT_NAMESPACE = "mtcp-bench-probec"
PROBE_SERVER_ADDRESS = "198.19.22.1"
PROBE_CLIENT_ADDRESS = "198.19.22.3"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def probe_tls(workdir, probe):
    """Starts mtcp-httpd (conf/httpd.json) on a veth (net_af_packet) for a
    moment and calls probe(namespace, "ADDRESS:PORT") from a kernel socket in a
    second namespace: memif has no kernel end for `openssl s_client`."""
    for namespace in (PROBE_NAMESPACE, PROBE_CLIENT_NAMESPACE):
        _ip("netns", "del", namespace, check=False)
        _ip("netns", "add", namespace)
    try:
        _ip("link", "add", "mprobe-s", "netns", PROBE_NAMESPACE, "type", "veth", "peer", "name", "mprobe-c",
            "netns", PROBE_CLIENT_NAMESPACE)
        _ip("-n", PROBE_NAMESPACE, "link", "set", "mprobe-s", "up")
        _ip("-n", PROBE_CLIENT_NAMESPACE, "addr", "add", f"{PROBE_CLIENT_ADDRESS}/24", "dev", "mprobe-c")
        _ip("-n", PROBE_CLIENT_NAMESPACE, "link", "set", "mprobe-c", "up")
        subprocess.run(["ip", "netns", "exec", PROBE_CLIENT_NAMESPACE, "ethtool", "-K", "mprobe-c", "tx", "off",
                        "rx", "off", "gso", "off", "tso", "off", "gro", "off"], capture_output=True)
        with Appliance(workdir, concurrency=1024, busy_poll=False, vdev="net_af_packet0,iface=mprobe-s",
                       netns=PROBE_NAMESPACE, address=PROBE_SERVER_ADDRESS):
            port = tls_settings()["port"]
            return probe(PROBE_CLIENT_NAMESPACE, f"{PROBE_SERVER_ADDRESS}:{port}")
    finally:
        for namespace in (PROBE_NAMESPACE, PROBE_CLIENT_NAMESPACE):
            _ip("netns", "del", namespace, check=False)
