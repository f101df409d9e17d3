"""The site in www/: the pages exist and the benchmark files have their exact sizes
and the bytes that scripts/make-bench-files.sh writes. Needs no root."""

import filecmp
import subprocess

import pytest

from mtcp_ns import REPO

WWW = REPO / "www"
BENCH = {"64.html": 64, "1k.html": 1024, "4k.html": 4096, "32k.html": 32768, "1m.bin": 1048576}


@pytest.mark.parametrize("name,size", BENCH.items())
def test_bench_file_has_exact_size(name, size):
    assert (WWW / "bench" / name).stat().st_size == size


def test_bench_html_is_ascii():
    for name in BENCH:
        if name.endswith(".html"):
            (WWW / "bench" / name).read_bytes().decode("ascii")


def test_bench_files_match_generator(tmp_path):
    subprocess.run([str(REPO / "scripts/make-bench-files.sh"), str(tmp_path)], check=True)
    names = list(BENCH) + ["SHA256SUMS"]
    match, mismatch, errors = filecmp.cmpfiles(WWW / "bench", tmp_path, names, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch}, missing: {errors}"


def test_site_pages_exist_and_link_each_other():
    index = (WWW / "index.html").read_text()
    about = (WWW / "about/index.html").read_text()
    assert 'href="/style.css"' in index and 'href="/style.css"' in about
    assert 'href="/about/"' in index and 'href="/"' in about
    assert (WWW / "style.css").is_file() and (WWW / "robots.txt").is_file()
