"""Bad input gets a clear error naming its cause and loses nothing else.

Each case runs next to a healthy tenant whose sync must still succeed:
malformed LAS XML, a refused LAS key (never retried), an oversized
document, a LAS that fails for a while or answers too slowly (both
retried), and a poison message on a topic (which ends in that
topic's dead-letter topic while its partition keeps flowing).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness import ROOT, cleanup_school, env, metric_sum, wait_until
from test_e2e_crash import brin_for, pending_las_faults
from test_e2e_parnassys import KEY, check_example_portal

EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"


def example_copy(pipeline, tenant_id: str, n: int) -> Path:
    """The example school under a BRIN of this test's own (n-th), as
    tenant_id. The LAS simulator is shared: fault rules on this school touch
    no other test's requests, and are left to be used up, never cleared for
    everyone."""
    brin = brin_for(pipeline.prefix, n)
    school = pipeline.las.add_school_from(EXAMPLE, "parnassys", brin, KEY, {"99ZZ": brin})
    pipeline.tenant(tenant_id, brin=brin, key=KEY)
    return school


def two_tenants(pipeline, **start) -> Path:
    """'good' is the example school; 'other' is a copy of it (returned)."""
    pipeline.tenant("good", brin="99ZZ", key=KEY)
    other = example_copy(pipeline, "other", 1)
    pipeline.start(**start)
    return other


def result_line(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("sync ") and ": " in line
                 and "requested" not in line), out)


def test_malformed_las_xml_fails_that_sync_only(pipeline):
    other = two_tenants(pipeline)
    try:
        pipeline.las.faults({"vendor": "parnassys", "school": other.name,
                             "operation": "getLeerlingen", "body": "malformed", "count": 1})
        bad = pipeline.sync("other", check=False)
        line = result_line(bad.stdout)
        assert bad.returncode == 1 and "failed (stage mapper)" in line, bad.stdout
        assert "getLeerlingen" in line, f"the error must name the document: {line}"
        assert pipeline.portal.stats(pipeline.portal_tenant("other"))["writes"] == 0
        good = pipeline.sync("good")
        assert ": ok (stage applier)" in good.stdout
        check_example_portal(pipeline.portal, pipeline.portal_tenant("good"))
        # The fault is gone: the next sync of the same school works.
        again = pipeline.sync("other")
        assert ": ok (stage applier)" in again.stdout, again.stdout
    finally:
        cleanup_school(other)


def test_refused_las_key_is_a_clear_failed_result(pipeline):
    pipeline.tenant("wrongkey", brin="99ZZ", key="not-the-key")
    pipeline.start()
    p = pipeline.sync("wrongkey", check=False)
    line = result_line(p.stdout)
    assert p.returncode == 1 and "failed (stage fetcher)" in line, p.stdout
    assert "leveranciersleutel" in line, line
    assert pipeline.portal.stats(pipeline.portal_tenant("wrongkey"))["writes"] == 0
    status = {s["tenant"]: s for s in pipeline.status()}
    assert status["wrongkey"]["outcome"] == "failed"
    # A refused key is permanent: failed at the first answer, never retried
    # (retrying cannot help, and it only delays the school's message).
    log = pipeline.log_text("fetcher")
    assert "class=las_auth permanent=1" in log, log[-2000:]
    assert "event=job_retry" not in log, log[-2000:]


def test_las_failing_for_a_while_is_retried(pipeline):
    school = example_copy(pipeline, "good", 2)
    try:
        pipeline.start()
        pipeline.las.faults({"vendor": "parnassys", "school": school.name, "status": 503,
                             "count": 2})
        out = pipeline.sync("good").stdout
        assert ": ok (stage applier)" in out, out
        assert "event=job_retry" in pipeline.log_text("fetcher")
        check_example_portal(pipeline.portal, pipeline.portal_tenant("good"))
    finally:
        cleanup_school(school)


def test_las_timeout_is_retried(pipeline):
    """A LAS call that outlives --las-timeout-ms is a transient failure of
    class las_timeout: the fetch is retried and the sync ends ok."""
    school = example_copy(pipeline, "slow", 3)
    try:
        pipeline.start(extra={"fetcher": ["--las-timeout-ms", "1000"]})
        pipeline.las.faults({"vendor": "parnassys", "school": school.name,
                             "operation": "getLeerlingen", "delay_ms": 4000, "count": 1})
        out = pipeline.sync("slow").stdout
        assert ": ok (stage applier)" in out, out
        assert not pending_las_faults(pipeline, school.name), "the delay rule was never used"
        log = pipeline.log_text("fetcher")
        failed = [line for line in log.splitlines() if "event=las_call_failed" in line]
        assert any("op=getLeerlingen" in line and "class=las_timeout" in line
                   and "permanent=0" in line for line in failed), failed
        retries = [line for line in log.splitlines() if "event=job_retry" in line]
        assert any("tenant=slow" in line and "class=las_timeout" in line
                   and "timed out" in line for line in retries), retries
        check_example_portal(pipeline.portal, pipeline.portal_tenant("slow"))
    finally:
        cleanup_school(school)


def test_oversized_document_is_refused_by_name(pipeline):
    # The example getLeerlingen is 5.6 kB; this fetcher accepts 4 kB.
    pipeline.tenant("good", brin="99ZZ", key=KEY)
    pipeline.start(extra={"fetcher": ["--max-doc-bytes", "4096"]})
    p = pipeline.sync("good", check=False)
    line = result_line(p.stdout)
    assert p.returncode == 1 and "failed (stage fetcher)" in line, p.stdout
    assert "getLeerlingen" in line and "limit" in line, line
    assert pipeline.portal.stats(pipeline.portal_tenant("good"))["writes"] == 0


def kcat(*args: str, data: bytes | None = None) -> str:
    p = subprocess.run(["kcat", "-b", env("LASYNC_KAFKA_BROKERS"), *args], input=data,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode(errors="replace")


def test_poison_message_goes_to_dlq_and_the_partition_flows(pipeline):
    other = two_tenants(pipeline)
    try:
        snapshots = f"{pipeline.prefix}.snapshots.parnassys"
        changes = f"{pipeline.prefix}.portal-changes"
        # Garbage keyed by the tenants, so it lands on their partitions,
        # ahead of their real events.
        for topic in (snapshots, changes):
            for key in ("good", "other"):
                kcat("-P", "-t", topic, "-k", key, data=b"\x08\xff\xffnot a protobuf")
        assert ": ok (stage applier)" in pipeline.sync("good").stdout
        assert ": ok (stage applier)" in pipeline.sync("other").stdout
        check_example_portal(pipeline.portal, pipeline.portal_tenant("good"))
        for topic in (snapshots, changes):
            out = kcat("-C", "-t", f"{topic}.dlq", "-e", "-q", "-f",
                       "%k|%h\\n")
            lines = [line for line in out.splitlines() if line.strip()]
            assert len(lines) == 2, out
            for line in lines:
                assert f"lasync.origin.topic={topic}" in line, line
                assert "lasync.error.class=decode" in line, line
                assert "lasync.origin.offset=" in line and "lasync.stage=" in line, line
    finally:
        cleanup_school(other)


def _msg(*fields: bytes) -> bytes:
    return b"".join(fields)


def _header(tenant: str, sync_id: str) -> bytes:
    from test_e2e_notifier import _str

    return _str(1, tenant) + _str(2, "e-" + sync_id) + _str(3, sync_id)


def _sub(num: int, body: bytes) -> bytes:
    from test_e2e_notifier import _varint

    return _varint(num << 3 | 2) + _varint(len(body)) + body


VENDOR_ENUM = {"parnassys": 1, "esis": 2}  # lasync.v1.Vendor


def poison_events(tenant: str, key: str, vendor: str = "parnassys") -> dict[str, bytes]:
    """Well-formed events of each stage's input for header tenant `tenant`
    (sent under message key `key`): lasync.v1 SyncRequest, Snapshot and
    ChangeSet, encoded by hand; the first two on `vendor`'s topics."""
    from test_e2e_notifier import _int, _str

    h = _sub(1, _header(tenant, "s-poison"))
    v = VENDOR_ENUM[vendor]
    return {
        f"sync-requests.{vendor}": _msg(h, _int(2, v)),
        f"snapshots.{vendor}": _msg(h, _int(2, v), _str(4, "2026-11-29")),
        "portal-changes": _msg(h, _int(2, 1), _int(3, 1), _int(4, 1)),
    }


def dlq_classes(pipeline, topic: str) -> list[str]:
    """The lasync.error.class of every letter in <topic>.dlq, sorted; each
    letter must name topic as its origin."""
    p = pipeline.prefix
    out = kcat("-C", "-t", f"{p}.{topic}.dlq", "-e", "-q", "-f", "%h\\n")
    got = []
    for line in out.splitlines():
        if not line.strip():
            continue
        assert f"lasync.origin.topic={p}.{topic}" in line, line
        got.append(line.split("lasync.error.class=")[1].split(",")[0])
    return sorted(got)


def synced_once(pipeline) -> tuple[str, str]:
    """The example school as tenant "good", synced once: the topic prefix
    and the sync's id."""
    pipeline.tenant("good", brin="99ZZ", key=KEY)
    pipeline.start()
    first = pipeline.sync("good")
    assert ": ok (stage applier)" in first.stdout, first.stdout
    return pipeline.prefix, first.stdout.split("sync ", 1)[1].split(" ", 1)[0]


def first_message(topic: str) -> bytes:
    """The value of a topic's first message, byte for byte (kcat -D ''
    keeps it binary)."""
    return subprocess.run(["kcat", "-b", env("LASYNC_KAFKA_BROKERS"), "-C", "-t", topic, "-e",
                           "-q", "-c", "1", "-D", "", "-f", "%s"],
                          capture_output=True, timeout=60, check=True).stdout


def produce_file(pipeline, topic: str, key: str | None, value: bytes):
    """One message from a file (kcat -P splits stdin at newlines, and 0x0a
    is also the tag of a protobuf's field 1); key None sends none."""
    f = pipeline.dir / f"poison-{len(list(pipeline.dir.glob('poison-*')))}"
    f.write_bytes(value)
    kcat("-P", "-t", f"{pipeline.prefix}.{topic}", *(["-k", key] if key is not None else []),
         str(f))


def test_poison_on_every_topic_is_dead_lettered_and_the_partitions_flow(pipeline):
    """Each stage's input topic gets, ahead of the tenants' real events:
    bytes that are no protobuf (decode), an event for a tenant nobody
    configured (unknown_tenant), and an event whose header names another
    tenant than its key (schema); the notifier's reminders topic gets
    garbage.  Every one ends in that topic's DLQ with its class, and both
    tenants' syncs go through.  The topics the notifier only follows
    (sync-results; portal-changes, dead-lettered by the applier) get
    garbage it skips with a warning naming the cause."""
    other = two_tenants(pipeline)

    def produce(topic: str, key: str, value: bytes):
        produce_file(pipeline, topic, key, value)

    try:
        want: dict[str, list[str]] = {}
        for key in ("good", "other"):
            for topic, ev in poison_events("ghost", key).items():
                produce(topic, "ghost" if key == "good" else key, ev)
                want.setdefault(topic, []).append(
                    "unknown_tenant" if key == "good" else "schema")
            for topic in ("sync-requests.parnassys", "snapshots.parnassys", "portal-changes"):
                produce(topic, key, b"\x0a\xff\xffgarbage")
                want[topic].append("decode")
        for key in ("good", "other"):
            produce("suggestion-reminders", key, b"\x0a\xff\xffgarbage")
            want.setdefault("suggestion-reminders", []).append("decode")
            # The notifier only follows sync-results (and portal-changes,
            # whose DLQ is the applier's): it skips garbage there, saying so.
            produce("sync-results", key, b"\x0a\xff\xffgarbage")
        assert ": ok (stage applier)" in pipeline.sync("good").stdout
        assert ": ok (stage applier)" in pipeline.sync("other").stdout
        check_example_portal(pipeline.portal, pipeline.portal_tenant("good"))

        for topic, classes_wanted in want.items():
            wait_until(lambda: dlq_classes(pipeline, topic) == sorted(classes_wanted), 60,
                       f"{topic}.dlq to hold {sorted(classes_wanted)}")
        wait_until(lambda: pipeline.log_text("notifier").count(
            "event=result_skipped") >= 2 and pipeline.log_text("notifier").count(
            "event=changeset_skipped") >= 2, 30, "the notifier to skip the garbage it follows")
    finally:
        cleanup_school(other)


def test_poison_on_the_esis_topics_is_dead_lettered_and_the_partitions_flow(pipeline):
    """The same poison on the ESIS workers' input topics
    (sync-requests.esis, snapshots.esis), ahead of two ESIS tenants' real
    events: no protobuf (decode), a tenant nobody configured
    (unknown_tenant), a header naming another tenant than the key
    (schema).  Each ends in that topic's DLQ with its class, and both ESIS
    tenants' syncs go through."""
    from test_e2e_esis import check_example_portal as check_esis_portal
    from test_e2e_esis import copy_school, esis_tenant

    school = copy_school(pipeline, "BasisOnline Ouderportaal")
    try:
        esis_tenant(pipeline, "dewilg")
        esis_tenant(pipeline, "other", school=school)
        pipeline.start(*pipeline.workers("esis"), "applier", "notifier")
        topics = ("sync-requests.esis", "snapshots.esis")
        want: dict[str, list[str]] = {t: [] for t in topics}
        for key in ("dewilg", "other"):
            for topic, ev in poison_events("ghost", key, vendor="esis").items():
                if topic not in topics:
                    continue
                produce_file(pipeline, topic, "ghost" if key == "dewilg" else key, ev)
                want[topic].append("unknown_tenant" if key == "dewilg" else "schema")
            for topic in topics:
                produce_file(pipeline, topic, key, b"\x0a\xff\xffgarbage")
                want[topic].append("decode")
        out = pipeline.sync("dewilg").stdout
        assert ": ok (stage applier)" in out, out
        out = pipeline.sync("other").stdout
        assert ": ok (stage applier)" in out, out
        check_esis_portal(pipeline.portal, pipeline.portal_tenant("dewilg"))
        check_esis_portal(pipeline.portal, pipeline.portal_tenant("other"))
        for topic, classes_wanted in want.items():
            assert sorted(classes_wanted) == sorted(
                ["unknown_tenant", "schema", "decode", "decode"]), classes_wanted
            wait_until(lambda: dlq_classes(pipeline, topic) == sorted(classes_wanted), 60,
                       f"{topic}.dlq to hold {sorted(classes_wanted)}")
        # Each poison was judged by that topic's ESIS worker.
        for stage, topic in (("fetcher-esis", "sync-requests.esis"),
                             ("mapper-esis", "snapshots.esis")):
            log = pipeline.log_text(stage)
            assert log.count("event=dead_lettered") >= 4, (stage, log[-2000:])
    finally:
        shutil.rmtree(pipeline.las.school_dir("esis", school), ignore_errors=True)


GARBAGE = b"\x0a\xff\xffgarbage: not a record"


def skipped_lines(text: str, topic: str) -> list[str]:
    return [ln for ln in text.splitlines()
            if "event=state_record_skipped" in ln and f"topic={topic} " in ln]


def test_garbage_on_state_topics_is_skipped_and_followed_past(pipeline):
    """Undecodable records on the compacted state topics every service
    follows (tenants; held-syncs, schedule and suggestion-status for
    lasyncctl and the notifier) are skipped with one warning naming topic,
    offset and cause, and counted; nobody stops or stalls on them.  A
    tenant's config change put after the garbage is applied (its sync,
    failing on a wrong LAS key before, then goes through); the tenant put
    before it still syncs; a daemon restarted with the garbage in the
    topic loads past it."""
    p = pipeline.prefix
    wrong, right = pipeline.dir / "good-wrong.key", pipeline.dir / "good.key"
    wrong.write_text("not-the-key\n")
    right.write_text(KEY + "\n")
    pipeline.tenant("good", brin="99ZZ", key=KEY, las={"key_ref": f"file:{wrong}"})
    other = example_copy(pipeline, "other", 4)
    try:
        pipeline.start()
        bad = pipeline.sync("good", check=False)
        assert "failed (stage fetcher)" in result_line(bad.stdout), bad.stdout

        tenants, held = f"{p}.tenants", f"{p}.held-syncs"
        schedule, status = f"{p}.schedule", f"{p}.suggestion-status"
        # The schedule holds a good record for each tenant (both due, never
        # synced); the syncs it requests run later, after good's fix.
        due = pipeline.ctl("sync", "--due", "--now", "2026-11-29T06:00")
        assert "requested 2 sync(s)" in due.stdout, due.stdout
        for key in ("good", "ghost"):
            produce_file(pipeline, "tenants", key, GARBAGE)
        produce_file(pipeline, "held-syncs", "good", GARBAGE)
        produce_file(pipeline, "schedule", "good", GARBAGE)
        produce_file(pipeline, "suggestion-status", "good/s-garbage", GARBAGE)

        daemons = ("fetcher", "mapper", "applier", "notifier")
        for name in daemons:
            wait_until(lambda: len(skipped_lines(pipeline.log_text(name), tenants)) == 2, 30,
                       f"{name} to skip both garbage records of {tenants}")
        # Loading from the beginning with the garbage in it: no crash.
        mapper = pipeline.daemons["mapper"]
        mapper.signal(signal.SIGTERM)
        assert mapper.wait_exit(15) == 0
        pipeline.restart("mapper")
        for name in daemons:
            lines = skipped_lines(pipeline.log_text(name), tenants)
            assert len(lines) == (4 if name == "mapper" else 2), (name, lines)
            for ln in lines:
                assert "level=warn " in ln, ln
                assert "offset=" in ln and "partition=" in ln, ln
                assert 'cause="not a TenantConfig message' in ln, ln
                assert "garbage" not in ln, f"the record's content reached the log: {ln}"
            m = pipeline.daemons[name].metrics()
            assert metric_sum(m, "lasync_state_records_skipped_total", topic=tenants) == 2, name
        assert len({ln.split("offset=")[1].split()[0] + ln.split("key=")[1].split()[0]
                    for ln in skipped_lines(pipeline.log_text("fetcher"), tenants)}) == 2

        # A config change after the garbage is picked up by every stage.
        pipeline.tenant("good", brin="99ZZ", key=KEY, las={"key_ref": f"file:{right}"})
        out = pipeline.sync("good").stdout
        assert ": ok (stage applier)" in out, out
        check_example_portal(pipeline.portal, pipeline.portal_tenant("good"))
        # other, put before the garbage, synced (by the schedule) and
        # syncs: unchanged now, so the mapper ends it.
        out = pipeline.sync("other").stdout
        assert ": ok (stage " in out, out
        assert len(pipeline.portal.users(pipeline.portal_tenant("other"))) == \
            len(pipeline.portal.users(pipeline.portal_tenant("good"))) > 0

        # lasyncctl reads past the garbage too, saying so on stderr: the
        # tenant's schedule record before it stays (nothing is due again),
        # and garbage on held-syncs is no held sync.
        again = pipeline.ctl("sync", "--due", "--now", "2026-11-29T06:30")
        assert "requested 0 sync(s)" in again.stdout, again.stdout
        assert skipped_lines(again.stderr, schedule), again.stderr
        assert 'cause="not a JSON object"' in again.stderr, again.stderr
        assert skipped_lines(again.stderr, tenants), "lasyncctl follows the tenants topic too"
        rej = pipeline.ctl("sync", "reject", "good", check=False)
        assert rej.returncode == 1 and "no held sync" in rej.stderr, rej.stderr
        assert skipped_lines(rej.stderr, held), rej.stderr
        # The notifier's suggestion status: skipped with a warning, the
        # notifier still runs.
        wait_until(lambda: skipped_lines(pipeline.log_text("notifier"), status), 30,
                   "the notifier to skip the garbage suggestion status")
        assert metric_sum(pipeline.daemons["notifier"].metrics(),
                          "lasync_state_records_skipped_total", topic=status) == 1
        for name in daemons:
            assert pipeline.daemons[name].running(), f"{name} stopped"
    finally:
        cleanup_school(other)


def test_a_sync_request_delivered_again_does_not_report_the_sync_twice(pipeline):
    """A sync request met again (a broker restart before the fetcher's
    offset commit) makes the fetcher fetch a second snapshot of the same
    sync: a newer generation, the same documents.  The mapper drops it
    (snapshot_refetched): its expected state is that sync's own, and an
    answer from it - a second change set, or a result at stage mapper -
    would report the sync again, in the chaos test before the applier had
    applied it."""
    p, sync_id = synced_once(pipeline)
    req = pipeline.dir / "request.bin"
    raw = first_message(f"{p}.sync-requests.parnassys")
    assert sync_id.encode() in raw, "the sync's own request"
    req.write_bytes(raw)

    def offsets(topic: str) -> list[str]:
        return kcat("-C", "-t", f"{p}.{topic}", "-e", "-q", "-f", "%o\\n").split()

    snaps_before = offsets("snapshots.parnassys")
    changes_before = offsets("portal-changes")
    results_before = offsets("sync-results")
    kcat("-P", "-t", f"{p}.sync-requests.parnassys", "-k", "good", str(req))
    refetched = f"event=snapshot_refetched tenant=good sync={sync_id}"
    wait_until(lambda: refetched in pipeline.log_text("mapper")
               or offsets("sync-results") != results_before
               or offsets("portal-changes") != changes_before, 60,
               "the mapper to answer the second snapshot")
    time.sleep(1)
    assert len(offsets("snapshots.parnassys")) == len(snaps_before) + 1, \
        "the fetcher fetched again"
    assert offsets("portal-changes") == changes_before, "a second change set"
    assert offsets("sync-results") == results_before, "a second result"
    assert refetched in pipeline.log_text("mapper")
    # and the tenant's next sync is answered as ever (the fast path)
    again = pipeline.sync("good")
    assert ": ok (stage mapper)" in again.stdout and "operations=0" in again.stdout, again.stdout


def test_redelivered_snapshot_is_not_mapped_again(pipeline):
    """A snapshot met again after its change set was acknowledged (what a
    lost offset commit does: a broker restart, a rebalance) finishes
    without a second map, change set or result: the mapper logs
    snapshot_already_mapped, and the sync keeps its one real result."""
    p, sync_id = synced_once(pipeline)
    snap = pipeline.dir / "snapshot.bin"
    # the stored snapshot, byte for byte
    raw = first_message(f"{p}.snapshots.parnassys")
    assert len(raw) > 100
    snap.write_bytes(raw)
    changes_before = kcat("-C", "-t", f"{p}.portal-changes", "-e", "-q", "-f", "%o\\n").split()
    results_before = kcat("-C", "-t", f"{p}.sync-results", "-e", "-q", "-f", "%o\\n").split()
    kcat("-P", "-t", f"{p}.snapshots.parnassys", "-k", "good", str(snap))
    wait_until(lambda: "event=snapshot_already_mapped tenant=good sync=" + sync_id
               in pipeline.log_text("mapper"), 60, "the mapper to recognise the snapshot")
    time.sleep(1)
    assert kcat("-C", "-t", f"{p}.portal-changes", "-e", "-q", "-f", "%o\\n").split() == \
        changes_before, "a second change set"
    assert kcat("-C", "-t", f"{p}.sync-results", "-e", "-q", "-f", "%o\\n").split() == \
        results_before, "a second result"
    assert pipeline.log_text("mapper").count(f"event=mapped tenant=good sync={sync_id}") == 1
    # and the tenant's next sync is mapped as ever
    again = pipeline.sync("good")
    assert ": ok (stage mapper)" in again.stdout and "operations=0" in again.stdout, again.stdout
