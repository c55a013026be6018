"""Crashes and shutdowns in the middle of a large sync lose and duplicate nothing.

A generated ParnasSys school of 2,000 students (about 2,700 guardians, 28
staff, 20 groups: some 4,800 resources and their memberships) is synced; the
applier is killed (SIGKILL) or stopped (SIGTERM) while it applies the change
set, and started again. The fetcher is stopped (SIGTERM) while the LAS holds
one of its calls, the mapper while it maps the big school. Each stopped
daemon exits 0 within 5 s (DESIGN §2). The portal must end exactly as the
LAS says:

every externalId once, as many users and groups as the mapper planned, and
a following `sync --full` finds nothing to write (verify.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from harness import cleanup_school, http_json, metric_sum, wait_until
from verify import portal_matches_las

STUDENTS = 2000


def brin_for(prefix: str, n: int) -> str:
    """A BRIN (two digits, two letters) of this test's own; never the
    example school's 99ZZ, which other tests use (and this test removes)."""
    h = int(prefix[1:], 16) + n
    brin = f"{h % 100:02d}" + chr(65 + (h // 100) % 26) + chr(65 + (h // 2600) % 26)
    return "98ZZ" if brin == "99ZZ" else brin


def check_portal(pipeline, tenant_id: str):
    portal_matches_las(pipeline, tenant_id)


def start_school(pipeline, n: int, tenant_id: str = "big", students: int = STUDENTS) -> Path:
    """A generated school of the test's own as tenant_id, and the daemons."""
    brin = brin_for(pipeline.prefix, n)
    school = pipeline.las.generate("parnassys", brin, students, seed=11, key="big-key")
    pipeline.tenant(tenant_id, brin=brin, key="big-key")
    pipeline.start()
    return school


@contextlib.contextmanager
def syncing(pipeline, tenant_id: str, school: Path):
    """`lasyncctl sync --wait` running while the test disturbs the pipeline.
    On the way out it is killed if still waiting, and the school's fixtures
    are removed."""
    envp = dict(pipeline.env)
    envp.update(pipeline.secrets)
    sync = subprocess.Popen(
        [str(pipeline.build / "tools" / "lasyncctl" / "lasyncctl"), "sync", tenant_id,
         "--as-of", "2026-11-29", "--wait", "900"],
        env=envp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield sync
    finally:
        if sync.poll() is None:
            sync.kill()
            sync.wait()
        cleanup_school(school)


def sync_ok(sync: subprocess.Popen) -> str:
    """The sync's output, once it ended ok."""
    out, _ = sync.communicate(timeout=900)
    assert sync.returncode == 0 and ": ok (stage applier)" in out, out
    return out


def pending_las_faults(pipeline, school: str) -> list[dict]:
    """The LAS simulator's fault rules for `school` not used up yet. The
    simulator is shared: rules are matched on a school of the test's own
    and left to be used up, never cleared for everyone."""
    st, body = http_json("GET", f"{pipeline.las.url}/_control/faults")
    assert st == 200, f"lassim faults: HTTP {st} {body}"
    return [r for r in body["faults"] if r.get("school") == school]


def sigterm(pipeline, name: str) -> str:
    """SIGTERM a daemon: it must exit 0 within 5 s (DESIGN §2), saying so.
    Returns its log."""
    d = pipeline.daemons[name]
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(15)
    took = time.monotonic() - t0
    assert rc == 0, f"{name} exited {rc}:\n{d.tail()}"
    assert took < 5, f"{name} took {took:.1f}s to stop:\n{d.tail()}"
    log = pipeline.log_text(name)
    assert "event=stopping" in log and "event=stopped exit=0" in log, log[-2000:]
    return log


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (utime + stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def events(log: str, event: str, tenant_id: str) -> list[str]:
    return [line for line in log.splitlines()
            if f"event={event} tenant={tenant_id} " in line]


def portal_writes(pipeline, tenant_id: str) -> int:
    """Writes the portal received, a SCIM Bulk counted by the operations it
    carried (the portal's "writes" counts a Bulk once)."""
    s = pipeline.portal.stats(pipeline.portal_tenant(tenant_id))
    return s["writes"] - s.get("bulk", 0) + s.get("bulk_operations", 0)


def wait_writes(pipeline, tenant_id: str, n: int):
    """Mid change set: n operations done by the applier (and so, but for
    the last few, recorded in Redis).  Counted at the applier, since with
    SCIM Bulk the portal sees writes a thousand at a time."""
    def done():
        return metric_sum(pipeline.daemons["applier"].metrics(), "lasync_applier_ops_total",
                          outcome="done") >= n
    wait_until(done, 300, f"{n} operations done", interval=0.02)


def test_applier_sigkill_mid_change_set(pipeline):
    school = start_school(pipeline, 1)
    with syncing(pipeline, "big", school) as sync:
        wait_writes(pipeline, "big", 800)
        applier = pipeline.daemons["applier"]
        applier.signal(signal.SIGKILL)
        applier.wait_exit(10)
        writes_at_kill = portal_writes(pipeline, "big")
        time.sleep(1)
        pipeline.restart("applier")
        out = sync_ok(sync)
        # The restarted applier skipped what was recorded as done.
        m = re.search(r"skipped=(\d+)", out)
        assert m and int(m.group(1)) > 0, out
        assert writes_at_kill >= 800
        check_portal(pipeline, "big")


def test_applier_sigterm_mid_change_set_keeps_progress(pipeline):
    school = start_school(pipeline, 2)
    with syncing(pipeline, "big", school) as sync:
        wait_writes(pipeline, "big", 800)
        sigterm(pipeline, "applier")
        pipeline.restart("applier")
        out = sync_ok(sync)
        m = re.search(r"skipped=(\d+)", out)
        assert m and int(m.group(1)) > 0, f"progress before SIGTERM was lost: {out}"
        check_portal(pipeline, "big")


def test_fetcher_sigterm_mid_fetch_keeps_the_request(pipeline):
    """The LAS holds getLeerlingen; SIGTERM the fetcher while it waits. It
    abandons the fetch (no snapshot, the request's offset not stored) and
    exits 0 within 5 s; restarted, it fetches again: one snapshot, the
    sync ends ok, the portal as the LAS says."""
    school = start_school(pipeline, 3, tenant_id="held", students=200)
    # Far longer than the test waits; the restarted fetcher's calls find
    # the rule used up.
    pipeline.las.faults({"vendor": "parnassys", "school": school.name,
                         "operation": "getLeerlingen", "delay_ms": 60000, "count": 1})
    with syncing(pipeline, "held", school) as sync:
        wait_until(lambda: not pending_las_faults(pipeline, school.name), 120,
                   "the fetcher to call the held getLeerlingen")
        log = sigterm(pipeline, "fetcher")
        assert re.search(r"event=stopping inflight=[1-9]", log), log[-2000:]
        assert events(log, "job_abandoned", "held"), log[-2000:]
        assert not events(log, "snapshot_out", "held"), "a snapshot without getLeerlingen"
        pipeline.restart("fetcher")
        sync_ok(sync)
        snaps = events(pipeline.log_text("fetcher"), "snapshot_out", "held")
        assert len(snaps) == 1, snaps
        check_portal(pipeline, "held")


def test_mapper_sigterm_mid_map_keeps_progress(pipeline):
    """SIGTERM the mapper while it maps the big school's snapshot (caught by
    its CPU time rising once the snapshot is out). It finishes the map,
    stores its offset and exits 0 within 5 s; restarted, it does not map
    that snapshot again, and the sync ends ok with the portal as the LAS
    says."""
    school = start_school(pipeline, 4)
    mapper = pipeline.daemons["mapper"]
    with syncing(pipeline, "big", school) as sync:
        wait_until(lambda: events(pipeline.log_text("fetcher"), "snapshot_out", "big"), 300,
                   "the big school's snapshot", interval=0.01)
        idle = cpu_seconds(mapper.proc.pid)
        # Mapping 2,000 students takes the (sanitizer build's) mapper some
        # 0.4 s of CPU; idle, it uses under 10 ms a second.
        wait_until(lambda: cpu_seconds(mapper.proc.pid) - idle >= 0.05, 120,
                   "the mapper to work on the snapshot", interval=0.002)
        log = sigterm(pipeline, "mapper")
        stopping = log.index("event=stopping")
        assert events(log[:stopping], "mapped", "big") and \
            re.search(r"event=stopping inflight=[1-9]", log), \
            f"SIGTERM did not meet the map in progress:\n{log[-2000:]}"
        pipeline.restart("mapper")
        sync_ok(sync)
        mapped = events(pipeline.log_text("mapper"), "mapped", "big")
        assert len(mapped) == 1, f"the map done before SIGTERM was done again: {mapped}"
        check_portal(pipeline, "big")


def test_every_daemon_stops_cleanly_on_sigterm(pipeline):
    pipeline.tenant("t1", brin="11AA", key="k")
    pipeline.start()
    for name in pipeline.daemons:
        sigterm(pipeline, name)
