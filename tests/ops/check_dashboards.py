#!/usr/bin/python3
"""Static checks of dashboards/*.json and Grafana provisioning.

Usage: check_dashboards.py SOURCE_DIR. Every dashboard must use the current
JSON model, select its data source through a `datasource` variable, filter
every Reverb series by the `cluster` variable, and together the panels must
cover every BarReport figure and Reverb's health. The provisioning files must
point where docker-compose.yml mounts the dashboards.
"""

import json
import os
import sys

import yaml

# Series the dashboards must show: the BarReport figures, then health.
REQUIRED = [
    "reverb_bar_on_time_review_ratio", "reverb_bar_agents_reporting",
    "reverb_bar_on_time_reviews", "reverb_bar_tempo_drift_seconds",
    "reverb_bar_help_promises_fulfilled", "reverb_bar_secret_rotations_ok",
    "reverb_bar_issues", "reverb_bar_to_beat",
    "reverb_last_report_timestamp_seconds",
    "reverb_claims_total", "reverb_claims_rejected_total",
    "reverb_bar_close_latency_seconds_bucket",
    "reverb_claim_processing_seconds_bucket",
    "reverb_nats_dropped_messages_total", "reverb_nats_connected",
    "reverb_ready", "reverb_beats_total", "reverb_bar_reports_published_total",
    "reverb_bar_publish_failures_total", "reverb_dead_letters_total",
    "reverb_bar_unconfirmed_flushes_total",
]


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def panels_of(dashboard):
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        yield panel


def check_dashboard(path):
    with open(path) as f:
        dashboard = json.load(f)
    name = os.path.basename(path)
    if dashboard.get("schemaVersion", 0) < 36:
        fail(name + ": schemaVersion below 36")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    if variables.get("datasource", {}).get("type") != "datasource":
        fail(name + ": no datasource variable")
    if "cluster" not in variables:
        fail(name + ": no cluster variable")

    exprs, ids = [], set()
    for panel in panels_of(dashboard):
        if panel["id"] in ids:
            fail("%s: duplicate panel id %d" % (name, panel["id"]))
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            fail("%s / %s: not on the datasource variable"
                 % (name, panel["title"]))
        if not panel.get("targets"):
            fail("%s / %s: no query" % (name, panel["title"]))
        for target in panel["targets"]:
            expr = target["expr"]
            if "reverb_" in expr and 'cluster=~"$cluster"' not in expr:
                fail("%s / %s: not filtered by cluster: %s"
                     % (name, panel["title"], expr))
            exprs.append(expr)
    return exprs


def main():
    src = sys.argv[1]
    exprs = []
    directory = os.path.join(src, "dashboards")
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            exprs += check_dashboard(os.path.join(directory, name))
    text = "\n".join(exprs)
    for series in REQUIRED:
        if series not in text:
            fail("no panel shows " + series)

    # Provisioning must load what docker-compose.yml mounts.
    prov = os.path.join(src, "config/grafana/provisioning")
    with open(os.path.join(prov, "dashboards/reverb.yml")) as f:
        path = yaml.safe_load(f)["providers"][0]["options"]["path"]
    with open(os.path.join(src, "docker-compose.yml")) as f:
        mounts = yaml.safe_load(f)["services"]["grafana"]["volumes"]
    if not any(m.startswith("./dashboards:" + path) for m in mounts):
        fail("grafana does not mount dashboards/ at " + path)
    with open(os.path.join(prov, "datasources/prometheus.yml")) as f:
        sources = yaml.safe_load(f)["datasources"]
    if not any(s["type"] == "prometheus" for s in sources):
        fail("no Prometheus data source provisioned")
    print("dashboards ok: %d expressions" % len(exprs))


if __name__ == "__main__":
    main()
