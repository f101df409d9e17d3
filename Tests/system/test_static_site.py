"""Static-site features against curl in netns mtcp-c: precompressed variants chosen by
Accept-Encoding (a real gzip file, decoded by curl --compressed), Cache-Control /
Expires / extra fields per path prefix, custom error pages, OPTIONS and If-Range.
One appliance for the module, serving a site of its own."""

import email.utils
import gzip
import json

import pytest

from conftest import running_appliance
from mtcp_ns import REPO, client, show
from test_http import curl

BASE = "http://198.18.0.1"
SCRIPT = b"console.log('hello, static site');\n" * 40
BROTLI_STAND_IN = b"not really brotli"  # served as is: only its choice is checked


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site") / "www"
    (root / "assets").mkdir(parents=True)
    (root / "news").mkdir()
    (root / "index.html").write_text("<html>home</html>\n")
    (root / "app.js").write_bytes(SCRIPT)
    (root / "app.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "app.js.br").write_bytes(BROTLI_STAND_IN)
    (root / "assets/site.css").write_text("body{}\n")
    (root / "news/today.html").write_text("<p>news</p>\n")
    (root / "404.html").write_text("<h1>nothing here</h1>\n")
    configuration = json.loads((REPO / "conf/httpd.json").read_text())
    configuration.pop("tls")
    configuration["headers"] = [
        {"prefix": "/", "add": {"X-Content-Type-Options": "nosniff"}},
        {"prefix": "/assets/", "cache_control": "public, max-age=31536000, immutable"},
        {"prefix": "/news/", "expires_s": 600},
    ]
    configuration["error_pages"] = {"404": "/404.html"}
    path = root.parent / "httpd.json"
    path.write_text(json.dumps(configuration))
    return root, path


@pytest.fixture(scope="module")
def httpd(topology, site, request, tmp_path_factory):
    root, configuration = site
    with running_appliance(request, tmp_path_factory, ["--root", root, "--http-config", configuration]) as app:
        yield app


def test_gzip_variant_is_chosen_and_decodes_to_the_file(httpd, site):
    status, fields, body, _ = curl("-H", "Accept-Encoding: gzip", f"{BASE}/app.js")
    assert status == 200
    assert fields["content-encoding"] == "gzip"
    assert fields["vary"] == "Accept-Encoding"
    assert fields["content-type"].startswith("text/javascript")
    assert body == (site[0] / "app.js.gz").read_bytes()
    # --compressed alone would offer br too, and get the stand-in.
    decoded = client("curl", "-sS", "--compressed", "-H", "Accept-Encoding: gzip", f"{BASE}/app.js")
    assert decoded.returncode == 0 and decoded.stdout == SCRIPT, show(decoded)


def test_qvalues_pick_the_variant(httpd):
    _, fields, body, _ = curl("-H", "Accept-Encoding: gzip;q=0.5, br", f"{BASE}/app.js")
    assert fields["content-encoding"] == "br" and body == BROTLI_STAND_IN
    _, fields, body, _ = curl("-H", "Accept-Encoding: br;q=0, gzip;q=0.1", f"{BASE}/app.js")
    assert fields["content-encoding"] == "gzip"
    _, fields, body, _ = curl("-H", "Accept-Encoding: identity", f"{BASE}/app.js")
    assert "content-encoding" not in fields and body == SCRIPT
    assert fields["vary"] == "Accept-Encoding"


def test_cache_fields_per_prefix(httpd):
    _, fields, _, _ = curl(f"{BASE}/assets/site.css")
    assert fields["cache-control"] == "public, max-age=31536000, immutable"
    assert "x-content-type-options" not in fields, "the longest prefix is the one rule"
    _, fields, _, _ = curl(f"{BASE}/news/today.html")
    assert fields["cache-control"] == "max-age=600"
    expires = email.utils.parsedate_to_datetime(fields["expires"])
    date = email.utils.parsedate_to_datetime(fields["date"])
    assert (expires - date).total_seconds() == 600
    _, fields, _, _ = curl(f"{BASE}/")
    assert fields["x-content-type-options"] == "nosniff"


def test_custom_404_page(httpd):
    status, fields, body, _ = curl(f"{BASE}/no/such/page")
    assert status == 404
    assert body == b"<h1>nothing here</h1>\n"
    assert fields["content-type"].startswith("text/html")


def test_options_answers_allow(httpd):
    status, fields, body, _ = curl("-X", "OPTIONS", f"{BASE}/index.html")
    assert status == 204 and body == b""
    assert fields["allow"] == "GET, HEAD, OPTIONS"


def test_if_range(httpd):
    _, fields, _, _ = curl(f"{BASE}/app.js")
    etag = fields["etag"]
    status, fields, body, _ = curl("-r", "0-6", "-H", f"If-Range: {etag}", f"{BASE}/app.js")
    assert status == 206 and body == SCRIPT[:7]
    status, _, body, _ = curl("-r", "0-6", "-H", 'If-Range: "stale"', f"{BASE}/app.js")
    assert status == 200 and body == SCRIPT
