"""`--only proxy` (issue 24): short requests through a reverse proxy, ours
(mtcp-httpd with a proxy route) against nginx (`proxy_pass` to an `upstream`
with `keepalive 64`), in front of the same kernel origin, driven by the same
client; and the client straight to the origin, for the latency a proxy adds.

Every process sits on one port of the default topology's bridge (scripts/netns.sh,
netns mtcp-c), so each proxy is two bridge crossings from the client and two
from the origin, and the origin alone is one crossing from the client:

    mtcp-loadgen (netns mtcp-l, 198.18.0.3, net_af_xdp on mtcp-l0, core 1)
         |
      mtcp-br (netns mtcp-c, kernel bridge) ------------------- origin: nginx (netns mtcp-bench-linux,
         |                                                       198.18.0.9:80 on mbench-o0, kernel TCP, core 0)
    the proxy on mtcp-a0 (netns mtcp-a, 198.18.0.1:80, core 0), in turn:
      mtcp-httpd --config conf/mtcp.conf (net_af_xdp, adaptive idle policy), or
      nginx (kernel TCP, the same veth, address and MAC)

The proxy and the origin share core 0, the client has core 1 to itself: one
client, three processes, two cores. Both proxies keep their upstream
connections alive (ours: 64 idle per core; nginx: `keepalive 64`) and the
client runs CONNECTIONS connections, so neither opens upstream connections
once warm."""

import json
import subprocess
import time
from pathlib import Path

import linux
import nginx_link
import ours
import topology

REPO = Path(__file__).resolve().parents[2]
PROXY_NAMESPACE, PROXY_ADDRESS = nginx_link.NAMESPACE, nginx_link.ADDRESS
BRIDGE_NAMESPACE, BRIDGE = "mtcp-c", "mtcp-br"
ORIGIN_ADDRESS = "198.18.0.9"
ORIGIN_LINK, ORIGIN_BRIDGE_PORT = "mbench-o0", "mbench-or"
SHARED_CORE = 0  # the proxy and the origin; the client polls on core 1 (conf/loadgen.conf)
CONNECTIONS = 64
FILES = ("/bench/64.html", "/bench/4k.html")


def _run(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True)


def _no_offloads(namespace, link):
    """As scripts/netns.sh does for the stacks' veths: no checksum offload, GRO or
    GSO, and no IPv6 chatter on the link."""
    _run("ip", "netns", "exec", namespace, "ethtool", "-K", link, "gro", "off", "tso", "off", "gso", "off",
         "tx", "off", "rx", "off", check=False)
    _run("ip", "netns", "exec", namespace, "sh", "-c", f"echo 1 > /proc/sys/net/ipv6/conf/{link}/disable_ipv6")


class Origin(linux.LinuxServer):
    """The Linux baseline's nginx serving www/ on 198.18.0.9:80, on a veth of its
    own namespace into the default topology's bridge (removed with the namespace)."""

    ADDRESS = ORIGIN_ADDRESS

    def __init__(self, workdir):
        super().__init__(REPO / "www", workdir, server_core=SHARED_CORE, port=80)

    def _prepare(self):
        _run(REPO / "scripts/netns.sh", "up")
        _run("ip", "netns", "exec", linux.NAMESPACE, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0")
        _run("ip", "-n", BRIDGE_NAMESPACE, "link", "del", ORIGIN_BRIDGE_PORT, check=False)
        _run("ip", "-n", BRIDGE_NAMESPACE, "link", "add", ORIGIN_BRIDGE_PORT, "type", "veth", "peer", "name",
             ORIGIN_LINK, "netns", linux.NAMESPACE)
        _no_offloads(BRIDGE_NAMESPACE, ORIGIN_BRIDGE_PORT)
        _no_offloads(linux.NAMESPACE, ORIGIN_LINK)
        _run("ip", "-n", BRIDGE_NAMESPACE, "link", "set", ORIGIN_BRIDGE_PORT, "master", BRIDGE, "up")
        _run("ip", "-n", linux.NAMESPACE, "addr", "add", f"{ORIGIN_ADDRESS}/24", "dev", ORIGIN_LINK)
        _run("ip", "-n", linux.NAMESPACE, "link", "set", ORIGIN_LINK, "up")

    @property
    def worker(self):
        return nginx_link.nginx_worker(self.pid)


def http_config(workdir):
    """conf/httpd.json with every path under /bench/ proxied to the origin, and no
    TLS listener (nginx's proxy has none either)."""
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration.pop("tls", None)
    configuration["routes"] = [{"prefix": "/bench/", "upstream": "origin"}]
    configuration["upstreams"] = [{"name": "origin", "servers": [f"{ORIGIN_ADDRESS}:80"]}]
    Path(workdir).mkdir(parents=True, exist_ok=True)
    path = Path(workdir) / "httpd-proxy.json"
    path.write_text(json.dumps(configuration))
    return path


class OursProxy(topology.DefaultAppliance):
    """mtcp-httpd as `make run` starts it, with the proxy route of http_config."""

    def __init__(self, workdir):
        super().__init__(["--http-config", str(http_config(workdir))])

    def pids(self):
        return {"proxy": self.pid}

    def engine_load(self):
        metrics = _run("ip", "netns", "exec", PROXY_NAMESPACE, "curl", "-sS", "--max-time", "5",
                       "127.0.0.1:9180/metrics")
        return ours.engine_load(metrics.stdout)


class NginxProxy(nginx_link.NginxOnApplianceLink):
    """nginx as a reverse proxy in the appliance's place (nginx_link)."""

    def __init__(self, workdir):
        super().__init__(workdir, "nginx-proxy", SHARED_CORE, f"""    upstream origin {{
        server {ORIGIN_ADDRESS}:80;
        keepalive 64;
        keepalive_requests 100000000;
    }}
    server {{
        listen {PROXY_ADDRESS}:80 reuseport backlog=65535;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}""")

    def pids(self):
        return {"proxy": self.pid}


def loadgen(workdir, address, path, seconds, keep_alive, pids, engine_load=None):
    """One mtcp-loadgen run (conf/loadgen.conf, netns mtcp-l, core 1) to `address`,
    with its figures, error classes and the busy share of the client, of each of
    `pids` and of each core over the run after its warm-up. Any error or an
    unfinished request makes the run's rate None."""
    out = Path(workdir) / "proxy-loadgen.json"
    out.unlink(missing_ok=True)
    cmd = ["ip", "netns", "exec", "mtcp-l", str(ours.LOADGEN), "--config", "conf/loadgen.conf",
           f"http://{address}{path}", "-d", str(seconds), "--warmup", "1", "-c", str(CONNECTIONS),
           "--requests-per-connection", "100000" if keep_alive else "1", "--json", str(out)]
    log, status, busy = topology.run_measured(cmd, pids, settle=1.5, timeout=seconds + 120,
                                              engine_load=engine_load)
    if not out.exists():
        raise RuntimeError(f"mtcp-loadgen failed (exit {status}):\n{log[-2000:]}")
    figures = json.loads(out.read_text())
    errors = {kind: count for kind, count in figures["errors"].items() if count}
    clean = not errors and figures["unfinished"] == 0 and status == 0
    latency = figures["latency_microseconds"]
    return {"requests_per_second": figures["requests_per_second"] if clean else None,
            "measured_requests_per_second": figures["requests_per_second"], "p50_us": latency["p50"],
            "p99_us": latency["p99"], "errors": errors, "attempted": figures["attempted"],
            "completed": figures["completed"], "unfinished": figures["unfinished"], "exit": status,
            "loadgen_busy_percent": (figures.get("busy_percent_by_core") or [None])[0], "busy": busy}
