"""HTTP over a bad path (issue 8): kernel curl downloads of 1 MiB and 10 MiB files
from the appliance, and uploads through its reverse proxy to a kernel upstream
beside the client, across mtcp-impair's seeded loss, reordering and duplication;
every transfer checked by SHA-256."""

import hashlib
import json
import os
import random
import subprocess

import pytest

from impaired_path import CLIENT_ADDR, PATH_PINNING, ImpairedPath
from mtcp_ns import REPO, SYSTEM_PYTHON, TOOLS, describe
from test_impairment import APPLIANCE_CONFIG

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, raw sockets)")

# 200 KiB and 1 MiB are held in memory by the cache (sent by reference), 10 MiB is read from disk.
SIZES = {"200KiB": 200 << 10, "1MiB": 1 << 20, "10MiB": 10 << 20}


@pytest.fixture
def site(tmp_path):
    """A document root with seeded files of each size, and a proxy route to an upstream
    at the client's address."""
    root = tmp_path / "www"
    root.mkdir()
    for name, size in SIZES.items():
        (root / name).write_bytes(random.Random(size).randbytes(size))
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration["routes"] = [{"prefix": "/api/", "upstream": "backend"}]
    configuration["upstreams"] = [{"name": "backend", "servers": [f"{CLIENT_ADDR}:8080"]}]
    configuration["limits"]["max_body_bytes"] = 16 << 20
    configuration["timeouts"]["upstream_read_ms"] = 120_000
    (tmp_path / "httpd.json").write_text(json.dumps(configuration))
    return ["--root", root, "--http-config", tmp_path / "httpd.json"]


@pytest.fixture
def path_with_http(tmp_path, site):
    made = []

    def make(loss):
        appliance_dir = tmp_path / f"appliance-{len(made)}"
        appliance_dir.mkdir()
        path = ImpairedPath(appliance_dir, ["--loss", loss, "--reorder", 0.01, "--duplicate", 0.01, "--delay-ms", 1,
                                            "--reorder-delay-ms", 3, "--seed", int(loss * 1000) + 7],
                            APPLIANCE_CONFIG, appliance_args=site)
        made.append(path)
        return path

    yield make
    for path in made:
        path.remove()


@pytest.mark.parametrize("name", list(SIZES))
@pytest.mark.parametrize("loss", [0.01, 0.05, 0.10], ids=["loss1", "loss5", "loss10"])
def test_curl_download_over_a_lossy_path(path_with_http, loss, name):
    path = path_with_http(loss)
    result = path.client("sh", "-c", f"curl -s --max-time 280 http://198.19.90.1/{name} | sha256sum", timeout=300)
    expected = hashlib.sha256(random.Random(SIZES[name]).randbytes(SIZES[name])).hexdigest()
    counters = path.stop_forwarder()
    print(f"curl download of {name} at {loss:.0%} loss: forwarder {counters}")
    assert result.stdout.split()[0] == expected, describe(result)


@pytest.mark.parametrize("loss", [0.01, 0.05, 0.10], ids=["loss1", "loss5", "loss10"])
def test_upload_through_the_proxy_over_a_lossy_path(path_with_http, loss, tmp_path):
    """The client's upload crosses the bad path twice: to the appliance, then (proxied)
    back to the upstream beside the client; the upstream answers the SHA-256 it got."""
    path = path_with_http(loss)
    upstream = subprocess.Popen(["ip", "netns", "exec", path.ns_client, *PATH_PINNING, SYSTEM_PYTHON,
                                 str(TOOLS / "upstream_server.py"), "--host", CLIENT_ADDR, "--port", "8080"],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert upstream.stdout.readline().strip() == "ready"
        data = random.Random(loss).randbytes(1 << 20)
        upload = tmp_path / "upload.bin"
        upload.write_bytes(data)
        result = path.client("curl", "-s", "--max-time", "280", "--data-binary", f"@{upload}",
                             "http://198.19.90.1/api/upload", timeout=300)
        assert result.stdout.strip() == hashlib.sha256(data).hexdigest(), describe(result)
    finally:
        upstream.terminate()
        upstream.wait(10)
