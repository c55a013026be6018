"""The chaos suite's shared scenario: several generated schools syncing at
once, a fault injected in the middle, and the proof afterwards that every
portal holds exactly its school with nothing duplicated."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from harness import wait_until
from verify import portal_matches_las

SCHOOLS = 3
STUDENTS = 300


def say(msg: str):
    sys.__stdout__.write(f"chaos: {msg}\n")
    sys.__stdout__.flush()


def brin(pipeline, n: int) -> str:
    h = int(pipeline.prefix[1:], 16) + n * 7
    return f"{h % 100:02d}" + chr(65 + (h // 100) % 26) + chr(65 + (h // 2600) % 26)


class Run:
    """Schools registered, daemons started, syncs requested in the
    background; the caller injects a fault while they run."""

    def __init__(self, pipeline, extra: dict | None = None):
        self.p = pipeline
        self.tenants = []
        self.dirs = []
        self.brins = []
        for i in range(SCHOOLS):
            b = brin(pipeline, i)
            self.brins.append(b)
            key = f"chaos-{i}"
            self.dirs.append(pipeline.las.generate("parnassys", b, STUDENTS, seed=100 + i, key=key))
            t = f"school{i}"
            pipeline.tenant(t, brin=b, key=key)
            self.tenants.append(t)
        pipeline.start(extra=extra)
        self.syncs = []

    def start_syncs(self):
        envp = dict(self.p.env)
        envp.update(self.p.secrets)
        for t in self.tenants:
            self.syncs.append(subprocess.Popen(
                [str(self.p.build / "tools" / "lasyncctl" / "lasyncctl"), "sync", t,
                 "--as-of", "2026-11-29", "--wait", "900"],
                env=envp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))

    def portal_faults(self, rule: dict | None):
        """Arm (or, with None, clear) a fault on each school's own portal
        tenant only: other tests on the shared portal are not touched."""
        from harness import env, http_json

        url = env("LASYNC_PORTAL_URL").rstrip("/")
        for t in self.tenants:
            pt = self.p.portal_tenant(t)
            if rule is None:
                http_json("DELETE", f"{url}/_faults?tenant={pt}")
            else:
                st, body = http_json("POST", f"{url}/_faults", body=dict(rule, tenant=pt))
                assert st in (200, 201, 204), body

    def las_faults(self, rules: list[dict]):
        """Arm LAS faults on each school's BRIN only (rules are counted:
        one left unused stays on a BRIN no other test uses)."""
        self.p.las.faults([dict(r, vendor="parnassys", school=self.brins[i])
                           for i in range(len(self.tenants)) for r in rules])

    def writes(self) -> int:
        return sum(self.p.portal.stats(self.p.portal_tenant(t))["writes"] for t in self.tenants)

    def wait_writes(self, n: int, timeout: float = 300):
        wait_until(lambda: self.writes() >= n, timeout, f"{n} portal writes across tenants")

    def finish(self, timeout: float = 900):
        """Wait for the requested syncs; a sync the fault made fail is run
        again (that is what an operator or the next schedule does)."""
        for t, proc in zip(self.tenants, self.syncs):
            out, _ = proc.communicate(timeout=timeout)
            if ": ok (stage applier)" not in out:
                say(f"{t}: the sync during the fault ended: "
                    f"{next((l for l in out.splitlines() if ': ' in l and 'requested' not in l), out.strip())}"
                    f"; syncing again")
                again = self.p.sync(t, check=False, wait=600)
                assert ": ok (stage applier)" in again.stdout, again.stdout

    def verify(self):
        for t in self.tenants:
            say("verified " + portal_matches_las(self.p, t))

    def cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def stack(*args: str):
    from harness import ROOT

    subprocess.run([str(ROOT / "scripts" / "stack.sh"), *args, "--instance", "test"],
                   check=True, capture_output=True, timeout=300)


def pause(seconds: float):
    time.sleep(seconds)
