"""nginx in the appliance's place: on its veth (mtcp-a0, netns mtcp-a) with its
address, while the appliance is stopped. The kernel's TCP then answers on the
same link, address and MAC as mtcp-httpd did, so a client reaches either
server the same way (the proxy scenario's nginx proxy, the default topology's
same-client rows). The address is the kernel's only for the run and flushed
after, as scripts/netns.sh leaves it."""

import subprocess
import time
from pathlib import Path

NAMESPACE, LINK, ADDRESS = "mtcp-a", "mtcp-a0", "198.18.0.1"
# No TIME-WAIT on the kernel's side, as ours (tcp_timewait = 0): nginx closes first
# after Connection: close, and the loadgen's next run reuses the same ports, whose SYNs a
# 60 s TIME-WAIT answered with a stale ACK (1 s retransmissions, 125 requests/s in a
# first run of the proxy scenario). Backlogs as wide as the Linux baseline's (linux.py).
# Set in mtcp-a for the run and restored after.
SYSCTLS = {"net.core.somaxconn": "65535", "net.ipv4.tcp_max_syn_backlog": "65535",
           "net.ipv4.tcp_max_tw_buckets": "0"}


def _run(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True, text=True)


def nginx_worker(pid_file):
    """The pid of the single worker of the nginx whose master wrote `pid_file`."""
    master = Path(pid_file).read_text().strip()
    deadline = time.monotonic() + 5
    while True:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children or time.monotonic() > deadline:
            return int(children[0])
        time.sleep(0.05)


class NginxOnApplianceLink:
    """One nginx worker on `core` listening on ADDRESS:80, with `http` as the body
    of its http block (`name` names its files in `workdir`)."""

    def __init__(self, workdir, name, core, http):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pid_file = self.workdir / f"{name}.pid"
        self.conf = self.workdir / f"{name}.conf"
        self.saved = {}
        self.conf.write_text(f"""
worker_processes 1;
worker_cpu_affinity {1 << core:b};
worker_rlimit_nofile 200000;
pid {self.pid_file};
error_log {self.workdir}/{name}-error.log error;
events {{ worker_connections 100000; multi_accept on; }}
http {{
    access_log off;
    tcp_nodelay on;
    keepalive_requests 100000000;
{http}
}}
""")

    def __enter__(self):
        for key, value in SYSCTLS.items():
            self.saved[key] = _run("ip", "netns", "exec", NAMESPACE, "sysctl", "-n", key).stdout.strip()
            _run("ip", "netns", "exec", NAMESPACE, "sysctl", "-qw", f"{key}={value}")
        _run("ip", "-n", NAMESPACE, "addr", "add", f"{ADDRESS}/24", "dev", LINK)
        _run("ip", "netns", "exec", NAMESPACE, "nginx", "-c", self.conf)
        deadline = time.monotonic() + 5
        while not self.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        """The worker's pid (its busy share is the server's)."""
        return nginx_worker(self.pid_file)

    def __exit__(self, *exc):
        if self.pid_file.exists():
            master = int(self.pid_file.read_text().strip())
            _run("kill", "-TERM", master, check=False)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{master}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if Path(f"/proc/{master}").exists():
                _run("kill", "-KILL", master, check=False)
        _run("ip", "-n", NAMESPACE, "-4", "addr", "flush", "dev", LINK, check=False)
        for key, value in self.saved.items():
            _run("ip", "netns", "exec", NAMESPACE, "sysctl", "-qw", f"{key}={value}", check=False)


class NginxStaticServer(NginxOnApplianceLink):
    """nginx serving `root` as the Linux baseline does (linux.LinuxServer's settings)."""

    def __init__(self, workdir, root, core):
        super().__init__(workdir, "nginx-static", core, f"""    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000;
    server {{
        listen {ADDRESS}:80 reuseport backlog=65535;
        root {Path(root).resolve()};
    }}""")
