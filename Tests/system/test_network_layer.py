"""ARP, ICMP echo and IPv4 input of mtcp-httpd, seen from kernel clients in netns mtcp-c.

Every test here runs against a fresh appliance (the `appliance` fixture) in the
default topology: the stack owns 198.18.0.1/24 on mtcp-a0 through DPDK
net_af_packet; the clients use the Linux stack on mtcp-br (198.18.0.2/24).
"""

import json
import re

import pytest

from mtcp_ns import (APPLIANCE_ADDR, APPLIANCE_IF, BRIDGE, CLIENT_ADDR, NS_APPLIANCE,
                     NS_CLIENT, SYSTEM_PYTHON, TOOLS, describe, link_mac, ns, ping)

pytestmark = pytest.mark.appliance


def forget_neighbour():
    """Removes any ARP entry for the appliance from mtcp-c, so the next packet resolves anew."""
    ns(NS_CLIENT, "ip", "neigh", "flush", "to", APPLIANCE_ADDR, "dev", BRIDGE)


def test_ping(appliance):
    forget_neighbour()
    result, loss = ping(APPLIANCE_ADDR)
    assert result.returncode == 0 and loss == 0.0, describe(result)


def test_arping_reply_carries_mac_of_mtcp_a0(appliance):
    expected = link_mac(NS_APPLIANCE, APPLIANCE_IF)
    result = ns(NS_CLIENT, "arping", "-c", 3, "-w", 6, "-I", BRIDGE, APPLIANCE_ADDR, timeout=15)
    macs = {m.lower() for m in re.findall(r"\[([0-9A-Fa-f:]{17})\]", result.stdout)}
    assert result.returncode == 0 and macs, describe(result)
    assert macs == {expected}, f"replies from {macs}, mtcp-a0 is {expected}\n{describe(result)}"


def test_ping_with_1400_byte_payload(appliance):
    result, loss = ping(APPLIANCE_ADDR, "-s", 1400, "-M", "do")
    assert result.returncode == 0 and loss == 0.0, describe(result)
    # 1400 bytes of payload + 8 of ICMP header come back whole.
    assert "1408 bytes from 198.18.0.1" in result.stdout, describe(result)


def test_arp_entry_appears_in_client_neighbour_table(appliance):
    forget_neighbour()
    result, _ = ping(APPLIANCE_ADDR, count=1)
    assert result.returncode == 0, describe(result)
    neigh = ns(NS_CLIENT, "ip", "neigh", "show", "to", APPLIANCE_ADDR, "dev", BRIDGE)
    match = re.search(r"lladdr ([0-9a-f:]{17}) (\w+)", neigh.stdout)
    assert match, describe(neigh)
    assert match.group(1) == link_mac(NS_APPLIANCE, APPLIANCE_IF), describe(neigh)
    assert match.group(2) in {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT"}, describe(neigh)


def run_tool(mode, dst_mac, timeout=30):
    result = ns(NS_CLIENT, SYSTEM_PYTHON, TOOLS / "malformed_ipv4.py", mode,
                "--iface", BRIDGE, "--src", CLIENT_ADDR, "--dst", APPLIANCE_ADDR,
                "--dst-mac", dst_mac, timeout=timeout)
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_malformed_ipv4_frames_do_not_stop_the_appliance(appliance):
    mac = link_mac(NS_APPLIANCE, APPLIANCE_IF)
    sent = run_tool("send", mac)["sent"]
    assert "bad IPv4 header checksum" in sent and "truncated IPv4 header (10 of 20 bytes)" in sent
    assert appliance.alive(), "mtcp-httpd exited after the malformed frames"
    result, loss = ping(APPLIANCE_ADDR)
    assert result.returncode == 0 and loss == 0.0, describe(result)
    assert appliance.alive()
    # The stack's own account, printed when it stops: each kind was counted.
    appliance.stop()
    assert appliance.proc.returncode == 0, appliance.log
    for reason in ("ipv4_bad_checksum", "ipv4_truncated", "ipv4_bad_total_length",
                   "ipv4_bad_header_length", "ipv4_bad_version", "icmp_bad_checksum"):
        assert re.search(rf"\b{reason} [1-9]", appliance.log), f"no {reason} drop counted:\n{appliance.log}"


def test_echo_with_bad_ip_checksum_is_not_answered(appliance):
    # RFC 1122 3.2.1.2: a datagram whose header checksum fails is silently discarded.
    counts = run_tool("probe", link_mac(NS_APPLIANCE, APPLIANCE_IF))
    assert counts["valid_replies"] >= 1, f"the control echo got no reply: {counts}"
    assert counts["bad_checksum_replies"] == 0, f"a bad-checksum echo was answered: {counts}"
