"""The chaos suite's shared scenario: several generated schools syncing at
once, a fault injected in the middle, and the proof afterwards that every
portal holds exactly its school with nothing duplicated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from harness import wait_until
from test_e2e_notifier import mails, message_id, sign, stack_maildir
from verify import portal_matches_las

SCHOOLS = 3
# Big enough that every fault lands in the middle of the syncs (about 2,000
# users in all); LASYNC_CHAOS_STUDENTS changes it for a longer run.
STUDENTS = int(os.environ.get("LASYNC_CHAOS_STUDENTS", "300"))
# One ESIS school besides (its own fetcher and mapper workers, mutual TLS),
# so every fault also hits the other vendor's path: half the size, to keep
# the suite's time, which still has its sync in flight at every fault (each
# "inject:" line names the syncs in flight).
ESIS_STUDENTS = int(os.environ.get("LASYNC_CHAOS_ESIS_STUDENTS", str(max(STUDENTS // 2, 1))))
ESIS_DEPENDANCE = "01"
# Parent suggestions posted to each school's webhook during the fault: each
# must end as exactly one e-mail.
SUGGESTIONS = 3
SECRET = "whsec-chaos-" + uuid.uuid4().hex
SENDER_DOMAIN = "lasync.invalid"  # the notifier's default --smtp-from


def say(msg: str):
    sys.__stdout__.write(f"chaos: {msg}\n")
    sys.__stdout__.flush()


def brin(pipeline, n: int) -> str:
    h = int(pipeline.prefix[1:], 16) + n * 7
    return f"{h % 100:02d}" + chr(65 + (h // 100) % 26) + chr(65 + (h // 2600) % 26)


class Run:
    """Schools registered, daemons started, syncs requested in the
    background; the caller injects a fault while they run.  SCHOOLS
    ParnasSys schools and one ESIS school (tenant "esis0", served by the
    daemons "fetcher-esis" and "mapper-esis")."""

    def __init__(self, pipeline, extra: dict | None = None):
        from test_e2e_esis import certs

        self.p = pipeline
        # A notifier killed between its send claim and its record leaves
        # the claim to expire before the restarted one may send (DESIGN
        # §2's one window).  The default claim TTL (300 s) outlasts the
        # suite's 180 s wait for the mails; a shorter one, still above the
        # SMTP timeouts as the notifier demands, keeps the fault testable.
        extra = dict(extra or {})
        extra["notifier"] = ["--claim-ttl-s", "60", "--smtp-connect-timeout-ms", "5000",
                             "--smtp-timeout-ms", "20000"] + list(extra.get("notifier", []))
        self.tenants = []
        self.dirs = []
        self.schools: dict[str, tuple[str, str]] = {}  # tenant -> (vendor, LAS school id)
        for i in range(SCHOOLS):
            b = brin(pipeline, i)
            key = f"chaos-{i}"
            self.dirs.append(pipeline.las.generate("parnassys", b, STUDENTS, seed=100 + i, key=key))
            t = f"school{i}"
            pipeline.tenant(t, brin=b, key=key, webhook_secret=SECRET,
                            manager_emails=[f"ict+{pipeline.prefix}@{t}.example.nl"])
            self.tenants.append(t)
            self.schools[t] = ("parnassys", b)
        b, key, t = brin(pipeline, SCHOOLS), "chaos-esis", "esis0"
        pipeline.las.generate("esis", b, ESIS_STUDENTS, seed=200, key=key,
                              extra=["--dependance", ESIS_DEPENDANCE])
        self.dirs.append(pipeline.las.school_dir("esis", b + ESIS_DEPENDANCE))
        pipeline.tenant(t, brin=b, dependance=ESIS_DEPENDANCE, key=key, vendor="esis",
                        las=certs(pipeline), webhook_secret=SECRET,
                        manager_emails=[f"ict+{pipeline.prefix}@{t}.example.nl"])
        self.tenants.append(t)
        self.schools[t] = ("esis", b + ESIS_DEPENDANCE)
        pipeline.start("fetcher", "mapper", "applier", "notifier", *pipeline.workers("esis"),
                       extra=extra)
        self.syncs = []
        self.sids: list[tuple[str, str]] = []
        self.poster: threading.Thread | None = None
        self.post_error: str | None = None

    def _post_all(self):
        """Post each school's suggestions, retrying each until the webhook
        accepts it (202), as a portal does while the notifier is down."""
        try:
            for i in range(SUGGESTIONS):
                for t in self.tenants:
                    sid = f"chaos-{t}-{i}-{uuid.uuid4().hex[:8]}"
                    body = json.dumps({
                        "suggestionId": sid,
                        "parent": {"id": "p-" + sid,
                                   "externalId": f"{self.schools[t][0]}:guardian:{i}"},
                        "children": [{"id": "c-1", "externalId": None,
                                      "displayName": "Kind"}],
                        "changes": [{"field": "phoneMobile", "old": "06-00000000",
                                     "new": f"06-1111000{i}"}],
                        "submittedAt": "2026-11-29T08:20:55Z"}).encode()
                    self._post_until_accepted(t, body)
                    self.sids.append((t, sid))
                time.sleep(0.5)
        except Exception as e:  # reported by finish()
            self.post_error = repr(e)

    def _post_until_accepted(self, tenant: str, body: bytes, timeout: float = 180):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            port = self.p.daemons["notifier"].webhook_port
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/tenants/{tenant}/suggestions", data=body,
                method="POST", headers={"Content-Type": "application/json",
                                        "X-Lasync-Signature": sign(body, SECRET)})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    if r.status == 202:
                        return
                    last = r.status
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.5)
        raise AssertionError(f"webhook of {tenant} never accepted a suggestion: {last}")

    def start_syncs(self):
        self.poster = threading.Thread(target=self._post_all, daemon=True)
        self.poster.start()
        envp = dict(self.p.env)
        envp.update(self.p.secrets)
        for t in self.tenants:
            self.syncs.append(subprocess.Popen(
                [str(self.p.build / "tools" / "lasyncctl" / "lasyncctl"), "sync", t,
                 "--as-of", "2026-11-29", "--wait", "900"],
                env=envp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))

    def inject(self, what: str):
        """Report a fault about to be injected, with the schools whose
        sync is still running (both vendors should be among them)."""
        if not self.syncs:
            say(f"inject: {what} [before the syncs start]")
            return
        say(f"inject: {what} [in flight: {', '.join(self.in_flight()) or 'none'}]")

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
        """Arm LAS faults on each school only, ParnasSys and ESIS (rules
        are counted: one left unused stays on a school no other test
        uses)."""
        self.p.las.faults([dict(r, vendor=vendor, school=school)
                           for vendor, school in self.schools.values() for r in rules])

    def vendor_daemons(self, name: str) -> list[str]:
        """The daemons of one kind: a fetcher or mapper per vendor."""
        return [name, f"{name}-esis"] if name in ("fetcher", "mapper") else [name]

    def writes(self) -> int:
        """Writes the schools' portals took, a SCIM Bulk counted by its
        operations (the launcher counts a Bulk request as one write)."""
        n = 0
        for t in self.tenants:
            s = self.p.portal.stats(self.p.portal_tenant(t))
            n += s["writes"] - s.get("bulk", 0) + s.get("bulk_operations", 0)
        return n

    def in_flight(self) -> list[str]:
        """The tenants whose requested sync has not ended yet."""
        return [t for t, proc in zip(self.tenants, self.syncs) if proc.poll() is None]

    def wait_writes(self, n: int, timeout: float = 300):
        """Wait for n portal writes, or for every sync to have ended: a
        fault can make them all fail (retries exhausted under a slow
        portal), and then no write comes; finish() syncs them again."""
        wait_until(lambda: self.writes() >= n or (self.syncs and not self.in_flight()),
                   timeout, f"{n} portal writes across tenants")

    def finish(self, timeout: float = 900):
        """Wait for the requested syncs; a sync the fault made fail is run
        again (that is what an operator or the next schedule does)."""
        if self.poster is not None:
            self.poster.join(timeout)
            assert self.post_error is None, self.post_error
        for t, proc in zip(self.tenants, self.syncs):
            out, _ = proc.communicate(timeout=timeout)
            if ": ok (stage applier)" not in out:
                ended = next((l for l in out.splitlines()
                              if l.startswith("sync ") and "requested" not in l),
                             out.strip()[-300:])
                say(f"{t}: the sync during the fault ended: {ended}; syncing again")
                again = self.p.sync(t, check=False, wait=600)
                assert ": ok (stage applier)" in again.stdout, again.stdout

    def verify(self):
        # One tenant at a time: each check is a full reconcile that lists
        # the whole portal, within the applier's (in one fault, short)
        # portal timeout.
        for t in self.tenants:
            vendor = self.schools[t][0]
            mapper = "mapper" if vendor == "parnassys" else f"mapper-{vendor}"
            say(f"verified ({vendor}) " + portal_matches_las(self.p, t, mapper=mapper))
        if not self.sids:
            return
        maildir = stack_maildir()
        mids = [message_id(t, "suggestion", sid, SENDER_DOMAIN) for t, sid in self.sids]
        wait_until(lambda: all(mails(maildir, m) for m in mids), 180,
                   f"an e-mail for each of the {len(mids)} suggestions")
        time.sleep(2)  # a duplicate would be on its way by now
        counts = [len(mails(maildir, m)) for m in mids]
        assert counts == [1] * len(mids), list(zip(self.sids, counts))
        say(f"verified {len(mids)} parent suggestions posted during the fault: "
            f"each e-mailed exactly once")

    def cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def stack(*args: str):
    from harness import ROOT

    instance = os.environ.get("LASYNC_STACK_INSTANCE", "test")
    subprocess.run([str(ROOT / "scripts" / "stack.sh"), *args, "--instance", instance],
                   check=True, capture_output=True, timeout=300)


def pause(seconds: float):
    time.sleep(seconds)
