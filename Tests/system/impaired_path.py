"""A bad path between a kernel client and the appliance, made of the project's own
forwarder (the kernel here has no netem):

  netns cf-imp-a-X               netns cf-imp-f-X                    netns cf-imp-c-X
  mtcp-httpd (net_af_packet)     mtcp-impair --left f0 --right f1    kernel client
  on cfXa0 198.19.90.1 <-veth-> cfXf0        cfXf1 <-------veth-------> cfXc0 198.19.90.2/24

Every name is `cf-...`/`cfX...` with a unique X, made and removed here; the
appliance and the forwarder are stopped by PID. IPv6 and offloads are off on
every veth (the forwarder must see single frames, not GRO aggregates), and both
ends have static ARP entries so a lost ARP frame costs nothing.

With `kernel_echo`, the kernel's TCP takes the appliance's place (the address on
its veth, Tests/system/tools/echo_server.py on port 7): a reference through the same
impairment. `ImpairedPath.client(*cmd)` runs a command in the client's namespace: the echo
tests use Tests/system/tools/tcp_client.py, the HTTP tests curl (the appliance's
document root and proxy routes come through `appliance_args`).
"""

import os
import re
import subprocess
import sys
import uuid

import pytest

from mtcp_ns import SYSTEM_PYTHON, TOOLS, describe
from stacks import REPO, Stack, write_config

sys.path.insert(0, str(REPO / "scripts/bench"))
import impair_report  # noqa: E402  (shared with the `loss` benchmark)

IMPAIR = REPO / ".build/release/mtcp-impair"
APPLIANCE_ADDR, CLIENT_ADDR = "198.19.90.1", "198.19.90.2"

# A frame sent into a veth is queued on the sending CPU's backlog and handed on by
# that CPU's softirq; a sender that moves between CPUs mid-burst can have its later
# frames delivered before its earlier ones. The path must add no reordering of its
# own, so the forwarder and every kernel TCP endpoint (the client, the kernel echo
# server, an upstream: their TCP also sends from softirq and timers, on the CPU the
# forwarder's frames arrive on) stay on one CPU, not the appliance's engine's (EAL's
# lcore 0 is CPU 0). With no other CPU allowed, nothing is pinned.
_OTHER_CPUS = sorted(os.sched_getaffinity(0) - {0})
PATH_PINNING = ("taskset", "-c", str(_OTHER_CPUS[0])) if _OTHER_CPUS else ()


def sh(*cmd, check=True, timeout=30):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=check, timeout=timeout)


class ImpairedPath:
    def __init__(self, directory, impairment, appliance_config="", appliance_args=(), kernel_echo=False):
        x = uuid.uuid4().hex[:6]
        self.ns_appliance, self.ns_forwarder, self.ns_client = f"cf-imp-a-{x}", f"cf-imp-f-{x}", f"cf-imp-c-{x}"
        self.a0, self.f0, self.f1, self.c0 = f"cf{x}a0", f"cf{x}f0", f"cf{x}f1", f"cf{x}c0"
        self.appliance = self.forwarder = self.kernel_echo = None
        self.forwarder_log = []
        try:
            self._make_links()
            if kernel_echo:
                self._start_kernel_echo()
            else:
                self._start_appliance(directory, appliance_config, appliance_args)
            self._start_forwarder(impairment)
        except BaseException:
            self.remove()
            raise

    def _make_links(self):
        for ns in (self.ns_appliance, self.ns_forwarder, self.ns_client):
            sh("ip", "netns", "add", ns)
            for key in ("all", "default"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns_forwarder, "link", "add", self.f0, "type", "veth", "peer", "name", self.a0,
           "netns", self.ns_appliance)
        sh("ip", "-n", self.ns_forwarder, "link", "add", self.f1, "type", "veth", "peer", "name", self.c0,
           "netns", self.ns_client)
        for ns, ifname in ((self.ns_appliance, self.a0), (self.ns_forwarder, self.f0),
                           (self.ns_forwarder, self.f1), (self.ns_client, self.c0)):
            sh("ip", "netns", "exec", ns, "ethtool", "-K", ifname,
               "rx", "off", "tx", "off", "gro", "off", "gso", "off", "tso", "off")
            sh("ip", "-n", ns, "link", "set", ifname, "up")
        sh("ip", "-n", self.ns_client, "addr", "add", f"{CLIENT_ADDR}/24", "dev", self.c0)
        sh("ip", "-n", self.ns_client, "neigh", "replace", APPLIANCE_ADDR, "lladdr",
           self.mac(self.ns_appliance, self.a0), "dev", self.c0, "nud", "permanent")

    @staticmethod
    def mac(ns, ifname):
        return re.search(r"link/ether ([0-9a-f:]{17})", sh("ip", "-n", ns, "link", "show", ifname).stdout).group(1)

    def _start_appliance(self, directory, extra, args):
        config = write_config(directory, self.ns_appliance, f"{APPLIANCE_ADDR}/24",
                              f"net_af_packet0,iface={self.a0}", f"checksum_offload = off\n{extra}")
        (directory / "arp.conf").write_text(f"ARP_ENTRY 1\n{CLIENT_ADDR}/32 {self.mac(self.ns_client, self.c0)}\n")
        self.appliance = Stack(config, self.ns_appliance, args=args)

    def _start_kernel_echo(self):
        sh("ip", "-n", self.ns_appliance, "addr", "add", f"{APPLIANCE_ADDR}/24", "dev", self.a0)
        sh("ip", "-n", self.ns_appliance, "neigh", "replace", CLIENT_ADDR, "lladdr", self.mac(self.ns_client, self.c0),
           "dev", self.a0, "nud", "permanent")
        self.kernel_echo = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_appliance, *PATH_PINNING, SYSTEM_PYTHON, str(TOOLS / "echo_server.py"),
             "--host", APPLIANCE_ADDR, "--port", "7"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        line = self.kernel_echo.stdout.readline()
        if not line.startswith("echo_server: ready"):
            self.kernel_echo.wait(5)
            pytest.fail("echo_server.py did not start:\n" + line + self.kernel_echo.stdout.read())

    def _start_forwarder(self, impairment):
        if not IMPAIR.exists():
            pytest.fail(f"{IMPAIR} does not exist: run `swift build -c release` first")
        self.forwarder = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_forwarder, *PATH_PINNING, "stdbuf", "-oL", str(IMPAIR),
             "--left", self.f0, "--right", self.f1, *map(str, impairment)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        line = self.forwarder.stdout.readline()
        self.forwarder_log.append(line)
        if not line.startswith("mtcp-impair: ready"):
            self.forwarder.wait(5)
            pytest.fail("mtcp-impair did not start:\n" + line + self.forwarder.stdout.read())

    def client(self, *cmd, timeout=300):
        return sh("ip", "netns", "exec", self.ns_client, *PATH_PINNING, *cmd, check=False, timeout=timeout)

    def echo(self, size, seed, timeout=600):
        """An echo transfer of `size` seeded bytes from a kernel client through the path."""
        return self.client(SYSTEM_PYTHON, TOOLS / "tcp_client.py", "echo", APPLIANCE_ADDR, 7,
                           "--size", size, "--seed", seed, "--timeout", 120, timeout=timeout)

    def stop_forwarder(self):
        """SIGINT; returns its counters {'to_client': {...}, 'to_appliance': {...}}."""
        if self.forwarder is None:
            return None
        proc, self.forwarder = self.forwarder, None
        self.forwarder_status, out, counters = impair_report.stop(proc)
        self.forwarder_log.append(out)
        return {"to_client" if source == self.f0 else "to_appliance": figures for source, figures in counters.items()}

    def remove(self):
        log = ""
        try:
            self.stop_forwarder()
        finally:
            if self.appliance is not None:
                log = self.appliance.stop()
            if self.kernel_echo is not None:
                echo, self.kernel_echo = self.kernel_echo, None
                echo.terminate()
                log = echo.communicate(timeout=10)[0]
            for ns in (self.ns_appliance, self.ns_forwarder, self.ns_client):
                sh("ip", "netns", "del", ns, check=False)
        return log
