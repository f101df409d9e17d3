"""Two engines over net_af_packet with two queue pairs and no static ARP entries
(issue 14): the kernel's fanout hash gives each ARP packet to one queue only, and
every core must still resolve the client, because the cores share one neighbour
table. Before, a core that never saw the client's ARP could not answer its
connections, and the two-core tests needed the client in arp.conf."""

import re
import time

from conftest import running_appliance, two_core_af_packet_config
from mtcp_ns import APPLIANCE_ADDR, NS_APPLIANCE, client, describe, ns

CONNECTIONS = 48


def per_core(name):
    """A counter of the appliance's Prometheus exposition, by core: {core: value}."""
    result = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15)
    assert result.returncode == 0, describe(result)
    return {int(core): int(value)
            for core, value in re.findall(rf'^{name}\{{core="(\d+)"\}} (\d+)$', result.stdout, re.M)}


def test_two_cores_serve_kernel_clients_with_dynamic_arp_only(topology, request, tmp_path_factory):
    config = two_core_af_packet_config(tmp_path_factory.mktemp("shared-neighbours"))
    # The client forgets the appliance: its one ARP request reaches one core.
    flushed = client("ip", "neigh", "flush", "all")
    assert flushed.returncode == 0, describe(flushed)
    with running_appliance(request, tmp_path_factory, config=config) as app:
        assert "2 engines" in app.log, app.log
        # Parallel connections from distinct source ports, spread over both queues by the kernel's hash.
        script = (f"for i in $(seq {CONNECTIONS}); do curl -sS -o /dev/null -w '%{{http_code}}\\n' --max-time 10 "
                  f"http://{APPLIANCE_ADDR}/robots.txt & done; wait")
        result = client("sh", "-c", script, timeout=60)
        assert result.stdout.decode().split() == ["200"] * CONNECTIONS, describe(result)
        time.sleep(1.2)  # each core publishes its counters twice a second
        opens = per_core("mtcp_tcp_passive_opens_total")
        assert sum(opens.values()) == CONNECTIONS and all(opens.get(core, 0) > 0 for core in (0, 1)), opens
        # One exchange taught both cores: core 0's announcement, and at most one
        # request (when the client's kernel still knew us and sent no ARP of its own).
        requests = per_core("mtcp_arp_requests_sent_total")
        assert requests[0] >= 1 and sum(requests.values()) <= 2, requests
