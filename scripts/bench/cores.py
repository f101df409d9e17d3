"""`--only cores` (issue 14): mtcp-httpd with one engine against two, on each
kind of port that several cores share, short flows (GET 64 B, a new connection
per request) from mtcp-loadgen:

- memif (flows paired): mtcp-loadgen and mtcp-httpd joined by net_memif as in
  `short`; net_memif joins queue pair i of one process to queue pair i of the
  other, so both sides run as many engines: one each (loadgen core 0, httpd
  core 1) or two each (cores 0 and 1, both processes);
- rss_nic (flows steered): mtcp-httpd in netns mtcp-a behind mtcp-rssnic, the
  test fixture that plays a multi-queue NIC with symmetric-Toeplitz RSS on veth
  mtcp-a0 (`flow_spreading = rss`, one queue pair per engine);
- af_packet (flows forwarded): mtcp-httpd on mtcp-a0 over net_af_packet with one
  queue pair per engine; the kernel's fanout hash spreads the frames, and
  segments that land on a core not owning their flow cross a forwarding ring.

For rss_nic and af_packet the client is the default topology's mtcp-loadgen
(conf/loadgen.conf: netns mtcp-l, net_af_xdp, one engine on core 1). mtcp-httpd
runs with the adaptive idle policy and no static ARP entries (arp.conf empty).

The machine has two cores: a second engine shares its core with the client
(and with the RSS NIC), so these rows show that two engines serve correctly on
each port, and what the rings and the sharing cost, not how the stack scales.
A row counts only if both sides were clean in every run: the client exited 0
with no error or unfinished request, and on the appliance no frame dropped for
a full forward ring or a stopped owner, no segment on a core its RSS hash does
not name, and on the RSS NIC no frame forwarded at all (the fixture steers each
flow to its owner: a forwarded frame there means a port chosen wrong). An
unclean row gives its reasons instead of figures."""

import contextlib
import re
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

import ours
import topology

REPO = Path(__file__).resolve().parents[2]
NAMESPACE, LINK = "mtcp-a", "mtcp-a0"
DEVICES = {"memif": "paired", "rss_nic": "steered", "af_packet": "forwarded"}
ENGINES = (1, 2)
CONNECTIONS = 100
PATH = "/bench/64.html"
# Drop reasons that mean the cores' hand-over failed (issue 14's bad input).
FORWARDING_DROPS = ("forward_ring_full", "forward_owner_stopped")


def per_core(metrics, name):
    """{core: value} of a counter in the text of an appliance's /metrics."""
    return {int(core): float(value)
            for core, value in re.findall(rf'^mtcp_{name}\{{core="(\d+)"\}} (\S+)$', metrics, re.M)}


def drops(metrics):
    """{reason: frames} dropped over all cores, the reasons with any."""
    totals = {}
    for reason, value in re.findall(r'^mtcp_dropped_frames_total\{core="\d+",reason="([a-z0-9_]+)"\} (\S+)$',
                                    metrics, re.M):
        totals[reason] = totals.get(reason, 0) + int(float(value))
    return {reason: count for reason, count in sorted(totals.items()) if count}


def _config(directory, device, engines, socket):
    """conf/mtcp.conf with `engines` engines on `device`'s vdev, no static ARP entries."""
    shutil.copy(REPO / "conf/route.conf", directory / "route.conf")
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    if device == "rss_nic":
        mac = re.search(r"link/ether (\S+)", subprocess.run(["ip", "-n", NAMESPACE, "link", "show", LINK],
                                                            capture_output=True, text=True, check=True).stdout)
        vdev, extra = f"net_memif0,role=client,socket={socket},mac={mac.group(1)}", "flow_spreading = rss\n"
    else:
        vdev, extra = f"net_af_packet0,iface={LINK},qpairs={engines}", ""
    text = (REPO / "conf/mtcp.conf").read_text()
    text = re.sub(r"(?m)^num_cores = 1$", f"num_cores = {engines}", text)
    text = re.sub(r"(?m)^vdev = .*$", f"vdev = {vdev}", text)
    (directory / "mtcp.conf").write_text(text + extra)
    return directory / "mtcp.conf"


class PortAppliance:
    """mtcp-httpd with `engines` engines on mtcp-a0 of the default topology, over
    net_af_packet or behind mtcp-rssnic (started first, stopped last)."""

    def __init__(self, workdir, device, engines):
        self.workdir, self.device, self.engines = Path(workdir), device, engines
        self.proc, self.nic, self.log, self.nic_log = None, None, "", ""

    @staticmethod
    def _start(cmd, ready):
        proc = subprocess.Popen(["ip", "netns", "exec", NAMESPACE, "stdbuf", "-oL"] + cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True, cwd=REPO)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(ready):
                return proc, lines
        proc.wait()
        raise RuntimeError(f"{cmd[0]} did not start:\n" + "".join(lines))

    def __enter__(self):
        subprocess.run([str(REPO / "scripts/netns.sh"), "up"], check=True, capture_output=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        socket = self.workdir / "memif.sock"
        try:
            if self.device == "rss_nic":
                self.nic, _ = self._start([str(REPO / ".build/release/mtcp-rssnic"), "--interface", LINK, "--socket",
                                           str(socket), "--queues", str(self.engines)], "mtcp-rssnic: ready")
            config = _config(self.workdir, self.device, self.engines, socket)
            self.proc, lines = self._start([str(ours.HTTPD), "--config", str(config)], "mtcp-httpd: ready")
        except Exception:
            self.__exit__()
            raise
        self.log = "".join(lines)
        if self.engines > 1 and f"{self.engines} engines, flows {DEVICES[self.device]}" not in self.log:
            self.__exit__()
            raise RuntimeError(f"mtcp-httpd does not say its flows are {DEVICES[self.device]}:\n{self.log}")
        return self

    @property
    def pid(self):
        return self.proc.pid  # `ip netns exec` and stdbuf exec the program: same process

    def metrics(self):
        return subprocess.run(["ip", "netns", "exec", NAMESPACE, "curl", "-sS", "--max-time", "5",
                               "127.0.0.1:9180/metrics"], capture_output=True, text=True).stdout

    def __exit__(self, *exc):
        for proc in (self.proc, self.nic):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    subprocess.run(["kill", "-KILL", f"-{proc.pid}"], check=False)
                    proc.wait()
        if self.proc:
            self.log += self.proc.stdout.read()
        if self.nic:
            self.nic_log = self.nic.stdout.read()


def _memif_run(appliance, seconds, engines):
    figures = ours.loadgen(appliance, PATH, seconds=seconds, connections=CONNECTIONS,
                           client_core_mask="0x1" if engines == 1 else "0x3")
    latency = figures["latency_microseconds"]
    return {"requests_per_second": figures["requests_per_second"], "p50_us": latency["p50"],
            "p99_us": latency["p99"], "errors": sum(figures["errors"].values()),
            "unfinished": figures.get("unfinished", 0), "exit": figures["exit"]}


def measure(workdir, device, engines, runs, seconds):
    """`runs` client runs against one appliance; the client's figures per run
    and the appliance's counters after the last."""
    if device == "memif":
        appliance = ours.Appliance(workdir, busy_poll=False, core_mask="0x2" if engines == 1 else "0x3")
        run = lambda: _memif_run(appliance, seconds, engines)  # noqa: E731
    else:
        appliance = PortAppliance(workdir, device, engines)
        run = lambda: topology.loadgen(appliance, workdir, seconds, CONNECTIONS, keep_alive=False)  # noqa: E731
    with appliance:
        results = [run() for _ in range(runs)]
        time.sleep(1.2)  # each core publishes its counters twice a second
        metrics = appliance.metrics() or ""
    return results, metrics


def summary(results, metrics, device):
    """One row: medians over the runs when both sides were clean, else why not."""
    dropped = drops(metrics)
    server = {"forwarded_frames": int(sum(per_core(metrics, "forwarded_frames_total").values())),
              "steering_mismatches": int(sum(per_core(metrics, "steering_mismatches_total").values())),
              "connections_by_core": {core: int(value) for core, value in
                                      sorted(per_core(metrics, "tcp_passive_opens_total").items())},
              "dropped": dropped}
    client_errors = sum(r["errors"] for r in results) + sum(r["unfinished"] for r in results)
    forwarding_drops = sum(dropped.get(reason, 0) for reason in FORWARDING_DROPS)
    # Steered flows never cross a ring: each frame arrives on its owner's queue.
    misrouted = server["forwarded_frames"] if DEVICES[device] == "steered" else 0
    server_errors = forwarding_drops + server["steering_mismatches"] + misrouted if metrics else None
    unclean = [f"mtcp-loadgen exited {r['exit']} in run {index + 1}" for index, r in enumerate(results) if r["exit"]]
    unclean += [f"no requests in run {index + 1}" for index, r in enumerate(results) if not r["requests_per_second"]]
    if client_errors:
        unclean.append(f"{client_errors} client errors or unfinished requests")
    if not metrics:
        unclean.append("the appliance's counters could not be read")
    if forwarding_drops:
        unclean.append(f"{forwarding_drops} frames dropped at the forwarding rings")
    if server["steering_mismatches"]:
        unclean.append(f"{server['steering_mismatches']} segments on a core their RSS hash does not name")
    if misrouted:
        unclean.append(f"{misrouted} frames forwarded on a steered port")

    def median(key):
        return None if unclean else statistics.median(r[key] for r in results)

    return {"requests_per_second": median("requests_per_second"), "p50_us": median("p50_us"),
            "p99_us": median("p99_us"), "client_errors": client_errors, "server_errors": server_errors,
            "unclean": unclean, "server": server, "flows": DEVICES[device], "runs": results}


def run(workdir, runs, seconds):
    """Every device with one engine and with two: {device: {engines: row}}."""
    rows = {}
    for device in DEVICES:
        rows[device] = {}
        for engines in ENGINES:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(Path(workdir) / f"cores-{device}-{engines}")
            results, metrics = measure(Path(workdir) / f"cores-{device}-{engines}", device, engines, runs, seconds)
            rows[device][engines] = summary(results, metrics, device)
    return rows
