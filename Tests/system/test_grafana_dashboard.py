"""contrib/grafana/mtcp-httpd-dashboard.json (README, "Metrics"): a well-formed
Grafana dashboard whose every query names a metric the appliance really exposes,
checked against a live scrape of mtcp-httpd's Prometheus endpoint (conf/mtcp.conf:
127.0.0.1:9180 in netns mtcp-a) with the shipped httpd.json (HTTP and TLS on)."""

import json
import re
import time

from mtcp_ns import NS_APPLIANCE, REPO, ns

DASHBOARD = REPO / "contrib/grafana/mtcp-httpd-dashboard.json"
METRIC = re.compile(r"\bmtcp_[a-z0-9_]+")


def queried_metrics(dashboard):
    """Every metric name in the dashboard's panel queries and template variables."""
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    expressions += [variable.get("query", "") for variable in dashboard["templating"]["list"]]
    return {name for expression in expressions for name in METRIC.findall(expression)}


def test_the_dashboard_is_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())  # raises on malformed JSON
    assert dashboard["title"] and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), ids
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]
    assert len(queried_metrics(dashboard)) > 10


def exposed_metrics():
    scrape = ns(NS_APPLIANCE, "curl", "-sS", "--max-time", 5, "127.0.0.1:9180/metrics", timeout=15)
    assert scrape.returncode == 0, scrape.stderr
    return set(re.findall(r"^# TYPE (mtcp_\w+) ", scrape.stdout, re.M))


def test_every_metric_the_dashboard_queries_is_exposed(appliance):
    queried = queried_metrics(json.loads(DASHBOARD.read_text()))
    # The HTTP server's counters appear with the engines' first published
    # statistics, just after the ready line: a few scrapes may come first.
    deadline = time.monotonic() + 3
    missing = queried - exposed_metrics()
    while missing and time.monotonic() < deadline:
        time.sleep(0.2)
        missing = queried - exposed_metrics()
    assert not missing, f"queried but not exposed: {sorted(missing)}"


def test_counters_are_queried_as_rates_or_increases():
    """A counter's raw value restarts at 0 with the appliance and says nothing about the
    time range shown: every `_total` metric goes through rate() or increase()."""
    dashboard = json.loads(DASHBOARD.read_text())
    raw = [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]
           for name in re.findall(r"\bmtcp_[a-z0-9_]+_total\b", target["expr"])
           if not re.search(r"\b(rate|increase)\(\s*" + name + r"\b", target["expr"])]
    assert raw == []
