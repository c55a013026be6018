"""Dead letters: list, show, replay once the cause is fixed, loops refused,
superseded change sets replayed as a full sync."""

from __future__ import annotations

import re

from test_e2e_parnassys import KEY, check_example_portal


def letters(out: str) -> list[str]:
    return [line for line in out.splitlines() if ".dlq " in line]


def test_replay_after_the_cause_is_fixed_applies_exactly_once(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    try:
        # The portal refuses every create: the change set cannot be applied.
        pipeline.portal.faults({"tenant": tenant, "status": 400, "methods": ["POST"],
                                "count": -1})
        failed = pipeline.sync("delinde", check=False)
        assert failed.returncode == 1 and "failed (stage applier)" in failed.stdout, failed.stdout
        assert "portal answered HTTP 400" in failed.stdout, failed.stdout
    finally:
        pipeline.portal.faults(None)
    assert pipeline.portal.users(tenant) == []

    out = pipeline.ctl("dlq", "list", "--tenant", "delinde").stdout
    dead = letters(out)
    assert len(dead) == 1 and "portal-changes.dlq" in dead[0], out
    assert "class=portal_rejected" in dead[0] and "replays=0" in dead[0], out
    topic, pos = dead[0].split()[0], dead[0].split()[1]
    part, off = pos.split(":")
    show = pipeline.ctl("dlq", "show", topic, part, off).stdout
    # 14 UPSERTs + 5 SET_MEMBERS + the reconcile's PRUNE_MEMBERS (R5)
    assert "change set: sync=" in show and "operations=20" in show, show

    dry = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--dry-run").stdout
    assert "would replay 1 dead letter(s)" in dry, dry
    assert pipeline.portal.users(tenant) == [], "a dry run changed something"

    before = pipeline.portal.stats(tenant)
    rep = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 1 dead letter(s)" in rep, rep

    def applied():
        users = pipeline.portal.users(tenant)
        return len(users) == 9 and len(pipeline.portal.groups(tenant)) == 5
    from harness import wait_until
    wait_until(applied, 120, "the replayed change set to be applied")
    wait_until(lambda: any(s["tenant"] == "delinde" and s["outcome"] == "ok"
                           for s in pipeline.status()), 60, "an ok result")
    check_example_portal(pipeline.portal, tenant)
    assert pipeline.portal.stats(tenant)["POST"] - before["POST"] == 14, "each resource created once"

    # Replayed already: a second replay does nothing; --again republishes
    # and the applier skips every operation it has done.
    again = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 0 dead letter(s)" in again, again
    writes = pipeline.portal.stats(tenant)["writes"]
    pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--again")
    import time
    time.sleep(5)
    assert pipeline.portal.stats(tenant)["writes"] == writes
    check_example_portal(pipeline.portal, tenant)


def test_replay_loop_is_refused_and_superseded_becomes_full_sync(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    pipeline.portal.faults({"tenant": tenant, "status": 400, "methods": ["POST"], "count": -1})
    try:
        assert pipeline.sync("delinde", check=False).returncode == 1
        # The cause is not fixed: the replay dies again, one replay more.
        pipeline.ctl("dlq", "replay", "--tenant", "delinde")
        from harness import wait_until

        def dead_again():
            out = pipeline.ctl("dlq", "list", "--tenant", "delinde").stdout
            return any("replays=1" in line for line in letters(out))
        wait_until(dead_again, 120, "the replayed change set to die again")
        refused = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--max-replays", "1").stdout
        assert "replayed 1 times already" in refused and "replayed 0 dead letter(s)" in refused, refused
    finally:
        pipeline.portal.faults(None)

    # Fixed now, and a newer sync has applied the school since: the old
    # change sets are superseded, so their replay asks for a full sync.
    out = pipeline.sync("delinde")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    check_example_portal(pipeline.portal, tenant)
    writes = pipeline.portal.stats(tenant)["writes"]

    def applied_parts():
        return sum(1 for line in pipeline.log_text("applier").splitlines()
                   if "event=part_applied" in line and "tenant=delinde" in line)
    parts_before = applied_parts()
    rep = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--force").stdout
    assert "superseded change set -> full sync of delinde" in rep, rep
    assert re.search(r"replayed 0 dead letter\(s\), 1 full sync", rep), rep

    from harness import wait_until
    wait_until(lambda: applied_parts() > parts_before, 120, "the full sync to be applied")
    assert pipeline.portal.stats(tenant)["writes"] == writes, "the full sync found nothing to repair"
    check_example_portal(pipeline.portal, tenant)
