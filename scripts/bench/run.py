#!/usr/bin/python3
"""`make bench`: every scenario of issue 7, ours against Linux on the same two
cores in one run, medians of several runs, written to BENCHMARKS.md,
bench-results/results.json and bench-results/*.png. A scenario that cannot run says
why instead of printing a number."""

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cores
import linux
import lossy
import nginx_link
import ours
import report
import proxy
import topology
from topology import busy_share, core_times

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench-results"


def median(values):
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, runs, seconds):
        self.runs = runs
        self.seconds = seconds
        self.results = {"machine": machine(), "runs": runs, "seconds": seconds, "scenarios": {}}
        self.workdir = Path(tempfile.mkdtemp(prefix="mtcp-bench-"))

    def measured(self):
        return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": self.runs,
                "seconds": self.seconds}

    def record(self, name, **figures):
        self.results["scenarios"][name] = dict(figures, measured=self.measured())
        print(f"bench: {name}: " + json.dumps({k: v for k, v in figures.items() if k not in ("runs", "method")}),
              flush=True)

    def skip(self, name, why):
        self.results["scenarios"][name] = {"skipped": why, "measured": self.measured()}
        print(f"bench: {name}: not run: {why}", flush=True)

    # 1 and 2: closed loop, new connection per request / keep-alive; over
    # IPv6 (`family` 6) the same with both stacks dual-stack on the memif link
    # and nginx on [::1].
    def throughput(self, name, keep_alive, family=4):
        connections = 200
        ours_runs, linux_runs, latency, busy, ours_errors, linux_errors = [], [], [], [], [], []
        extra = ours.ipv6_key(ours.SERVER_ADDRESS6) if family == 6 else ""
        with ours.Appliance(self.workdir / name, extra=extra) as appliance:
            if family == 6:
                time.sleep(1.5)  # both stacks' addresses are tentative for a second (RFC 4862 DAD)
            for _ in range(self.runs):
                figures = ours.loadgen(appliance, "/bench/64.html", seconds=self.seconds, connections=connections,
                                       requests_per_connection=100_000 if keep_alive else 1, family=family)
                ours_runs.append(figures["requests_per_second"])
                ours_errors.append(_errors(figures))
                latency.append(figures["latency_microseconds"]["p99"])
                busy.append(_busy(figures))
        with linux.LinuxServer(REPO / "www", self.workdir / f"{name}-nginx", family=family) as server:
            for _ in range(self.runs):
                figures = linux.wrk(server.url("/bench/64.html"), connections, self.seconds, close=not keep_alive)
                linux_runs.append(figures["requests_per_second"])
                linux_errors.append(figures["errors"])
        self.record(name, ours=median(ours_runs), linux=median(linux_runs),
                    ratio=median(ours_runs) / median(linux_runs), unit="requests/s",
                    ours_p99_us=median(latency), runs={"ours": ours_runs, "linux": linux_runs},
                    errors={"ours": ours_errors, "linux": linux_errors},
                    ours_busy_percent={side: median([run[side] for run in busy if run.get(side) is not None])
                                       for side in ("appliance", "loadgen")},
                    method=f"GET /bench/64.html (64 B), {connections} connections, "
                           + ("keep-alive" if keep_alive else "Connection: close, a new connection per request")
                           + (f", over IPv6 ({ours.CLIENT_ADDRESS6} to {ours.SERVER_ADDRESS6} on the memif link, "
                              "both stacks dual-stack; wrk to nginx on [::1])" if family == 6 else "")
                           + f", {self.seconds} s per run after 1 s warm-up (ours); medians of {self.runs} runs")

    # 3: open loop at fixed rates
    def latency(self, linux_max):
        rates = [int(linux_max * share) for share in (0.25, 0.5, 0.75)]
        rows = []
        with ours.Appliance(self.workdir / "latency") as appliance:
            for rate in rates:
                runs = [pick(ours.loadgen(appliance, "/bench/64.html", seconds=self.seconds, connections=2000,
                                          rate=rate)) for _ in range(self.runs)]
                rows.append({"rate": rate, "ours": latency_side(runs)})
        with linux.LinuxServerBehindVeth(REPO / "www", self.workdir / "latency-nginx") as server:
            conf = server.loadgen_conf(self.workdir / "latency-veth")
            for row in rows:
                runs = [pick(run_loadgen(conf, f"http://{server.SERVER_ADDRESS}/bench/64.html", self.seconds,
                                         rate=row["rate"], netns=server.CLIENT_NAMESPACE)) for _ in range(self.runs)]
                row["linux"] = latency_side(runs)
        self.record("latency", rows=rows, unit="microseconds",
                    method="open loop (coordinated omission corrected), new connection per request, GET 64 B, "
                           "rates at 25/50/75% of Linux's short-flow maximum from scenario 1; the client is "
                           "mtcp-loadgen in both cases: over net_memif to mtcp-httpd, over a veth "
                           f"(net_af_packet) to nginx; {self.runs} runs of {self.seconds} s per rate and side, "
                           "the medians of their percentiles and the range of p99 and p99.9 over the runs")

    # 4: the cellular flow-size mix, short flows first on and off
    def mix(self):
        rows = {}
        for label, extra in (("on", ""), ("off", "short_flow_bytes = 0\n")):
            runs = []
            with ours.Appliance(self.workdir / f"mix-{label}", extra=extra) as appliance:
                for _ in range(self.runs):
                    runs.append(ours.loadgen(appliance, "/", seconds=self.seconds, connections=200,
                                             extra_args=["--mix", "cellular"]))
            rows[label] = {url.rsplit("/", 1)[-1]: {
                "p50": median([r["latency_microseconds_by_url"][i]["latency"]["p50"] for r in runs]),
                "p99": median([r["latency_microseconds_by_url"][i]["latency"]["p99"] for r in runs])}
                for i, url in enumerate(e["url"] for e in runs[0]["latency_microseconds_by_url"])}
            rows[label]["requests_per_second"] = median([r["requests_per_second"] for r in runs])
        self.record("mix", rows=rows, unit="microseconds",
                    method="closed loop, 200 connections, new connection per request, the cellular mix "
                           "(64 B 35%, 1 KiB 25%, 4 KiB 30%, 32 KiB 8%, 1 MiB 2%) with the short-flows-first "
                           "data list on (short_flow_bytes = 16384) and off (0); latency per file size")

    # 4c (issue 17): the cellular mix through a lossy path with 10 ms of delay each
    # way, mtcp-httpd against nginx, the same client (mtcp-loadgen) for both.
    def loss(self):
        rate, delay_ms, rows = 300, 10, {}
        # Tails decide these rows, and a tail needs flows: at 300 a second, 5 s
        # gave 99 flows of 32 KiB (p99 their worst) and means that swung by
        # 20% between runs on a flow or two of several seconds (a SYN lost
        # twice). 20 s at least: 6,000 flows a loss rate and server.
        seconds = max(self.seconds, 20)
        # Both sides run the same family of algorithm: the kernel's default here.
        kernel_congestion_control = lossy.kernel_congestion_control()
        our_congestion_control = lossy.our_congestion_control(kernel_congestion_control)
        for loss in (0.01, 0.03, 0.05):
            seed = round(loss * 100)
            server_namespace = "mtcp-bench-losss"
            with lossy.ImpairedPath(server_namespace, loss, delay_ms, seed, owns_server_namespace=True) as path:
                with lossy.OurServer(self.workdir / f"loss-{seed}", path, our_congestion_control) as server:
                    figures = path.loadgen(self.workdir / f"loss-{seed}-client", seconds, rate)
                counters = lossy.appliance_counters(server.log)
            ours_run = _loss_run(figures, server.errors() or path.impaired(loss), counters, path.counters)
            with lossy.LinuxServerBehindImpairment(REPO / "www", self.workdir / f"loss-{seed}-nginx", loss,
                                                   delay_ms, seed) as server:
                figures = server.path.loadgen(self.workdir / f"loss-{seed}-nginx-client", seconds, rate)
                counters = lossy.kernel_counters(linux.NAMESPACE)
                if lossy.kernel_congestion_control(linux.NAMESPACE) != kernel_congestion_control:
                    raise RuntimeError("nginx's namespace runs another congestion control than the host's")
            linux_run = _loss_run(figures, server.errors() or server.path.impaired(loss), counters,
                                  server.path.counters)
            rows[f"{loss:.0%}"] = {"ours": ours_run, "linux": linux_run}
            print(f"bench: loss {loss:.0%}: ours {ours_run['clean'] or ours_run['why']}, "
                  f"Linux {linux_run['clean'] or linux_run['why']}", flush=True)
        self.record("loss", rows=rows, unit="microseconds", delay_ms=delay_ms, rate=rate,
                    method=f"open loop at {rate} new connections/s (one request each, Connection: close), the "
                           "cellular mix (64 B 35%, 1 KiB 25%, 4 KiB 30%, 32 KiB 8%, 1 MiB 2%), every body checked "
                           "against its file (--verify-body); mtcp-loadgen (net_af_packet, core 0) through mtcp-impair "
                           f"({delay_ms} ms each way, the loss rate each way, seeded) to mtcp-httpd (net_af_packet, "
                           "core 1, busy-polling) or to nginx 1.22 (1 worker on core 1, kernel TCP, port 80); rcvbuf and "
                           "sndbuf 256 KiB for both mtcp stacks (the default 8 KiB caps a flow at 8 KiB per round trip; "
                           "the kernel autotunes); congestion control: nginx's the kernel's default here, "
                           f"{kernel_congestion_control}, and ours the same family, {our_congestion_control} "
                           "(ours' default is newreno); "
                           f"one run of {seconds} s after 1 s warm-up per loss rate and server; flow completion "
                           "time from connect to the last byte. mtcp-impair holds each frame for the delay to the "
                           "microsecond. Both mtcp stacks run with peer_rtt_cache = on (off by default): "
                           "mtcp-loadgen times each SYN from the RTT of its earlier connections to the server "
                           "(RFC 9040 temporal sharing: a lost SYN is resent after about 200 ms, not 1 s), against "
                           "either server; mtcp-httpd does the same for its SYN-ACKs, while nginx's kernel resends "
                           "a lost SYN-ACK after 1 s")

    # 4b: the cellular mix on a line shaped to 1 Gbit/s, per data_scheduling mode
    def scheduling(self):
        line_mbps = 1000
        # The mix's mean response (file plus ~250 bytes of head) and ~3 kB of
        # handshake, request, ACKs and close per flow on the line.
        mean_bytes = 0.35 * 64 + 0.25 * 1024 + 0.30 * 4096 + 0.08 * 32768 + 0.02 * (1 << 20) + 250 + 3000
        rows = {}
        for load, share in (("saturated", 0.85), ("unsaturated", 0.3)):
            rate = int(share * line_mbps * 1e6 / 8 / mean_bytes)
            rows[load] = {"rate": rate}
            for mode in ("fifo", "two_class", "srpt"):
                runs = []
                extra = f"tx_rate_mbps = {line_mbps}\ndata_scheduling = {mode}\n"
                with ours.Appliance(self.workdir / f"sched-{load}-{mode}", extra=extra) as appliance:
                    for _ in range(self.runs):
                        runs.append(_checked(ours.loadgen(appliance, "/", seconds=self.seconds, connections=2000,
                                                          rate=rate, extra_args=["--mix", "cellular"]),
                                             f"scheduling, {load}, {mode}"))
                sizes = [e["url"].rsplit("/", 1)[-1] for e in runs[0]["latency_microseconds_by_url"]]
                figures = {name: {p: median([r["latency_microseconds_by_url"][i]["latency"][p] for r in runs])
                                  for p in ("p50", "p99", "p99_9", "mean")} for i, name in enumerate(sizes)}
                if "1m.bin" in figures:
                    figures["1m.bin"]["mbit_per_second"] = (1 << 20) * 8 / figures["1m.bin"]["mean"]
                figures["requests_per_second"] = median([r["requests_per_second"] for r in runs])
                rows[load][mode] = figures
        self.record("scheduling", rows=rows, line_mbps=line_mbps, unit="microseconds",
                    method=f"open loop, the cellular mix (64 B 35%, 1 KiB 25%, 4 KiB 30%, 32 KiB 8%, 1 MiB 2%), "
                           f"new connection per request, mtcp-httpd with tx_rate_mbps = {line_mbps}; offered at "
                           f"85% of the line (saturated) and 30% (unsaturated), per data_scheduling mode; flow "
                           f"completion time (connect to last byte) per file size, 1 MiB throughput = 1 MiB / mean FCT")

    # 5: concurrency sweep
    def concurrency(self):
        rows = []
        for connections in (100, 1000, 10000):
            with ours.Appliance(self.workdir / f"conc-{connections}", concurrency=connections + 2048) as appliance:
                before = appliance.resident_kib()
                f = ours.loadgen(appliance, "/bench/64.html", seconds=self.seconds, connections=connections,
                                 requests_per_connection=100_000)
                after = appliance.resident_kib()
            with linux.LinuxServer(REPO / "www", self.workdir / f"conc-nginx-{connections}") as server:
                slab_before, cores_before = slab_kib(), core_times()
                w = linux.wrk(server.url("/bench/64.html"), connections, self.seconds)
                slab_after, cores_after = slab_kib(), core_times()
            ours_clean = f["exit"] == 0 and not _errors(f) and not f.get("unfinished") \
                and not f.get("keyed_at_random")
            linux_busy = busy_share(cores_before, cores_after)
            rows.append({"connections": connections, "ours": f["requests_per_second"],
                         "linux": w["requests_per_second"], "ours_rss_kib": after,
                         "ours_rss_growth_kib": after - before, "linux_slab_growth_kib": slab_after - slab_before,
                         "ours_errors": {kind: count for kind, count in f["errors"].items() if count},
                         "ours_exit": f["exit"], "ours_clean": ours_clean,
                         "linux_errors": w["errors"], "clean": ours_clean and w["errors"] == 0,
                         "ours_busy_percent": _busy(f),
                         "linux_busy_percent": {"wrk": round(100 * linux_busy.get("core0", 0)),
                                                "nginx": round(100 * linux_busy.get("core1", 0))}})
        self.record("concurrency", rows=rows, unit="requests/s",
                    method="keep-alive GET 64 B with N open connections, one run of "
                           f"{self.seconds} s per row and side (ours after 1 s warm-up); resident memory of "
                           "mtcp-httpd (VmRSS) before and after, and its growth per connection; the kernel's "
                           "Slab growth across the wrk run. Busy: ours, the engines' share of loop iterations "
                           "that did work; Linux, each core's share over the wrk run (/proc/stat, wrk on core 0, "
                           "nginx on core 1). A ratio only when both sides were clean: ours exited 0 with no "
                           "error and nothing unfinished, wrk with no socket error and no non-2xx")

    # 6: bulk
    def bulk(self):
        ours_runs, linux_runs, ours_errors, linux_errors = [], [], [], []
        with ours.Appliance(self.workdir / "bulk") as appliance:
            for _ in range(self.runs):
                f = ours.loadgen(appliance, "/bench/1m.bin", seconds=self.seconds, connections=1,
                                 requests_per_connection=100_000)
                ours_runs.append(f["bytes_per_second"] * 8 / 1e9)
                ours_errors.append(_errors(f) + (f["exit"] != 0) + (f.get("unfinished") or 0))
        with linux.LinuxServer(REPO / "www", self.workdir / "bulk-nginx") as server:
            for _ in range(self.runs):
                w = linux.wrk(server.url("/bench/1m.bin"), 1, self.seconds)
                linux_runs.append(w["bytes_per_second"] * 8 / 1e9)
                linux_errors.append(w["errors"])
        clean = not any(ours_errors) and not any(linux_errors)
        self.record("bulk", ours=median(ours_runs), linux=median(linux_runs),
                    ratio=median(ours_runs) / median(linux_runs) if clean else None, unit="Gbit/s",
                    runs={"ours": ours_runs, "linux": linux_runs},
                    errors={"ours": ours_errors, "linux": linux_errors},
                    method="one keep-alive connection fetching /bench/1m.bin repeatedly (application bytes)")

    # 4b: bulk at equal frame size: both stacks at the same MTU (issue 22)
    def bulk_mtu(self):
        rows = []
        # Both sides run the same family of algorithm: the kernel's default here.
        congestion_control = {"linux": lossy.kernel_congestion_control()}
        congestion_control["ours"] = lossy.our_congestion_control(congestion_control["linux"])
        for mtu in BULK_MTUS:
            ours_cells = {}
            for buffers in BULK_BUFFERS:
                lines = f"congestion_control = {congestion_control['ours']}\n" + (
                    f"rcvbuf = {buffers}\nsndbuf = {buffers}\n" if buffers else "")
                with ours.Appliance(self.workdir / f"bulk-{mtu}-{buffers}", concurrency=2048, mtu=mtu,
                                    both_sides=lines) as appliance:
                    for cell in BULK_CELLS:
                        ours_cells[buffers, cell] = [self._ours_bulk_run(appliance, *cell) for _ in range(self.runs)]
            with linux.LinuxServer(REPO / "www", self.workdir / f"bulk-{mtu}-nginx", mtu=mtu) as server:
                if lossy.kernel_congestion_control(linux.NAMESPACE) != congestion_control["linux"]:
                    raise RuntimeError("nginx's namespace runs another congestion control than the host's")
                linux_cells = {cell: [self._linux_bulk_run(server, *cell) for _ in range(self.runs)]
                               for cell in BULK_CELLS}
                linux_buffers = server.tcp_buffers()
            for cell in BULK_CELLS:
                for buffers in BULK_BUFFERS:
                    rows.append(bulk_row(mtu, *cell, buffers, ours_cells[buffers, cell], linux_cells[cell]))
        self.record("bulk_mtu", rows=rows, unit="Gbit/s", congestion_control=congestion_control,
                    linux_tcp_buffers=linux_buffers,
                    method=f"keep-alive connections fetching one file repeatedly, {self.seconds} s per run "
                           f"(ours after 1 s warm-up), medians of {self.runs} runs, application bytes (wrk's "
                           "Transfer/sec, the loadgen's bytes per second). Both stacks at the MTU of the row: ours "
                           "`mtu` in both processes' mtcp.conf (net_memif with 9216-byte buffers above 1500), "
                           f"with its default TCP buffers (rcvbuf and sndbuf {ours.DEFAULT_TCP_BUFFER:,} bytes) "
                           "and with both set to the row's figure in both processes; "
                           "Linux's loopback set to it, its TSO/GSO and GRO on: loopback passes packets of up "
                           "to 64 KiB across without cutting them into frames, so the MTU sets Linux's MSS but "
                           "its stack handles fewer, larger packets than ours, which handles every frame (a NIC "
                           "would cut them in hardware and the receiver's GRO merge them). Files: ours sends one of "
                           f"up to {cached_file_limit() >> 10:,} KiB (its cache.max_file_bytes) from its memory "
                           "cache by reference and a larger one streamed from disk, nginx with sendfile from the "
                           "page cache. Busy: ours busy-polls "
                           "(its cores are always busy), so its figures are the engines' share of loop "
                           "iterations that did work: the server's over the window the client measured, the "
                           "client's from its engines' start, warm-up included; Linux's are each core's busy "
                           "share over the wrk run (/proc/stat, softirq included: over loopback the receiver's "
                           "TCP work runs on the sender's core, so neither core is one side's alone). A row's "
                           "ratio only when every run of both sides was clean: ours exited 0 with no error and "
                           "nothing unfinished, wrk with no socket error and no non-2xx")

    def _ours_bulk_run(self, appliance, path, connections):
        counters_before = appliance.tcp_counters()
        with ours.LoadSampler(appliance) as sampler:
            figures = ours.loadgen(appliance, path, seconds=self.seconds, connections=connections,
                                   requests_per_connection=100_000)
        counters_after = appliance.tcp_counters()
        start = figures.get("measured_from_unix_seconds") or 0
        server = sampler.busy_percent(start, start + figures["elapsed_seconds"])
        clean = figures["exit"] == 0 and not _errors(figures) and not figures.get("unfinished")
        return {"gbit_per_second": figures["bytes_per_second"] * 8 / 1e9, "clean": clean,
                "errors": {kind: count for kind, count in figures["errors"].items() if count},
                "exit": figures["exit"], "unfinished": figures.get("unfinished"),
                "engines": {"appliance": (server or {}).get("0"), "loadgen": _busy(figures)["loadgen"]},
                # The server's segments and drops over the run, warm-up included.
                "server_tcp": {name: counters_after[name] - counters_before[name] for name in ours.TCP_COUNTERS}
                              if counters_before and counters_after else None}

    def _linux_bulk_run(self, server, path, connections):
        before = core_times()
        figures = linux.wrk(server.url(path), connections, self.seconds)
        return {"gbit_per_second": figures["bytes_per_second"] * 8 / 1e9, "clean": figures["errors"] == 0,
                "errors": figures["errors"], "cores": busy_share(before, core_times())}

    # TLS: short flows with a full or a resumed handshake, and keep-alive over TLS
    def tls_settings(self):
        """conf/httpd.json's TLS settings (None without TLS); the first call also
        probes what each server negotiates with OpenSSL's default client."""
        if "tls" not in self.results:
            settings = ours.tls_settings()
            self.results["tls"] = {"settings": settings}
            if settings:
                with linux.LinuxServer(REPO / "www", self.workdir / "tls-probe-nginx", tls=settings) as server:
                    nginx = server.negotiated()
                try:
                    mine = ours.probe_tls(self.workdir / "tls-probe", linux.negotiated)
                except RuntimeError as error:
                    mine = {"error": str(error)[-300:]}
                self.results["tls"]["negotiated"] = {"ours": mine, "linux": nginx}
                print("bench: TLS negotiated: " + json.dumps(self.results["tls"]["negotiated"]), flush=True)
        return self.results["tls"]["settings"]

    def tls(self, name):
        """`tls`: new connection, full handshake, GET 64 B, close. `tls_resumed`:
        the same with a resumed handshake (session ticket). `tls_keepalive`:
        GET 64 B over 100 kept-alive TLS connections."""
        settings = self.tls_settings()
        if not settings:
            return self.skip(name, "conf/httpd.json has no \"tls\" object (mtcp-httpd without TLS)")
        keep_alive, resume = name == "tls_keepalive", name == "tls_resumed"
        before = core_times()
        time.sleep(1)
        others = busy_share(before, core_times())  # other work on the cores just before
        connections = 100 if keep_alive else 200
        path = "/bench/64.html"
        ours_runs = []
        with ours.Appliance(self.workdir / name) as appliance:
            for _ in range(self.runs):
                ours_runs.append(ours.loadgen(appliance, path, seconds=self.seconds, connections=connections,
                                              requests_per_connection=100_000 if keep_alive else 1, scheme="https",
                                              extra_args=["--tls-resume"] if resume else []))
        # wrk keeps each connection's SSL object and SSL_clear()s it on reconnect, so it
        # offers its last session every time: against a server that can resume, all but
        # the first handshake of each connection are resumed (see session_reuse). Its
        # full-handshake baseline is therefore nginx with `ssl_session_tickets off`
        # (and the session cache off, as always): OpenSSL then still sends its two
        # TLS 1.3 tickets, stateful ones that cannot be resumed.
        nginx_tls = dict(settings, session_tickets=False) if name == "tls" else settings
        wrk_runs = []
        with linux.LinuxServer(REPO / "www", self.workdir / f"{name}-nginx", tls=nginx_tls) as server:
            reuse = None if keep_alive else server.session_reuse(seconds=1, connections=connections)
            for _ in range(self.runs):
                before = core_times()
                wrk_runs.append(linux.wrk(server.url(path, tls=True), connections, self.seconds,
                                          close=not keep_alive))
                wrk_runs[-1]["busy"] = busy_share(before, core_times())
        veth_runs = []
        if not keep_alive:
            # The same client on both sides: mtcp-loadgen over a veth (net_af_packet) to
            # nginx with mtcp-httpd's settings, tickets on.
            with linux.LinuxServerBehindVeth(REPO / "www", self.workdir / f"{name}-veth-nginx",
                                             tls=settings) as server:
                conf = server.loadgen_conf(self.workdir / f"{name}-veth")
                for _ in range(self.runs):
                    veth_runs.append(run_loadgen(conf, f"https://{server.SERVER_ADDRESS}{path}", self.seconds,
                                                 connections=connections, netns=server.CLIENT_NAMESPACE,
                                                 extra_args=["--tls-resume"] if resume else []))
        ours_rate = median([f["requests_per_second"] for f in ours_runs])
        wrk_rate = median([f["requests_per_second"] for f in wrk_runs])
        figures = {"unit": "requests/s", "ours": ours_rate, "linux": wrk_rate, "busy_before": others,
                   "ours_latency_us": _percentiles(ours_runs, "latency_microseconds"),
                   "ours_request_us": _percentiles(ours_runs, "first_byte_microseconds"),
                   "linux_request_us": {"p50": median([f["p50_ms"] * 1e3 for f in wrk_runs]),
                                        "p99": median([f["p99_ms"] * 1e3 for f in wrk_runs])},
                   "linux_busy": {core: median([f["busy"][core] for f in wrk_runs]) for core in wrk_runs[0]["busy"]},
                   "ours_handshakes": _handshakes(ours_runs), "ours_errors": sum(_errors(f) for f in ours_runs),
                   "linux_errors": sum(f["errors"] for f in wrk_runs),
                   "runs": {"ours": [f["requests_per_second"] for f in ours_runs],
                            "linux": [f["requests_per_second"] for f in wrk_runs]}}
        if not keep_alive:
            figures["ours_handshake_us"] = _percentiles(ours_runs, "handshake_microseconds")
            figures["linux_handshakes"] = {"full": reuse[0] - reuse[1], "resumed": reuse[1],
                                           "measured": f"wrk -c{connections}, 1 s, on the same listener with "
                                                       "an access log of $ssl_session_reused"}
            figures["linux_veth"] = median([f["requests_per_second"] for f in veth_runs])
            figures["linux_veth_latency_us"] = _percentiles(veth_runs, "latency_microseconds")
            figures["linux_veth_handshake_us"] = _percentiles(veth_runs, "handshake_microseconds")
            figures["linux_veth_handshakes"] = _handshakes(veth_runs)
            figures["linux_veth_errors"] = sum(_errors(f) for f in veth_runs)
            figures["runs"]["linux_veth"] = [f["requests_per_second"] for f in veth_runs]
        # A ratio only where both sides did the kind of handshake the scenario is about.
        for key, side in (("ratio", "linux"), ("ratio_veth", "linux_veth")):
            if side not in figures:
                continue
            why = None if keep_alive else (
                _wrong_kind(figures["ours_handshakes"], resume, "ours", connections * len(ours_runs))
                or _wrong_kind(figures[f"{side}_handshakes"], resume, "Linux",
                               connections * (1 if side == "linux" else len(veth_runs))))
            figures[key] = ours_rate / figures[side] if not why and figures[side] else None
            if why:
                figures[f"{key}_missing"] = why
        figures["method"] = (
            f"GET {path} (64 B) over TLS, {connections} connections, "
            + ("keep-alive (handshakes only at the start)" if keep_alive else
               "a new connection per request (Connection: close), "
               + ("each resuming the last session ticket received" if resume else "each with a full handshake"))
            + f", {self.seconds} s per run after 1 s warm-up (ours), medians of {self.runs} runs")
        self.record(name, **figures)

    # issue 26: the default topology, mtcp-loadgen against wrk on the same appliance
    def default_topology(self):
        connections, rows = 50, {}
        before = core_times()
        time.sleep(1)
        others = busy_share(before, core_times())  # other work on the cores just before
        modes = (("short", False), ("keepalive", True))
        runs = {}
        with topology.DefaultAppliance() as appliance:
            idle = appliance.idle_share(10)
            runs["ours"] = self._default_topology_runs(appliance, connections, modes)
        # The same clients against nginx in the appliance's place: the servers compared alone.
        with nginx_link.NginxStaticServer(self.workdir / "topology-nginx", REPO / "www", core=0) as server:
            runs["nginx"] = self._default_topology_runs(server, connections, modes)
        for mode, _ in modes:
            rows[mode] = {server: {client: _client_summary(client_runs)
                                   for client, client_runs in runs[server][mode].items()} for server in runs}
            ours_row = rows[mode]["ours"]
            rows[mode]["ratio"] = ours_row["loadgen"]["requests_per_second"] / ours_row["wrk"]["requests_per_second"]
            rows[mode]["server_ratio"] = {
                client: (ours_row[client]["requests_per_second"] / rows[mode]["nginx"][client]["requests_per_second"]
                         if ours_row[client]["clean"] and rows[mode]["nginx"][client]["clean"] else None)
                for client in ("loadgen", "wrk")}
        self.record("default_topology", rows=rows, appliance_idle=idle, busy_before=others, connections=connections,
                    unit="requests/s",
                    method=f"GET /bench/64.html (64 B), {connections} connections, short flows (Connection: close) "
                           "and keep-alive; mtcp-httpd as `make run` starts it (conf/mtcp.conf, netns mtcp-a, "
                           "net_af_xdp on its veth, core 0, adaptive idle policy); mtcp-loadgen with "
                           "conf/loadgen.conf (netns mtcp-l, net_af_xdp, core 1, busy-polling, 1 s warm-up) and "
                           "wrk -t1 (netns mtcp-c, kernel TCP, pinned to core 1), one after the other; then the "
                           "same two clients against nginx 1.22 in the appliance's place (1 worker on core 0, the "
                           "kernel's TCP on the same veth, address and MAC, sendfile, no TIME-WAIT as ours); busy "
                           "= CPU time / wall time of each process during its client's run; "
                           f"medians of {self.runs} runs of {self.seconds} s; a server ratio only when every run "
                           "of both servers with that client had no error and exited 0")

    def _default_topology_runs(self, server, connections, modes):
        """Each client's runs against `server` (anything with the pid of its busy share), by mode."""
        runs = {}
        for mode, keep_alive in modes:
            runs[mode] = {"loadgen": [], "wrk": []}
            for _ in range(self.runs):
                runs[mode]["loadgen"].append(topology.loadgen(server, self.workdir, self.seconds, connections,
                                                              keep_alive))
                runs[mode]["wrk"].append(topology.wrk(server, self.seconds, connections, keep_alive))
        return runs

    # issue 24: our reverse proxy against nginx's, in front of the same kernel origin
    def proxy(self):
        before = core_times()
        time.sleep(1)
        others = busy_share(before, core_times())  # other work on the cores just before
        modes = (("short", False), ("keepalive", True))
        runs = {}
        with proxy.Origin(self.workdir / "proxy-origin") as origin:
            for target, front in (("origin", None), ("ours", proxy.OursProxy), ("nginx", proxy.NginxProxy)):
                with front(self.workdir / f"proxy-{target}") if front else contextlib.nullcontext() as server:
                    address = proxy.PROXY_ADDRESS if server else proxy.ORIGIN_ADDRESS
                    pids = dict({"origin": origin.worker}, **(server.pids() if server else {}))
                    for path in proxy.FILES:
                        for mode, keep_alive in modes:
                            runs[target, path, mode] = [
                                proxy.loadgen(self.workdir, address, path, self.seconds, keep_alive, pids,
                                              getattr(server, "engine_load", None)) for _ in range(self.runs)]
        rows = {}
        for path in proxy.FILES:
            for mode, _ in modes:
                row = {target: _proxy_summary(runs[target, path, mode]) for target in ("origin", "ours", "nginx")}
                rates = [row[target]["requests_per_second"] for target in ("ours", "nginx")]
                row["ratio"] = rates[0] / rates[1] if all(rates) else None
                for target in ("ours", "nginx"):
                    row[target]["added_us"] = {p: row[target][p] - row["origin"][p] for p in ("p50_us", "p99_us")}
                rows[f"{path.rsplit('/', 1)[-1]} {mode}"] = row
        self.record("proxy", rows=rows, busy_before=others, connections=proxy.CONNECTIONS, unit="requests/s",
                    method=f"GET /bench/64.html (64 B) and /bench/4k.html (4 KiB), {proxy.CONNECTIONS} "
                           "connections, a new client connection per request (Connection: close) and kept-alive "
                           "client connections; mtcp-loadgen (conf/loadgen.conf: netns mtcp-l, net_af_xdp, core 1) "
                           "to the origin alone, through mtcp-httpd (conf/mtcp.conf: netns mtcp-a, net_af_xdp, "
                           "core 0, adaptive idle policy, a route of /bench/ to the origin) and through nginx 1.22 "
                           "(1 worker on core 0 in netns mtcp-a on the same veth and address, `proxy_pass` to an "
                           "`upstream` with `keepalive 64`, `proxy_http_version 1.1`, `proxy_set_header "
                           "Connection \"\"`); the origin: nginx serving www/ (1 worker, core 0, kernel TCP, netns "
                           "mtcp-bench-linux on the same bridge); busy = CPU time / wall time of each process "
                           "(/proc) over the run after the warm-up, ours also its engine's loop time that did work "
                           f"(/metrics); medians of {self.runs} runs of {self.seconds} s after 1 s warm-up")

    # issue 14: one engine against two on each kind of port that cores share
    def cores(self):
        self.record("cores", rows=cores.run(self.workdir, self.runs, self.seconds), connections=cores.CONNECTIONS,
                    unit="requests/s",
                    method=f"GET /bench/64.html (64 B), {cores.CONNECTIONS} connections, a new connection per "
                           "request, mtcp-httpd with one engine and with two (adaptive idle policy, no static ARP "
                           "entries) on each kind of port: memif (paired: mtcp-loadgen with as many engines, the "
                           "two processes on cores 0 and 1), mtcp-rssnic (steered: the RSS test fixture on veth "
                           "mtcp-a0, `flow_spreading = rss`) and net_af_packet on mtcp-a0 (forwarded: one queue "
                           "pair per engine), the latter two driven by conf/loadgen.conf's mtcp-loadgen (netns "
                           "mtcp-l, net_af_xdp, one engine on core 1); "
                           f"medians of {self.runs} runs of {self.seconds} s after 1 s warm-up")

    # 8: micro-benchmarks of the hot paths
    def micro(self):
        self.record("micro", benchmarks=micro_benchmarks(), unit="ns per operation",
                    method="ordo-one/benchmark 1.38.1 (Benchmarks/, `swift package benchmark`), release build, "
                           "median wall-clock time per operation over samples of 1000 operations, and "
                           "mallocs per sample (must be 0: a benchmark that allocates fails the run, as does one whose "
                           "operation fails, e.g. a parse that does not complete)")

    # 7: instructions per transaction, in each program, short flows and kept-alive requests
    def cost(self):
        cells = []
        for program in COST_PROGRAMS:
            try:
                idle = self._idle_iteration_profiles(program)
            except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired):
                idle = None  # no figure at one iteration per transaction, the raw ones still stand
            # The idle runs' few requests are short flows: what they cost comes
            # off as the short cell's figure (a pair's own, in that cell; the
            # short cell comes first in COST_FLOWS).
            short_flow_cost = None
            for flows, requests_per_connection in COST_FLOWS.items():
                pairs = []
                for pair in range(COST_PAIRS):
                    counts, completed, errors, profiles = {}, {}, {}, {}
                    for transactions in COST_TRANSACTIONS:
                        try:
                            profile, figures = self._profiled_load(
                                program, f"cost-{program}-{flows}-{pair}-{transactions}", total=transactions,
                                connections=20, requests_per_connection=requests_per_connection)
                        except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as failure:
                            # One failed run spoils its pair, not the scenario.
                            reason = (str(failure).splitlines() or [""])[0].replace("|", "/")[:120]
                            profile, figures = None, {"completed": 0,
                                                      "errors": {f"failed ({type(failure).__name__}: {reason})": 1}}
                        profiles[transactions] = profile
                        counts[transactions] = profile and profile["instructions"]
                        completed[transactions] = figures["completed"]
                        errors[transactions] = {kind: count for kind, count in figures["errors"].items() if count}
                    pairs.append(cost_figures(counts, completed, errors, profiles, idle,
                                              (lambda own: own) if flows == "short" else lambda own: short_flow_cost))
                cell = cost_cell(program, flows, pairs, idle)
                if flows == "short":
                    short_flow_cost = cell.get("instructions_per_transaction")
                cells.append(cell)
        self.record("cost", unit="instructions", cells=cells, budgets=COST_BUDGETS,
                    method=f"valgrind --tool=callgrind on one program at a time, the other running natively "
                           f"(mtcp-httpd profiled with its idle back-off and busy polling when native, mtcp-loadgen "
                           f"busy polling), counting only inside the engine threads' runCore and what it calls "
                           f"(process start-up and shutdown and mtcp-loadgen's end-of-run report, whose percentile "
                           f"walks grow with the spread of latencies, stay out): total instructions "
                           f"of a run of {COST_TRANSACTIONS[1]} transactions minus one of {COST_TRANSACTIONS[0]} "
                           "(20 connections; short: a new connection per request, connect, GET 64 B, close; "
                           "kept-alive: each connection's requests one after another), divided by the difference "
                           "of the transactions completed, so start-up and shutdown cancel out; a pair counts only "
                           "when both runs completed every transaction without an error; the median of the clean "
                           f"pairs of {COST_PAIRS} (the lower middle one of an even number)",
                    normalisation="the raw figure moves with how many loop iterations a program takes per "
                                  "transaction (valgrind's timing decides how the 20 connections' frames "
                                  "batch), so it is also given at one iteration per transaction: raw minus "
                                  "(iterations per transaction - 1) x the instructions of one idle iteration. "
                                  "Iterations are calls of SocketContext.poll(now:) (one per loop iteration), "
                                  "idle iterations those that yielded or slept (sched_yield, usleep calls; empty "
                                  "polls within the back-off's 20 us spin are not counted), all counted by "
                                  "callgrind over the same difference of runs; one idle iteration's "
                                  "instructions from the same program busy polling (its empty iterations "
                                  "yield, as a loaded engine's do) nearly idle for "
                                  f"{IDLE_SECONDS[1]} s and for {IDLE_SECONDS[0]} s under callgrind (mtcp-loadgen "
                                  "--rate 1 -c 1 -d SECONDS): the difference of instructions, less the short "
                                  "flows' raw figure times the difference of requests completed, over the "
                                  "difference of iterations")

    def _profiled_load(self, program, name, busy_poll=False, **load):
        """A loadgen run against a fresh appliance with `program` under callgrind:
        (its callgrind profile, the loadgen's figures)."""
        out = self.workdir / f"callgrind-{name}.out"
        callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", ENGINE_LOOP_ONLY]
        profiled_appliance = program == "mtcp-httpd"
        with ours.Appliance(self.workdir / name, busy_poll=busy_poll or not profiled_appliance,
                            wrapper=callgrind if profiled_appliance else ()) as appliance:
            url = f"http://{ours.SERVER_ADDRESS}/bench/64.html"
            if profiled_appliance:
                # Until the appliance answers (under valgrind its loop takes seconds
                # after its ready line to serve), the same in both runs of a pair.
                run_loadgen(ours_loadgen_conf(appliance), url, None, total=40, connections=4)
            figures = run_loadgen(ours_loadgen_conf(appliance), url, wrapper=() if profiled_appliance else callgrind,
                                  **load)
        return callgrind_profile(out), figures

    def _idle_iteration_profiles(self, program):
        """What one more loop iteration costs `program`: it nearly idle (one short
        flow a second: an appliance whose port has no peer may not run its loop at
        all) for two lengths of time, so start-up and shutdown cancel
        out; the requests' own cost is taken off later. Busy polling, so its empty
        iterations yield as a loaded engine's do rather than sleep, and the work
        done once a second (the server's sweep, statistics) is spread over many
        iterations, as under load, not charged to a few."""
        idle = {}
        for seconds in IDLE_SECONDS:
            profile, figures = self._profiled_load(program, f"cost-{program}-idle-{seconds}s", busy_poll=True,
                                                   seconds=seconds, rate=1, connections=1)
            idle[seconds] = profile
            idle[seconds]["completed"] = figures["completed"]
        return idle

    # 8: an idle appliance's CPU for each idle mode
    def idle(self):
        result = subprocess.run([str(REPO / "scripts/idle-cpu.sh")], capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/idle-cpu.sh failed:\n{result.stdout}{result.stderr}")
        rows = [{"mode": mode, "cpu_percent": float(percent), "ready": ready}
                for mode, percent, ready in (line.split(None, 2) for line in result.stdout.splitlines()[1:])]
        self.record("idle", rows=rows,
                    method="scripts/idle-cpu.sh: mtcp-httpd (one engine) on a net_tap port in a namespace of its "
                           "own, nothing sent to it; utime + stime of every thread (/proc/PID/stat) over 10 s "
                           "after 3 s of settling, as a share of one core")


def micro_benchmarks():
    """Runs Benchmarks/ (ordo-one/benchmark) and returns {name: (p50 ns, mallocs p50)}."""
    result = subprocess.run(["swift", "package", "--allow-writing-to-package-directory", "benchmark",
                             "--target", "HotPaths", "--format", "markdown"], cwd=REPO / "Benchmarks",
                            capture_output=True, text=True, timeout=1800)
    figures, name = {}, None
    for line in result.stdout.splitlines():
        if line.startswith("### "):
            name = line[4:].strip()
        elif name and line.startswith("| Time (wall clock)"):
            unit = re.search(r"\((ns|μs|ms)\)", line).group(1)
            p50 = float(line.split("|")[4].replace(",", ""))
            figures.setdefault(name, {})["p50_ns"] = p50 * {"ns": 1, "μs": 1e3, "ms": 1e6}[unit]
        elif name and line.startswith("| Malloc (total)"):
            figures.setdefault(name, {})["mallocs_p50"] = float(line.split("|")[4].replace(",", ""))
    if result.returncode != 0 or not figures:
        raise RuntimeError(f"the micro-benchmarks failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n"
                           f"{result.stderr[-3000:]}")
    # The hot paths must not allocate: a benchmark that did fails the run.
    allocating = {name: f["mallocs_p50"] for name, f in figures.items() if f.get("mallocs_p50", 0) > 0}
    if allocating:
        raise RuntimeError("hot paths that allocate (mallocs per sample of 1000 operations, must be 0): "
                           + ", ".join(f"{name}: {count:.0f}" for name, count in sorted(allocating.items())))
    return figures


def _percentiles(runs, key):
    """Medians over runs of an mtcp-loadgen figures object's p50 and p99."""
    if not runs or any(key not in f for f in runs):
        return None
    return {p: median([f[key][p] for f in runs]) for p in ("p50", "p99")}


def _proxy_summary(runs):
    """Medians of proxy.loadgen runs; no rate when any run had an error or an
    unfinished request (their error classes are summed instead)."""
    errors = {}
    for run in runs:
        for kind, count in run["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    clean = all(run["requests_per_second"] for run in runs)
    names = set().union(*(run["busy"] for run in runs)) - {"cores", "kernel"}
    return {"requests_per_second": median([run["requests_per_second"] for run in runs]) if clean else None,
            "p50_us": median([run["p50_us"] for run in runs]), "p99_us": median([run["p99_us"] for run in runs]),
            "busy": {name: median([run["busy"][name] for run in runs]) for name in sorted(names)},
            "cores": {core: median([run["busy"]["cores"][core] for run in runs]) for core in runs[0]["busy"]["cores"]},
            "kernel": {core: median([run["busy"]["kernel"][core] for run in runs]) for core in runs[0]["busy"]["kernel"]},
            "errors": errors, "unfinished": sum(run["unfinished"] for run in runs), "runs": runs}


def _handshakes(runs):
    """Full and resumed TLS handshakes that mtcp-loadgen counted, over all runs."""
    tls = [f.get("tls", {}) for f in runs]
    return {"full": sum(t.get("handshakes_full", 0) for t in tls),
            "resumed": sum(t.get("handshakes_resumed", 0) for t in tls),
            "failed": sum(t.get("handshake_failures", 0) for t in tls)}


def _busy(figures):
    """Each side's busy share in one run (its first core): the appliance's from
    its /metrics, the loadgen's from its own JSON (the engines' counters)."""
    appliance = figures.get("appliance_busy_percent_by_core", {}).get("0")
    loadgen = (figures.get("busy_percent_by_core") or [None])[0]
    return {"appliance": appliance, "loadgen": loadgen}


def _loss_run(figures, why, server_counters, path_counters):
    """One side of a `loss` row: FCT per file, and whether the run counts: the
    loadgen exited 0 with no error and nothing unfinished, the server and the
    forwarder (`why`: their reason not to count, or None) were clean."""
    if figures["exit"] != 0 or _errors(figures) or figures["unfinished"]:
        why = (f"mtcp-loadgen exited {figures['exit']}, errors {_errors(figures)} "
               f"{ {k: v for k, v in figures['errors'].items() if v} }, unfinished {figures['unfinished']}"
               + (f"; {why}" if why else ""))
    sizes = {entry["url"].rsplit("/", 1)[-1]: {p: entry["latency"][p] for p in ("p50", "p99", "p99_9", "mean", "count")}
             for entry in figures["latency_microseconds_by_url"]}
    return {"clean": why is None, "why": why, "completed": figures["completed"],
            "requests_per_second": figures["requests_per_second"], "sizes": sizes,
            "counters": server_counters, "path": path_counters}


def _client_summary(client_runs):
    """Medians of one client's runs against one server of the default topology,
    their errors, and whether every run was clean."""
    return {"requests_per_second": median([r["requests_per_second"] for r in client_runs]),
            "p50_us": median([r["p50_us"] for r in client_runs]),
            "p99_us": median([r["p99_us"] for r in client_runs]),
            "busy": {name: median([r["busy"][name] for r in client_runs]) for name in ("appliance", "client")},
            "errors": sum(r["errors"] for r in client_runs),
            "clean": all(r["errors"] == 0 and r["exit"] == 0 for r in client_runs),
            "runs": client_runs}


def _errors(figures):
    return sum(figures.get("errors", {}).values())


def _checked(figures, what):
    """A loadgen run's figures, or an error if it exited non-zero or counted
    any error: a row is recorded only from runs that completed cleanly."""
    if figures["exit"] != 0 or _errors(figures):
        raise RuntimeError(f"{what}: mtcp-loadgen exited {figures['exit']} with errors {figures.get('errors')}")
    return figures


def _wrong_kind(handshakes, resume, side, first_handshakes):
    """Why a row cannot have a ratio: the handshakes were not (all) of the kind
    the scenario measures; None when they were. Resumption allows a full
    handshake for each connection's first (`first_handshakes` in all) and 1% more."""
    total = handshakes["full"] + handshakes["resumed"]
    if total == 0:
        return f"{side}: no TLS handshake counted"
    wrong = handshakes["full"] - first_handshakes if resume else handshakes["resumed"]
    if wrong > 0.01 * total:
        return (f"{side}: only {handshakes['resumed']:,} of {total:,} handshakes resumed" if resume else
                f"{side}: {handshakes['resumed']:,} of {total:,} handshakes were resumed, not full")
    return None


def pick(figures):
    """A latency run's figures, and whether it counts: the loadgen exited 0 with
    no error, keyed by the boot's key (keyed at random, about half of the 4-tuples
    it reused would have met the server's TIME-WAIT and waited a SYN timeout)."""
    latency = figures["latency_microseconds"]
    errors = sum(figures["errors"].values())
    keyed_at_random = figures.get("keyed_at_random", False)
    return {"achieved": figures["requests_per_second"], "p50": latency["p50"], "p99": latency["p99"],
            "p99_9": latency["p99_9"], "errors": errors, "exit": figures.get("exit"),
            "keyed_at_random": keyed_at_random,
            "clean": figures.get("exit") == 0 and errors == 0 and not keyed_at_random}


def latency_side(runs):
    """One side of a latency row: the medians of its runs' figures, the errors
    of all of them, the range of p99 and p99.9, and every run."""
    side = {key: median([run[key] for run in runs]) for key in ("achieved", "p50", "p99", "p99_9")}
    side["errors"] = sum(run["errors"] for run in runs)
    side["clean"] = all(run.get("clean", True) for run in runs)
    side["spread"] = {key: [min(run[key] for run in runs), max(run[key] for run in runs)] for key in ("p99", "p99_9")}
    side["runs"] = runs
    return side


def ours_loadgen_conf(appliance):
    return ours._write_conf(appliance.workdir / "loadgen", "loadgen", "198.19.20.3", "client", "0x1",
                            appliance.socket, appliance.concurrency)


def run_loadgen(conf, url, seconds=None, rate=None, total=None, connections=2000, netns=None, extra_args=(),
                requests_per_connection=1, wrapper=()):
    out = Path(conf).parent / "run.json"
    if out.exists():
        out.unlink()
    cmd = [*wrapper, str(ours.LOADGEN), "--config", str(conf), url]
    if total:
        cmd.append(str(total))
    else:
        cmd += ["-d", str(seconds), "--warmup", "1"]
    cmd += ["-c", str(connections), "--requests-per-connection", str(requests_per_connection), "--json", str(out),
            "--max-error-rate", "0.01", *extra_args]
    if rate:
        cmd += ["--rate", str(rate)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if not out.exists():
        raise RuntimeError(f"mtcp-loadgen failed:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(out.read_text())
    figures["exit"] = result.returncode
    # The stack's notice when it could not use the boot's TCP key (BootSecret).
    figures["keyed_at_random"] = "keyed at random" in result.stdout + result.stderr
    return figures


BULK_MTUS = (1500, 9000)
# Ours' rcvbuf and sndbuf in both processes: the default (None), and one a bulk server would set.
BULK_BUFFERS = (None, 262_144)
# (path, connections) of each bulk row at each MTU.
BULK_CELLS = (("/bench/1m.bin", 1), ("/bench/1m.bin", 100), ("/bench/32k.html", 1), ("/bench/32k.html", 100))


def cached_file_limit():
    """mtcp-httpd's largest file held in memory, in the configuration the benchmarks run."""
    return json.loads((REPO / "conf/httpd.json").read_text())["cache"]["max_file_bytes"]


def bulk_row(mtu, path, connections, buffers, ours_runs, linux_runs):
    """One bulk row: each side's median rate and core shares over its runs, and
    the ratio when every run of both sides was clean."""
    def side(runs):
        figures = {"gbit_per_second": median([run["gbit_per_second"] for run in runs]),
                   "clean": all(run["clean"] for run in runs), "runs": runs}
        if "cores" in runs[0]:
            figures["busy_percent_by_core"] = {core: round(100 * median([run["cores"][core] for run in runs]))
                                               for core in sorted(runs[0]["cores"])}
        return figures
    row = {"mtu": mtu, "file": path.rsplit("/", 1)[-1], "connections": connections,
           "ours_tcp_buffers": buffers or ours.DEFAULT_TCP_BUFFER,
           "ours": side(ours_runs), "linux": side(linux_runs)}
    if row["ours"]["clean"] and row["linux"]["clean"]:
        row["ratio"] = row["ours"]["gbit_per_second"] / row["linux"]["gbit_per_second"]
    return row


IDLE_SECONDS = (2, 6)
COST_PROGRAMS = ("mtcp-httpd", "mtcp-loadgen")
# Requests per connection of each kind of transaction the cost scenario measures.
COST_FLOWS = {"short": 1, "keepalive": 100_000}
COST_TRANSACTIONS = (2000, 6000)
COST_PAIRS = 3
# Issue 15's instruction budgets per transaction, for both programs.
COST_BUDGETS = {"short": 10_000, "keepalive": 3_000}
# Calls counted in a callgrind profile: SocketContext.poll(now:) once per loop
# iteration (generic, so matched by its mangled stem), and the idle policy's
# yields and sleeps.
COUNTED_CALLS = {"iterations": re.compile(r"13SocketContextV4poll3now"),
                 "yields": re.compile(r"^sched_yield$"), "sleeps": re.compile(r"^usleep$")}


# Count only inside the engine loop (runCore and what it calls): start-up,
# shutdown and the load generator's end-of-run report stay out. The report's
# percentile walks grow with the spread of the latencies recorded, not with the
# transactions, so the difference of two runs did not cancel them: one pair in
# three of mtcp-loadgen's short flows came out at 23,035, the two others near
# 35,000, nearly all of the gap in the histogram's generic iteration.
ENGINE_LOOP_ONLY = "--toggle-collect=$s11MTCPRuntime7runCore4core*"


def callgrind_profile(path):
    """{instructions: total, and for each of COUNTED_CALLS the calls made} of a
    callgrind output file (names compressed as `(id) name`, then `(id)`)."""
    names, profile, callee = {}, dict.fromkeys(COUNTED_CALLS, 0), None
    profile["instructions"] = None
    with open(path, errors="replace") as text:
        for line in text:
            if line.startswith("cfn="):
                ident, _, name = line[4:].rstrip("\n").partition(" ")
                if name:
                    names[ident] = name
                callee = names.get(ident, "")
            elif line.startswith("calls="):
                for key, pattern in COUNTED_CALLS.items():
                    if pattern.search(callee):
                        profile[key] += int(line[6:].split()[0])
            elif line.startswith("fn="):
                ident, _, name = line[3:].rstrip("\n").partition(" ")
                if name:
                    names[ident] = name
            elif line.startswith(("totals:", "summary:")):
                profile["instructions"] = int(line.split()[1])
    # Nothing counted (the engine loop renamed, or never entered): no figure,
    # rather than a pair that costs nothing.
    if not profile["instructions"] or not profile["iterations"]:
        profile["instructions"] = None
    return profile


def cost_cell(program, flows, pairs, idle):
    """One program and kind of transaction: the median of its clean pairs (both
    runs complete and error-free), every pair as measured, and the idle runs."""
    clean = sorted((pair for pair in pairs if pair["clean"]), key=lambda pair: pair["instructions_per_transaction"])
    cell = {"program": program, "flows": flows, "pairs": pairs, "clean_pairs": len(clean), "idle": idle}
    if clean:
        median = clean[(len(clean) - 1) // 2]
        cell.update({key: median[key] for key in ("instructions_per_transaction",
                                                  "normalised_instructions_per_transaction",
                                                  "iterations_per_transaction", "idle_iterations_per_transaction",
                                                  "instructions_per_idle_iteration")})
        cell["spread"] = [clean[0]["instructions_per_transaction"], clean[-1]["instructions_per_transaction"]]
    return cell


def cost_figures(counts, completed, errors, profiles, idle, idle_request_cost):
    """The cost scenario's figures: the raw instructions per transaction, the
    loop iterations behind them and the figure at one iteration per transaction.
    `idle_request_cost(own)` is what one of the idle runs' requests costs, given
    this pair's figure (None: unknown, and no figure at one iteration). A pair
    with a failed run, or no difference of transactions, is not clean and has
    no figures."""
    small, large = sorted(counts)
    clean = all(completed[total] == total and not errors[total] for total in counts)
    # Divided by the transactions completed (in a clean pair, those asked for).
    transactions = completed[large] - completed[small]
    if None in counts.values() or transactions <= 0:
        return {"clean": False, "totals": counts, "completed": completed, "errors": errors}
    per = (counts[large] - counts[small]) / transactions
    difference = {key: profiles[large][key] - profiles[small][key] for key in COUNTED_CALLS}
    iterations = difference["iterations"] / transactions
    per_idle = None
    request_cost = idle_request_cost(per)
    short, long = (idle[seconds] for seconds in IDLE_SECONDS) if idle else (None, None)
    idle_iterations = long["iterations"] - short["iterations"] if idle and None not in (
        short["instructions"], long["instructions"]) else 0
    # With fewer iterations in the longer run (an appliance's idle back-off
    # decides how often it polls), there is nothing to normalise by.
    if request_cost is not None and idle_iterations > 0 and iterations > 0:
        idle_work = long["instructions"] - short["instructions"] - request_cost * (long["completed"] - short["completed"])
        per_idle = idle_work / idle_iterations
    return {"clean": clean, "instructions_per_transaction": per,
            "normalised_instructions_per_transaction":
                per - (iterations - 1) * per_idle if per_idle is not None else None,
            "iterations_per_transaction": iterations,
            "idle_iterations_per_transaction": (difference["yields"] + difference["sleeps"]) / transactions,
            "instructions_per_idle_iteration": per_idle,
            "totals": counts, "completed": completed, "errors": errors, "profiles": profiles}


def slab_kib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1])
    return 0


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "kernel": platform.release(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="scenarios to run (default: all)")
    args = parser.parse_args()
    bench = Bench(args.runs, args.seconds)
    wanted = set(args.only or ["short", "keepalive", "short_v6", "keepalive_v6", "latency", "mix", "loss", "concurrency", "bulk", "bulk_mtu",
                               "tls", "tls_resumed", "tls_keepalive", "default_topology", "proxy", "cores", "scheduling",
                               "cost", "idle", "micro"])
    OUT.mkdir(exist_ok=True)
    if "short" in wanted or "latency" in wanted:
        bench.throughput("short", keep_alive=False)
    if "keepalive" in wanted:
        bench.throughput("keepalive", keep_alive=True)
    if "short_v6" in wanted:
        bench.throughput("short_v6", keep_alive=False, family=6)
    if "keepalive_v6" in wanted:
        bench.throughput("keepalive_v6", keep_alive=True, family=6)
    if "latency" in wanted:
        bench.latency(bench.results["scenarios"]["short"]["linux"])
    if "mix" in wanted:
        bench.mix()
    if "scheduling" in wanted:
        bench.scheduling()
    if "loss" in wanted:
        bench.loss()
    if "concurrency" in wanted:
        bench.concurrency()
    if "bulk" in wanted:
        bench.bulk()
    if "bulk_mtu" in wanted:
        bench.bulk_mtu()
    for name in ("tls", "tls_resumed", "tls_keepalive"):
        if name in wanted:
            try:
                bench.tls(name)
            except (RuntimeError, subprocess.SubprocessError, KeyError, AttributeError) as error:
                bench.skip(name, f"failed: {str(error).strip()[-500:]}")
    if "default_topology" in wanted:
        bench.default_topology()
    if "proxy" in wanted:
        bench.proxy()
    if "cores" in wanted:
        bench.cores()
    if "cost" in wanted:
        bench.cost()
    if "idle" in wanted:
        bench.idle()
    if "micro" in wanted:
        bench.micro()
    results = bench.results
    if args.only and (OUT / "results.json").exists():
        # A partial run replaces its scenarios and keeps the others' figures (each
        # scenario carries the date, runs and seconds it was measured with).
        results = json.loads((OUT / "results.json").read_text())
        for figures in bench.results["scenarios"].values():
            figures["measured"]["partial"] = True
        results["scenarios"].update(bench.results["scenarios"])
        if "tls" in bench.results:
            results["tls"] = bench.results["tls"]
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, REPO / "BENCHMARKS.md", OUT)
    print(f"bench: wrote BENCHMARKS.md, {OUT / 'results.json'} and charts in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
