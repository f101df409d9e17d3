"""The default topology as a user meets it (issue 26): the appliance of `make run`
(conf/mtcp.conf, netns mtcp-a, on its veth) driven in turn by mtcp-loadgen
(conf/loadgen.conf, netns mtcp-l, its own stack) and by wrk (the kernel's stack in
netns mtcp-c), both clients pinned to core 1 (the appliance polls on core 0).
Each process's busy share is its CPU time over its run (/proc/PID/stat, and wait4's
resource usage for a client that has exited)."""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import linux
import ours

REPO = Path(__file__).resolve().parents[2]
URL = "http://198.18.0.1/bench/64.html"
CLIENT_CORE = 1
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_measured(cmd, pids, settle, timeout, engine_load=None):
    """Runs a client to its end; returns its output, exit status and the busy share
    of one core of each process of `pids` ({name: pid}) and of the client from
    `settle` seconds after its start (start-up and warm-up excluded) to its exit,
    and each core's busy share (/proc/stat, softirq included) and kernel share. The client's share
    comes from wait4's resource usage, since /proc has no entry once it is reaped.
    With `engine_load` (a function returning {core: [busy s, idle s]}, as
    ours.engine_load), also "engine": the share of its engines' loop time that
    did work over the same window."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    time.sleep(settle)
    start, client_before = time.monotonic(), cpu_seconds(proc.pid)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cores_before, load_before = core_times(), engine_load() if engine_load else None
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    busy = {name: round((cpu_seconds(pid) - before[name]) / elapsed, 3) for name, pid in pids.items()}
    busy["client"] = round((usage.ru_utime + usage.ru_stime - client_before) / elapsed, 3)
    cores_after = core_times()
    busy["cores"] = busy_share(cores_before, cores_after)
    busy["kernel"] = busy_share(cores_before, cores_after, part=2)
    if engine_load:
        load_after = engine_load()
        worked = sum(after[0] - load_before[core][0] for core, after in load_after.items())
        looped = sum(sum(after) - sum(load_before[core]) for core, after in load_after.items())
        busy["engine"] = round(worked / max(1e-9, looped), 3)
    return out, proc.returncode, busy


def core_times():
    """(busy, total, kernel) jiffies of each core from /proc/stat; kernel is system
    + irq + softirq time, whichever process it was done for."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields[0].startswith("cpu") and fields[0][3:].isdigit():
            values = [int(v) for v in fields[1:9]]
            times[f"core{fields[0][3:]}"] = (sum(values) - values[3] - values[4], sum(values),
                                             values[2] + values[5] + values[6])
    return times


def busy_share(before, after, part=0):
    """Share of each core's time that was busy (or, with part=2, in the kernel)
    between two core_times()."""
    return {core: round((after[core][part] - before[core][part]) / max(1, after[core][1] - before[core][1]), 2)
            for core in after}


class DefaultAppliance(ours.Appliance):
    """`mtcp-httpd --config conf/mtcp.conf` in netns mtcp-a, as `make run` starts it
    (stopped as ours.Appliance stops), with `arguments` added to its command line."""

    def __init__(self, arguments=()):
        self.proc, self.log, self.arguments = None, "", list(arguments)

    def __enter__(self):
        subprocess.run([str(REPO / "scripts/netns.sh"), "up"], check=True, capture_output=True)
        self.proc = subprocess.Popen(["ip", "netns", "exec", "mtcp-a", str(ours.HTTPD), "--config", "conf/mtcp.conf",
                                      *self.arguments],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, cwd=REPO)
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            if line.startswith("mtcp-httpd: ready"):
                return self
        self.proc.wait()
        raise RuntimeError("mtcp-httpd did not start:\n" + "".join(lines))

    @property
    def pid(self):
        return self.proc.pid  # `ip netns exec` execs the program: same process

    def idle_share(self, seconds):
        """Busy share of one core of the appliance with no traffic, over `seconds`."""
        before = cpu_seconds(self.pid)
        time.sleep(seconds)
        return round((cpu_seconds(self.pid) - before) / seconds, 3)


def loadgen(appliance, workdir, seconds, connections, keep_alive):
    """One mtcp-loadgen run (conf/loadgen.conf) with its figures, errors and busy shares."""
    out = Path(workdir) / "loadgen.json"
    out.unlink(missing_ok=True)
    cmd = ["ip", "netns", "exec", "mtcp-l", str(ours.LOADGEN), URL, "-d", str(seconds), "--warmup", "1",
           "-c", str(connections), "--requests-per-connection", "100000" if keep_alive else "1",
           "--json", str(out)]
    log, status, busy = run_measured(cmd, {"appliance": appliance.pid}, settle=1.5, timeout=seconds + 120)
    if not out.exists():
        raise RuntimeError(f"mtcp-loadgen failed (exit {status}):\n{log}")
    figures = json.loads(out.read_text())
    latency = figures["latency_microseconds"]
    return {"requests_per_second": figures["requests_per_second"], "p50_us": latency["p50"],
            "p99_us": latency["p99"], "errors": sum(figures["errors"].values()),
            "attempted": figures["attempted"], "completed": figures["completed"],
            "unfinished": figures["unfinished"], "exit": status, "busy": busy}


def wrk(appliance, seconds, connections, keep_alive):
    """One wrk run (1 thread, netns mtcp-c, core 1) with its figures, errors and busy shares."""
    cmd = ["ip", "netns", "exec", "mtcp-c", "taskset", "-c", str(CLIENT_CORE), "wrk", "-t1", f"-c{connections}",
           f"-d{seconds}s", "--latency"] + ([] if keep_alive else ["-H", "Connection: close"]) + [URL]
    out, status, busy = run_measured(cmd, {"appliance": appliance.pid}, settle=0.2, timeout=seconds + 60)
    figures = linux.parse_wrk(out)
    return {"requests_per_second": figures["requests_per_second"], "p50_us": figures.get("p50_ms", 0) * 1e3,
            "p99_us": figures.get("p99_ms", 0) * 1e3, "errors": figures["errors"], "exit": status,
            "busy": busy}
