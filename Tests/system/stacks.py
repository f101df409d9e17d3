"""Appliance processes for system tests that bring their own configuration:
start by PID, wait for the ready line, stop with SIGINT, collect the log."""

import os
import signal
import subprocess
import time

import pytest

from mtcp_ns import REPO, describe, ns

HTTPD = REPO / ".build/release/mtcp-httpd"
LOADGEN = REPO / ".build/release/mtcp-loadgen"


def write_config(directory, name, address, vdev, extra=""):
    """An mtcp.conf for one stack, with empty arp.conf/route.conf beside it;
    `extra` holds more `key = value` lines."""
    (directory / "arp.conf").write_text("ARP_ENTRY 0\n")
    (directory / "route.conf").write_text("ROUTES 0\n")
    path = directory / f"{name}.conf"
    path.write_text(f"port = dpdk0\nip_addr = {address}\nvdev = {vdev}\n"
                    f"file_prefix = mtcp-test-{name}-{os.getpid()}\n{extra}")
    return path


def memif_pair(directory, name, prefix, extra="", server_extra="", device_arguments=""):
    """mtcp.conf files for two stacks joined by net_memif over a socket in
    `directory`: the server `prefix`.1/24, the client `prefix`.3/24, each in a
    directory of its own; `extra` goes to both, `server_extra` to the server's."""
    socket = directory / "memif.sock"
    configs = []
    for role, host, more in (("server", 1, extra + server_extra), ("client", 3, extra)):
        (directory / role).mkdir()
        configs.append(write_config(directory / role, f"{name}-{role}", f"{prefix}.{host}/24",
                                    f"net_memif0,role={role},socket={socket}{device_arguments}", more))
    return configs


def tap_peer_up(namespace, interface, address, stack_address):
    """The kernel's end of a stack's net_tap port `interface`: `address` on it,
    up, and the stack (`stack_address`) answering a ping through it."""
    ns(namespace, "ip", "addr", "add", address, "dev", interface, check=True)
    ns(namespace, "ip", "link", "set", interface, "up", check=True)
    ping = ns(namespace, "ping", "-c", 2, "-W", 2, stack_address, timeout=15)
    assert ping.returncode == 0, describe(ping)


class Stack:
    """mtcp-httpd started (optionally inside a namespace) and stopped by PID."""

    def __init__(self, config, namespace=None, args=()):
        prefix = ["ip", "netns", "exec", namespace] if namespace else []
        self.proc = subprocess.Popen(prefix + ["stdbuf", "-oL", str(HTTPD), "--config", str(config), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("mtcp-httpd: ready"):
                return
        self.stop()
        pytest.fail("mtcp-httpd did not get ready:\n" + "".join(self.lines))

    @staticmethod
    def binary():
        return HTTPD

    @property
    def ready_line(self):
        return self.lines[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.lines += self.proc.stdout.readlines()
        return "".join(self.lines)
