"""Small helpers shared by the system tests: commands inside network namespaces."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent / "tools"

# Debian's python: python3-scapy imports there (the python3 on PATH may be pyenv's).
SYSTEM_PYTHON = "/usr/bin/python3"

# The default topology (DESIGN.md §5, scripts/netns.sh).
NS_CLIENT, NS_APPLIANCE, NS_LOADGEN = "mtcp-c", "mtcp-a", "mtcp-l"
BRIDGE, CLIENT_ADDR = "mtcp-br", "198.18.0.2"
APPLIANCE_IF, APPLIANCE_ADDR = "mtcp-a0", "198.18.0.1"
# Their IPv6 counterparts in 2001:2::/48 (RFC 5180).
CLIENT_ADDR6, APPLIANCE_ADDR6 = "2001:2::2", "2001:2::1"


def ns(name, *cmd, timeout=30, check=False):
    """Runs `cmd` inside network namespace `name`; returns the CompletedProcess
    (stdout and stderr captured as text)."""
    return subprocess.run(["ip", "netns", "exec", name, *map(str, cmd)],
                          capture_output=True, text=True, timeout=timeout, check=check)


def describe(result):
    """A CompletedProcess as text, for assertion messages."""
    return (f"$ {' '.join(map(str, result.args))}\nexit {result.returncode}\n"
            f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}")


def client(*cmd, timeout=30, input=None):
    """Runs `cmd` in netns mtcp-c; the CompletedProcess with bytes output (bodies
    are compared byte for byte)."""
    return subprocess.run(["ip", "netns", "exec", NS_CLIENT, *map(str, cmd)], capture_output=True,
                          timeout=timeout, input=input)


def show(result):
    """A CompletedProcess of `client` as text, for assertion messages."""
    return (f"$ {' '.join(map(str, result.args))}\nexit {result.returncode}\n--- stdout\n"
            f"{result.stdout[:3000].decode('latin-1')}\n--- stderr\n{result.stderr[:3000].decode('latin-1')}")


def ab_without_errors(url, length, requests, concurrency, keep_alive):
    """Runs ab from mtcp-c and checks that every request completed, with a 2xx
    status and a body of `length` bytes (and kept alive if asked); ab's output."""
    result = client("ab", *(["-k"] if keep_alive else []), "-n", requests, "-c", concurrency, "-s", 10, url,
                    timeout=120)
    assert result.returncode == 0, show(result)
    out = result.stdout.decode()
    counts = {name.strip(): int(value) for name, value in re.findall(r"^([A-Za-z -]+):\s+(\d+)", out, re.M)}
    assert counts["Complete requests"] == requests, out
    assert counts["Failed requests"] == 0 and "Non-2xx responses" not in out, out
    assert counts["Document Length"] == length, out
    if keep_alive:
        assert counts["Keep-Alive requests"] == requests, out
    return out


def link_mac(namespace, ifname):
    """The MAC address of `ifname` in `namespace`, lower case."""
    out = subprocess.run(["ip", "-n", namespace, "link", "show", "dev", ifname],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"link/ether ([0-9a-f:]{17})", out)
    assert match, f"no MAC in:\n{out}"
    return match.group(1).lower()


def ping(dst, *options, count=3, namespace=NS_CLIENT):
    """Pings `dst` from `namespace`; returns (CompletedProcess, loss percentage or None)."""
    result = ns(namespace, "ping", "-c", count, "-W", 2, *options, dst, timeout=10 + 3 * count)
    match = re.search(r"([\d.]+)% packet loss", result.stdout)
    return result, (float(match.group(1)) if match else None)


def metrics_text(port=9180, namespace=NS_APPLIANCE):
    """A stack's Prometheus exposition, scraped from inside its namespace."""
    result = ns(namespace, "curl", "-sS", "--max-time", 5, f"127.0.0.1:{port}/metrics", timeout=15)
    assert result.returncode == 0, describe(result)
    return result.stdout


def per_core(name, port=9180, namespace=NS_APPLIANCE):
    """A counter of a stack's Prometheus exposition, by core: {core: value}."""
    return {int(core): int(value)
            for core, value in re.findall(rf'^{name}\{{core="(\d+)"\}} (\d+)$', metrics_text(port, namespace), re.M)}
