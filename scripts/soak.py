#!/usr/bin/python3
"""`make soak`: mtcp-loadgen against mtcp-httpd over net_memif for a given time at
a given open-loop rate, reporting every minute the requests, errors by class,
the appliance's retransmissions and resets, and its resident memory, which must
stay flat. Not part of `make test`."""

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import ours  # noqa: E402

METRICS_PORT = 9189


def counters():
    text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).read().decode()
    totals = {}
    for line in text.splitlines():
        match = re.match(r"(mtcp_\w+)\{core=\"\d+\"\} (\d+)$", line)
        if match:
            totals[match.group(1)] = totals.get(match.group(1), 0) + int(match.group(2))
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=int, default=50_000, help="requests/s, open loop")
    parser.add_argument("--path", default="/bench/4k.html")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mtcp-soak-"))
    rows = []
    with ours.Appliance(workdir, extra=f"prometheus_port = {METRICS_PORT}\n") as appliance:
        print(f"soak: {args.minutes} min at {args.rate} req/s of {args.path}; mtcp-httpd pid {appliance.proc.pid}",
              flush=True)
        before = counters()
        start_rss = appliance.resident_kib()
        for minute in range(1, args.minutes + 1):
            figures = ours.loadgen(appliance, args.path, seconds=60, warmup=0, connections=2000, rate=args.rate)
            now = counters()
            row = {"minute": minute, "requests": figures["completed"],
                   "errors": {k: v for k, v in figures["errors"].items() if v},
                   "p99_us": figures["latency_microseconds"]["p99"],
                   "retransmitted": now.get("mtcp_tcp_retransmitted_segments_total", 0)
                   - before.get("mtcp_tcp_retransmitted_segments_total", 0),
                   "resets_sent": now.get("mtcp_tcp_resets_sent_total", 0) - before.get("mtcp_tcp_resets_sent_total", 0),
                   "rss_kib": appliance.resident_kib()}
            before = now
            rows.append(row)
            print(f"soak: minute {minute}: {row['requests']} requests, errors {row['errors'] or 0}, "
                  f"p99 {row['p99_us']} us, retransmitted {row['retransmitted']}, resets sent "
                  f"{row['resets_sent']}, RSS {row['rss_kib'] / 1024:.1f} MiB", flush=True)
    growth = rows[-1]["rss_kib"] - rows[0]["rss_kib"] if rows else 0
    errors = sum(sum(row["errors"].values()) for row in rows)
    print(f"soak: done: {sum(row['requests'] for row in rows)} requests, {errors} errors, RSS from "
          f"{start_rss / 1024:.1f} MiB at start, {growth:+} KiB from the first minute to the last")
    (workdir / "soak.json").write_text(json.dumps(rows, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
