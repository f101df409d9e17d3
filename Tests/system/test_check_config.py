"""`mtcp-httpd --check-config` (nginx's -t), run as an operator would: the release
binary on the shipped configuration and on a broken copy of it. No namespace and
no root are needed: the check must not start DPDK."""

import shutil
import subprocess

from conftest import HTTPD
from mtcp_ns import REPO


def check(*arguments, cwd=REPO):
    return subprocess.run([str(HTTPD), "--check-config", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def test_the_shipped_configuration_passes_without_starting_dpdk():
    result = check()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mtcp-httpd: configuration ok: conf/mtcp.conf"), result.stdout
    assert result.stderr == ""
    assert "EAL" not in result.stdout, "the check started DPDK's EAL"


def test_a_broken_configuration_names_each_file_and_line(tmp_path):
    """Three files broken at once: each is reported, with its line."""
    for name in ("mtcp.conf", "arp.conf", "route.conf"):
        shutil.copy(REPO / "conf" / name, tmp_path / name)
    (tmp_path / "arp.conf").write_text("ARP_ENTRY 1\n198.18.0.2/32 02:00:c6:12:00\n")
    (tmp_path / "route.conf").write_text("ROUTES 1\n198.18.0.0/33 dpdk0\n")
    (tmp_path / "httpd.json").write_text('{\n  "document_root": "www",\n  "timeouts": {"idle_ms": -1}\n}\n')

    result = check("--config", str(tmp_path / "mtcp.conf"), "--http-config", str(tmp_path / "httpd.json"))

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"mtcp-httpd: {tmp_path}/arp.conf:2: ") for line in lines), result.stderr
    assert any(line.startswith(f"mtcp-httpd: {tmp_path}/route.conf:2: ") for line in lines), result.stderr
    assert f"mtcp-httpd: {tmp_path}/httpd.json:3: timeouts.idle_ms: must be positive" in lines, result.stderr
    assert lines[-1] == "mtcp-httpd: configuration check failed: 3 problems", result.stderr


def test_a_broken_mtcp_conf_is_reported_with_its_line(tmp_path):
    text = (REPO / "conf/mtcp.conf").read_text() + "max_concurency = 10000\n"
    (tmp_path / "mtcp.conf").write_text(text)
    result = check("--config", str(tmp_path / "mtcp.conf"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mtcp-httpd: {tmp_path}/mtcp.conf:{text.count(chr(10))}: 'max_concurency': unknown key",
        "mtcp-httpd: configuration check failed: 1 problem"]
