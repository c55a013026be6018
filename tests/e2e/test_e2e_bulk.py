"""SCIM Bulk in the applier: a first import through the whole pipeline.

The test portal announces Bulk (maxOperations 1000, maxPayloadSize 1 MiB,
docs/scim-portal.md §g). With --scim-bulk auto (the default) the applier
sends the users' creates and the PATCHes of each stage as Bulk requests: the portal's
own counters (/_stats) must show Bulk requests carrying the writes, and far
fewer HTTP requests than resources. With --scim-bulk off not one Bulk
request. Either way the portal must end exactly as the LAS says: every
externalId once, as many users and groups as the mapper planned, and a
full reconcile finds nothing to repair (verify.py).

A Bulk the portal fails as a whole (HTTP 503) is transient for the job:
the retry looks everything up again and the portal still ends exactly
right, nothing lost, nothing twice. A Bulk the portal carries out but
answers after the applier's timeout is transient too: the retry finds the
users already there. Either way the sync's result counts what the sync
did, over all its attempts: every planned user and group created, once.
"""

from __future__ import annotations

import pytest

from harness import cleanup_school, metric_sum
from test_e2e_crash import brin_for
from verify import planned_counts, portal_matches_las

STUDENTS = 300
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def first_import(pipeline, n: int, bulk: str) -> tuple[dict, dict, object]:
    """A generated school of the test's own, synced once with --scim-bulk
    bulk; returns the portal's counters for the tenant, the planned counts
    and the school's fixture dir."""
    brin = brin_for(pipeline.prefix, n)
    school = pipeline.las.generate("parnassys", brin, STUDENTS, seed=17, key="bulk-key")
    pipeline.tenant("bulky", brin=brin, key="bulk-key")
    pipeline.start(extra={"applier": ["--scim-bulk", bulk]})
    out = pipeline.sync("bulky", wait=600).stdout
    assert ": ok (stage applier)" in out, out
    stats = pipeline.portal.stats(pipeline.portal_tenant("bulky"))
    return stats, planned_counts(pipeline, "bulky"), school


@pytest.mark.parametrize("bulk", ["auto", "off"])
def test_first_import_with_and_without_bulk(pipeline, bulk):
    stats, want, school = first_import(pipeline, 1 if bulk == "auto" else 2, bulk)
    try:
        resources = want["users"] + want["groups"]
        requests = sum(stats.get(m, 0) for m in METHODS)
        status = {s["tenant"]: s for s in pipeline.status()}["bulky"]
        assert status["counts"]["users_created"] == want["users"], status
        assert status["counts"]["groups_created"] == want["groups"], status
        bulks = metric_sum(pipeline.daemons["applier"].metrics(),
                           "lasync_applier_bulk_requests_total")
        if bulk == "auto":
            assert stats["bulk"] >= 1, stats
            # every user's create (and the memberships' PATCHes) inside a
            # Bulk; a group's create alone (applier_write says why)
            assert stats["bulk_operations"] >= want["users"], (stats, want)
            assert stats["POST"] - stats["bulk"] == want["groups"], (stats, want)
            assert requests * 10 < resources, (stats, want)
            assert bulks == stats["bulk"]
            assert metric_sum(pipeline.daemons["applier"].metrics(),
                              "lasync_applier_bulk_requests_total", outcome="ok") == bulks
        else:
            assert stats["bulk"] == 0 and stats["bulk_operations"] == 0, stats
            assert stats["POST"] >= resources, (stats, want)
            assert bulks == 0
        portal_matches_las(pipeline, "bulky")
    finally:
        cleanup_school(school)


def bulk_fault_then_sync(pipeline, n: int, seed: int, fault: dict, extra=None) -> dict:
    """A first import of a school of the test's own whose first Bulk (of
    users' creates) meets fault: the sync ends OK after a retry, with that
    one Bulk transient, counts over all its attempts, and the portal
    exactly right.  Returns the portal's counters for the tenant."""
    brin = brin_for(pipeline.prefix, n)
    school = pipeline.las.generate("parnassys", brin, STUDENTS, seed=seed, key="bulk-key")
    try:
        pipeline.tenant("bulky", brin=brin, key="bulk-key")
        pipeline.start(extra=extra)
        tenant = pipeline.portal_tenant("bulky")
        pipeline.portal.faults(dict(fault, tenant=tenant, methods=["POST"], path="/Bulk",
                                    count=1))
        out = pipeline.sync("bulky", wait=600).stdout
        assert ": ok (stage applier)" in out, out
        stats = pipeline.portal.stats(tenant)
        assert metric_sum(pipeline.daemons["applier"].metrics(),
                          "lasync_applier_bulk_requests_total", outcome="transient") == 1
        assert_counts_of_all_attempts(pipeline, "bulky")
        portal_matches_las(pipeline, "bulky")
        return stats
    finally:
        pipeline.portal.faults(None)
        cleanup_school(school)


def assert_counts_of_all_attempts(pipeline, tenant_id: str):
    """The result counts every planned resource created once, though the
    attempt that completed the sync found most of it done (the groups by
    the first attempt, the users by a Bulk)."""
    want = planned_counts(pipeline, tenant_id)
    counts = {s["tenant"]: s for s in pipeline.status()}[tenant_id]["counts"]
    assert counts["users_created"] == want["users"], (counts, want)
    assert counts["groups_created"] == want["groups"], (counts, want)
    assert counts.get("users_updated", 0) == 0, counts
    assert counts.get("ops_skipped", 0) == 0, counts


def test_a_bulk_failed_as_a_whole_is_retried_and_applies_exactly_once(pipeline):
    stats = bulk_fault_then_sync(pipeline, 3, 19, {"status": 503, "retry_after": 1})
    assert stats["faulted"] == 1 and stats["bulk"] >= 1, stats


def test_a_bulk_answered_after_the_timeout_counts_as_created(pipeline):
    # The first Bulk is carried out, but answered after 4.5 s: the applier
    # has given up on it (a Bulk may take up to twice the 1.5 s timeout)
    # and retries the sync 5-10 s later, which finds the Bulk's users
    # there.
    stats = bulk_fault_then_sync(pipeline, 4, 23, {"delay_ms": 4500},
                                 extra={"applier": ["--portal-timeout-ms", "1500",
                                                    "--backoff-base-ms", "10000"]})
    assert stats["bulk"] >= 2, stats


def test_a_listing_page_too_slow_for_the_timeout_is_asked_for_in_halves(pipeline):
    """A portal that cannot serve a page of 1,000 users within the timeout
    would fail every attempt of a reconcile alike; the applier asks for
    half as many and goes on in the same attempt.  The same holds for the
    listing of the portal's users without an externalId (the profiles a
    first import may link to), which then asks for half again."""
    brin = brin_for(pipeline.prefix, 5)
    school = pipeline.las.generate("parnassys", brin, 60, seed=29, key="bulk-key")
    try:
        pipeline.tenant("bulky", brin=brin, key="bulk-key")
        pipeline.start(extra={"applier": ["--portal-timeout-ms", "1500"]})
        tenant = pipeline.portal_tenant("bulky")
        # the first listing page (the reconcile's, before any other GET of
        # /Users) is answered after 3 s
        pipeline.portal.faults({"tenant": tenant, "delay_ms": 3000, "methods": ["GET"],
                                "path": "/Users", "count": 1})
        # and the first page of users without an externalId
        pipeline.portal.faults({"tenant": tenant, "delay_ms": 3000, "methods": ["GET"],
                                "path": "/Users", "query": "not (externalId pr)",
                                "count": 1})
        out = pipeline.sync("bulky", wait=600).stdout
        assert ": ok (stage applier)" in out, out
        log = pipeline.log_text("applier")
        slow = [line for line in log.splitlines() if "event=portal_list_slow" in line]
        assert len(slow) == 2 and "page=500" in slow[0] and "page=250" in slow[1], slow
        assert "event=job_retry" not in log, "the slow page cost an attempt"
        assert_counts_of_all_attempts(pipeline, "bulky")
        portal_matches_las(pipeline, "bulky")
    finally:
        pipeline.portal.faults(None)
        cleanup_school(school)
