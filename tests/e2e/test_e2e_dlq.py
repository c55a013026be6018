"""Dead letters: list, show, replay once the cause is fixed, loops refused,
superseded change sets replayed as a full sync, --since, and a replay the
broker refuses (recorded only once acknowledged)."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime, timedelta, timezone

from harness import ROOT, env, wait_until
from test_e2e_parnassys import KEY, check_example_portal

KAFKA_JARS = ROOT / ".local" / "kafka" / "jars"  # scripts/deps.sh puts the broker's jars here


def letters(out: str) -> list[str]:
    return [line for line in out.splitlines() if ".dlq " in line]


def listed(pipeline, *args: str) -> list[str]:
    return letters(pipeline.ctl("dlq", "list", "--tenant", "delinde", *args).stdout)


def position(letter: str) -> str:
    """'<dlq-topic> <partition>:<offset>' of a listed letter."""
    return " ".join(letter.split()[:2])


def letter_time(letter: str) -> datetime:
    """When the letter was dead-lettered, as listed (whole seconds, UTC)."""
    return datetime.strptime(letter.split()[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def dead_letter_a_sync(pipeline, portal_tenant: str, n_before: int = 0) -> str:
    """Sync delinde while its portal refuses every create (HTTP 400); return
    the sync's dead letter, delinde's (n_before+1)th, once listed."""
    pipeline.portal.faults({"tenant": portal_tenant, "status": 400, "methods": ["POST"],
                            "count": -1})
    try:
        failed = pipeline.sync("delinde", check=False)
        assert failed.returncode == 1 and "failed (stage applier)" in failed.stdout, failed.stdout
        assert "portal answered HTTP 400" in failed.stdout, failed.stdout
    finally:
        pipeline.portal.faults(None)

    # The result is published before the letter: wait for the letter.
    def dead_letters():
        found = listed(pipeline)
        return found if len(found) > n_before else None
    dead = wait_until(dead_letters, 60, "the failed change set's dead letter")
    assert len(dead) == n_before + 1, dead
    return dead[-1]


def applier_lines(pipeline, event: str, sync_id: str) -> list[str]:
    return [line for line in pipeline.log_text("applier").splitlines()
            if f"event={event} " in line and "tenant=delinde" in line and f"sync={sync_id}" in line]


def wait_applied(pipeline, tenant: str):
    def applied():
        return (len(pipeline.portal.users(tenant)) == 9
                and len(pipeline.portal.groups(tenant)) == 5)
    wait_until(applied, 120, "the replayed change set to be applied")


def test_replay_after_the_cause_is_fixed_applies_exactly_once(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    dead = dead_letter_a_sync(pipeline, tenant)
    assert pipeline.portal.users(tenant) == []

    assert "portal-changes.dlq" in dead, dead
    assert "class=portal_rejected" in dead and "replays=0" in dead, dead
    topic, pos = dead.split()[0], dead.split()[1]
    part, off = pos.split(":")
    show = pipeline.ctl("dlq", "show", topic, part, off).stdout
    # 14 UPSERTs + 5 SET_MEMBERS + the reconcile's PRUNE_MEMBERS (R5)
    assert "change set: sync=" in show and "operations=20" in show, show
    sync_id = re.search(r"change set: sync=(\w+)", show).group(1)

    dry = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--dry-run").stdout
    assert "would replay 1 dead letter(s)" in dry, dry
    assert pipeline.portal.users(tenant) == [], "a dry run changed something"

    before = pipeline.portal.stats(tenant)
    rep = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 1 dead letter(s)" in rep, rep

    wait_applied(pipeline, tenant)
    wait_until(lambda: any(s["tenant"] == "delinde" and s["outcome"] == "ok"
                           for s in pipeline.status()), 60, "an ok result")
    check_example_portal(pipeline.portal, tenant)
    assert pipeline.portal.stats(tenant)["POST"] - before["POST"] == 14, "each resource created once"

    # Replayed already: a second replay does nothing; --again republishes
    # and the applier skips every operation it has done.
    again = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 0 dead letter(s)" in again, again
    writes = pipeline.portal.stats(tenant)["writes"]
    seen = len(applier_lines(pipeline, "part_applied", sync_id))
    again = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--again").stdout
    assert "replayed 1 dead letter(s)" in again, again
    # Evidence that the applier consumed the republished change set (not
    # just that nothing happened for a while): its part_applied line.
    done = wait_until(lambda: applier_lines(pipeline, "part_applied", sync_id)[seen:], 120,
                      "the applier to consume the change set replayed --again")
    assert "skipped=20 writes=0 failed=0" in done[0], done
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

    wait_until(lambda: applied_parts() > parts_before, 120, "the full sync to be applied")
    assert pipeline.portal.stats(tenant)["writes"] == writes, "the full sync found nothing to repair"
    check_example_portal(pipeline.portal, tenant)


def test_since_selects_only_the_later_dead_letter(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    first = dead_letter_a_sync(pipeline, tenant)
    # The next whole second after the first letter: the first is before
    # it, and the second letter is made only once it has come.
    since = letter_time(first) + timedelta(seconds=1)
    wait_until(lambda: time.time() >= since.timestamp() + 0.05, 5, "the next second")
    second = dead_letter_a_sync(pipeline, tenant, n_before=1)
    assert letter_time(second) >= since, (first, second)

    iso = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    amsterdam = since.astimezone(timezone(timedelta(hours=1))).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    for when in (iso, amsterdam):
        out = pipeline.ctl("dlq", "list", "--tenant", "delinde", "--since", when).stdout
        assert [position(x) for x in letters(out)] == [position(second)], (when, out)
        assert "1 dead letter(s)" in out, out
    # The other forms: a day (UTC) and a duration back from now.
    day = letter_time(first).date()
    assert len(listed(pipeline, "--since", day.isoformat())) == 2
    tomorrow = letter_time(second).date() + timedelta(days=1)
    assert listed(pipeline, "--since", tomorrow.isoformat()) == []
    assert len(listed(pipeline, "--since", "1h")) == 2
    bad = pipeline.ctl("dlq", "list", "--since", "yesterday", check=False)
    assert bad.returncode != 0 and "--since \"yesterday\"" in bad.stderr, bad.stderr

    dry = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--since", iso, "--dry-run").stdout
    assert "would replay 1 dead letter(s)" in dry and position(second) in dry, dry
    assert position(first) not in dry, dry
    rep = pipeline.ctl("dlq", "replay", "--tenant", "delinde", "--since", iso).stdout
    assert "replayed 1 dead letter(s)" in rep and position(second) in rep, rep
    assert position(first) not in rep, rep
    after = {position(x): x for x in listed(pipeline)}
    assert after[position(second)].endswith("[replayed]"), after
    assert "[replayed]" not in after[position(first)], after
    wait_applied(pipeline, tenant)
    check_example_portal(pipeline.portal, tenant)


def kafka_topic_config(topic: str, *change: str) -> dict[str, str]:
    """The broker's ConfigCommand on one topic of this test's prefix (never
    the broker itself): with change (e.g. "--add-config", "k=v") it alters,
    else it describes (name -> value)."""
    assert KAFKA_JARS.is_dir(), f"{KAFKA_JARS} is missing; run scripts/deps.sh"
    action = ["--alter", *change] if change else ["--describe", "--all"]
    p = subprocess.run(["java", "-cp", f"{KAFKA_JARS}/*", "kafka.admin.ConfigCommand",
                        "--bootstrap-server", env("LASYNC_KAFKA_BROKERS"),
                        "--entity-type", "topics", "--entity-name", topic, *action],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"ConfigCommand {action}: {p.stdout}\n{p.stderr}"
    return dict(re.findall(r"^\s+([a-z.]+)=(\S*) sensitive=", p.stdout, re.M))


def replay_records(pipeline) -> list[str]:
    """The keys of <prefix>.dlq-replays (kcat; no topic yet: none)."""
    p = subprocess.run(["kcat", "-b", env("LASYNC_KAFKA_BROKERS"), "-C", "-e", "-q", "-t",
                        f"{pipeline.prefix}.dlq-replays", "-o", "beginning", "-f", "%k\\n"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_replay_is_recorded_only_once_the_broker_acknowledged_it(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    dead = dead_letter_a_sync(pipeline, tenant)
    origin = f"{pipeline.prefix}.portal-changes"
    assert f"origin={origin}:" in dead, dead

    # This test's own origin topic refuses the republish: its largest
    # message is now smaller than the letter's change set.
    limit = kafka_topic_config(origin)["max.message.bytes"]
    kafka_topic_config(origin, "--add-config", "max.message.bytes=128")
    try:
        refused = pipeline.ctl("dlq", "replay", "--tenant", "delinde", check=False)
    finally:
        kafka_topic_config(origin, "--add-config", f"max.message.bytes={limit}")
    assert refused.returncode == 1, refused
    assert f"{origin} was not acknowledged" in refused.stderr, refused.stderr
    assert "Message size too large" in refused.stderr, refused.stderr
    assert "replayed 0 dead letter(s)" in refused.stdout, refused.stdout
    still = listed(pipeline)
    assert len(still) == 1 and "[replayed]" not in still[0] and "replays=0" in still[0], still
    assert replay_records(pipeline) == []
    assert pipeline.portal.users(tenant) == []

    # The cause is fixed: the replay goes through, once.
    rep = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 1 dead letter(s)" in rep, rep
    wait_applied(pipeline, tenant)
    check_example_portal(pipeline.portal, tenant)
    assert listed(pipeline)[0].endswith("[replayed]")
    assert len(replay_records(pipeline)) == 1
    again = pipeline.ctl("dlq", "replay", "--tenant", "delinde").stdout
    assert "replayed 0 dead letter(s)" in again, again


def test_list_before_any_topic_exists(pipeline):
    """A new installation, before `lasyncctl topics ensure`: no dead letter,
    no replay record, and no error either."""
    out = pipeline.ctl("dlq", "list")
    assert out.stdout.strip() == "0 dead letter(s)", out
