"""TCP between the stack and the Linux kernel, both ways round.

The stack as server: mtcp-httpd (the `appliance` fixture, netns mtcp-a,
198.18.0.1) serves echo (RFC 862) on port 7 and discard (RFC 863) on port 9; kernel
clients in netns mtcp-c (198.18.0.2) drive it with Tests/system/tools/tcp_client.py.

The stack as client: mtcp-loadgen (netns mtcp-l, 198.18.0.3) against a kernel echo
server in mtcp-c (Tests/system/tools/echo_server.py on 198.18.0.2:7000).

Every subprocess has a timeout; the appliance, the loadgen and the echo server are
stopped by PID by their fixtures.
"""

import json
import re

import pytest

from mtcp_ns import APPLIANCE_ADDR, NS_CLIENT, SYSTEM_PYTHON, TOOLS, describe, ns

ECHO, DISCARD, CLOSED_PORT = 7, 9, 81
MiB = 1 << 20


def client(mode, port, *options, timeout=30):
    """Runs tools/tcp_client.py `mode` against the appliance from mtcp-c; its JSON report."""
    result = ns(NS_CLIENT, SYSTEM_PYTHON, TOOLS / "tcp_client.py", mode, APPLIANCE_ADDR, port,
                *options, timeout=timeout)
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout.strip().splitlines()[-1])


def counter(log, name):
    """The value of counter `name` in the statistics mtcp-httpd prints when it stops."""
    match = re.search(rf"\b{re.escape(name)} (\d+)", log)
    assert match, f"no counter `{name}` in:\n{log}"
    return int(match.group(1))


def stopped(appliance):
    """Stops the appliance (SIGINT), asserts it exited 0, returns its output."""
    appliance.stop()
    assert appliance.proc.returncode == 0, appliance.log
    return appliance.log


# --- the stack as server -------------------------------------------------------------------

@pytest.mark.appliance
@pytest.mark.parametrize("size", [1, 1460, 64 * 1024, MiB, 8 * MiB],
                         ids=["1B", "1460B", "64KiB", "1MiB", "8MiB"])
def test_echo_is_byte_exact_across_half_close(appliance, size):
    """RFC 862 echo over RFC 9293 half-close (§3.6): the client sends everything, then
    FIN; the server, in CLOSE-WAIT, keeps sending the rest of the echo before its own
    FIN. SHA-256 of what came back equals that of what was sent."""
    # The client stops reading 24 KiB short of the end until its FIN is out; its
    # small receive buffer cannot hold those 24 KiB, so the server still has echo to
    # send when our FIN reaches it.
    report = client("echo", ECHO, "--size", size, "--seed", size, "--hold", 24 * 1024,
                    "--rcvbuf", 8192, "--timeout", 20, timeout=40)
    assert report["write_error"] is None and report["read_error"] is None, report
    assert report["received"] == size and report["sha_received"] == report["sha_sent"], report
    if size >= 64 * 1024:
        assert report["pending_at_fin"] > 0, report
    log = stopped(appliance)
    assert counter(log, "resets sent") == 0 and counter(log, "resets received") == 0, log


@pytest.mark.appliance
def test_many_short_connections(appliance):
    """Repeated passive opens and orderly closes (RFC 9293 §3.5, §3.6): 300 connections
    one after another, then 50 at once, each echoing a small message; every one
    succeeds, and the server counts each open and close."""
    report = client("many", ECHO, "--sequential", 300, "--concurrent", 50, "--size", 200,
                    "--timeout", 10, timeout=50)
    assert report["sequential_ok"] == 300 and report["concurrent_ok"] == 50, report
    log = stopped(appliance)
    assert counter(log, "passive opens") == 350, log
    assert counter(log, "closed") == 350, log


@pytest.mark.appliance
def test_discard_then_server_closes_after_our_fin(appliance):
    """RFC 863 discard: 4 MiB vanish without a byte back, and after our FIN the server
    closes too (RFC 9293 §3.6: recv returns b'' once its FIN arrives), with no error."""
    report = client("discard", DISCARD, "--size", 4 * MiB, "--timeout", 10, timeout=30)
    assert report["sent"] == 4 * MiB and report["received"] == 0 and report["eof"], report
    assert report["fin_wait_seconds"] < 2, report
    log = stopped(appliance)
    assert counter(log, "resets sent") == 0, log


@pytest.mark.appliance
def test_connect_to_closed_port_is_refused_at_once(appliance):
    """RFC 9293 §3.10.7.1: a SYN to a port with no listener is answered with RST/ACK,
    which the client's connect() reports as ECONNREFUSED at once (no retries, no hang)."""
    report = client("refused", CLOSED_PORT, "--timeout", 5, timeout=15)
    assert report["outcome"] == "ECONNREFUSED", report
    assert report["seconds"] < 1, report
    log = stopped(appliance)
    assert counter(log, "resets sent") >= 1, log


@pytest.mark.appliance
def test_client_abort_with_rst_then_service_goes_on(appliance):
    """RFC 9293 §3.10.4 ABORT / §3.10.7.4: the client closes with SO_LINGER {1, 0}, so
    an RST replaces the FIN; the server drops the connection (counted as a reset
    received) and goes on serving: a new echo connection is byte-exact."""
    report = client("abort", ECHO, "--size", 100_000, "--timeout", 10, timeout=30)
    assert report["echoed_before_abort"] > 0, report
    after = report["after"]
    assert after["equal"] and after["write_error"] is None and after["read_error"] is None, report
    log = stopped(appliance)
    assert counter(log, "resets received") >= 1, log


@pytest.mark.appliance
def test_zero_window_then_full_echo(appliance):
    """Flow control (RFC 9293 §3.8.6, persist timer §3.8.6.1): the client sends 4 MiB
    and reads nothing for 2 s, so its receive window closes and the server's buffers
    fill; the server tests the window while it is shut (zero-window probes, or a
    retransmission when it still has data in flight) and, once the client reads,
    delivers the whole echo byte-exact, with no reset."""
    size = 4 * MiB
    report = client("echo", ECHO, "--size", size, "--seed", 6, "--pause-reading", 2,
                    "--timeout", 20, timeout=40)
    # The writer was held back by the closed windows while nobody read.
    assert report["sent_before_reading"] < size, report
    assert report["write_error"] is None and report["read_error"] is None, report
    assert report["received"] == size and report["sha_received"] == report["sha_sent"], report
    log = stopped(appliance)
    probes, resent = counter(log, "zero-window probes"), counter(log, "retransmitted")
    print(f"zero-window probes {probes}, retransmitted {resent}, "
          f"sent before reading {report['sent_before_reading']}")
    # 2 s with the window shut: the persist timer (or, with data still in flight,
    # the retransmission timer) must have tested the window at least once.
    assert probes + resent >= 1, log
    assert counter(log, "resets sent") == 0, log


@pytest.mark.appliance
def test_statistics_printed_on_sigint(appliance):
    """After traffic, SIGINT stops the appliance cleanly (exit status 0) and it prints
    its drop account and TCP counters, retransmissions and timeouts among them."""
    report = client("echo", ECHO, "--size", MiB, "--timeout", 20, timeout=40)
    assert report["equal"], report
    log = stopped(appliance)
    assert re.search(r"^drops: \d+", log, re.MULTILINE), log
    lines = [line for line in log.splitlines() if line.startswith(("drops:", "tcp:"))]
    print("\n".join(lines))
    for name in ("active opens", "passive opens", "established", "closed", "resets received",
                 "resets sent", "segments received", "retransmitted", "fast retransmits",
                 "timeouts"):
        counter(log, name)
    assert re.search(r"segments received \d+, sent \d+", log), log
    assert counter(log, "passive opens") == 1 and counter(log, "closed") == 1, log


# --- the stack as client -------------------------------------------------------------------

SUMMARY = re.compile(r"^echo: completed (\d+) of (\d+), failed (\d+), bytes verified (\d+)", re.MULTILINE)


def check_loadgen(result, flows, size):
    assert re.search(r"^mtcp-loadgen: ready", result.stdout, re.MULTILINE), describe(result)
    summary = SUMMARY.search(result.stdout)
    assert summary, describe(result)
    assert summary.groups() == (str(flows), str(flows), "0", str(flows * size)), describe(result)
    assert result.returncode == 0, describe(result)


def test_loadgen_200_echo_flows_against_kernel(kernel_echo_server, loadgen_run):
    """The stack as client (RFC 9293 active open, §3.5): 200 connections, 20 at a time,
    to a Linux echo server; each sends 5000 bytes, half-closes, and verifies the echo
    until the server's FIN. All 200 complete."""
    result = loadgen_run(kernel_echo_server.url, 200, "-c", 20, "--bytes", 5000,
                         "--timeout", 30, timeout=45)
    check_loadgen(result, 200, 5000)


def test_loadgen_one_megabyte_flow_against_kernel(kernel_echo_server, loadgen_run):
    """The stack as client with one long flow: 1 000 000 bytes to a Linux echo server
    through our send and receive windows (RFC 9293 §3.8.6), every echoed byte checked."""
    result = loadgen_run(kernel_echo_server.url, 1, "-c", 1, "--bytes", 1_000_000,
                         "--timeout", 30, timeout=45)
    check_loadgen(result, 1, 1_000_000)
