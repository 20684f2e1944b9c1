#!/usr/bin/python3
"""End to end through a real Prometheus server.

Starts nats-server, reverb (with config/reverb.flags), backbeat-watch --json,
a Prometheus server scraping Reverb every second with config/prometheus's
alerts, and backbeat-sim for a fixed number of bars at 240 bpm. Then:

- /readyz answers 503 before the first BeatFrame and 200 while beats flow;
- the last-bar gauges, as Prometheus stored them, equal the last BarReport
  seen on NATS;
- every PromQL expression of every dashboard panel returns data;
- every alert rule parses and evaluates: the expression as written must be
  accepted, the same expression with `bool` after each comparison (so a
  threshold yields 0 or 1 instead of filtering) must return data, and so
  must each series selector in it; Prometheus must also report each loaded
  rule healthy.

Usage: prometheus_e2e_test.py BIN_DIR SOURCE_DIR. Bounded to 90 s; every
process started is stopped on exit.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

DEADLINE = time.monotonic() + 85
CLUSTER = "e2e"
BARS = 12
TEMPO_BPM = 240
# Grafana macros, replaced to evaluate dashboard expressions directly.
MACROS = {"$__rate_interval": "15s", "$__range": "1m", "$__interval": "1s"}


class Failure(Exception):
    pass


def remaining():
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise Failure("out of time")
    return left


def wait_for(what, predicate, timeout):
    """Polls `predicate` until it returns a truthy value, at most `timeout`."""
    end = time.monotonic() + min(timeout, remaining())
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise Failure("timed out waiting for " + what)
        time.sleep(0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url):
    """Returns (status, body); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


class Processes:
    """Started processes, all stopped by stop_all()."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, name, argv, stdout=None):
        log = open(os.path.join(self.workdir, name + ".log"), "w")
        proc = subprocess.Popen(argv, stdout=stdout or log, stderr=log,
                                stdin=subprocess.DEVNULL)
        self.procs.append((name, proc))
        return proc

    def log(self, name):
        with open(os.path.join(self.workdir, name + ".log")) as f:
            return f.read()

    def stop_all(self):
        """Newest first, each before the next (NATS last)."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Prometheus:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def api(self, path, **params):
        url = self.base + path + "?" + urllib.parse.urlencode(params)
        status, body = http_get(url)
        if status == 0:
            raise Failure("Prometheus did not answer " + path)
        return json.loads(body)

    def query(self, expr):
        """Returns the instant vector (list) or raises on an error."""
        reply = self.api("/api/v1/query", query=expr)
        if reply.get("status") != "success":
            raise Failure("query failed: %s: %s" % (expr, reply.get("error")))
        data = reply["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def value(self, expr):
        result = self.query(expr)
        if len(result) != 1:
            raise Failure("expected one series for %s, got %d"
                          % (expr, len(result)))
        return float(result[0]["value"][1])


def boolify(expr):
    """Adds `bool` after every comparison operator outside {...} and quotes,
    so a filter becomes a 0/1 value and the expression always has data."""
    out, depth, quote, i = [], 0, None, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(expr[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            out.append(c)
        elif c == "{":
            depth += 1
            out.append(c)
        elif c == "}":
            depth -= 1
            out.append(c)
        elif depth == 0 and expr.startswith(("==", "!=", ">=", "<="), i):
            out.append(expr[i:i + 2] + " bool")
            i += 1
        elif depth == 0 and c in "<>":
            out.append(c + " bool")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def dashboard_exprs(path):
    with open(path) as f:
        dashboard = json.load(f)
    exprs = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            exprs.append((panel["title"], target["expr"]))
    return exprs


def start_stack(procs, bin_dir, src, workdir):
    """Starts NATS, Reverb, the watcher and Prometheus; returns ports."""
    nats_port = free_port()
    procs.start("nats", ["/usr/sbin/nats-server", "-a", "127.0.0.1", "-p",
                         str(nats_port)])
    wait_for("nats-server", lambda: try_connect(nats_port), 10)
    nats_url = "nats://127.0.0.1:%d" % nats_port

    procs.start("reverb", [
        os.path.join(bin_dir, "reverb"),
        "--flagfile=" + os.path.join(src, "config/reverb.flags"),
        "--nats_url=" + nats_url, "--cluster_id=" + CLUSTER,
        "--metrics_address=127.0.0.1:0"])
    match = wait_for(
        "reverb's metrics address",
        lambda: re.search(r"metrics: serving on 127\.0\.0\.1:(\d+)",
                          procs.log("reverb")), 15)
    metrics_port = int(match.group(1))

    reports = open(os.path.join(workdir, "reports.jsonl"), "w")
    procs.start("watch", [os.path.join(bin_dir, "backbeat-watch"),
                          "--nats_url=" + nats_url, "--cluster_id=" + CLUSTER,
                          "--json"], stdout=reports)

    prom_port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [os.path.join(src, "config/prometheus/alerts.yml")],
        "scrape_configs": [{
            "job_name": "reverb",
            "static_configs": [{"targets": ["127.0.0.1:%d" % metrics_port]}],
        }],
    }
    config_path = os.path.join(workdir, "prometheus.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    procs.start("prometheus", [
        "prometheus", "--config.file=" + config_path,
        "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
        "--web.listen-address=127.0.0.1:%d" % prom_port])
    prom = Prometheus(prom_port)
    wait_for("Prometheus ready",
             lambda: http_get(prom.base + "/-/ready")[0] == 200, 15)
    return nats_url, metrics_port, prom


def try_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def run_simulation(procs, bin_dir, nats_url, metrics_port):
    """Plays BARS bars; checks /readyz before and during."""
    readyz = "http://127.0.0.1:%d/readyz" % metrics_port
    status, body = http_get(readyz)
    if status != 503:
        raise Failure("/readyz before any beat: %d %r" % (status, body))
    if http_get("http://127.0.0.1:%d/healthz" % metrics_port) != (200,
                                                                   "ok\n"):
        raise Failure("/healthz is not 200 ok")

    sim = procs.start("sim", [
        os.path.join(bin_dir, "backbeat-sim"), "--nats_url=" + nats_url,
        "--cluster_id=" + CLUSTER, "--agents=20",
        "--tempo_bpm=%d" % TEMPO_BPM, "--beats_per_bar=4",
        "--bars=%d" % BARS, "--seed=7"])
    wait_for("/readyz 200 while beats flow",
             lambda: http_get(readyz)[0] == 200, 10)
    try:
        sim.wait(timeout=min(BARS * 60 * 4 / TEMPO_BPM + 15, remaining()))
    except subprocess.TimeoutExpired:
        raise Failure("backbeat-sim did not finish its bars")
    if sim.returncode != 0:
        raise Failure("backbeat-sim exited %d" % sim.returncode)


def last_report(workdir, metrics_port):
    """Waits until Reverb stops publishing; returns the last report."""
    path = os.path.join(workdir, "reports.jsonl")

    def published():
        status, body = http_get("http://127.0.0.1:%d/metrics" % metrics_port)
        m = re.search(r"^reverb_bar_reports_published_total\{[^}]*\} (\S+)$",
                      body, re.M)
        return int(float(m.group(1))) if status == 200 and m else -1

    def reports():
        with open(path) as f:
            return [json.loads(l) for l in f if l.startswith("{")]

    state = {"last": None, "since": time.monotonic()}

    def settled():
        now = (published(), len(reports()))
        if now != state["last"]:
            state["last"], state["since"] = now, time.monotonic()
            return False
        return now[0] > 0 and now[0] == now[1] and \
            time.monotonic() - state["since"] > 1.5

    wait_for("reports to settle (published == seen on NATS)", settled, 15)
    seen = reports()
    print("reports on NATS: %d, last to_beat %d" % (len(seen),
                                                    seen[-1]["to_beat"]))
    return seen[-1]


def check_gauges(prom, report):
    sel = '{cluster="%s"}' % CLUSTER
    wait_for("Prometheus to scrape the last report",
             lambda: prom.query("reverb_bar_to_beat" + sel) and
             prom.value("reverb_bar_to_beat" + sel) == report["to_beat"], 15)
    expected = {
        "reverb_bar_from_beat": report["from_beat"],
        "reverb_bar_to_beat": report["to_beat"],
        "reverb_bar_agents_reporting": report["agents_reporting"],
        "reverb_bar_on_time_reviews": report["on_time_reviews"],
        "reverb_bar_help_promises_fulfilled":
            report["help_promises_fulfilled"],
        "reverb_bar_secret_rotations_ok":
            1 if report["secret_rotations_ok"] else 0,
        "reverb_bar_tempo_drift_seconds": report["tempo_drift_ms"] / 1000.0,
    }
    if report["agents_reporting"] > 0:
        expected["reverb_bar_on_time_review_ratio"] = (
            report["on_time_reviews"] / report["agents_reporting"])
    for name, want in expected.items():
        got = prom.value(name + sel)
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            raise Failure("%s: Prometheus has %r, report has %r"
                          % (name, got, want))

    # Issues: every kind of the report, and 0 for the kinds it lacks.
    counts = {}
    for issue in report["issues"]:
        counts[issue["kind"]] = counts.get(issue["kind"], 0) + issue["count"]
    stored = {s["metric"]["kind"]: float(s["value"][1])
              for s in prom.query("reverb_bar_issues" + sel)}
    for kind in set(counts) | set(stored):
        if stored.get(kind) != counts.get(kind, 0):
            raise Failure("issues{kind=%s}: Prometheus %r, report %r"
                          % (kind, stored.get(kind), counts.get(kind, 0)))
    print("gauges match the last report (%d checks, %d issue kinds)"
          % (len(expected), len(stored)))


def check_dashboards(prom, src):
    count = 0
    for name in sorted(os.listdir(os.path.join(src, "dashboards"))):
        if not name.endswith(".json"):
            continue
        for title, expr in dashboard_exprs(os.path.join(src, "dashboards",
                                                        name)):
            query = expr.replace("$cluster", CLUSTER)
            for macro, value in MACROS.items():
                query = query.replace(macro, value)
            if "$" in query:
                raise Failure("%s / %s: unknown variable in %s"
                              % (name, title, expr))
            if not prom.query(query):
                raise Failure("%s / %s: no data for %s" % (name, title, query))
            count += 1
    print("dashboard expressions returning data: %d" % count)


def check_rules(prom, src):
    with open(os.path.join(src, "config/prometheus/alerts.yml")) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    for rule in rules:
        prom.query(rule["expr"])  # Parses and evaluates, maybe empty.
        if not prom.query(boolify(rule["expr"])):
            raise Failure("rule %s: no data for %s"
                          % (rule["alert"], boolify(rule["expr"])))
        # Each series it reads must exist too (one side of an `or` could
        # otherwise hide a missing one).
        for selector in re.findall(r"\b(?:reverb_\w+|up)\b(?:\{[^}]*\})?",
                                   rule["expr"]):
            if not prom.query(selector):
                raise Failure("rule %s: no series %s" % (rule["alert"],
                                                          selector))

    # The server's own evaluation of the loaded rules.
    def evaluated():
        groups = prom.api("/api/v1/rules")["data"]["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        return len(loaded) == len(rules) and all(
            r["health"] == "ok" and r["lastEvaluation"][:4] != "0001"
            for r in loaded)
    try:
        wait_for("every rule evaluated healthy", evaluated, 10)
    except Failure:
        groups = prom.api("/api/v1/rules")["data"]["groups"]
        print(json.dumps([{k: r.get(k) for k in ("name", "health",
                                                 "lastError",
                                                 "lastEvaluation")}
                          for g in groups for r in g["rules"]], indent=1))
        raise
    print("alert rules evaluated with data: %d" % len(rules))


def main():
    bin_dir, src = map(os.path.abspath, sys.argv[1:3])
    for tool in ("reverb", "backbeat-sim", "backbeat-watch"):
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            print("missing %s in %s" % (tool, bin_dir))
            return 1
    workdir = tempfile.mkdtemp(prefix="reverb_e2e_")
    procs = Processes(workdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ok = False
    try:
        nats_url, metrics_port, prom = start_stack(procs, bin_dir, src,
                                                   workdir)
        run_simulation(procs, bin_dir, nats_url, metrics_port)
        report = last_report(workdir, metrics_port)
        check_gauges(prom, report)
        check_dashboards(prom, src)
        check_rules(prom, src)
        ok = True
    except Failure as e:
        print("FAIL:", e)
    finally:
        procs.stop_all()
        if not ok:
            for name, _ in procs.procs:
                print("---- %s log (tail) ----" % name)
                print(procs.log(name)[-2000:])
        shutil.rmtree(workdir, ignore_errors=True)
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
