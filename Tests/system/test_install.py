"""`make install` and the systemd unit: a DESTDIR install leaves the tree a package
would ship; a prefix install is coherent (its own --check-config passes, systemd
accepts its unit) and keeps an operator's edits; the appliance, run as an
unprivileged user with only the unit's capabilities, tells a service manager it
is ready (sd_notify over $NOTIFY_SOCKET) and that it stops."""

import json
import os
import select
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import CONFIG, HTTPD, READY, stop_process_group
from mtcp_ns import NS_APPLIANCE, REPO, client, show


def make_install(**variables):
    result = subprocess.run(["make", "--no-print-directory", "install",
                             *(f"{name}={value}" for name, value in variables.items())],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def tree(root):
    return {str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode)
            for path in root.rglob("*") if path.is_file()}


def test_destdir_install_leaves_a_package_tree(tmp_path):
    make_install(DESTDIR=tmp_path, PREFIX="/usr")
    assert tree(tmp_path) == {
        "usr/bin/mtcp-httpd": 0o755, "usr/bin/mtcp-loadgen": 0o755,
        "etc/mtcp-swift/mtcp.conf": 0o644, "etc/mtcp-swift/arp.conf": 0o644,
        "etc/mtcp-swift/route.conf": 0o644, "etc/mtcp-swift/httpd.json": 0o644,
        "var/www/mtcp-swift/index.html": 0o644, "var/www/mtcp-swift/style.css": 0o644,
        "var/www/mtcp-swift/robots.txt": 0o644, "var/www/mtcp-swift/about/index.html": 0o644,
        "usr/lib/systemd/system/mtcp-httpd.service": 0o644, "etc/logrotate.d/mtcp-httpd": 0o644,
    }
    configuration = json.loads((tmp_path / "etc/mtcp-swift/httpd.json").read_text())
    assert configuration["document_root"] == "/var/www/mtcp-swift"
    assert "tls" not in configuration, "no HTTPS until the machine has a key"
    unit = (tmp_path / "usr/lib/systemd/system/mtcp-httpd.service").read_text()
    assert "@" not in unit.replace("@SYSCONFDIR", "").replace("@BINDIR", ""), "every placeholder filled"
    assert ("ExecStart=/usr/bin/mtcp-httpd --config /etc/mtcp-swift/mtcp.conf "
            "--http-config /etc/mtcp-swift/httpd.json") in unit
    assert "Type=notify" in unit and "Restart=on-failure" in unit
    assert "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" in unit
    assert "LogsDirectory=mtcp-httpd" in unit and "WorkingDirectory=/var/log/mtcp-httpd" in unit
    rotation = (tmp_path / "etc/logrotate.d/mtcp-httpd").read_text()
    assert rotation.startswith("# logrotate") and "/var/log/mtcp-httpd/access.log {" in rotation
    assert "systemctl kill --kill-who=main --signal=SIGUSR1 mtcp-httpd.service" in rotation
    assert "@LOGDIR@" not in rotation


def test_prefix_install_is_coherent_and_keeps_edits(tmp_path):
    prefix = tmp_path / "prefix"
    paths = dict(PREFIX=prefix, SYSCONFDIR=prefix / "etc", WWWDIR=prefix / "www", UNITDIR=prefix / "unit",
                 LOGROTATEDIR=prefix / "logrotate.d", LOGDIR=prefix / "log")
    make_install(**paths)
    check = subprocess.run([prefix / "bin/mtcp-httpd", "--check-config", "--config", prefix / "etc/mtcp.conf",
                            "--http-config", prefix / "etc/httpd.json"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    verify = subprocess.run(["systemd-analyze", "verify", prefix / "unit/mtcp-httpd.service"],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr

    edited = prefix / "etc/httpd.json"
    edited.write_text(edited.read_text().replace('"server_name": "mtcp-httpd"', '"server_name": "edited"'))
    (prefix / "www/index.html").write_text("the operator's page")
    again = make_install(**paths)
    assert '"server_name": "edited"' in edited.read_text()
    assert (prefix / "www/index.html").read_text() == "the operator's page"
    assert f"kept {edited}" in again.stdout


def test_install_refuses_without_a_build(tmp_path):
    """From a copy of the tree without .build/: it says to build first, installs nothing."""
    copy = tmp_path / "src"
    copy.mkdir()
    for name in ("Makefile", "scripts", "conf", "www", "contrib"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
    result = subprocess.run(["make", "--no-print-directory", "install", f"DESTDIR={tmp_path / 'root'}"],
                            cwd=copy, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "run 'make build' first" in result.stderr
    assert not (tmp_path / "root").exists()


@pytest.fixture
def open_directory():
    """A directory nobody can read (pytest's own are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="mtcp-service-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def unit_capabilities():
    """The unit's AmbientCapabilities in setpriv's form (+net_raw,+net_admin,...)."""
    unit = (REPO / "contrib/mtcp-httpd.service.in").read_text()
    line = next(line for line in unit.splitlines() if line.startswith("AmbientCapabilities="))
    return ",".join("+" + name.removeprefix("CAP_").lower() for name in line.split("=", 1)[1].split())


def test_unprivileged_service_notifies_readiness_and_stop(topology, open_directory):
    """As nobody, with the unit's capabilities only and systemd's default memlock
    limit (8 MiB), the appliance starts on the shipped configuration (net_af_xdp),
    sends READY=1, serves, and sends STOPPING=1."""
    tmp_path = open_directory
    notify_path = tmp_path / "notify"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(notify_path))
    notify_path.chmod(0o777)
    manager.settimeout(30)
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration.pop("tls")  # its key is root's
    (tmp_path / "httpd.json").write_text(json.dumps(configuration))
    (tmp_path / "httpd.json").chmod(0o644)
    runtime = tmp_path / "run"  # what the unit's RuntimeDirectory= gives the service user
    runtime.mkdir()
    os.chown(runtime, 65534, 65534)
    caps = unit_capabilities()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NS_APPLIANCE, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set=-all,{caps}",
         "prlimit", "--memlock=8388608:8388608", "--",
         "env", f"NOTIFY_SOCKET={notify_path}", f"XDG_RUNTIME_DIR={runtime}",
         HTTPD, "--config", CONFIG, "--http-config", tmp_path / "httpd.json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        try:
            ready = manager.recv(4096).decode()
        except TimeoutError:
            stop_process_group(proc)
            pytest.fail(f"no READY=1 within 30 s; mtcp-httpd printed:\n{proc.stdout.read()}")
        assert ready.startswith("READY=1\n"), ready
        assert f"MAINPID={proc.pid}" in ready, ready  # ip netns exec, setpriv and env exec in place
        # The ready line is printed by the same (last started) core, just before READY=1.
        assert select.select([proc.stdout], [], [], 5)[0], "READY=1 came, the ready line did not"
        printed = []
        while not printed or not READY.search(printed[-1]):
            printed.append(proc.stdout.readline())
            assert printed[-1], "".join(printed)
        result = client("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                        "http://198.18.0.1/")
        assert result.stdout == b"200", show(result)
        proc.send_signal(15)
        assert manager.recv(4096).decode() == "STOPPING=1"
        assert proc.wait(20) == 0, proc.stdout.read()
    finally:
        stop_process_group(proc)
        manager.close()


def test_af_xdp_without_its_memory_names_the_likely_causes(topology, open_directory):
    """As nobody with the unit's capabilities but CAP_IPC_LOCK, under an 8 MiB
    memlock limit, net_af_xdp cannot register its packet memory; DPDK says only
    "Invalid argument", so the error line must name the causes and the fallback,
    and the appliance must exit with a failure."""
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration.pop("tls")  # its key is root's
    (open_directory / "httpd.json").write_text(json.dumps(configuration))
    (open_directory / "httpd.json").chmod(0o644)
    runtime = open_directory / "run"
    runtime.mkdir()
    os.chown(runtime, 65534, 65534)
    caps = ",".join(cap for cap in unit_capabilities().split(",") if cap != "+ipc_lock")
    assert caps != unit_capabilities(), "the unit grants CAP_IPC_LOCK: this test takes it away"
    result = subprocess.run(
        ["ip", "netns", "exec", NS_APPLIANCE, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set=-all,{caps}",
         "prlimit", "--memlock=8388608:8388608", "--",
         "env", f"XDG_RUNTIME_DIR={runtime}",
         HTTPD, "--config", CONFIG, "--http-config", open_directory / "httpd.json"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "setting up RX queue 0 failed" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "RLIMIT_MEMLOCK" in lines[0] and "CAP_IPC_LOCK" in lines[0] and "net_af_packet" in lines[0], lines[0]
