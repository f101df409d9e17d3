"""Two engines with no static ARP entries (issue 14), on each kind of port that
spreads flows over queues:

- net_af_packet with two queue pairs: the kernel's fanout hash gives each ARP
  packet to one queue only, and every core must still resolve the client,
  because the cores share one neighbour table; segments that land on the core
  that does not own their flow are forwarded to it;
- mtcp-rssnic, a NIC with RSS over net_memif: flows steered by the symmetric
  Toeplitz hash, ARP on queue 0 only; nothing is forwarded, and no segment
  arrives on a core its hash does not name.

Before, a core that never saw the client's ARP could not answer its
connections, and the two-core tests needed the client in arp.conf."""

import pytest

from conftest import TWO_CORE_DEVICES, check_both_queues_busy, check_two_core_spreading, running_two_core_appliance
from mtcp_ns import APPLIANCE_ADDR, client, describe, per_core

CONNECTIONS = 48


@pytest.mark.parametrize("device", TWO_CORE_DEVICES)
def test_two_cores_serve_kernel_clients_with_dynamic_arp_only(topology, request, tmp_path_factory, device):
    # The client forgets the appliance: its one ARP request reaches one core.
    flushed = client("ip", "neigh", "flush", "all")
    assert flushed.returncode == 0, describe(flushed)
    with running_two_core_appliance(request, tmp_path_factory, device) as (app, nic):
        # Parallel connections from distinct source ports, spread over both queues by the port's hash.
        script = (f"for i in $(seq {CONNECTIONS}); do curl -sS -o /dev/null -w '%{{http_code}}\\n' --max-time 10 "
                  f"http://{APPLIANCE_ADDR}/robots.txt & done; wait")
        result = client("sh", "-c", script, timeout=60)
        assert result.stdout.decode().split() == ["200"] * CONNECTIONS, describe(result)
        check_two_core_spreading(device)
        opens = per_core("mtcp_tcp_passive_opens_total")
        assert sum(opens.values()) == CONNECTIONS and all(opens.get(core, 0) > 0 for core in (0, 1)), opens
        # One exchange taught both cores: core 1 asked nothing; core 0 sent its
        # announcements (RFC 5227: two, 2 s apart, the second if the test ran that
        # long) and at most one request (when the client's kernel still knew us
        # and sent no ARP of its own).
        requests = per_core("mtcp_arp_requests_sent_total")
        assert requests.get(1, 0) == 0 and 1 <= requests[0] <= 3, requests
        if nic:
            app.stop()
            check_both_queues_busy(nic)
