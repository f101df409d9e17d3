"""Kernel clients talk to the appliance over a bad path: mtcp-impair (the project's
own forwarder, since the kernel has no netem) between them drops, reorders,
duplicates and delays frames, seeded. Every byte is checked by SHA-256.

These are echo (RFC 862) transfers, both directions at once; test_impaired_http.py
runs curl downloads and proxied uploads over the same kind of path.
"""

import json
import os
import re
import subprocess

import pytest

from impaired_path import ImpairedPath
from mtcp_ns import describe

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, raw sockets)")

# Large enough buffers that a lossy path still moves megabytes in seconds.
APPLIANCE_CONFIG = ("rcvbuf = 262144\nsndbuf = 262144\nmax_concurrency = 64\nmax_num_buffers = 64\n"
                    "memory_mb = 256\n")


@pytest.fixture
def impaired(tmp_path):
    """impaired(loss, reorder, duplicate, delay_ms, seed) -> an ImpairedPath, removed after the test."""
    made = []

    def make(loss, reorder=0.0, duplicate=0.0, delay_ms=1.0, seed=1, kernel_echo=False):
        path = ImpairedPath(tmp_path, ["--loss", loss, "--reorder", reorder, "--duplicate", duplicate,
                                       "--delay-ms", delay_ms, "--reorder-delay-ms", 3, "--seed", seed],
                            APPLIANCE_CONFIG, kernel_echo=kernel_echo)
        made.append(path)
        return path

    yield make
    for path in made:
        path.remove()


# 10 MiB echoed both ways at 10% loss took 200 s and once stalled: the appliance's
# losses were nearly all repaired by the RTO, as the kernel's ACKs rode on echo
# data and none counted as a duplicate (see TCPBidirectionalLossTests).
@pytest.mark.parametrize("loss, size", [
    pytest.param(loss, size, id=f"loss{int(loss * 100)}-{label}")
    for loss in (0.01, 0.05, 0.10) for size, label in ((1 << 20, "1MiB"), (10 << 20, "10MiB"))])
def test_echo_over_a_lossy_path(impaired, loss, size):
    """Every byte comes back (SHA-256 equal) across loss, 1% reordering and 1% duplication
    in both directions; the forwarder really impaired the path and the appliance had to
    retransmit."""
    path = impaired(loss, reorder=0.01, duplicate=0.01, seed=int(loss * 100) + size)
    result = path.echo(size, seed=size)
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    counters = path.stop_forwarder()
    log = path.remove()
    print(f"echo {size} bytes at {loss:.0%} loss: {report['seconds']} s; forwarder {counters}")
    assert report["equal"] and report["sha_received"] == report["sha_sent"], report
    assert path.forwarder_status == 0, path.forwarder_log
    for direction in ("to_client", "to_appliance"):
        c = counters[direction]
        assert c["received"] > 0 and c["lost"] > 0 and c["queue_overflow"] == 0 and c["send_failed"] == 0, counters
        assert abs(c["lost"] / c["received"] - loss) < max(0.5 * loss, 0.01), counters
    retransmitted = int(re.search(r"retransmitted (\d+)", log).group(1))
    assert retransmitted > 0, log


def kernel_congestion_control():
    """The kernel's default congestion control (new namespaces start with the host's)."""
    return subprocess.run(["sysctl", "-n", "net.ipv4.tcp_congestion_control"], check=True, capture_output=True,
                          text=True).stdout.strip()


# Like for like against the kernel: its default algorithm's family (BBR on this
# machine: a random loss costs it a retransmission, not half the window, while
# NewReno and CUBIC take 16 s and 29 s here for the same echo), and buffers as
# large as the kernel lets its own grow (tcp_wmem's ceiling, 4 MiB; the kernel
# autotunes, the appliance is configured).
LIKE_FOR_LIKE_CONFIG = ("rcvbuf = 4194304\nsndbuf = 4194304\nmax_concurrency = 64\nmax_num_buffers = 64\n"
                        "memory_mb = 256\n")
OUR_ALGORITHM = {"bbr": "bbr", "cubic": "cubic", "reno": "newreno"}


def like_for_like_echo(directory, kernel_echo, size=10 << 20, loss=0.10):
    """The 10 MiB echo at 10% loss above (same impairment and seed) with the kernel's
    TCP, or the appliance like for like, at the far end; returns (seconds, appliance
    log, retransmission timeouts of the kernel client)."""
    directory.mkdir()
    config = LIKE_FOR_LIKE_CONFIG + f"congestion_control = {OUR_ALGORITHM.get(kernel_congestion_control(), 'newreno')}\n"
    path = ImpairedPath(directory, ["--loss", loss, "--reorder", 0.01, "--duplicate", 0.01, "--delay-ms", 1.0,
                                    "--reorder-delay-ms", 3, "--seed", int(loss * 100) + size],
                        config, kernel_echo=kernel_echo)
    try:
        result = path.echo(size, seed=size)
        client_timeouts = kernel_tcp_counter(path.ns_client, "TCPTimeouts")
        counters = path.stop_forwarder()
    finally:
        log = path.remove()
    assert result.returncode == 0, describe(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["equal"] and report["sha_received"] == report["sha_sent"], report
    assert path.forwarder_status == 0, path.forwarder_log
    for c in counters.values():   # the impairment really applied
        assert abs(c["lost"] / c["received"] - loss) < 0.5 * loss and c["queue_overflow"] == 0, counters
    repair = re.search(r"retransmitted .*", log or "")
    print(f"{'linux' if kernel_echo else 'ours'}: {report['seconds']} s, kernel client's RTOs {client_timeouts}, "
          f"forwarder {counters}" + (f"; {repair.group(0)}" if repair else ""))
    return report["seconds"], log, client_timeouts


def kernel_tcp_counter(namespace, name):
    """A TcpExt counter of a namespace's kernel TCP (each test namespace is new: from 0)."""
    lines = subprocess.run(["ip", "netns", "exec", namespace, "cat", "/proc/net/netstat"], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    names, values = next((lines[i].split(), lines[i + 1].split()) for i in range(0, len(lines), 2)
                         if lines[i].startswith("TcpExt:"))
    return int(values[names.index(name)])


def test_echo_at_10_percent_loss_like_linux(tmp_path):
    """The 10 MiB echo at 10% loss with the kernel's algorithm family (BBR here) and
    its buffer ceiling: every byte comes back, the appliance repaired losses, and the
    kernel's D-SACKs (for the path's duplicates, and for any needless resend) arrived."""
    _, log, _ = like_for_like_echo(tmp_path / "ours", kernel_echo=False)
    assert tcp_counter(log, "retransmitted") > 0, log
    assert tcp_counter(log, "D-SACKs received") > 0, log


def test_echo_at_10_percent_loss_within_1_5x_of_linux(tmp_path):
    """Issue 17's bar: the 10 MiB echo at 10% loss takes at most 1.5x the time of the
    kernel's TCP in the appliance's place, median of three runs each. It once took
    200 s and stalled; every byte is still checked.

    The kernel client uploads through the same loss on both sides, and now and then
    a resend of one of its last segments is lost again: with nothing sent after it
    to be SACKed, RACK cannot see the loss and only the client's own RTO (200 ms,
    then doubled) repairs it, whichever TCP is at the far end. Such a run times the
    client, not the far end (here 2 of 16 Linux-to-Linux runs, 3 of 16 against the
    appliance), and a median of three with one side drawing two of them failed the
    bar about once in twelve; so a run in which the client timed out is set aside,
    on either side alike, and another taken, at most ten a side. The far end's own
    timeouts count in full. The client's timeouts do depend a little on the far
    end's ACKs (a receiver whose SACKs left ranges unreported made it resend more),
    so the set-aside runs are printed, and a far end that made the client time out
    in most runs fails here (fewer than three clean runs of ten); the SACK
    reporting itself is pinned by unit tests (TCPConnectionDataTests)."""
    wanted, attempts = 3, 10
    kernel = kernel_congestion_control()
    times = {"linux": [], "ours": []}
    set_aside = {"linux": [], "ours": []}
    for attempt in range(attempts):
        for side, kernel_echo in (("linux", True), ("ours", False)):
            if len(times[side]) < wanted:
                seconds, _, client_timeouts = like_for_like_echo(tmp_path / f"{side}-{attempt}", kernel_echo)
                (set_aside if client_timeouts else times)[side].append(seconds)
    assert all(len(values) == wanted for values in times.values()), \
        f"the kernel client timed out in most runs: timed {times}, set aside {set_aside}"
    median = {side: sorted(values)[wanted // 2] for side, values in times.items()}
    print(f"10 MiB echo at 10% loss, median of {wanted}: ours {median['ours']} s, Linux ({kernel}) "
          f"{median['linux']} s, {median['ours'] / median['linux']:.2f}x; all: {times}; set aside for the "
          f"client's RTOs: {set_aside}")
    assert median["ours"] <= 1.5 * median["linux"], (times, set_aside)


def tcp_counter(log, name):
    return int(re.search(rf"\b{name} (\d+)", log).group(1))


def test_forwarder_without_impairment_is_transparent(impaired):
    """With no impairment the forwarder loses, duplicates and reorders nothing: a 1 MiB echo
    gives the appliance no sign of loss. Timer-driven resends stay possible: a tail loss probe
    fires when an ACK is 2 SRTT + 2 ms late (as Linux's does), and a process stall on a
    loaded two-core machine is that long; every resend must be one of those."""
    path = impaired(0.0, delay_ms=0)
    result = path.echo(1 << 20, seed=3)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    counters = path.stop_forwarder()
    log = path.remove()
    assert report["equal"], report
    for c in counters.values():
        assert c["lost"] == c["duplicated"] == c["reordered"] == 0 and c["sent"] == c["received"] > 0, counters
    loss_signals = ("fast retransmits", "RACK marked lost", "out of order")
    assert all(tcp_counter(log, name) == 0 for name in loss_signals), log
    timer_driven = tcp_counter(log, "tail loss probes") + tcp_counter(log, "spurious RTOs")
    assert tcp_counter(log, "retransmitted") <= timer_driven, log
    assert tcp_counter(log, "timeouts") == tcp_counter(log, "spurious RTOs"), log
