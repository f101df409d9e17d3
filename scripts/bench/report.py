"""Turns the figures of a `make bench` run into BENCHMARKS.md and PNG charts."""

from statistics import median
from pathlib import Path

from proxy import SHARED_CORE

TLS_SCENARIOS = ("tls", "tls_resumed", "tls_keepalive")


def _concurrency_row(row, first):
    """A row of the concurrency sweep."""
    ratio = f"{row['ours'] / row['linux']:.1f}x" if row["clean"] else "not clean"
    ours_busy, linux_busy = row["ours_busy_percent"], row["linux_busy_percent"]
    busy = (f"{_percent(ours_busy.get('appliance'))} / {_percent(ours_busy.get('loadgen'))}; "
            f"{linux_busy['nginx']}% / {linux_busy['wrk']}%")
    errors = f"{sum(row['ours_errors'].values()):,}" + (f" (exit {row['ours_exit']})" if row["ours_exit"] else "") \
        + f"; {row['linux_errors']:,}"
    per_connection = row["ours_rss_growth_kib"] / row["connections"]
    return (f"| {row['connections']:,} | {_format(row['ours'])} | {_format(row['linux'])} | {ratio} | "
            f"{row['ours'] / first:.2f}x | {busy} | {errors} | {row['ours_rss_kib'] / 1024:.0f} | "
            f"{row['ours_rss_growth_kib']:,}; {per_connection:.1f} | {row['linux_slab_growth_kib']:,} |")


def _percent(value):
    return "-" if value is None else f"{value:.0f}%"


def _format(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}{unit}"
    return f"{value:,.0f}{unit}"


def _charts(results, out):
    """Bar charts of ours vs Linux; returns the file names written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    scenarios = results["scenarios"]
    bars = [(name, scenarios[name]) for name in ("short", "keepalive", "bulk")
            if name in scenarios and "ours" in scenarios[name]]
    if bars:
        figure, axes = plt.subplots(1, len(bars), figsize=(4 * len(bars), 3.5))
        axes = axes if len(bars) > 1 else [axes]
        for axis, (name, figures) in zip(axes, bars):
            axis.bar(["mtcp-swift", "Linux"], [figures["ours"], figures["linux"]], color=["#2a7", "#888"])
            axis.set_title(f"{name} ({figures['unit']})")
            label = f"{figures['ratio']:.1f}x" if figures.get("ratio") is not None else "not clean"
            axis.text(0, figures["ours"], label, ha="center", va="bottom")
        figure.tight_layout()
        figure.savefig(out / "throughput.png", dpi=100)
        written.append("throughput.png")
    if "latency" in scenarios and "rows" in scenarios["latency"]:
        rows = scenarios["latency"]["rows"]
        figure, axis = plt.subplots(figsize=(6, 3.5))
        rates = [row["rate"] for row in rows]
        for side, color in (("ours", "#2a7"), ("linux", "#888")):
            axis.plot(rates, [row[side]["p99"] for row in rows], marker="o", color=color,
                      label=f"{'mtcp-swift' if side == 'ours' else 'Linux'} p99")
            axis.plot(rates, [row[side]["p50"] for row in rows], marker="x", linestyle="--", color=color,
                      label=f"{'mtcp-swift' if side == 'ours' else 'Linux'} p50")
        axis.set_xlabel("offered load (requests/s)")
        axis.set_ylabel("latency (µs)")
        axis.set_yscale("log")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out / "latency.png", dpi=100)
        written.append("latency.png")
    if "scheduling" in scenarios and "rows" in scenarios["scheduling"]:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for axis, load in zip(axes, ("saturated", "unsaturated")):
            modes = scenarios["scheduling"]["rows"][load]
            sizes = [name for name in modes["fifo"] if name != "requests_per_second"]
            for mode, color in (("fifo", "#888"), ("two_class", "#27a"), ("srpt", "#2a7")):
                axis.plot(sizes, [modes[mode][name]["p99"] for name in sizes], marker="o", color=color,
                          label=f"{mode} p99")
                axis.plot(sizes, [modes[mode][name]["p50"] for name in sizes], marker="x", linestyle="--",
                          color=color, label=f"{mode} p50")
            axis.set_title(f"{load} line ({modes['rate']:,} flows/s)")
            axis.set_xlabel("file")
            axis.set_ylabel("flow completion time (µs)")
            axis.set_yscale("log")
        axes[0].legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / "scheduling.png", dpi=100)
        written.append("scheduling.png")
    if "rows" in scenarios.get("loss", {}):
        rows = scenarios["loss"]["rows"]
        figure, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.5), squeeze=False)
        for axis, (loss, row) in zip(axes[0], rows.items()):
            sizes = list(row["ours"]["sizes"])
            for side, color in (("ours", "#2a7"), ("linux", "#888")):
                label = "mtcp-swift" if side == "ours" else "Linux"
                figures = row[side]["sizes"]
                axis.plot(sizes, [figures[name]["p99"] for name in sizes], marker="o", color=color, label=f"{label} p99")
                axis.plot(sizes, [figures[name]["mean"] for name in sizes], marker="x", linestyle="--", color=color,
                          label=f"{label} mean")
            axis.set_title(f"{loss} loss, {scenarios['loss']['delay_ms']} ms each way")
            axis.set_xlabel("file")
            axis.set_ylabel("flow completion time (µs)")
            axis.set_yscale("log")
        axes[0][0].legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(out / "loss.png", dpi=100)
        written.append("loss.png")
    return written


def _spread(scenarios):
    """How far the runs behind each median lay apart, from this run's own figures:
    a ratio means little where one side's runs spread wider than the gap to a target."""
    parts = []
    for name in ("short", "keepalive"):
        runs = scenarios.get(name, {}).get("runs")
        if not runs:
            continue
        ours, linux = runs["ours"], runs["linux"]
        parts.append(f"{name}: ours {min(ours):,.0f}-{max(ours):,.0f}, Linux {min(linux):,.0f}-{max(linux):,.0f} requests/s")
    return ("Spread of the single runs behind the medians (" + "; ".join(parts) + "). The 2 cores are "
            "shared by both processes and the benchmark driver, so the spread is the machine's as much as ours."
            if parts else "")


def _targets(scenarios):
    """Where each target of issue 7 stands in this run."""
    rows = []
    if "ratio" in scenarios.get("short", {}):
        rows.append(("short flows >= 25x Linux", f"{scenarios['short']['ratio']:.1f}x", scenarios["short"]["ratio"] >= 25))
    if "ratio" in scenarios.get("keepalive", {}):
        ratio = scenarios["keepalive"]["ratio"]
        rows.append(("keep-alive >= 10x Linux", f"{ratio:.1f}x", ratio >= 10))
    if "rows" in scenarios.get("latency", {}):
        ratios = [row["linux"]["p99"] / row["ours"]["p99"] for row in scenarios["latency"]["rows"] if row["ours"]["p99"]]
        rows.append(("p99 at most a tenth of Linux's at the same load",
                     ", ".join(f"{r:.1f}x" for r in ratios) + " lower", all(r >= 10 for r in ratios)))
    if "rows" in scenarios.get("mix", {}):
        on, off = scenarios["mix"]["rows"]["on"], scenarios["mix"]["rows"]["off"]
        ratio = off["64.html"]["p50"] / on["64.html"]["p50"]
        rows.append(("short-flow completion >= 2x better with short flows first",
                     f"{ratio:.2f}x (64 B, p50)", ratio >= 2))
    if not rows:
        return []
    lines = ["## Targets (issue 7)", "", "| target | this run | met |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value} | {'yes' if met else '**no**'} |" for name, value, met in rows]
    lines += ["", _spread(scenarios), ""]
    return lines


def _pair(figures):
    return "-" if not figures else f"{_format(figures['p50'])} / {_format(figures['p99'])}"


def _counts(handshakes):
    return "-" if not handshakes else f"{handshakes['full']:,} / {handshakes['resumed']:,}"


def _negotiated(probe):
    if probe and "error" in probe and "default" not in probe and "protocol" not in probe:
        return f"not probed ({probe['error']})"
    if probe and "default" in probe:
        return (f"{_negotiated(probe['default'])} (TLS 1.2 only: {_negotiated(probe.get('tls1_2'))})")
    if not probe or "protocol" not in probe:
        return f"not probed ({(probe or {}).get('error', 'no answer')})"
    return ", ".join(probe[key] for key in ("protocol", "cipher", "key_exchange", "signature") if key in probe)


def _tls(results):
    """The TLS table: full and resumed handshakes on short flows, keep-alive."""
    scenarios = results["scenarios"]
    names = [name for name in TLS_SCENARIOS if name in scenarios]
    if not names:
        return []
    measured = next(scenarios[name]["measured"] for name in names if "measured" in scenarios[name])
    lines = ["", "## TLS", "",
             f"Measured on {measured['date']}, medians of {measured['runs']} runs of {measured['seconds']} s. "
             "GET /bench/64.html over HTTPS; requests/s are handshakes/s in the short-flow rows (one request "
             "per connection). Ours: mtcp-loadgen (core 0) to mtcp-httpd (core 1) over net_memif, as above. "
             "Linux: nginx 1.22 (1 worker on core 1) driven by wrk (1 thread on core 0) over loopback, and "
             "— \"same client\" rows — by mtcp-loadgen over a veth (net_af_packet) as in the latency "
             "scenario, so that the client, its TLS library use and its session resumption are those of our "
             "side.", "",
             "| scenario | mtcp-swift | Linux | ratio | handshakes full / resumed (ours; Linux) | "
             "ours p50 / p99 (µs) | Linux p50 / p99 (µs) | Linux side |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def ratio(figures, key):
        if figures.get(key) is not None:
            return f"**{figures[key]:.1f}x**"
        return f"no ratio: {figures.get(key + '_missing', 'not measured')}"

    titles = {"tls": "full handshake", "tls_resumed": "resumed handshake", "tls_keepalive": "keep-alive"}
    for name in names:
        figures = scenarios[name]
        title = titles[name]
        if "skipped" in figures:
            lines.append(f"| {title} | not run | | | | | | {figures['skipped']} |")
            continue
        unit = figures["unit"]
        ours_count = _counts(figures.get("ours_handshakes")) if name != "tls_keepalive" else "-"
        linux_count = _counts(figures.get("linux_handshakes")) if name != "tls_keepalive" else "-"
        wrk_side = {"tls": "wrk, Connection: close, to nginx with `ssl_session_tickets off` (wrk resumes otherwise)",
                    "tls_resumed": "wrk, Connection: close, to nginx with tickets on: wrk resumes each "
                                   "connection's previous session",
                    "tls_keepalive": "wrk keep-alive to nginx"}[name]
        busy = figures.get("linux_busy")
        if busy:
            wrk_side += (f"; busy: core 0 (wrk) {busy.get('core0', 0):.0%}, "
                         f"core 1 (nginx) {busy.get('core1', 0):.0%}")
        lines.append(f"| {title}, new connection per request (wrk) | {_format(figures['ours'])} {unit} | "
                     f"{_format(figures['linux'])} {unit} | {ratio(figures, 'ratio')} | {ours_count}; "
                     f"{linux_count} (1 s check run) | {_pair(figures.get('ours_request_us'))} request to response | "
                     f"{_pair(figures.get('linux_request_us'))} request to response | {wrk_side} |"
                     if name != "tls_keepalive" else
                     f"| {title}, 100 connections | {_format(figures['ours'])} {unit} | {_format(figures['linux'])} "
                     f"{unit} | {ratio(figures, 'ratio')} | - | {_pair(figures.get('ours_request_us'))} request "
                     f"to response | {_pair(figures.get('linux_request_us'))} request to response | {wrk_side} |")
        if "linux_veth" in figures:
            lines.append(f"| {title}, new connection per request (same client) | {_format(figures['ours'])} {unit} | "
                         f"{_format(figures['linux_veth'])} {unit} | {ratio(figures, 'ratio_veth')} | "
                         f"{ours_count}; {_counts(figures.get('linux_veth_handshakes'))} | "
                         f"{_pair(figures.get('ours_latency_us'))} connect to response, handshake "
                         f"{_pair(figures.get('ours_handshake_us'))} | "
                         f"{_pair(figures.get('linux_veth_latency_us'))} connect to response, handshake "
                         f"{_pair(figures.get('linux_veth_handshake_us'))} | mtcp-loadgen"
                         f"{' --tls-resume' if name == 'tls_resumed' else ''} over a veth to nginx, tickets on |")
    saturated = [titles[name] for name in names if scenarios[name].get("linux_busy", {}).get("core0", 0) >= 0.95
                 and scenarios[name].get("linux_busy", {}).get("core1", 1) < 0.9]
    if saturated:
        lines += ["", f"In the wrk rows of {', '.join(saturated)}, wrk's core was saturated while nginx's was not: "
                      "those rows are bounded by the client's OpenSSL handshake work (a TLS 1.3 client verifies "
                      "the server's ECDSA signature and parses its certificate on every full handshake), and "
                      "mtcp-loadgen, with the same OpenSSL, is in the same position on our side, so their ratios "
                      "say more about the clients than about the servers."]
    tls = results.get("tls", {})
    settings, negotiated = tls.get("settings") or {}, tls.get("negotiated", {})
    busy = {name: max(scenarios[name].get("busy_before", {}).values(), default=0) for name in names}
    busy = {name: share for name, share in busy.items() if share >= 0.1}
    if busy:
        lines += ["", "Other work (another program, or the kernel still removing the previous scenario's namespaces) "
                  "was on the cores in the second before "
                  + ", ".join(f"{titles[name]} ({share:.0%} of the busier core)" for name, share in busy.items())
                  + ": those figures are skewed by it."]
    lines += ["", "How:", "",
              "- Both servers use the same certificate and key files (conf/httpd.json's `tls`: a self-signed "
              "ECDSA P-256 certificate, which the bench makes when it is missing), protocols from "
              f"{settings.get('min_protocol', 'TLSv1.2')} up, the same TLS 1.2 cipher list "
              f"(`{settings.get('ciphers', '?')}`), "
              + (f"TLS 1.3 suites `{settings['ciphersuites']}`" if settings.get("ciphersuites")
                 else "OpenSSL's default TLS 1.3 suites and groups")
              + ", session tickets as the only way to resume (nginx: `ssl_session_cache off`, "
                "`ssl_session_tickets on`, so OpenSSL's default two TLS 1.3 tickets per handshake), no HTTP/2, "
                "no access log.",
              "- Negotiated with OpenSSL's default client offer (`openssl s_client -brief`, the offer of wrk "
              f"and mtcp-loadgen too): ours {_negotiated(negotiated.get('ours'))}; "
              f"nginx {_negotiated(negotiated.get('linux'))}. mtcp-httpd was probed over a veth "
              "(net_af_packet) for this, since memif has no kernel end.",
              "- Full against resumed: mtcp-loadgen counts both in its JSON (`tls.handshakes_full`, "
              "`tls.handshakes_resumed`, after the warm-up); for wrk they come from a 1 s run of "
              "the same command on a copy of the listener that logs nginx's `$ssl_session_reused`. A row whose "
              "handshakes were not of its kind (beyond each connection's first, full, handshake and 1%) "
              "shows why instead of a ratio.",
              "- wrk does not do a full handshake per connection against a server that can resume: it keeps "
              "each connection's `SSL` object and `SSL_clear()`s it on reconnect, which keeps the session, so "
              "every reconnect offers the previous session's ticket (the check run against nginx with tickets on "
              "logs all but the first handshake of each connection as resumed). Its full-handshake baseline "
              "is therefore nginx with `ssl_session_tickets off`; OpenSSL then still sends two TLS 1.3 "
              "tickets per handshake, stateful ones (57 bytes, no ticket encryption) that cannot resume with "
              "the session cache off, so nginx saves only the encryption of the two tickets that ours does. "
              "The same-client row runs nginx with tickets on.",
              "- Latency: wrk times a request from its write to the response, after the handshake, so the "
              "wrk rows compare it with mtcp-loadgen's request-to-first-byte time (the whole 64 B response is "
              "one segment); the same-client rows compare connect-to-response times, handshake included, and "
              "the TLS handshake alone (from the TCP connection's establishment to the handshake's end).",
              "- The same-client Linux figures pass through the kernel's veth and mtcp-loadgen's "
              "net_af_packet port (a copy per packet each way), which the memif path has not."]
    return lines


def _default_topology(scenarios):
    """mtcp-loadgen against wrk on the appliance of `make run` (issue 26)."""
    figures = scenarios.get("default_topology")
    if not figures or "rows" not in figures:
        return []
    lines = ["", "## Default topology: mtcp-loadgen and wrk against `make run`'s appliance", "",
             figures["method"] + ".", "",
             "| flows | client | requests/s | p50 / p99 (µs) | busy: appliance / client | errors |",
             "| --- | --- | --- | --- | --- | --- |"]
    for mode, title in (("short", "short (Connection: close)"), ("keepalive", "keep-alive")):
        row = figures["rows"][mode]["ours"]
        for client in ("loadgen", "wrk"):
            c = row[client]
            lines.append(f"| {title} | {'mtcp-loadgen' if client == 'loadgen' else 'wrk'} | "
                         f"{_format(c['requests_per_second'])} | {c['p50_us']:,.0f} / {c['p99_us']:,.0f} | "
                         f"{c['busy']['appliance']:.0%} / {c['busy']['client']:.0%} | {c['errors']} |")
    short, keep = figures["rows"]["short"], figures["rows"]["keepalive"]
    met = all(r["ratio"] >= 1.5 and r["ours"]["loadgen"]["p99_us"] < r["ours"]["wrk"]["p99_us"] for r in (short, keep))
    lines += ["", f"mtcp-loadgen / wrk: **{short['ratio']:.2f}x** short flows, **{keep['ratio']:.2f}x** keep-alive "
              f"(target: >= 1.5x with a lower p99: {'met' if met else '**not met**'}). The appliance idled at "
              f"{figures['appliance_idle']:.1%} of a core over 10 s before the runs; other work took "
              + ", ".join(f"{share:.0%} of {core}" for core, share in figures.get("busy_before", {}).items())
              + " in the second before. wrk's latency counts from "
              "its write of a request; mtcp-loadgen's from the write on a kept-alive connection and from the "
              "connect() of a short flow (the handshake is part of its cost)."]
    return lines + _same_client(figures["rows"])


def _same_client(rows):
    """The servers compared alone: each client against mtcp-httpd and against
    nginx in its place."""
    lines = ["", "Same client, each server: mtcp-httpd against nginx in its place, driven by the same client "
                 "over the same veth.", "",
             "| flows | client | mtcp-httpd (req/s) | nginx (req/s) | ratio | p99 (µs): mtcp-httpd / nginx | "
             "busy (server / client): mtcp-httpd; nginx | errors: mtcp-httpd; nginx |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode, title in (("short", "short (Connection: close)"), ("keepalive", "keep-alive")):
        for client in ("loadgen", "wrk"):
            ours, nginx = rows[mode]["ours"][client], rows[mode]["nginx"][client]
            ratio = rows[mode]["server_ratio"][client]
            lines.append(f"| {title} | {'mtcp-loadgen' if client == 'loadgen' else 'wrk'} | "
                         f"{_format(ours['requests_per_second'])} | {_format(nginx['requests_per_second'])} | "
                         + (f"**{ratio:.1f}x**" if ratio else "not clean") + " | "
                         f"{ours['p99_us']:,.0f} / {nginx['p99_us']:,.0f} | "
                         f"{ours['busy']['appliance']:.0%} / {ours['busy']['client']:.0%}; "
                         f"{nginx['busy']['appliance']:.0%} / {nginx['busy']['client']:.0%} | "
                         f"{ours['errors']}; {nginx['errors']} |")
    return lines


PROXY_TOPOLOGY = """```
 core 1: mtcp-loadgen (netns mtcp-l, 198.18.0.3, net_af_xdp on veth mtcp-l0)
                 |
        mtcp-br (netns mtcp-c: a kernel bridge, no filtering)
          |                                          |
 the proxy on veth mtcp-a0, 198.18.0.1:80      the origin: nginx serving www/ on veth mbench-o0,
 (netns mtcp-a, core 0), one at a time:        198.18.0.9:80 (netns mtcp-bench-linux, core 0)
   mtcp-httpd (net_af_xdp, our stack), or
   nginx (the kernel's TCP on the same veth)
```"""


# The flows issue 17's bar is about: at or below Linux at p99, below it on the mean.
SHORT_FLOW_FILES = ("64.html", "1k.html", "4k.html", "32k.html")


def _loss(scenarios):
    """Flow completion time through a lossy path, ours against nginx (issue 17)."""
    figures = scenarios.get("loss")
    if not figures or "rows" not in figures:
        return []
    lines = ["", "## Short flows under loss: mtcp-httpd against nginx through the same impaired path", "",
             figures["method"] + ".", "", "![FCT under loss](bench-results/loss.png)", ""]
    for loss, row in figures["rows"].items():
        ours, linux = row["ours"], row["linux"]
        clean = ours["clean"] and linux["clean"]
        lines += [f"{loss} loss: {ours['completed']:,} flows to mtcp-httpd, {linux['completed']:,} to nginx"
                  + ("" if clean else " (**not counted**: " + "; ".join(
                      f"{side}: {run['why']}" for side, run in (("ours", ours), ("Linux", linux)) if run["why"]) + ")")
                  + ".", "",
                  "| file | ours p50 / p99 / p99.9 / mean (µs) | Linux p50 / p99 / p99.9 / mean (µs) | "
                  "p99 Linux / ours | mean Linux / ours |", "| --- | --- | --- | --- | --- |"]
        for name, o in ours["sizes"].items():
            l = linux["sizes"][name]
            cells = [" / ".join(f"{side[p]:,.0f}" for p in ("p50", "p99", "p99_9", "mean")) for side in (o, l)]
            lines.append(f"| {name} | {cells[0]} | {cells[1]} | {l['p99'] / o['p99']:.2f}x | "
                         f"{l['mean'] / o['mean']:.2f}x |")
        short = [name for name in SHORT_FLOW_FILES if name in ours["sizes"]]
        met = clean and all(ours["sizes"][n]["p99"] <= linux["sizes"][n]["p99"]
                            and ours["sizes"][n]["mean"] < linux["sizes"][n]["mean"] for n in short)
        lines += ["", f"64 B-32 KiB at or below Linux at p99 and below on the mean: **{'met' if met else 'not met'}**. "
                  "Loss repair, ours: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in ours["counters"].items())
                  + "; Linux (nstat): " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in linux["counters"].items())
                  + ".", ""]
    return lines


def _busy_cell(figures):
    """Each process's share of a core over the run: proxy (ours: its engine's
    loop time that did work in brackets), origin, loadgen; then cores 0 / 1,
    each with its kernel share (system + irq + softirq) in brackets."""
    busy = figures["busy"]
    proxy = f"{busy['proxy']:.0%}" if "proxy" in busy else "-"
    if "engine" in busy:
        proxy += f" ({busy['engine']:.0%})"
    kernel = figures.get("kernel", {})
    cores = " / ".join(f"{share:.0%}" + (f" ({kernel[core]:.0%})" if core in kernel else "")
                       for core, share in sorted(figures["cores"].items()))
    return f"{proxy} / {busy['origin']:.0%} / {busy['client']:.0%} | {cores}"


def _proxy(scenarios):
    """Our reverse proxy against nginx's in front of the same origin (issue 24)."""
    figures = scenarios.get("proxy")
    if not figures or "rows" not in figures:
        return []
    lines = ["", "## Reverse proxy: mtcp-httpd against nginx in front of the same origin", "",
             figures["method"] + ".", "", "Topology (each proxy is two bridge crossings from the client and two "
             "from the origin; the origin alone is one from the client). Core 0: the proxy and the origin; "
             "core 1: the client alone. The kernel keeps no TIME-WAIT in the origin's and the nginx proxy's namespaces "
             "(`net.ipv4.tcp_max_tw_buckets = 0`), as ours keeps none (`tcp_timewait = 0`): with 60 s of it, "
             "the loadgen's next run met its own old ports in TIME-WAIT and waited 1 s per handshake.", "",
             PROXY_TOPOLOGY, "",
             "| response, client connections | through | requests/s | p50 / p99 (µs) | added p50 / p99 over the "
             "origin alone (µs) | busy: proxy (engine) / origin / loadgen | cores 0 / 1 busy (kernel) | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    names = {"origin": "origin alone", "ours": "mtcp-httpd", "nginx": "nginx"}
    for name, row in figures["rows"].items():
        file, mode = name.split(" ")
        title = f"{file}, {'new per request' if mode == 'short' else 'kept alive'}"
        for target in ("origin", "ours", "nginx"):
            t = row[target]
            rate = _format(t["requests_per_second"]) if t["requests_per_second"] else "**errors: no rate**"
            added = (f"{t['added_us']['p50_us']:,.0f} / {t['added_us']['p99_us']:,.0f}" if "added_us" in t else "")
            errors = ", ".join(f"{kind} {count:,}" for kind, count in t["errors"].items()) or "0"
            if t["unfinished"]:
                errors += f", unfinished {t['unfinished']:,}"
            lines.append(f"| {title} | {names[target]} | {rate} | {t['p50_us']:,.0f} / {t['p99_us']:,.0f} | "
                         f"{added} | {_busy_cell(t)} | {errors} |")
    lines.append("")
    for name, row in figures["rows"].items():
        goal = 5 if name.endswith("short") else 3
        ratio = row["ratio"]
        verdict = (f"**{ratio:.2f}x** (goal >= {goal}x: {'met' if ratio >= goal else '**not met**'})" if ratio
                   else "no ratio (a side had errors)")
        lines.append(f"- {name}: mtcp-httpd / nginx {verdict}." + _proxy_ceiling(figures["rows"], name, goal))
    lines += ["", "Other work took " + ", ".join(f"{share:.0%} of {core}" for core, share in
                                                 figures.get("busy_before", {}).items())
              + " in the second before the runs. A process's busy share is its CPU time (user + system, "
              "/proc/PID/stat) over the wall time; softirq work the kernel does for a veth is counted in the "
              "cores' busy share and in whichever process it interrupted."]
    return lines


def _proxy_ceiling(rows, name, goal):
    """Whether this run's data shows the goal out of reach for any proxy. First
    bound: both proxies reach the origin over kept-alive connections, so the same
    client against the origin alone over kept-alive connections, with core 0 to
    the origin alone, is the most this path carried with nothing in between.
    Second bound: the kernel time on core 0 (the veths and the bridge, the
    origin's TCP, each proxy's packet I/O) per request through each proxy; if
    even the smaller, with no user-space work at all, fills more than core 0 at
    the needed rate, no proxy moving these packets this way can meet it."""
    row, alone = rows[name], rows[name.split(" ")[0] + " keepalive"]["origin"]
    nginx, ceiling = row["nginx"]["requests_per_second"], alone["requests_per_second"]
    if not row["ratio"] or row["ratio"] >= goal or not ceiling:
        return ""
    needed = goal * nginx
    if needed > ceiling:
        cores = " / ".join(f"{share:.0%}" for _, share in sorted(alone["cores"].items()))
        return (f" It needs {_format(needed)} requests/s through the proxy, more than the same client got from "
                f"the origin alone over kept-alive connections with core 0 to the origin ({_format(ceiling)}, "
                f"cores 0 / 1 {cores} busy): no proxy in this path can meet it on this machine.")
    shared = f"core{SHARED_CORE}"
    kernel_us = {target: row[target]["kernel"][shared] / row[target]["requests_per_second"] * 1e6
                 for target in ("ours", "nginx") if "kernel" in row[target]}
    text = (f" It needs {_format(needed)} requests/s through the proxy; the origin alone carried "
            f"{_format(ceiling)} over kept-alive connections, so the origin alone does not cap it.")
    if len(kernel_us) < 2:
        return text
    floor = min(kernel_us.values())
    text += (f" Core {SHARED_CORE}'s kernel time (system + irq + softirq: the veths, the bridge, the origin's "
             f"TCP, each proxy's packet I/O) was {kernel_us['ours']:,.1f} µs per request through mtcp-httpd and "
             f"{kernel_us['nginx']:,.1f} µs through nginx")
    if floor * needed / 1e6 > 1:
        return text + (f"; at the needed rate the smaller alone is {floor * needed / 1e6:.1f} cores of core "
                       f"{SHARED_CORE}: no proxy moving these packets through this kernel path can meet it on "
                       "this machine.")
    return text + f"; at the needed rate that is {floor * needed / 1e6:.0%} of core {SHARED_CORE}: the gap is ours."


def _ipv6(scenarios):
    """Our IPv6 rates against our IPv4 ones (issue 18: within 10%), where both
    were measured on the same day, and the errors each side saw."""
    lines = []
    for v4, v6 in (("short", "short_v6"), ("keepalive", "keepalive_v6")):
        four, six = scenarios.get(v4, {}), scenarios.get(v6, {})
        if "ours" not in four or "ours" not in six:
            continue
        errors = six.get("errors", {})
        lines.append(f"- `{v6}`: ours over IPv6 is **{six['ours'] / four['ours']:.0%}** of ours over IPv4 "
                     f"(measured {six['measured']['date']} and {four['measured']['date']}); nginx over IPv6 "
                     f"{six['linux'] / four['linux']:.0%} of nginx over IPv4; errors per run: ours "
                     f"{errors.get('ours', '-')}, wrk {errors.get('linux', '-')}.")
    return ["", "IPv6 against IPv4 (the same client, server and settings; only the family differs; "
                "`scripts/bench.sh --only short keepalive short_v6 keepalive_v6` measures both in one run):",
            ""] + lines if lines else []


def _section(scenarios, name, title):
    """A scenario's figures and the start of its section: the title, and the
    command that measured it (the caller goes on with its method); no figures
    and no lines when it has no rows."""
    figures = scenarios.get(name)
    if not figures or "rows" not in figures:
        return None, []
    stamp = figures["measured"]
    return figures, ["", f"## {title}", "",
                     f"`sudo scripts/bench.sh --runs {stamp['runs']} --seconds {stamp['seconds']} --only {name}`"]


def _bulk_mtu(scenarios):
    """Bulk transfer with both stacks at the same MTU (issue 22)."""
    bulk, lines = _section(scenarios, "bulk_mtu", "Bulk at equal MTU")
    if not bulk:
        return []
    lines[-1] += f" ({bulk['measured']['date']}): " + bulk["method"] + "."
    if "congestion_control" in bulk:
        control, rmem, wmem = bulk["congestion_control"], *bulk["linux_tcp_buffers"].values()
        lines.append(f"Congestion control: Linux `{control['linux']}` (this machine's default), ours "
                     f"`{control['ours']}` (the same family). Linux autotunes its socket buffers up to "
                     f"{int(rmem[2]) // 1024:,} KiB (receive) and {int(wmem[2]) // 1024:,} KiB (send); ours' are "
                     "fixed, the row's figure (at MTU 9000 8 KiB is less than one 8,960-byte MSS: one "
                     "segment of at most 8 KiB in flight).")
    lines += ["",
             "| MTU | file | connections | ours' TCP buffers | ours, Gbit/s (runs' range) | Linux, Gbit/s (runs' range) | ratio "
             "| ours' engines busy: server / client | ours' server: retransmitted % of segments sent, each run | "
             "Linux busy: cores 1 / 0 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def rate(side):
        runs = [run["gbit_per_second"] for run in side["runs"]]
        text = f"{side['gbit_per_second']:.2f} ({min(runs):.2f}-{max(runs):.2f})"
        if side["clean"]:
            return text
        reasons = [{key: run[key] for key in ("errors", "exit", "unfinished") if run.get(key)}
                   for run in side["runs"] if not run["clean"]]
        return text + f" not clean: {reasons}"

    def retransmitted(side):
        shares = [f"{100 * tcp['retransmitted_segments'] / max(1, tcp['segments_sent']):.2f}%"
                  + (f" ({tcp['dropped_frames']:,} frames dropped)" if tcp.get("dropped_frames") else "")
                  for tcp in (run.get("server_tcp") for run in side["runs"]) if tcp]
        return " / ".join(shares) or "-"

    def cores(side):
        busy = side["busy_percent_by_core"]
        return f"{busy.get('core1', '-')}% / {busy.get('core0', '-')}%"

    for row in bulk["rows"]:
        ours_side, linux_side = row["ours"], row["linux"]
        engines = [run["engines"] for run in ours_side["runs"]]
        server = median([e["appliance"] for e in engines if e.get("appliance") is not None] or [float("nan")])
        client = median([e["loadgen"] for e in engines if e.get("loadgen") is not None] or [float("nan")])
        ratio = f"**{row['ratio']:.2f}x**" if "ratio" in row else "-"
        lines.append(f"| {row['mtu']} | {row['file']} | {row['connections']} | "
                     f"{row['ours_tcp_buffers'] // 1024} KiB | {rate(ours_side)} | "
                     f"{rate(linux_side)} | {ratio} | {server:.0f}% / {client:.0f}% | "
                     f"{retransmitted(ours_side)} | {cores(linux_side)} |")
    return lines + [""]


def _cost(scenarios):
    """Instructions per transaction in each program against issue 15's budgets."""
    cost = scenarios.get("cost")
    if not cost or "cells" not in cost:
        return []
    lines = ["", "## Cost per transaction", "", cost["method"] + ".", "",
             "| program | transactions | instructions per transaction (pairs' range) | at one iteration per "
             "transaction | iterations per transaction (idle) | instructions per idle iteration | budget | met |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    kinds = {"short": "short (connect, GET 64 B, close)", "keepalive": "kept-alive request (GET 64 B)"}
    for cell in cost["cells"]:
        budget = cost["budgets"][cell["flows"]]
        if not cell["clean_pairs"]:
            failures = "; ".join(f"pair {number}: " + " / ".join(
                f"{total}: {pair['completed'][total]:,} completed"
                + "".join(f", {kind} {count}" for kind, count in pair["errors"][total].items())
                for total in pair["completed"]) for number, pair in enumerate(cell["pairs"], 1))
            lines.append(f"| {cell['program']} | {kinds[cell['flows']]} | no clean pair ({failures}) | | | | "
                         f"{budget:,} | |")
            continue
        low, high = cell["spread"]
        normalised = cell["normalised_instructions_per_transaction"]
        per_idle = cell["instructions_per_idle_iteration"]
        lines.append(f"| {cell['program']} | {kinds[cell['flows']]} | **{cell['instructions_per_transaction']:,.0f}** "
                     f"({low:,.0f}-{high:,.0f}; {cell['clean_pairs']} of {len(cell['pairs'])} pairs clean) | "
                     + (f"{normalised:,.0f}" if normalised is not None else "-") + " | "
                     f"{cell['iterations_per_transaction']:.2f} ({cell['idle_iterations_per_transaction']:.2f}) | "
                     + (f"{per_idle:,.0f}" if per_idle is not None else "-") + f" | {budget:,} | "
                     + ("yes" if cell["instructions_per_transaction"] <= budget else "**no**") + " |")
    lines += ["", "At one iteration per transaction: " + cost["normalisation"] + ".", ""]
    return lines


def _cores(scenarios):
    """One engine against two on each kind of port several cores share (issue 14)."""
    figures, lines = _section(scenarios, "cores", "Cores: one engine against two on each kind of port")
    if not figures:
        return []
    lines[-1] += ": " + figures["method"] + "."
    lines += ["",
             "This machine has two cores: the second engine shares its core with the client (and with the RSS "
             "NIC), so these rows show that two engines serve correctly on each kind of port, and what the "
             "forwarding rings and the sharing cost, **not** how the stack scales with cores. Over memif, two "
             "engines on each side are four engines on two cores, the loadgen's two busy-polling. A rate is "
             "shown only when both sides were clean in every run: the client exited 0 with no error or unfinished "
             "request, no "
             "frame dropped on the appliance for a full forward ring or a stopped owner, no segment on a core "
             "its RSS hash does not name, no frame forwarded on the RSS NIC (it steers every flow to its owner); "
             "an unclean row says why instead. Connections per core and forwarded frames are the appliance's "
             "counters over all runs, warm-ups included. What one forwarded frame costs a core is in the "
             "micro-benchmarks (Hot paths, \"Forwarding a frame to its owner\").", "",
             "| port (flows) | engines | requests/s (runs' range) | p50 / p99 (µs) | connections per core | forwarded frames | "
             "errors: client / server | frames dropped by the appliance | 2 engines / 1 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for device, by_engines in figures["rows"].items():
        # JSON keys are strings; a device measured with one engine count only has no ratio.
        rates = {str(engines): _clean_rate(row) for engines, row in by_engines.items()}
        for engines, row in by_engines.items():
            server = row["server"]
            rate, base = rates[str(engines)], rates.get("1")
            ratio = f"{rate / base:.2f}x" if str(engines) == "2" and rate and base else ""
            if rate is None:
                why = "; ".join(row.get("unclean") or ["reasons not recorded"])
                figures_shown = f"not clean: {why} | -"
            else:
                spread = [run["requests_per_second"] for run in row["runs"]]
                figures_shown = (f"{_format(rate)} ({_format(min(spread))}–{_format(max(spread))}) | "
                                 f"{row['p50_us']:,.0f} / {row['p99_us']:,.0f}")
            per_core = " / ".join(f"{count:,}" for count in server["connections_by_core"].values()) or "-"
            dropped = ", ".join(f"{reason} {count:,}" for reason, count in server["dropped"].items()) or "none"
            lines.append(f"| {device} ({row['flows']}) | {engines} | {figures_shown} | {per_core} | "
                         f"{server['forwarded_frames']:,} | {row['client_errors']} / {_format(row['server_errors'])} "
                         f"| {dropped} | {ratio} |")
    return lines


def _clean_rate(row):
    """A cores row's rate, None unless both sides were clean (rows measured
    before `unclean` was recorded count only with a rate)."""
    return None if row.get("unclean") else row.get("requests_per_second")


# Scenarios that do not take --runs/--seconds: their sections say how they sample.
SAMPLED_THEIR_OWN_WAY = ("cost", "micro", "idle", "loss", "concurrency")


def _remeasured(results):
    """Scenarios that a later `--only` run measured (the TLS section says its own)."""
    lines = []
    for name, figures in results["scenarios"].items():
        stamp = figures.get("measured", {})
        if not stamp.get("partial") or name in TLS_SCENARIOS:
            continue
        how = ("sampled as its section says" if name in SAMPLED_THEIR_OWN_WAY
               else f"medians of {stamp['runs']} runs of {stamp['seconds']} s")
        lines.append(f"- `{name}` was measured later, on {stamp['date']}, by `--only {name}`: {how}.")
    return lines + [""] if lines else []


def write(results, path, out):
    scenarios = results["scenarios"]
    machine = results["machine"]
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` on {machine['date']}: {machine['cpu']}, {machine['cores']} cores, "
             f"Linux {machine['kernel']}. Ours: mtcp-loadgen on core 0 and mtcp-httpd on core 1, one engine "
             "each, joined by net_memif (shared memory), both busy-polling. Linux: wrk (1 thread) on core 0 "
             "and nginx 1.22 (1 worker, `reuseport`, `access_log off`, sendfile) on core 1 over loopback "
             "in a namespace of the benchmark's own with `tcp_tw_reuse=1`, ports 1024-65535 and backlogs of "
             "65535. Figures are medians of "
             f"{results['runs']} runs of {results['seconds']} s; every ratio is ours / Linux from the same run. "
             "The raw figures are in `bench-results/results.json`.", ""]
    lines += _remeasured(results)
    lines += _targets(scenarios)
    lines += ["| scenario | mtcp-swift | Linux | ratio | how |", "| --- | --- | --- | --- | --- |"]
    for name, title in (("short", "short flows (new connection per request)"), ("keepalive", "keep-alive"),
                        ("short_v6", "short flows over IPv6"), ("keepalive_v6", "keep-alive over IPv6"),
                        ("bulk", "bulk, one connection")):
        figures = scenarios.get(name)
        if not figures:
            continue
        if "skipped" in figures:
            lines.append(f"| {title} | not run | | | {figures['skipped']} |")
            continue
        ratio = (f"**{figures['ratio']:.1f}x**" if figures.get("ratio") is not None
                 else f"not clean (errors per run: {figures.get('errors')})")
        lines.append(f"| {title} | {_format(figures['ours'])} {figures['unit']} | "
                     f"{_format(figures['linux'])} {figures['unit']} | {ratio} | {figures['method']} |")
    lines += _ipv6(scenarios)
    lines += _bulk_mtu(scenarios)
    if "latency" in scenarios and "rows" in scenarios["latency"]:
        latency = scenarios["latency"]
        lines += ["", "## Latency at fixed offered load", "", latency["method"] + ".", "",
                  "| offered (req/s) | ours achieved | ours p50 / p99 / p99.9 (µs) | Linux achieved | "
                  "Linux p50 / p99 / p99.9 (µs) | p99 ratio (Linux / ours) | errors in all runs: ours / Linux |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]

        def us(value):
            return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"

        def percentiles(side):
            text = f"{us(side['p50'])} / {us(side['p99'])} / {us(side['p99_9'])}"
            if "spread" in side:
                (p99_low, p99_high), (p999_low, p999_high) = side["spread"]["p99"], side["spread"]["p99_9"]
                text += f" (p99 {us(p99_low)}-{us(p99_high)}, p99.9 {us(p999_low)}-{us(p999_high)})"
            return text

        for row in latency["rows"]:
            o, l = row["ours"], row["linux"]
            ratio = f"{l['p99'] / o['p99']:.1f}x" if o["p99"] else "-"
            if not (o.get("clean", True) and l.get("clean", True)):
                ratio = "- (not clean: " + ", ".join(
                    f"{side} run {number}: exit {run.get('exit')}, {run['errors']} errors"
                    + (", keyed at random" if run.get("keyed_at_random") else "")
                    for side in ("ours", "linux") for number, run in enumerate(row[side].get("runs", []), 1)
                    if not run.get("clean", True)) + ")"
            lines.append(f"| {row['rate']:,} | {_format(o['achieved'])} | {percentiles(o)} | "
                         f"{_format(l['achieved'])} | {percentiles(l)} | {ratio} | "
                         f"{o.get('errors', '-')} / {l.get('errors', '-')} |")
    if "mix" in scenarios and "rows" in scenarios["mix"]:
        mix = scenarios["mix"]
        on, off = mix["rows"]["on"], mix["rows"]["off"]
        lines += ["", "## Flow-size mix: short flows first on and off", "", mix["method"] + ".", "",
                  "| file | p50 on / off (µs) | p99 on / off (µs) | p99 off / on |", "| --- | --- | --- | --- |"]
        for name in [key for key in on if key != "requests_per_second"]:
            ratio = off[name]["p99"] / on[name]["p99"] if on[name]["p99"] else float("nan")
            lines.append(f"| {name} | {on[name]['p50']} / {off[name]['p50']} | {on[name]['p99']} / "
                         f"{off[name]['p99']} | {ratio:.2f}x |")
        lines.append(f"| requests/s | {_format(on['requests_per_second'])} / "
                     f"{_format(off['requests_per_second'])} | | |")
    if "scheduling" in scenarios and "rows" in scenarios["scheduling"]:
        scheduling = scenarios["scheduling"]
        lines += ["", "## A saturated line: the data list's order", "", scheduling["method"] + ".", "",
                  "![FCT by file size per mode](bench-results/scheduling.png)", ""]
        for load in ("saturated", "unsaturated"):
            modes = scheduling["rows"][load]
            completed = ", ".join(f"{m} {modes[m]['requests_per_second']:,.0f}" for m in ("fifo", "two_class", "srpt"))
            lines += [f"{load} ({modes['rate']:,} flows/s offered; completed: {completed}):", "",
                      "| file | fifo p50 / p99 / p99.9 (µs) | two_class | srpt | p99 fifo / two_class | "
                      "p99 fifo / srpt |", "| --- | --- | --- | --- | --- | --- |"]
            for name in [key for key in modes["fifo"] if key != "requests_per_second"]:
                cells = [" / ".join(f"{modes[m][name][p]:,.0f}" for p in ("p50", "p99", "p99_9"))
                         for m in ("fifo", "two_class", "srpt")]
                ratios = [modes["fifo"][name]["p99"] / modes[m][name]["p99"] if modes[m][name]["p99"] else
                          float("nan") for m in ("two_class", "srpt")]
                lines.append(f"| {name} | {' | '.join(cells)} | {ratios[0]:.2f}x | {ratios[1]:.2f}x |")
            if "mbit_per_second" in modes["fifo"].get("1m.bin", {}):
                lines.append("| 1 MiB Mbit/s (1 MiB / mean FCT) | "
                             + " | ".join(f"{modes[m]['1m.bin']['mbit_per_second']:,.0f}"
                                          for m in ("fifo", "two_class", "srpt")) + " | | |")
            lines.append("")
    lines += _loss(scenarios)
    if "concurrency" in scenarios and "rows" in scenarios["concurrency"]:
        sweep = scenarios["concurrency"]
        lines += ["", "## Concurrency sweep", "", sweep["method"] + ".", "",
                  "| connections | ours (req/s) | Linux (req/s) | ratio | ours / ours at the fewest | "
                  "busy: mtcp-httpd / mtcp-loadgen; nginx / wrk | errors: ours; Linux | mtcp-httpd RSS (MiB) | "
                  "RSS growth during the run (KiB; per connection) | kernel slab growth (KiB) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        first = sweep["rows"][0]["ours"]
        for row in sweep["rows"]:
            lines.append(_concurrency_row(row, first))
        fewest, most = sweep["rows"][0], sweep["rows"][-1]
        per_connection = (most["ours_rss_kib"] - fewest["ours_rss_kib"]) / (most["connections"] - fewest["connections"])
        lines += ["", f"Memory per connection, ours: {per_connection:.1f} KiB, the difference of mtcp-httpd's "
                      f"resident memory between the {most['connections']:,}- and the {fewest['connections']:,}-"
                      "connection rows over the difference in connections. Each appliance's pools are sized for "
                      "its row (`max_concurrency` = connections + 2,048) and touched at start, so this counts a "
                      "connection's send and receive buffers, its control blocks and its share of the pools; the "
                      "growth during the run counts only the pages touched then (the request buffers)."]
    lines += _tls(results)
    lines += _default_topology(scenarios)
    lines += _proxy(scenarios)
    lines += _cores(scenarios)
    lines += _cost(scenarios)
    if "idle" in scenarios and "rows" in scenarios["idle"]:
        idle = scenarios["idle"]
        lines += ["", "## Idle CPU", "", idle["method"] + ".", "",
                  "| `idle` | CPU (% of a core) | the appliance's ready line (port, offloads, idle mode) |",
                  "| --- | --- | --- |"]
        lines += [f"| {row['mode']} | {row['cpu_percent']:.1f} | {row['ready'].rstrip(')')} |" for row in idle["rows"]]
    if "micro" in scenarios and "benchmarks" in scenarios["micro"]:
        micro = scenarios["micro"]
        lines += ["", "## Hot paths (micro-benchmarks)", "", micro["method"] + ".", "",
                  "| operation | median time | mallocs |", "| --- | --- | --- |"]
        for name, figures in sorted(micro["benchmarks"].items()):
            lines.append(f"| {name} | {figures['p50_ns']:,.0f} ns | {figures.get('mallocs_p50', 0):.0f} |")
    skipped = [(name, figures["skipped"]) for name, figures in scenarios.items() if "skipped" in figures]
    if skipped:
        lines += ["", "## Not measured", ""]
        lines += [f"- **{name}**: {why}." for name, why in skipped]
    charts = _charts(results, out)
    if charts:
        lines += ["", "## Charts", ""] + [f"![{chart}](bench-results/{chart})" for chart in charts]
    path.write_text("\n".join(lines) + "\n")
