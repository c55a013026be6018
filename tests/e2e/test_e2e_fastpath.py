"""The mapper's unchanged-snapshot fast path, on the real stack.

Every sync that leaves an expected state records what it was mapped from;
the next snapshot with the same documents, configuration and program, a
sync date the mapping still holds for, and that expected state still in
Redis as it was, plans nothing and ends in the mapper without being
parsed.  These tests check that it is
taken when it should be, and - what matters to a school - that every other
case still takes the full path: a date past a 4th birthday (R13), a config
change, a lost expected state.  A held sync (R17) leaves the expected state
and its record as they were, so the LAS's next, repaired export of the
same documents takes the fast path - and must end the hold as the full
path would.

The example school at 2026-11-29: Noah Bakker (100004, born 2023-01-15) is
3, so neither he nor his only guardian Tom (200004) is imported; he turns 4
on 2027-01-15, the day his placement in 1/2A begins.
"""

from __future__ import annotations

import re
import subprocess

from harness import ROOT, metric_sum
from test_e2e_rules_parnassys import School, brin_for, ok

EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
KEY = (EXAMPLE / "leveranciersleutel").read_text().strip()
NOAH, TOM = "parnassys:student:100004", "parnassys:guardian:200004"


def unchanged(pipeline) -> float:
    return metric_sum(pipeline.daemons["mapper"].metrics(), "lasync_mapper_unchanged_total")


def redis(pipeline, *args: str) -> str:
    port = pipeline.env["LASYNC_REDIS_URL"].rsplit(":", 1)[1]
    return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True, text=True,
                          check=True).stdout


def test_r9_r13_unchanged_snapshot_fast_path_and_nothing_else(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")

    def sync(date: str, fast: bool, stage: str | None = "mapper"):
        before = unchanged(pipeline)
        out = pipeline.sync("delinde", as_of=date, check=stage is not None).stdout
        if stage is not None:
            assert f": ok (stage {stage})" in out, out
        assert unchanged(pipeline) == before + (1 if fast else 0), \
            f"{date}: {'fast' if fast else 'full'} path expected\n{out}"

    sync("2026-11-29", fast=False, stage="applier")
    writes = pipeline.portal.stats(tenant)
    # The next night: same documents, a date inside the window.
    sync("2026-11-30", fast=True)
    assert "snapshot_unchanged" in pipeline.log_text("mapper")
    assert pipeline.portal.stats(tenant) == writes, "an unchanged school writes nothing"
    sync("2027-01-14", fast=True)

    # R13: on his 4th birthday Noah is imported with Tom - the window ended
    # the day before, whatever the documents.
    sync("2027-01-15", fast=False, stage="applier")
    users = {u["externalId"] for u in pipeline.portal.users(tenant)}
    assert NOAH in users and TOM in users, sorted(users)
    sync("2027-01-16", fast=True)

    # A parent's edit marks a profile dirty (R9): the full path rewrites it.
    exp = redis(pipeline, "--scan", "--pattern", f"{pipeline.prefix}:*expected*").split()
    assert len(exp) == 1, "the tenant's expected state in Redis"
    dirty = exp[0].replace("expected", "dirty")
    redis(pipeline, "SADD", dirty, "parnassys:guardian:200001")
    sync("2027-01-18", fast=False, stage=None)
    assert redis(pipeline, "SCARD", dirty).strip() == "0"
    sync("2027-01-19", fast=True)

    # A configuration change (a new revision) takes the full path.
    pipeline.tenant("delinde", brin="99ZZ", key=KEY, settings={"default_staff_role": "Staf"})
    sync("2027-01-21", fast=False)
    sync("2027-01-22", fast=True)

    # The expected state gone from Redis: the record no longer vouches for
    # it, the sync reconciles against the portal and creates nothing twice.
    redis(pipeline, "DEL", exp[0])
    before = pipeline.portal.stats(tenant)
    sync("2027-01-23", fast=False, stage="applier")
    assert pipeline.portal.stats(tenant)["POST"] == before["POST"], "nothing created twice"
    sync("2027-01-24", fast=True)

    # A byte changed in the expected state: not the state the record was
    # made with, so the full path again.
    redis(pipeline, "APPEND", exp[0], "x")
    sync("2027-01-26", fast=False, stage=None)


def test_r17_a_held_sync_replaced_by_an_unchanged_snapshot_is_no_longer_held(pipeline):
    brin = brin_for(pipeline, 41)
    school = School(pipeline, brin, "k41")
    pipeline.tenant("school", brin=brin, key="k41",
                    settings={"guard_min": 2, "guard_percent": 30})
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    try:
        ok(pipeline.sync("school"))
        writes = pipeline.portal.stats(tenant)["writes"]
        # An export without students: 6 of 9 would be deactivated, held.
        path = school.dir / "getLeerlingen.xml"
        whole = path.read_text()
        path.write_text(re.sub(r"<leerling>.*?</leerling>", "", whole, flags=re.S))
        held = pipeline.sync("school", check=False)
        assert ": held (stage mapper)" in held.stdout, held.stdout
        mapper = pipeline.daemons["mapper"]
        assert metric_sum(mapper.metrics(), "lasync_tenant_held") == 1

        # The LAS repairs its export: the documents of the applied sync.
        path.write_text(whole)
        before = unchanged(pipeline)
        out = pipeline.sync("school").stdout
        assert ": ok (stage mapper)" in out, out
        assert unchanged(pipeline) == before + 1, "the fast path was not taken"
        assert metric_sum(mapper.metrics(), "lasync_tenant_held") == 0
        status = {s["tenant"]: s for s in pipeline.status()}["school"]
        assert status["outcome"] == "ok", status
        no = pipeline.ctl("sync", "approve", "school", check=False)
        assert no.returncode == 1 and "no held sync" in no.stderr, no.stderr
        assert pipeline.portal.stats(tenant)["writes"] == writes, "the hold applied something"
    finally:
        school.remove()
