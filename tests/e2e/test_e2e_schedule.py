"""lasyncctl sync --due (cron) and quarantine of a tenant that keeps failing."""

from __future__ import annotations

import json
import re

from harness import wait_until
from test_e2e_parnassys import KEY


def requested(out: str) -> dict[str, str]:
    """tenant -> the line of its request."""
    return {m.group(1): line for line in out.splitlines()
            if (m := re.match(r"sync \S+ requested for (\S+)", line))}


def status(pipeline) -> dict[str, dict]:
    return {s["tenant"]: s for s in pipeline.status()}


def test_due_syncs_and_quarantine(pipeline):
    pipeline.tenant("good", brin="99ZZ", key=KEY)
    pipeline.tenant("broken", brin="99ZZ", dependance="01", key="wrong")
    pipeline.tenant("manual", brin="99ZZ", dependance="02", key=KEY,
                    settings={"schedule": "manual"})
    pipeline.start()

    # Never synced: both scheduled tenants are due, the first time as a
    # full reconcile; the manual one never is.
    out = pipeline.ctl("sync", "--due", "--now", "2026-11-29T06:00").stdout
    req = requested(out)
    assert set(req) == {"good", "broken"}, out
    assert all("(full)" in line for line in req.values()), out
    # Same slot again: nothing is due.
    out = pipeline.ctl("sync", "--due", "--now", "2026-11-29T06:30").stdout
    assert requested(out) == {}, out

    wait_until(lambda: status(pipeline).get("good", {}).get("outcome") == "ok", 120, "good ok")
    wait_until(lambda: status(pipeline).get("broken", {}).get("outcome") == "failed", 120,
               "broken failed")
    # Two more failures in a row: quarantined.
    pipeline.sync("broken", check=False)
    pipeline.sync("broken", check=False)
    st = status(pipeline)["broken"]
    assert st["quarantined"] and st["failures"] == 3, st
    assert "[QUARANTINED]" in pipeline.ctl("status").stdout

    # The next night: the healthy tenant is due (a normal sync), the
    # quarantined one is asked at most once a day.
    out = pipeline.ctl("sync", "--due", "--now", "2026-11-30T05:30").stdout
    req = requested(out)
    assert "good" in req and "(full)" not in req["good"], out
    assert "broken" not in req and "skip broken: quarantined (3 failed syncs in a row)" in out, out
    out = pipeline.ctl("sync", "--due", "--now", "2026-11-30T06:30").stdout
    assert "broken" in requested(out), out

    # --dry-run requests nothing.
    out = pipeline.ctl("sync", "--due", "--dry-run", "--now", "2026-12-01T07:00").stdout
    assert "would request 2 sync(s)" in out and requested(out) == {}, out
    out = pipeline.ctl("sync", "--due", "--now", "2026-12-01T07:00").stdout
    assert set(requested(out)) == {"good", "broken"}, out
    js = json.loads(pipeline.ctl("status", "--json").stdout)
    assert {s["tenant"] for s in js} == {"good", "broken", "manual"}


def test_tenant_health_metrics(pipeline):
    """Operators see each tenant's last success, failures in a row and
    quarantine in the notifier's /metrics (also after it restarts)."""
    from harness import parse_metrics

    pipeline.tenant("good", brin="99ZZ", key=KEY)
    pipeline.tenant("broken", brin="99ZZ", dependance="01", key="wrong")
    pipeline.start()
    pipeline.sync("good")
    for _ in range(3):
        pipeline.sync("broken", check=False)

    def gauges():
        m = pipeline.daemons["notifier"].metrics()
        get = lambda name, t: m.get((name, (("tenant", t),)))  # noqa: E731
        return {
            "good_ok": get("lasync_tenant_last_success_timestamp_seconds", "good"),
            "good_q": get("lasync_tenant_quarantined", "good"),
            "broken_f": get("lasync_tenant_consecutive_failures", "broken"),
            "broken_q": get("lasync_tenant_quarantined", "broken"),
        }

    def settled():
        g = gauges()
        return g if g["good_ok"] and g["broken_q"] == 1.0 else None
    g = wait_until(settled, 60, "health gauges")
    assert g["good_q"] == 0.0 and g["broken_f"] == 3.0, g
    notifier = pipeline.daemons["notifier"]
    notifier.signal(__import__("signal").SIGTERM)
    notifier.wait_exit(15)
    pipeline.restart("notifier")
    g = wait_until(settled, 60, "health gauges after a restart")
    assert g["broken_f"] == 3.0, g
    del parse_metrics
