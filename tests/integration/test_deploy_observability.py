"""The Prometheus rules and scrape configuration and the Grafana dashboard,
offline: promtool checks and unit-tests the rules, checks the scrape
configuration, and every metric the dashboard and the alerts use is one
the code registers. tests/e2e/test_dashboard.py checks the same names
against a live scrape after a real sync.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from test_deploy_common import DEPLOY, ROOT, run

DASHBOARD = DEPLOY / "grafana" / "lasync.json"
PROM = DEPLOY / "prometheus"


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is not installed; run scripts/deps.sh (Debian package prometheus)")
    return path


def registered_metrics() -> set[str]:
    """Metric families the C code registers (lasync_metric_counter/gauge/histogram)."""
    names = set()
    for f in list((ROOT / "lib").glob("*.c")) + list((ROOT / "services").rglob("*.c")):
        text = f.read_text(errors="replace")
        names |= set(re.findall(
            r'lasync_metric_(?:counter|gauge|histogram)\(\s*"(lasync_[a-z0-9_]+)"', text))
    return names


def metric_names(expr: str) -> set[str]:
    """lasync_* metric names in a PromQL expression, histogram suffixes removed."""
    return {re.sub(r"_(bucket|sum|count)$", "", n)
            for n in re.findall(r"\b(lasync_[a-z0-9_]+)\b", expr)}


def dashboard_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] if p["type"] != "row"
            for t in p["targets"]]


def test_rules_check_and_unit_tests():
    p = run(promtool(), "check", "rules", str(PROM / "alerts.yml"))
    assert "SUCCESS" in p.stdout + p.stderr
    p = run(promtool(), "test", "rules", str(PROM / "alerts_test.yml"), cwd=PROM)
    assert "SUCCESS" in p.stdout + p.stderr


def test_rules_unit_tests_can_fail(tmp_path):
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    text = (PROM / "alerts_test.yml").read_text().replace("tenant: delinde}", "tenant: dewilg}")
    (tmp_path / "alerts_test.yml").write_text(text)
    p = run(promtool(), "test", "rules", "alerts_test.yml", cwd=tmp_path, check=False)
    assert p.returncode != 0


def test_scrape_config(tmp_path):
    """promtool check config. Debian's Prometheus is built without Kubernetes
    service discovery, so the check runs on a copy whose
    kubernetes_sd_configs is replaced by a static target: everything else
    (relabelling, rule files) is checked as written."""
    conf = yaml.safe_load((PROM / "prometheus.yml").read_text())
    (job,) = conf["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    job.pop("kubernetes_sd_configs")
    job["static_configs"] = [{"targets": ["lasync-fetcher:9101"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(conf))
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    p = run(promtool(), "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS" in p.stdout
    # The relabelling keeps the chart's annotations and labels.
    text = (PROM / "prometheus.yml").read_text()
    for needle in ("prometheus_io_scrape", "prometheus_io_port", "prometheus_io_path",
                   "app_kubernetes_io_component", "lasync_nl_vendor"):
        assert needle in text


def test_alerts_use_registered_metrics():
    known = registered_metrics()
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    for group in rules["groups"]:
        for r in group["rules"]:
            used = metric_names(r["expr"])
            assert used <= known, f"{r['alert']}: {used - known} is registered nowhere"
            assert r["annotations"]["runbook"].startswith("docs/operations.md#")
    anchors = {a["annotations"]["runbook"].split("#")[1]
               for g in rules["groups"] for a in g["rules"]}
    doc = (ROOT / "docs" / "operations.md").read_text()
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", doc, re.M)}
    assert anchors <= headings, f"runbook anchors without a section: {anchors - headings}"


def test_dashboard_loads_and_covers_the_issue():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] == "lasync"
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels:
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]), p["title"]
        assert p["datasource"]["uid"] == "${datasource}"
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
    known = registered_metrics()
    used = set().union(*(metric_names(e) for _t, e in dashboard_exprs()))
    assert used <= known, f"dashboard metrics registered nowhere: {used - known}"
    # What the issue asks the dashboard to show.
    for need in ("lasync_sync_results_total", "lasync_fetch_seconds", "lasync_map_seconds",
                 "lasync_apply_seconds", "lasync_consumer_lag", "lasync_dlq_total",
                 "lasync_tenant_quarantined", "lasync_tenant_held", "lasync_applier_ops_total",
                 "lasync_portal_requests_total", "lasync_notifier_mails_total"):
        assert need in used, need
