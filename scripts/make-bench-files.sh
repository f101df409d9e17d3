#!/usr/bin/env bash
# Writes the benchmark files of www/bench/ into DIR (default www/bench):
#   64.html 1k.html 4k.html 32k.html  ASCII HTML of exactly 64, 1024, 4096, 32768 bytes
#   1m.bin                            1048576 bytes: SHA-256 of "mtcp-swift bench <i>", i = 0..32767
#   SHA256SUMS                        their checksums (`sha256sum -c SHA256SUMS`)
# The output is deterministic (the same bytes on every machine), so the committed
# files can be checked against a fresh run (Tests/system/test_www.py does that).
# 1m.bin is not periodic, so data placed at a wrong offset changes its checksum.
set -euo pipefail

dir=${1:-www/bench}
mkdir -p "$dir"

python3 - "$dir" <<'PY'
import hashlib, os, sys

out = sys.argv[1]

def write(name, data):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(out, name))

line = b"mtcp-swift benchmark page: fixed size, deterministic content.\n"
for name, size in [("64", 64), ("1k", 1024), ("4k", 4096), ("32k", 32768)]:
    head = b"<!DOCTYPE html><title>%s</title><pre>" % name.encode()
    tail = b"</pre>\n"
    fill = size - len(head) - len(tail)
    body = (line * (fill // len(line) + 1))[:fill]
    data = head + body + tail
    assert len(data) == size
    write(name + ".html", data)

write("1m.bin", b"".join(hashlib.sha256(b"mtcp-swift bench %d" % i).digest() for i in range(32768)))

names = ["64.html", "1k.html", "4k.html", "32k.html", "1m.bin"]
sums = "".join("%s  %s\n" % (hashlib.sha256(open(os.path.join(out, n), "rb").read()).hexdigest(), n)
               for n in names)
with open(os.path.join(out, "SHA256SUMS"), "w") as f:
    f.write(sums)
PY
