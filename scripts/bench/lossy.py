"""The `loss` scenario (issue 17): short flows through a lossy, delayed path, the
same client against mtcp-httpd and against nginx. The kernel here has no netem, so
the path is the project's own forwarder, mtcp-impair, as in the lossy-path tests:

  netns SERVER (given)           netns mtcp-bench-lossf                netns mtcp-bench-lossc
  mtcp-httpd (net_af_packet)     mtcp-impair --left mlossf0            mtcp-loadgen (net_af_packet)
  or nginx (kernel TCP)          --right mlossf1, delay and loss       198.19.23.3
  on mlosss0 198.19.23.1 <-veth-> mlossf0        mlossf1 <--veth--> mlossc0

Offloads are off on every veth (the forwarder must see single frames), IPv6 is off
in the client and forwarder namespaces (no stray solicitations through the path),
and both ends have static ARP entries, so a lost ARP frame costs neither server."""

import json
import re
import subprocess
from pathlib import Path

import impair_report
import linux
import ours

REPO = Path(__file__).resolve().parents[2]
IMPAIR = REPO / ".build/release/mtcp-impair"
FORWARDER_NAMESPACE, CLIENT_NAMESPACE = "mtcp-bench-lossf", "mtcp-bench-lossc"
SERVER_IF, FORWARDER_LEFT, FORWARDER_RIGHT, CLIENT_IF = "mlosss0", "mlossf0", "mlossf1", "mlossc0"
SERVER_ADDRESS, CLIENT_ADDRESS = "198.19.23.1", "198.19.23.3"
# Both stacks' frames leave with their checksums computed (the veths' offloads are off).
NO_OFFLOAD = "checksum_offload = off\n"
# Buffers as a client on a long path has them and as a server is tuned for one (the
# default 8 KiB would cap each flow at 8 KiB per round trip; Linux autotunes its own).
BUFFERS = "rcvbuf = 262144\nsndbuf = 262144\n"
# Both mtcp stacks time their handshakes from the peer's last RTT (RFC 9040), off by
# default: the client's SYNs against either server, the server's SYN-ACKs.
PEER_RTT_CACHE = "peer_rtt_cache = on\n"
CONNECTIONS = 1024
RESPONSE_TIMEOUT = 60


def _run(*cmd, check=True, timeout=30):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, timeout=timeout)


def mac(namespace, interface):
    return re.search(r"link/ether ([0-9a-f:]{17})", _run("ip", "-n", namespace, "link", "show", interface).stdout).group(1)


def static_arp(directory, address, hardware):
    """The arp.conf of a stack whose configuration is in `directory`: one static entry."""
    (Path(directory) / "arp.conf").write_text(f"ARP_ENTRY 1\n{address}/32 {hardware}\n")


class ImpairedPath:
    """The path above from `server_namespace` (which must exist) to the client's
    namespace, with mtcp-impair dropping `loss` of the frames in each direction
    and delaying every frame `delay_ms`. `counters` holds the forwarder's
    figures per direction once the path is removed."""

    def __init__(self, server_namespace, loss, delay_ms, seed, owns_server_namespace=False):
        self.server_namespace, self.owns_server_namespace = server_namespace, owns_server_namespace
        self.impairment = ["--loss", loss, "--delay-ms", delay_ms, "--seed", seed]
        self.forwarder, self.counters, self.forwarder_exit = None, {}, None

    def __enter__(self):
        try:
            self._links()
            self._start_forwarder()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _namespaces(self):
        return (FORWARDER_NAMESPACE, CLIENT_NAMESPACE) + ((self.server_namespace,) if self.owns_server_namespace else ())

    def _links(self):
        for namespace in self._namespaces():
            _run("ip", "netns", "del", namespace, check=False)
            _run("ip", "netns", "add", namespace)
            _run("ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1")
        _run("ip", "-n", FORWARDER_NAMESPACE, "link", "add", FORWARDER_LEFT, "type", "veth", "peer", "name",
             SERVER_IF, "netns", self.server_namespace)
        _run("ip", "-n", FORWARDER_NAMESPACE, "link", "add", FORWARDER_RIGHT, "type", "veth", "peer", "name",
             CLIENT_IF, "netns", CLIENT_NAMESPACE)
        for namespace, interface in ((self.server_namespace, SERVER_IF), (FORWARDER_NAMESPACE, FORWARDER_LEFT),
                                     (FORWARDER_NAMESPACE, FORWARDER_RIGHT), (CLIENT_NAMESPACE, CLIENT_IF)):
            _run("ip", "netns", "exec", namespace, "ethtool", "-K", interface, "rx", "off", "tx", "off",
                 "gro", "off", "gso", "off", "tso", "off")
            _run("ip", "-n", namespace, "link", "set", interface, "up")

    def _start_forwarder(self):
        self.forwarder = subprocess.Popen(
            ["ip", "netns", "exec", FORWARDER_NAMESPACE, "stdbuf", "-oL", str(IMPAIR), "--left", FORWARDER_LEFT,
             "--right", FORWARDER_RIGHT, *map(str, self.impairment)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        line = self.forwarder.stdout.readline()
        if not line.startswith("mtcp-impair: ready"):
            self.forwarder.wait(5)
            raise RuntimeError("mtcp-impair did not start:\n" + line + self.forwarder.stdout.read())

    def server_mac(self):
        return mac(self.server_namespace, SERVER_IF)

    def client_mac(self):
        return mac(CLIENT_NAMESPACE, CLIENT_IF)

    def __exit__(self, *exc):
        if self.forwarder is not None:
            proc, self.forwarder = self.forwarder, None
            self.forwarder_exit, _, counters = impair_report.stop(proc)
            self.counters = {"to_client" if source == FORWARDER_LEFT else "to_server": figures
                             for source, figures in counters.items()}
        for namespace in self._namespaces():
            _run("ip", "netns", "del", namespace, check=False)

    def impaired(self, loss):
        """Why the forwarder's run does not count (None when it does): it must have
        exited cleanly, lost nothing to its queue or to a failed send, and dropped
        about `loss` of the frames in each direction."""
        if self.forwarder_exit != 0 or set(self.counters) != {"to_client", "to_server"}:
            return f"mtcp-impair exited {self.forwarder_exit} with counters {self.counters}"
        for direction, c in self.counters.items():
            if c["queue_overflow"] or c["send_failed"]:
                return f"mtcp-impair {direction}: {c}"
            if c["received"] and abs(c["lost"] / c["received"] - loss) > max(0.5 * loss, 0.005):
                return f"mtcp-impair {direction}: lost {c['lost']} of {c['received']} frames, not {loss:.0%}"
        return None

    def loadgen(self, workdir, seconds, rate, extra_args=()):
        """mtcp-loadgen in the client's namespace, open loop at `rate` new
        connections per second, the cellular mix, every body checked against
        www/; returns its --json figures with its exit status as "exit"."""
        workdir = Path(workdir)
        conf = ours._write_conf(workdir, "loadgen-loss", CLIENT_ADDRESS, "client", "0x1", None, CONNECTIONS,
                                extra=NO_OFFLOAD + BUFFERS + PEER_RTT_CACHE + f"shutdown_grace_s = {RESPONSE_TIMEOUT}\n",
                                vdev=f"net_af_packet0,iface={CLIENT_IF}")
        static_arp(workdir, SERVER_ADDRESS, self.server_mac())
        out = workdir / "loadgen.json"
        out.unlink(missing_ok=True)
        # The connect and response timeouts leave room for repeated losses of one
        # flow (a SYN lost twice already costs 3 s): a flow the path delays a
        # lot counts in the tail, not as an error. The shutdown grace after -d is
        # as long, so that every flow started in the window ends (in the tail or
        # as a timeout) instead of being cut off as unfinished.
        cmd = ["ip", "netns", "exec", CLIENT_NAMESPACE, str(ours.LOADGEN), "--config", str(conf),
               f"http://{SERVER_ADDRESS}/", "-d", str(seconds), "--warmup", "1", "-c", str(CONNECTIONS - 24),
               "--requests-per-connection", "1", "--rate", str(rate), "--mix", "cellular",
               "--verify-body", str(REPO / "www"), "--connect-timeout", "30", "--timeout", str(RESPONSE_TIMEOUT),
               "--json", str(out), *extra_args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180)
        if not out.exists():
            raise RuntimeError(f"mtcp-loadgen failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
        figures = json.loads(out.read_text())
        figures["exit"] = result.returncode
        return figures


def appliance_counters(log):
    """The TCP loss-recovery counters of mtcp-httpd's end-of-run report."""
    names = {"retransmitted": "retransmitted", "fast retransmits": "fast_retransmits", "timeouts": "timeouts",
             "tail loss probes": "tlp_probes", "TLP recoveries": "tlp_recoveries",
             "RACK marked lost": "rack_marked_lost", "spurious RTOs": "spurious_rto",
             "passive opens": "passive_opens", "resets sent": "resets_sent",
             "timed from a cached RTT": "cached_rtt_opens"}
    found = {}
    for label, key in names.items():
        match = re.search(rf"{label} (\d+)", log)
        if match:
            found[key] = int(match.group(1))
    return found


# The kernel's counters (nstat) that say how its losses were repaired.
KERNEL_COUNTERS = {"TcpRetransSegs": "retransmitted", "TcpExtTCPTimeouts": "timeouts",
                   "TcpExtTCPLossProbes": "tlp_probes", "TcpExtTCPLossProbeRecovery": "tlp_recoveries",
                   "TcpExtTCPSackRecovery": "sack_recoveries", "TcpExtTCPSpuriousRTOs": "spurious_rto",
                   "TcpPassiveOpens": "passive_opens", "TcpExtTCPSynRetrans": "syn_retransmits",
                   "TcpExtTCPDelivered": "delivered"}


def kernel_counters(namespace):
    """The kernel's TCP counters in `namespace` (absolute values, nstat -a)."""
    out = _run("ip", "netns", "exec", namespace, "nstat", "-asz", "--json").stdout
    values = next(iter(json.loads(out).values()))
    return {key: values.get(name, 0) for name, key in KERNEL_COUNTERS.items()}


def kernel_congestion_control(namespace=None):
    """The congestion control new connections get in `namespace` (the machine's
    default unless someone changed it; a new namespace starts with the host's):
    the comparison means little without it, since BBR hardly slows down for
    random loss and Reno and CUBIC halve."""
    prefix = ("ip", "netns", "exec", namespace) if namespace else ()
    return _run(*prefix, "sysctl", "-n", "net.ipv4.tcp_congestion_control").stdout.strip()


def our_congestion_control(kernel):
    """Ours' algorithm of the same family as the kernel's `kernel`: like for like."""
    return {"bbr": "bbr", "cubic": "cubic", "reno": "newreno"}.get(kernel, "newreno")


class OurServer(ours.Appliance):
    """mtcp-httpd (one engine on core 1, busy-polling as in the other scenarios: on
    net_af_packet its idle back-off would add up to a millisecond to each wake-up,
    which nginx, woken by the kernel, does not pay) on the server end of `path`,
    with a static ARP entry for the client."""

    def __init__(self, workdir, path, congestion_control="newreno"):
        super().__init__(workdir, concurrency=CONNECTIONS, busy_poll=True,
                         extra=NO_OFFLOAD + BUFFERS + PEER_RTT_CACHE + f"congestion_control = {congestion_control}\n",
                         vdev=f"net_af_packet0,iface={SERVER_IF}", netns=path.server_namespace, address=SERVER_ADDRESS)
        static_arp(self.conf.parent, CLIENT_ADDRESS, path.client_mac())

    def errors(self):
        """After stop(): why its side of the run does not count (None when it does)."""
        bad = [line for line in self.log.splitlines() if "[error]" in line]
        if self.proc.returncode != 0 or bad:
            return f"mtcp-httpd exited {self.proc.returncode}: " + " | ".join(bad[:3])
        return None


class LinuxServerBehindImpairment(linux.LinuxServer):
    """nginx (as in linux.LinuxServer, 1 worker on core 1) on the server end of an
    ImpairedPath in its namespace, port 80, with a static ARP entry for the client."""

    ADDRESS = SERVER_ADDRESS

    def __init__(self, root, workdir, loss, delay_ms, seed):
        super().__init__(root, workdir, port=80)
        self.path = ImpairedPath(linux.NAMESPACE, loss, delay_ms, seed)

    def _prepare(self):
        self.path.__enter__()
        _run("ip", "-n", linux.NAMESPACE, "addr", "add", f"{SERVER_ADDRESS}/24", "dev", SERVER_IF)
        _run("ip", "-n", linux.NAMESPACE, "neigh", "replace", CLIENT_ADDRESS, "lladdr", self.path.client_mac(),
             "dev", SERVER_IF, "nud", "permanent")

    def __exit__(self, *exc):
        self.path.__exit__(*exc)
        super().__exit__(*exc)

    def errors(self):
        """Why nginx's side of the run does not count (None when it does): its error log."""
        log = self.workdir / "error.log"
        text = log.read_text().strip() if log.exists() else ""
        return f"nginx error.log: {text[-300:]}" if text else None
