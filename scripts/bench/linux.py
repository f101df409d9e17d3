"""The Linux baseline: nginx (1 worker, reuseport, access_log off) on core 1 and
wrk (1 thread) on core 0, over loopback inside a network namespace of the
benchmark's own, tuned as a fair operator would (tcp_tw_reuse, a wide port
range, deep backlogs). The namespace keeps the sysctls away from the host.
With `tls` (see ours.tls_settings) nginx also listens with `ssl` on the port,
certificate, key, protocols and ciphers of mtcp-httpd's conf/httpd.json."""

import re
import resource
import subprocess
import time
from pathlib import Path

NAMESPACE = "mtcp-bench-linux"
PORT = 8089


def _run(*cmd, check=True, **kwargs):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True, **kwargs)


def _ns(*cmd, **kwargs):
    return _run("ip", "netns", "exec", NAMESPACE, *cmd, **kwargs)


class LinuxServer:
    """nginx serving `root` on 127.0.0.1:8089 (with `family` 6: [::1]:8089) in
    the benchmark namespace, and with `tls` also on port 443 (`ssl`) and on
    :8443, the same TLS listener with an access log of $ssl_session_reused for
    `session_reuse`."""

    ADDRESS = "127.0.0.1"
    CHECK_PORT = 8443

    def __init__(self, root, workdir, server_core=1, port=PORT, tls=None, family=4, mtu=None):
        self.mtu = mtu
        if family == 6:
            self.ADDRESS = "::1"
        # The address as URLs and nginx's `listen` write it.
        self.host = f"[{self.ADDRESS}]" if ":" in self.ADDRESS else self.ADDRESS
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "nginx.conf"
        self.pid = self.workdir / "nginx.pid"
        self.port = port
        self.tls = tls
        self.reuse_log = self.workdir / "ssl-reuse.log"
        root = Path(root).resolve()
        tls_servers = _tls_servers(tls, self.host, root, self.reuse_log) if tls else ""
        self.conf.write_text(f"""
worker_processes 1;
worker_cpu_affinity {1 << server_core:b};
worker_rlimit_nofile {min(200000, resource.getrlimit(resource.RLIMIT_NOFILE)[1])};
pid {self.pid};
error_log {self.workdir}/error.log error;
events {{ worker_connections 100000; multi_accept on; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    open_file_cache max=1000;
    server {{
        listen {self.host}:{port} reuseport backlog=65535;
        root {root};
    }}
{tls_servers}}}
""")

    def __enter__(self):
        _run("ip", "netns", "del", NAMESPACE, check=False)
        _run("ip", "netns", "add", NAMESPACE)
        _ns("ip", "link", "set", "lo", "up")
        if self.mtu:
            # Loopback's 65,536 to the frame size ours runs at; its offloads stay
            # on, as a NIC's TSO and GRO would be.
            _ns("ip", "link", "set", "lo", "mtu", str(self.mtu))
        _ns("sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65535",
            "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535")
        self._prepare()
        _ns("nginx", "-c", self.conf)
        deadline = time.monotonic() + 5
        while not self.pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def _prepare(self):
        """Network set-up between the namespace and nginx's start (subclasses)."""

    def __exit__(self, *exc):
        if self.pid.exists():
            _run("kill", self.pid.read_text().strip(), check=False)
            time.sleep(0.5)
        _run("ip", "netns", "del", NAMESPACE, check=False)

    def tcp_buffers(self):
        """The namespace's socket buffer bounds (min, default, max bytes), which Linux autotunes within."""
        return {key: _ns("sysctl", "-n", f"net.ipv4.{key}").stdout.split() for key in ("tcp_rmem", "tcp_wmem")}

    def url(self, path, tls=False):
        if tls:
            return f"https://{self.host}:{self.tls['port']}{path}"
        return f"http://{self.host}:{self.port}{path}"

    def session_reuse(self, seconds=1, connections=10):
        """Drives the logging TLS listener with wrk (Connection: close) for
        `seconds`; returns (connections seen, sessions resumed) from nginx's
        $ssl_session_reused, to show whether wrk resumes TLS sessions."""
        self.reuse_log.write_text("")
        wrk(f"https://{self.host}:{self.CHECK_PORT}/bench/64.html", connections, seconds, close=True)
        flags = self.reuse_log.read_text().split()
        return len(flags), flags.count("r")

    def negotiated(self):
        """What `openssl s_client` (OpenSSL's default client offer, like wrk's
        and mtcp-loadgen's) negotiates with the TLS listener."""
        return negotiated(NAMESPACE, f"{self.host}:{self.tls['port']}")


def _tls_servers(tls, address, root, reuse_log):
    """nginx `server` blocks: TLS on tls["port"] as mtcp-httpd configures it,
    and the same on CHECK_PORT with a log of $ssl_session_reused ('r' or '.')."""
    protocols = {"TLSv1.2": "TLSv1.2 TLSv1.3", "TLSv1.3": "TLSv1.3"}[tls.get("min_protocol", "TLSv1.2")]
    settings = (f"        ssl_certificate {tls['certificate']};\n"
                f"        ssl_certificate_key {tls['private_key']};\n"
                f"        ssl_protocols {protocols};\n"
                f"        ssl_ciphers {tls['ciphers']};\n"
                + (f"        ssl_conf_command Ciphersuites {tls['ciphersuites']};\n" if tls.get("ciphersuites") else "")
                + f"        ssl_session_tickets {'on' if tls.get('session_tickets', True) else 'off'};\n"
                  "        ssl_session_cache off;\n")
    return (f"""    log_format reuse $ssl_session_reused;
    server {{
        listen {address}:{tls['port']} ssl reuseport backlog=65535;
        root {root};
{settings}    }}
    server {{
        listen {address}:{LinuxServer.CHECK_PORT} ssl;
        root {root};
        access_log {reuse_log} reuse;
{settings}    }}
""")


def negotiated(namespace, address):
    """s_client_probe with OpenSSL's default offer and with TLS 1.2 only."""
    return {"default": s_client_probe(namespace, address), "tls1_2": s_client_probe(namespace, address, "-tls1_2")}


def s_client_probe(namespace, address, *options):
    """`openssl s_client -brief` once to `address` in `namespace`: the protocol,
    cipher and key exchange group negotiated."""
    result = _run("ip", "netns", "exec", namespace, "timeout", "10", "openssl", "s_client", "-brief",
                  "-connect", address, *options, check=False, input="")
    found = {}
    for key, label in (("protocol", "Protocol version"), ("cipher", "Ciphersuite"),
                       ("key_exchange", "Server Temp Key"), ("signature", "Signature type"), ("hash", "Hash used")):
        match = re.search(rf"^{label}: (.+)$", result.stderr + result.stdout, re.M)
        if match:
            found[key] = match.group(1).strip()
    if "protocol" not in found:
        found["error"] = (result.stderr + result.stdout).strip()[-300:]
    return found


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _milliseconds(text):
    match = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url, connections, seconds, close=False, client_core=0):
    """One wrk run pinned to `client_core`; returns requests/s, bytes/s, error
    count and latency percentiles in ms."""
    cmd = ["taskset", "-c", client_core, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    return parse_wrk(_ns(*cmd, timeout=seconds + 60).stdout)


def parse_wrk(out):
    """wrk's --latency summary as requests/s, bytes/s, errors (socket errors
    and non-2xx/3xx responses) and latency percentiles in ms."""
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?)B", out)
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[transfer.group(2)]
    figures = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
               "bytes_per_second": float(transfer.group(1)) * scale, "errors": 0, "raw": out}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        figures["errors"] = sum(int(x) for x in errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        figures["errors"] += int(non2xx.group(1))
    for label, key in (("50%", "p50_ms"), ("90%", "p90_ms"), ("99%", "p99_ms")):
        match = re.search(rf"^\s+{re.escape(label)}\s+(\S+)$", out, re.M)
        if match:
            figures[key] = _milliseconds(match.group(1))
    return figures


class LinuxServerBehindVeth(LinuxServer):
    """The same nginx, reached over a veth pair from a second namespace where
    mtcp-loadgen drives it from its own stack (net_af_packet): the open-loop
    latency scenario needs a client that keeps a fixed arrival rate and wrk
    has none (wrk2 is not packaged)."""

    CLIENT_NAMESPACE = "mtcp-bench-client"
    SERVER_ADDRESS = "198.19.21.2"
    CLIENT_ADDRESS = "198.19.21.3"

    ADDRESS = SERVER_ADDRESS

    def __init__(self, root, workdir, server_core=1, tls=None):
        super().__init__(root, workdir, server_core, port=80, tls=tls)

    def _prepare(self):
        _run("ip", "netns", "del", self.CLIENT_NAMESPACE, check=False)
        _run("ip", "netns", "add", self.CLIENT_NAMESPACE)
        _run("ip", "link", "add", "mbench-s", "netns", NAMESPACE, "type", "veth", "peer", "name", "mbench-c",
             "netns", self.CLIENT_NAMESPACE)
        _ns("ip", "addr", "add", f"{self.SERVER_ADDRESS}/24", "dev", "mbench-s")
        _ns("ip", "link", "set", "mbench-s", "up")
        for offload in ("tx", "gso", "tso", "gro"):
            _ns("ethtool", "-K", "mbench-s", offload, "off", check=False)
        _run("ip", "netns", "exec", self.CLIENT_NAMESPACE, "ip", "link", "set", "mbench-c", "up")

    def __exit__(self, *exc):
        _run("ip", "netns", "del", self.CLIENT_NAMESPACE, check=False)
        super().__exit__(*exc)

    def loadgen_conf(self, workdir):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "arp.conf").write_text("ARP_ENTRY 0\n")
        (workdir / "route.conf").write_text("ROUTES 0\n")
        conf = workdir / "loadgen-veth.conf"
        conf.write_text(f"port = dpdk0\ncore_mask = 0x1\nip_addr = {self.CLIENT_ADDRESS}/24\n"
                        f"vdev = net_af_packet0,iface=mbench-c\nfile_prefix = bench-veth\n"
                        "max_concurrency = 20000\nmax_num_buffers = 20000\nmemory_mb = 1024\n")
        return conf
