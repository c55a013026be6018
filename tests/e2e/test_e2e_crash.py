"""Crashes and shutdowns in the middle of a large sync lose and duplicate nothing.

A generated ParnasSys school of 2,000 students (about 2,700 guardians, 28
staff, 20 groups: some 4,800 resources and their memberships) is synced; the
applier is killed (SIGKILL) or stopped (SIGTERM) while it applies the change
set, and started again. The portal must end exactly as the LAS says:

every externalId once, as many users and groups as the mapper planned, and
a following `sync --full` finds nothing to write (verify.py).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

from harness import wait_until
from verify import portal_matches_las

STUDENTS = 2000


def brin_for(prefix: str, n: int) -> str:
    """A BRIN (two digits, two letters) of this test's own."""
    h = int(prefix[1:], 16) + n
    return f"{h % 100:02d}" + chr(65 + (h // 100) % 26) + chr(65 + (h // 2600) % 26)


def check_portal(pipeline, tenant_id: str):
    portal_matches_las(pipeline, tenant_id)


def start_big_school(pipeline, n: int = 1):
    brin = brin_for(pipeline.prefix, n)
    school = pipeline.las.generate("parnassys", brin, STUDENTS, seed=11, key="big-key")
    pipeline.tenant("big", brin=brin, key="big-key")
    pipeline.start()
    return school


def sync_in_background(pipeline, tenant_id: str) -> subprocess.Popen:
    envp = dict(pipeline.env)
    envp.update(pipeline.secrets)
    return subprocess.Popen(
        [str(pipeline.build / "tools" / "lasyncctl" / "lasyncctl"), "sync", tenant_id,
         "--as-of", "2026-11-29", "--wait", "900"],
        env=envp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_writes(pipeline, tenant_id: str, n: int):
    wait_until(lambda: pipeline.portal.stats(pipeline.portal_tenant(tenant_id))["writes"] >= n,
               300, f"{n} portal writes")


def test_applier_sigkill_mid_change_set(pipeline):
    school = start_big_school(pipeline)
    try:
        sync = sync_in_background(pipeline, "big")
        wait_writes(pipeline, "big", 800)
        applier = pipeline.daemons["applier"]
        applier.signal(signal.SIGKILL)
        applier.wait_exit(10)
        writes_at_kill = pipeline.portal.stats(pipeline.portal_tenant("big"))["writes"]
        time.sleep(1)
        pipeline.restart("applier")
        out, _ = sync.communicate(timeout=900)
        assert sync.returncode == 0 and ": ok (stage applier)" in out, out
        # The restarted applier skipped what was recorded as done.
        m = re.search(r"skipped=(\d+)", out)
        assert m and int(m.group(1)) > 0, out
        assert writes_at_kill >= 800
        check_portal(pipeline, "big")
    finally:
        subprocess.run(["rm", "-rf", str(school)])


def test_applier_sigterm_mid_change_set_keeps_progress(pipeline):
    school = start_big_school(pipeline, 2)
    try:
        sync = sync_in_background(pipeline, "big")
        wait_writes(pipeline, "big", 800)
        applier = pipeline.daemons["applier"]
        t0 = time.monotonic()
        applier.signal(signal.SIGTERM)
        rc = applier.wait_exit(15)
        took = time.monotonic() - t0
        assert rc == 0, f"applier exited {rc}:\n{applier.tail()}"
        assert took < 6, f"SIGTERM took {took:.1f}s"
        assert "event=stopped exit=0" in pipeline.log_text("applier")
        pipeline.restart("applier")
        out, _ = sync.communicate(timeout=900)
        assert sync.returncode == 0 and ": ok (stage applier)" in out, out
        m = re.search(r"skipped=(\d+)", out)
        assert m and int(m.group(1)) > 0, f"progress before SIGTERM was lost: {out}"
        check_portal(pipeline, "big")
    finally:
        subprocess.run(["rm", "-rf", str(school)])


def test_every_daemon_stops_cleanly_on_sigterm(pipeline):
    pipeline.tenant("t1", brin="11AA", key="k")
    pipeline.start()
    for name, d in pipeline.daemons.items():
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(15)
        took = time.monotonic() - t0
        assert rc == 0, f"{name} exited {rc}:\n{d.tail()}"
        assert took < 5, f"{name} took {took:.1f}s to stop"
        log = pipeline.log_text(name)
        assert "event=stopping" in log and "event=stopped exit=0" in log, log[-2000:]
