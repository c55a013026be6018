"""The chaos suite (DESIGN §2): each fault is injected while several
schools sync at once (ParnasSys and ESIS, each vendor with its own
fetcher and mapper), and each must end with every portal exactly as its
LAS says and nothing duplicated.  Run by scripts/test.sh after the other
tests (it restarts Kafka and Redis of the test stack), or alone with
scripts/chaos.sh.  Each test prints what it injected and what it verified.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from chaos import Run, pause, say, stack
from harness import env, wait_until
from test_e2e_crash import pending_las_faults


@pytest.mark.parametrize("daemon", ["fetcher", "mapper", "applier", "notifier"])
def test_sigkill_each_daemon(pipeline, daemon):
    run = Run(pipeline)
    try:
        run.start_syncs()
        if daemon in ("fetcher", "mapper"):
            pause(0.3)  # while fetching and mapping
        else:
            run.wait_writes(200)
        names = run.vendor_daemons(daemon)
        run.inject(f"SIGKILL lasync-{daemon} ({', '.join(names)}) in the middle of "
            f"{len(run.tenants)} syncs, restart after 1 s")
        for name in names:
            pipeline.daemons[name].signal(signal.SIGKILL)
        for name in names:
            pipeline.daemons[name].wait_exit(10)
        pause(1)
        for name in names:
            pipeline.restart(name)
        run.finish()
        run.verify()
    finally:
        run.cleanup()


def test_kafka_restart(pipeline):
    run = Run(pipeline)
    try:
        run.start_syncs()
        run.wait_writes(200)
        run.inject("restart Kafka (stop, start) while schools sync")
        stack("restart", "kafka")
        run.finish()
        run.verify()
    finally:
        run.cleanup()


def test_redis_restart_and_flush(pipeline):
    run = Run(pipeline)
    try:
        run.start_syncs()
        run.wait_writes(200)
        run.inject("restart Redis while schools sync")
        stack("restart", "redis")
        run.wait_writes(run.writes() + 100)
        port = env("LASYNC_REDIS_URL").rsplit(":", 1)[1]
        run.inject("FLUSHALL - every idempotency key and expected state lost")
        subprocess.run(["redis-cli", "-p", port, "FLUSHALL"], check=True, capture_output=True)
        run.finish()
        run.verify()
    finally:
        run.cleanup()


def test_portal_500_429_and_timeouts(pipeline):
    # "For a while": within the applier's retry budget, so the syncs get
    # through; past it they would end failed, be dead-lettered, and
    # Run.finish would sync them again.  Each school meets 3 + 3 + 2 = 8
    # faults; with SCIM Bulk an attempt has few requests in flight and
    # may meet just one of them, so the budget is 12 attempts, not 6.
    run = Run(pipeline, extra={"applier": ["--portal-timeout-ms", "2000",
                                           "--max-attempts", "12"]})
    try:
        run.start_syncs()
        run.wait_writes(100)
        run.inject("each school's portal answers 500 to its next 3 requests")
        run.portal_faults({"status": 500, "count": 3})
        run.wait_writes(run.writes() + 100)
        run.inject("each school's portal answers 429 Retry-After: 1 to its next 3 requests")
        run.portal_faults({"status": 429, "retry_after": 1, "count": 3})
        run.wait_writes(run.writes() + 100)
        run.inject("each school's portal takes 4.5 s (over the applier's 2 s timeout, and a "
            "Bulk's 4 s at most) for its next 2 requests")
        run.portal_faults({"delay_ms": 4500, "count": 2})
        run.finish()
        run.portal_faults(None)
        run.verify()
    finally:
        run.portal_faults(None)
        run.cleanup()


def test_las_failing(pipeline):
    run = Run(pipeline)
    try:
        run.inject("each school's LAS (ParnasSys and ESIS) answers 503 to its next 2 calls "
            "and cuts its next connection")
        run.las_faults([{"status": 503, "count": 2}, {"body": "disconnect", "count": 1}])
        run.start_syncs()
        run.finish()
        for vendor, school in run.schools.values():
            assert not pending_las_faults(pipeline, school), f"{vendor} {school}: a fault unused"
        say("verified: every school's LAS faults were used up (both vendors)")
        run.verify()
    finally:
        run.cleanup()


def test_two_appliers_rebalance(pipeline):
    run = Run(pipeline)
    try:
        run.start_syncs()
        run.wait_writes(150)
        run.inject("a second applier joins the group in the middle of the syncs")
        second = pipeline.daemon("applier", instance="-2")
        second.start()
        second.wait_ready()
        run.wait_writes(run.writes() + 300)
        run.inject("the first applier stops (SIGTERM); its partitions move to the second")
        first = pipeline.daemons["applier"]
        first.signal(signal.SIGTERM)
        assert first.wait_exit(15) == 0
        run.finish()
        run.verify()
    finally:
        run.cleanup()


def test_r21_kafka_down_between_the_smtp_250_and_the_sent_record(pipeline, tmp_path):
    """DESIGN §2's e-mail exactly once, when Kafka goes away after the SMTP
    server took the message and before the notifier's "sent" record reached
    it: the record's delivery fails, the job is retried (or abandoned, and
    its message comes again once Kafka is back), and that attempt - which
    finds "sent" only in its own memory - must write the record again.
    Otherwise the status topic keeps "claimed", and a restart without the
    Redis claim sends the e-mail a second time."""
    import uuid

    from test_e2e_notifier import (Sink, mails, message_id, post, redis, setup_notifier,
                                   suggestion, suggestions)

    sink = Sink(tmp_path, "--delay-data", "20")
    sink.start()
    try:
        setup_notifier(pipeline, "--smtp-url", sink.url, "--smtp-timeout-ms", "60000",
                       "--max-attempts", "100", "--kafka-extra", "message.timeout.ms=4000")
        sid = "s-" + uuid.uuid4().hex[:12]
        mid = message_id("delinde", "suggestion", sid)
        st, _ = post(pipeline, "delinde", suggestion(sid))
        assert st == 202
        wait_until(lambda: mails(sink.maildir, mid), 60, "the message at the SMTP server")
        say("inject: Kafka stopped while the SMTP server holds back its 250 (20 s)")
        stack("stop", "kafka")

        def log() -> str:
            return pipeline.log_text("notifier")

        wait_until(lambda: "event=mail_sent " in log(), 60, "the 250")
        # The record's delivery fails (message.timeout.ms 4 s); the job is
        # retried for it, or abandoned when the consumer loses its
        # partitions first - the message then comes again once Kafka is
        # back.  Either way the next attempt finds "sent" only locally.
        wait_until(lambda: "class=kafka_produce" in log() or "event=job_abandoned" in log(),
                   60, "the job retried or abandoned")
        pause(8)
        say("inject: Kafka started again")
        stack("start", "kafka")
        s = wait_until(lambda: next((x for x in [suggestions(pipeline, "delinde").get(sid)]
                                     if x and x["mail"] == "sent"), None), 180,
                       "the sent record in the status topic")
        assert s["message_id"] == mid
        assert "record=rewritten" in log()
        say("verified: the retried attempt wrote the sent record")
        d = pipeline.daemons["notifier"]
        d.signal(signal.SIGTERM)
        assert d.wait_exit(30) == 0
        redis("DEL", f"{pipeline.prefix}:{{delinde}}:mail:suggestion:{sid}")
        pipeline.restart("notifier")
        assert post(pipeline, "delinde", suggestion(sid))[0] == 202
        wait_until(lambda: "by=status" in log(), 60, "the replay skipped by the status")
        pause(2)
        assert len(mails(sink.maildir, mid)) == 1
        say("verified: after a restart without the Redis claim, still one e-mail")
    finally:
        stack("start", "kafka")
        sink.stop()
