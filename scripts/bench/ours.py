"""Our side of the benchmarks: mtcp-httpd and mtcp-loadgen, each with one
engine on its own core, joined by net_memif (shared memory, no kernel on the
path), both busy-polling. Configuration files are written to a work directory."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HTTPD = REPO / ".build/release/mtcp-httpd"
LOADGEN = REPO / ".build/release/mtcp-loadgen"
SERVER_ADDRESS = "198.19.20.1"


def _write_conf(directory, name, address, role, core_mask, socket_path, concurrency, extra=""):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    (directory / "route.conf").write_text("ROUTES 0\n")
    path = directory / f"{name}.conf"
    buffers = max(concurrency + 1024, 4096)
    path.write_text(f"port = dpdk0\ncore_mask = {core_mask}\nip_addr = {address}/24\n"
                    f"vdev = net_memif0,role={role},socket={socket_path}\n"
                    f"file_prefix = bench-{name}-{os.getpid()}\n"
                    f"max_concurrency = {concurrency}\nmax_num_buffers = {buffers}\nmemory_mb = 1024\n{extra}")
    return path


class Appliance:
    """mtcp-httpd on core 1 serving www/ over a memif socket of the work directory."""

    def __init__(self, workdir, concurrency=20000, busy_poll=True, wrapper=(), extra=""):
        self.workdir = Path(workdir)
        self.socket = self.workdir / "memif.sock"
        self.concurrency = concurrency
        self.conf = _write_conf(self.workdir / "appliance", "httpd", SERVER_ADDRESS, "server", "0x2",
                                self.socket, concurrency, extra)
        self.busy_poll = busy_poll
        self.wrapper = list(wrapper)
        self.proc = None
        self.log = ""

    def __enter__(self):
        cmd = self.wrapper + [str(HTTPD), "--config", str(self.conf), "--root", str(REPO / "www"),
                              "--http-config", str(REPO / "conf/httpd.json"), "--echo-port", "0",
                              "--discard-port", "0"]
        if self.busy_poll:
            cmd.append("--busy-poll")
        self.proc = subprocess.Popen(["stdbuf", "-oL"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
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


def loadgen(appliance, path, seconds=5, warmup=1, connections=100, requests_per_connection=1, rate=None,
            extra_args=(), client_core_mask="0x1"):
    """One mtcp-loadgen run against `appliance`; returns its --json figures."""
    workdir = appliance.workdir
    conf = _write_conf(workdir / "loadgen", "loadgen", "198.19.20.3", "client", client_core_mask,
                       appliance.socket, max(appliance.concurrency, connections + 1024))
    out = workdir / "loadgen.json"
    if out.exists():
        out.unlink()
    cmd = [str(LOADGEN), "--config", str(conf), f"http://{SERVER_ADDRESS}{path}", "-d", str(seconds),
           "--warmup", str(warmup), "-c", str(connections), "--requests-per-connection",
           str(requests_per_connection), "--json", str(out), "--max-error-rate", "0.001", *extra_args]
    if rate:
        cmd += ["--rate", str(rate)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + warmup + 120)
    if not out.exists():
        raise RuntimeError(f"mtcp-loadgen failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = json.loads(out.read_text())
    figures["exit"] = result.returncode
    return figures
