"""Leavers while the expected state is gone (R16, R5, R17 in a reconcile).

The mapper's expected state is what tells it who left; without it (Redis
lost, or dropped after a failed sync) the change set is a reconcile that
only says what the LAS has. The applier, which lists the portal for a
reconcile, must then retire what the LAS no longer has itself: deactivate
the leavers, orphan their groups - and hold back, under the deletion
guard, when that would deactivate too many.
"""

from __future__ import annotations

import subprocess

from harness import env
from portal_model import check, set_portal_owned
from test_e2e_rules_parnassys import (A, C12, F, G1, G2, G3, P, REK, S1, S2, S3, School,
                                      brin_for, initial_model, leave, ok)


def drop_redis(pipeline, tenant: str):
    """What a lost Redis looks like to one tenant: none of its keys."""
    url = env("LASYNC_REDIS_URL")
    keys = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern",
                           f"{pipeline.prefix}:{{{tenant}}}:*"],
                          check=True, capture_output=True, text=True).stdout.split()
    assert any(k.endswith(":expected") for k in keys), keys
    subprocess.run(["redis-cli", "-u", url, "DEL", *keys], check=True, capture_output=True)


def leavers(school):
    """Sara and Daan leave the school (as in the R16 step of the rules test)."""
    school.edit("getLeerlingen", "<datumInschrijving>2023-05-20</datumInschrijving>",
                "<datumInschrijving>2023-05-20</datumInschrijving>" + leave("2026-11-01"))
    school.edit("getLeerlingen", "<datumInschrijving>2026-03-03</datumInschrijving>",
                "<datumInschrijving>2026-03-03</datumInschrijving>" + leave("2026-11-01"))


def after_leavers(m):
    """Sara and Daan inactive; Fatima has no active child left (R16); 1/2A
    holds leerjaar 2 only, so its jaargroep takes the lesgroep's name (R3);
    the leerjaar-1 jaargroep, the composite, Groep 3 and Rekenplus map to
    nothing any more and are orphaned, emptied of LAS members (R5)."""
    m.users[S3]["active"] = False
    m.users[S2]["active"] = False
    m.users[F]["active"] = False
    m.users[A]["of"] = {(S1, "MOEDER")}
    m.users[P]["of"] = {(S1, "VADER")}
    m.groups[G2]["name"] = "1/2A"
    for g in (G1, G3, C12, REK):
        m.groups[g].update(orphaned=True, members=set())


def test_leavers_while_redis_was_lost_are_deactivated(pipeline):
    brin = brin_for(pipeline, 31)
    school = School(pipeline, brin, "k31")
    pipeline.tenant("school", brin=brin, key="k31")
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    try:
        ok(pipeline.sync("school"))
        owned = set_portal_owned(pipeline.portal, tenant)
        drop_redis(pipeline, "school")
        leavers(school)
        out = ok(pipeline.sync("school"))
        assert "users created=0" in out, out
        m = initial_model()
        after_leavers(m)
        check(pipeline.portal, tenant, m, owned, step="reconcile after a lost Redis")
        assert "reconcile_retire " in pipeline.log_text("applier")
        # Now the expected state holds again: an unchanged sync writes nothing.
        writes = pipeline.portal.stats(tenant)["writes"]
        ok(pipeline.sync("school"))
        assert pipeline.portal.stats(tenant)["writes"] == writes
    finally:
        school.remove()


def test_reconcile_retire_respects_the_deletion_guard(pipeline):
    brin = brin_for(pipeline, 32)
    school = School(pipeline, brin, "k32")
    # 3 deactivations (Sara, Daan, Fatima) of 9 active: over a guard of 2
    pipeline.tenant("school", brin=brin, key="k32", settings={"guard_min": 2,
                                                               "guard_percent": 10})
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    try:
        ok(pipeline.sync("school"))
        drop_redis(pipeline, "school")
        leavers(school)
        out = ok(pipeline.sync("school"))
        assert "stay active: over the deletion guard (limit 2 of 9 active)" in out, out
        assert "--full --approve 3" in out, out
        active = {u["externalId"]: u.get("active") for u in pipeline.portal.users(tenant)}
        assert active[S3] is True and active[S2] is True and active[F] is True, active
        # The groups are orphaned all the same: that deletes nothing.
        m = initial_model()
        after_leavers(m)
        for u in (S2, S3, F):
            m.users[u]["active"] = True
        m.users[F]["of"] = {(S2, "MOEDER")}
        check(pipeline.portal, tenant, m, step="held by the guard")
        # After checking the LAS, the operator approves what the result said.
        out = ok(pipeline.ctl("sync", "school", "--full", "--approve", "3", "--as-of",
                              "2026-11-29", "--wait", "180", timeout=240))
        m = initial_model()
        after_leavers(m)
        check(pipeline.portal, tenant, m, step="approved")
    finally:
        school.remove()
