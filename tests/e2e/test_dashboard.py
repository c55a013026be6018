"""deploy/grafana/lasync.json against live daemons: after a real sync on the
development stack (and one parent suggestion, because the notifier
registers its e-mail counter with its first e-mail), every metric a panel
(or an alert rule) queries is in a /metrics scrape of the daemons, and the
series the sync must have moved carry samples.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.request

import yaml

from harness import ROOT, wait_until
from test_e2e_parnassys import KEY

DASHBOARD = ROOT / "deploy" / "grafana" / "lasync.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


def names(expr: str) -> set[str]:
    return set(re.findall(r"\b(lasync_[a-z0-9_]+)\b", expr))


def family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def suggest(pipeline, tenant: str, secret: str):
    """One signed parent suggestion through the notifier's webhook."""
    parent = next(u for u in pipeline.portal.users(pipeline.portal_tenant(tenant))
                  if u["externalId"].startswith("parnassys:guardian:"))
    body = json.dumps({"suggestionId": "dash-1",
                       "parent": {"id": parent["id"], "externalId": parent["externalId"]},
                       "children": [], "submittedAt": "2026-11-29T08:20:55Z",
                       "changes": [{"field": "phoneMobile", "old": None,
                                    "new": "06-12121212"}]}).encode()
    t = str(int(time.time()))
    sig = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(
        f"http://127.0.0.1:{pipeline.daemons['notifier'].webhook_port}/v1/tenants/{tenant}"
        "/suggestions", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Lasync-Signature": f"t={t},v1={sig}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202


def test_dashboard_loads_and_its_metrics_are_live(pipeline):
    dash = json.loads(DASHBOARD.read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    wanted = {n for p in panels for t in p["targets"] for n in names(t["expr"])}
    rules = yaml.safe_load(ALERTS.read_text())
    wanted |= {n for g in rules["groups"] for r in g["rules"] for n in names(r["expr"])}

    pipeline.tenant("delinde", brin="99ZZ", key=KEY, webhook_secret="dash-secret")
    pipeline.start()
    out = pipeline.sync("delinde").stdout
    assert ": ok (stage applier)" in out, out
    suggest(pipeline, "delinde", "dash-secret")

    def scraped():
        texts = {n: scrape(d.port) for n, d in pipeline.daemons.items()}
        ready = ("lasync_tenant_last_success_timestamp_seconds{" in texts["notifier"]
                 and "lasync_notifier_mails_total{" in texts["notifier"])
        return texts if ready else None
    texts = wait_until(scraped, 90, "the notifier's tenant gauges and e-mail counter")
    typed = {}
    samples = set()
    for daemon, text in texts.items():
        for m in re.finditer(r"^# TYPE (\S+) (\w+)$", text, re.M):
            typed.setdefault(m.group(1), set()).add(daemon)
        samples |= {family(m.group(1)) for m in
                    re.finditer(r"^(lasync_[a-z0-9_]+)[{ ]", text, re.M)}
    missing = {n for n in wanted if family(n) not in typed}
    assert not missing, f"queried by the dashboard or alerts, exported by no daemon: {missing}"
    for n in wanted:
        if n.endswith(("_bucket", "_sum", "_count")):
            assert typed[family(n)] and any(f"# TYPE {family(n)} histogram" in t
                                            for t in texts.values()), n
    # What this sync must have moved, with the daemon that exports it.
    for name, daemon in (("lasync_sync_results_total", "applier"),
                         ("lasync_events_total", "fetcher"),
                         ("lasync_consumer_lag", "mapper"),
                         ("lasync_fetch_seconds", "fetcher"),
                         ("lasync_map_seconds", "mapper"),
                         ("lasync_apply_seconds", "applier"),
                         ("lasync_applier_ops_total", "applier"),
                         ("lasync_portal_requests_total", "applier"),
                         ("lasync_mapper_records_total", "mapper"),
                         ("lasync_tenant_last_success_timestamp_seconds", "notifier"),
                         ("lasync_tenant_quarantined", "notifier"),
                         ("lasync_tenant_consecutive_failures", "notifier")):
        assert name in {family(n) for n in wanted}, name
        assert daemon in typed[name], (name, typed[name])
        assert re.search(rf"^{name}(_bucket)?\{{", texts[daemon], re.M), \
            f"{name}: no sample from the {daemon} after a sync"
    assert 'lasync_tenant_quarantined{tenant="delinde"} 0' in texts["notifier"]
