"""docs/operations.md, procedure by procedure, on the development stack.

Each test takes its section's commands from the runbook itself (the
`lasyncctl` and `kcat` lines of its ```sh blocks), fills in the
placeholders, runs them through the same lasyncctl the operator uses, and
fails unless every command of the section ran. Setup that is not an
operator's command (making a school, breaking a key, dropping Redis keys)
is done by the test around them. `helm` lines are rendered with the same
--set (tests/integration/test_deploy_manifests.py validates the chart);
`kubectl` lines need a cluster and are not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import zlib

import yaml

from harness import ROOT, env, metric_sum, wait_until

DOC = ROOT / "docs" / "operations.md"
PS_EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
PS_KEY = (PS_EXAMPLE / "leveranciersleutel").read_text().strip()
ESIS_EXAMPLE = ROOT / "fixtures" / "las" / "esis" / "88YY01"
ESIS_KEY = (ESIS_EXAMPLE / "autorisatiesleutel").read_text().strip()
RUN_PREFIXES = ("lasyncctl ", "kcat ", "echo ")


def sections() -> dict[str, list[str]]:
    """## title -> the command lines of its ```sh blocks (continuations joined)."""
    out, title, in_sh, buf = {}, None, False, ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            out[title] = []
            continue
        s = line.strip()
        if s.startswith("```"):
            in_sh = (not in_sh) and s == "```sh"
            continue
        if in_sh and title:
            buf += s.rstrip("\\").strip() + " " if s.endswith("\\") else s
            if not s.endswith("\\"):
                if buf:
                    out[title].append(" ".join(buf.split()))
                buf = ""
    return out


class Runbook:
    """The commands of one section, run with placeholders filled in."""

    def __init__(self, pipeline, title: str, **subs: str):
        self.pipe, self.title, self.subs = pipeline, title, subs
        self.commands = sections()[title]
        assert self.commands, f"no commands in '{title}'"
        self.ran: set[str] = set()

    def fill(self, cmd: str) -> str:
        for k, v in self.subs.items():
            cmd = cmd.replace(k, v)
        return cmd

    def run(self, cmd: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        assert cmd in self.commands, f"'{cmd}' is not a command of '{self.title}'"
        self.ran.add(cmd)
        filled = self.fill(cmd)
        if filled.startswith("lasyncctl "):
            args = shlex.split(filled)[1:] + list(extra)
            timeout = 1000 if "--wait" in args else 120
            return self.pipe.ctl(*args, check=check, timeout=timeout)
        # A shell line (kcat): the topic prefix of this pipeline, its brokers.
        filled = filled.replace("lasync.", f"{self.pipe.prefix}.")
        envp = dict(os.environ)
        envp.update(self.pipe.env)
        p = subprocess.run(["bash", "-o", "pipefail", "-c", filled], env=envp,
                           capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"{filled} exited {p.returncode}: {p.stdout}{p.stderr}")
        return p

    def done(self):
        want = {c for c in self.commands if c.startswith(RUN_PREFIXES)}
        assert want - self.ran == set(), f"'{self.title}': not run {want - self.ran}"


def fresh_brin(pipeline, vendor: str, dep: str = "") -> str:
    root = pipeline.las.root / vendor
    for a in "0123456789":
        for b in "ABCDEFGHJKLMNPQRSTUVWXYZ":
            brin = f"3{a}{b}{b}"
            if not (root / f"{brin}{dep}").exists():
                return brin
    raise AssertionError("no free BRIN")


class School:
    """A school in the LAS simulator, its secret files, its tenant document."""

    def __init__(self, pipeline, tenant: str, vendor: str = "parnassys", generate: int = 0,
                 settings: dict | None = None):
        self.pipe, self.tenant, self.vendor = pipeline, tenant, vendor
        self.secrets = pipeline.dir / "secrets"
        (self.secrets / "las").mkdir(parents=True, exist_ok=True)
        (self.secrets / "portal").mkdir(parents=True, exist_ok=True)
        if vendor == "parnassys":
            self.brin, self.dep = fresh_brin(pipeline, "parnassys"), "00"
            if generate:
                pipeline.las.generate("parnassys", self.brin, generate, seed=5, key=PS_KEY)
                self.dir = pipeline.las.root / "parnassys" / self.brin
            else:
                self.dir = pipeline.las.add_school_from(PS_EXAMPLE, "parnassys", self.brin,
                                                        PS_KEY, {"99ZZ": self.brin})
            self.key = PS_KEY
            las = {"vendor": "parnassys", "endpoint": f"{pipeline.las.url}/parnassys"}
        else:
            self.brin, self.dep = fresh_brin(pipeline, "esis", "01"), "01"
            self.dir = pipeline.las.add_school_from(ESIS_EXAMPLE, "esis", f"{self.brin}01",
                                                    ESIS_KEY, {"88YY": self.brin})
            self.key = ESIS_KEY
            certs = pipeline.las.certs
            self.cert = self.secrets / "las" / f"{tenant}.pem"
            self.cert_key = self.secrets / "las" / f"{tenant}.pem.key"
            shutil.copy(certs / "client.pem", self.cert)
            shutil.copy(certs / "client.key", self.cert_key)
            las = {"vendor": "esis", "endpoint": f"{pipeline.las.https_url}/esis",
                   "client_cert_ref": f"file:{self.cert}", "client_key_ref": f"file:{self.cert_key}",
                   "ca_ref": f"file:{certs / 'ca.pem'}"}
        self.key_file = self.secrets / "las" / f"{tenant}.key"
        self.key_file.write_text(self.key + "\n")
        token = self.secrets / "portal" / f"{tenant}.token"
        token.write_text(pipeline.portal.token + "\n")
        las["key_ref"] = f"file:{self.key_file}"
        self.doc = {
            "tenant_id": tenant, "brand": "basisonline", "brin": self.brin,
            "dependance": self.dep, "las": las,
            "portal": {"base_url": pipeline.portal.base(pipeline.portal_tenant(tenant)),
                       "token_ref": f"file:{token}"},
            "settings": dict(settings or {}, schedule="nightly"), "state": "active",
            "manager_emails": [f"ict@{tenant}.example.nl"],
        }
        self.file = pipeline.dir / f"{tenant}-school.json"
        self.write()

    def write(self):
        self.file.write_text(json.dumps(self.doc, indent=2))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


PARTITIONS = 2  # as the harness makes them (a long run's broker stays small)


def ensure_topics(pipeline):
    if not pipeline.topics_ready:
        pipeline.ctl("topics", "ensure", "--partitions", str(PARTITIONS))
        pipeline.topics_ready = True


def start(pipeline, *names: str):
    ensure_topics(pipeline)
    pipeline.start(*(names or ("fetcher", "mapper", "applier")))


def status_of(pipeline, tenant: str) -> dict:
    return {s["tenant"]: s for s in pipeline.status()}[tenant]


def users(pipeline, tenant: str) -> list[dict]:
    return pipeline.portal.users(pipeline.portal_tenant(tenant))


def onboard(pipeline, school: School):
    """The onboarding commands, for procedures that start from an active school."""
    pipeline.ctl("tenant", "put", str(school.file))
    pipeline.ctl("sync", school.tenant, "--wait", "600")


def test_every_procedure_has_a_test():
    tested = {"Onboarding a school", "Onboarding a school into an existing portal (first run)",
              "Working the link queue", "Offboarding a school", "The August year transition",
              "Reading status", "Approving or rejecting a held sync", "Replaying dead letters",
              "Lifting quarantine", "Rotating a school's ESIS certificate or ParnasSys key",
              "Scaling per vendor", "Recovering from a lost Redis"}
    with_commands = {t for t, cmds in sections().items()
                     if any(c.startswith(RUN_PREFIXES + ("helm ",)) for c in cmds)}
    assert with_commands == tested, with_commands ^ tested


def test_onboarding_a_school(pipeline):
    school = School(pipeline, "delinde")
    rb = Runbook(pipeline, "Onboarding a school", **{"<tenant>": "delinde",
                                                      "school.json": str(school.file)})
    start(pipeline)
    tenant = pipeline.portal_tenant("delinde")
    try:
        out = rb.run("lasyncctl tenant put school.json").stdout
        assert "tenant delinde written (parnassys" in out, out
        got = json.loads(rb.run("lasyncctl tenant get <tenant>").stdout)
        assert got["brin"] == school.brin and got["las"]["key_ref"].startswith("file:/")
        preview = rb.run("lasyncctl sync <tenant> --preview --wait 600").stdout
        assert "preview" in preview.lower(), preview
        assert pipeline.portal.stats(tenant)["writes"] == 0, "a preview wrote to the portal"
        out = rb.run("lasyncctl sync <tenant> --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        assert len(users(pipeline, "delinde")) > 5
        st = rb.run("lasyncctl status").stdout
        row = next(line for line in st.splitlines() if line.startswith("delinde "))
        assert " ok " in row and "parnassys" in row, st
        # R1 as the runbook says: a second tenant for the BRIN is refused.
        other = dict(school.doc, tenant_id="tweede")
        path = pipeline.dir / "tweede.json"
        path.write_text(json.dumps(other))
        p = pipeline.ctl("tenant", "put", str(path), check=False)
        assert p.returncode == 1 and "R1" in p.stderr
        rb.done()
    finally:
        school.remove()


USER_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:lasync:scim:school:1.0:User"]


def portal_staff(portal, tenant: str, user_name: str, email: str) -> str:
    """A staff profile the portal had before lasync (no externalId)."""
    return portal.create(tenant, "Users", {
        "schemas": USER_SCHEMAS, "userName": user_name,
        "name": {"givenName": "M.", "familyName": "Smit"},
        "urn:lasync:scim:school:1.0:User": {"kind": "staff"},
        "emails": [{"value": email, "type": "work"}]})["id"]


def test_onboarding_into_an_existing_portal(pipeline):
    school = School(pipeline, "bestaand")
    school.doc["state"] = "first_run_pending"
    school.write()
    plan = pipeline.dir / "plan.json"
    rb = Runbook(pipeline, "Onboarding a school into an existing portal (first run)",
                 **{"<tenant>": "bestaand", "school.json": str(school.file),
                    "plan.json": str(plan)})
    start(pipeline)
    portal, tenant = pipeline.portal, pipeline.portal_tenant("bestaand")
    try:
        g3 = portal.create(tenant, "Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "groep 3"})["id"]
        old = portal.create(tenant, "Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Groep 8 vorig jaar"})["id"]
        anna = portal.create(tenant, "Users", {
            "schemas": USER_SCHEMAS, "userName": "anna",
            "name": {"givenName": "Anna", "familyName": "Vries, de"},
            "emails": [{"value": "ANNA.DEVRIES@example.nl", "type": "home"}]})["id"]
        rb.run("lasyncctl tenant put school.json")
        out = rb.run("lasyncctl sync <tenant> --wait 600", check=False).stdout
        assert "held (stage mapper): first run pending" in out, out
        assert portal.stats(tenant)["writes"] == 3, "a first_run_pending tenant was written"
        report = rb.run("lasyncctl first-run plan <tenant> --out plan.json").stdout
        assert 'link -> "groep 3" (same name)' in report, report
        groups = {g["name"]: g for g in json.loads(plan.read_text())["groups"]}
        assert groups["Groep 3"]["portal_id"] == g3
        out = rb.run("lasyncctl first-run apply <tenant> plan.json --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        by_ext = {r.get("externalId"): r for r in portal.groups(tenant) + users(pipeline,
                                                                                  "bestaand")}
        assert by_ext["parnassys:jaargroep:7002:3"]["id"] == g3
        assert by_ext["parnassys:jaargroep:7002:3"]["displayName"] == "Groep 3"
        assert by_ext["parnassys:guardian:200001"]["id"] == anna
        out = rb.run("lasyncctl groups orphaned <tenant>").stdout
        assert old in out and "Groep 8 vorig jaar" in out and g3 not in out, out
        rb.done()
    finally:
        school.remove()


def test_working_the_link_queue(pipeline):
    school = School(pipeline, "wachtrij")
    start(pipeline)
    portal, tenant = pipeline.portal, pipeline.portal_tenant("wachtrij")
    smit = [portal_staff(portal, tenant, n, "m.smit@delinde.example.nl")
            for n in ("msmit", "msmit2")]
    rb = Runbook(pipeline, "Working the link queue",
                 **{"<tenant>": "wachtrij", "<externalId>": "parnassys:staff:300001",
                    "<portal-id>": smit[1]})
    try:
        onboard(pipeline, school)
        ext = {u.get("externalId") for u in users(pipeline, "wachtrij")}
        assert "parnassys:staff:300001" not in ext, "a disputed profile was created"
        out = rb.run("lasyncctl links list <tenant>").stdout
        assert "parnassys:staff:300001" in out and smit[0] in out and smit[1] in out, out
        rb.run("lasyncctl links resolve <tenant> <externalId> --link <portal-id>")
        out = rb.run("lasyncctl sync <tenant> --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        linked = {u.get("externalId"): u["id"] for u in users(pipeline, "wachtrij")}
        assert linked["parnassys:staff:300001"] == smit[1]
        assert "parnassys:staff:300001" not in rb.run("lasyncctl links list <tenant>").stdout
        rb.done()
    finally:
        school.remove()


def test_offboarding_a_school(pipeline):
    school = School(pipeline, "vertrekt")
    rb = Runbook(pipeline, "Offboarding a school", **{"<tenant>": "vertrekt",
                                                       "school.json": str(school.file)})
    start(pipeline)
    try:
        onboard(pipeline, school)
        school.doc["settings"]["schedule"] = "manual"
        school.write()
        rb.run("lasyncctl tenant put school.json")
        assert json.loads(pipeline.ctl("tenant", "get", "vertrekt").stdout)["settings"][
            "schedule"] == "manual"
        # Manual: the schedule never requests it, whatever the hour.
        due = pipeline.ctl("sync", "--due", "--dry-run", "--now", "2026-11-30T03:30").stdout
        assert "vertrekt" not in due, due
        assert "vertrekt" in rb.run("lasyncctl status").stdout
        before = users(pipeline, "vertrekt")
        out = rb.run("lasyncctl tenant remove <tenant> --yes").stdout
        assert "tenant vertrekt removed" in out, out
        unknown = pipeline.ctl("tenant", "remove", "bestaat-niet", "--yes", check=False)
        assert unknown.returncode == 1 and "no tenant bestaat-niet" in unknown.stderr
        wait_until(lambda: "vertrekt" not in rb.run("lasyncctl tenant list").stdout, 30,
                   "the tenant to disappear from tenant list")
        wait_until(lambda: "tenant_removed" in pipeline.log_text("fetcher")
                   and "tenant_removed" in pipeline.log_text("applier"), 30,
                   "the daemons to drop the tenant")
        p = pipeline.ctl("sync", "vertrekt", check=False)
        assert p.returncode != 0, p.stdout
        # Nothing in the portal was deleted.
        assert len(users(pipeline, "vertrekt")) == len(before)
        rb.done()
    finally:
        school.remove()


def test_the_august_year_transition(pipeline):
    school = School(pipeline, "jaarwissel", generate=120)
    rb = Runbook(pipeline, "The August year transition", **{"<tenant>": "jaarwissel"})
    start(pipeline)
    tenant = pipeline.portal_tenant("jaarwissel")
    try:
        pipeline.ctl("tenant", "put", str(school.file))
        pipeline.sync("jaarwissel", as_of="2027-07-20", wait=600)
        groups_before = {g["externalId"] for g in pipeline.portal.groups(tenant)}
        # The LAS moves to the new school year (lasgen: everyone a leerjaar up,
        # new groups, groep 8 gone).
        pipeline.las.generate("parnassys", school.brin, 120, seed=5, key=PS_KEY,
                              extra=["--year-transition"])
        writes = pipeline.portal.stats(tenant)["writes"]
        rb.run("lasyncctl sync <tenant> --preview --wait 600", "--as-of", "2027-07-27")
        assert pipeline.portal.stats(tenant)["writes"] == writes, "the preview wrote"
        out = rb.run("lasyncctl sync <tenant> --wait 600", "--as-of", "2027-08-20").stdout
        assert ": ok (stage applier)" in out, out
        st = rb.run("lasyncctl status").stdout
        assert "[HELD]" not in next(line for line in st.splitlines()
                                    if line.startswith("jaarwissel ")), st
        ext = "urn:lasync:scim:school:1.0:Group"
        groups = {g["externalId"]: g for g in pipeline.portal.groups(tenant)}
        orphaned = {x for x, g in groups.items() if g.get(ext, {}).get("lasOrphaned")}
        assert orphaned and orphaned <= groups_before, (orphaned, groups_before)
        assert set(groups) - groups_before, "the new year brought no new groups"
        inactive = [u for u in users(pipeline, "jaarwissel") if u.get("active") is False]
        assert inactive, "the groep-8 leavers were not deactivated"
        listed = rb.run("lasyncctl groups orphaned <tenant>").stdout
        for x in orphaned:
            assert groups[x]["id"] in listed, listed
        rb.done()
    finally:
        school.remove()


def test_reading_status(pipeline):
    school = School(pipeline, "lezen")
    rb = Runbook(pipeline, "Reading status", **{"<tenant>": "lezen"})
    start(pipeline)
    try:
        onboard(pipeline, school)
        st = rb.run("lasyncctl status").stdout
        assert st.splitlines()[0].split()[:3] == ["TENANT", "VENDOR", "LAST"], st
        (row,) = [s for s in json.loads(rb.run("lasyncctl status --json").stdout)
                  if s["tenant"] == "lezen"]
        assert row["outcome"] == "ok" and row["quarantined"] is False and row["held"] is False
        assert row["failures"] == 0 and row["counts"]["users_created"] > 0, row
        assert json.loads(rb.run("lasyncctl tenant get <tenant>").stdout)["tenant_id"] == "lezen"
        portal = rb.run("lasyncctl portal <tenant>").stdout
        assert "student" in portal and "Groep" in portal, portal
        rb.done()
    finally:
        school.remove()


def test_approving_or_rejecting_a_held_sync(pipeline):
    school = School(pipeline, "bewaakt", settings={"guard_min": 2, "guard_percent": 30})
    rb = Runbook(pipeline, "Approving or rejecting a held sync", **{"<tenant>": "bewaakt"})
    start(pipeline)
    tenant = pipeline.portal_tenant("bewaakt")
    try:
        onboard(pipeline, school)
        path = school.dir / "getLeerlingen.xml"
        path.write_text(re.sub(r"<leerling>.*?</leerling>", "", path.read_text(), flags=re.S))
        held = pipeline.ctl("sync", "bewaakt", "--wait", "600", check=False).stdout
        assert ": held (stage mapper)" in held, held
        st = rb.run("lasyncctl status").stdout
        assert "[HELD]" in st and "would deactivate" in st, st
        writes = pipeline.portal.stats(tenant)["writes"]
        rej = rb.run("lasyncctl sync reject <tenant>").stdout
        assert "rejected" in rej, rej
        assert pipeline.portal.stats(tenant)["writes"] == writes
        held = pipeline.ctl("sync", "bewaakt", "--wait", "600", check=False).stdout
        assert ": held (stage mapper)" in held, held
        appr = rb.run("lasyncctl sync approve <tenant> --wait 600").stdout
        assert "deletion guard lifted" in appr and ": ok (stage applier)" in appr, appr
        students = [u for u in users(pipeline, "bewaakt")
                    if u["externalId"].startswith("parnassys:student:")]
        assert students and all(u["active"] is False for u in students)
        none = rb.run("lasyncctl sync reject <tenant>", check=False)
        assert none.returncode == 1 and "no held sync" in none.stderr, none.stderr
        rb.done()
    finally:
        school.remove()


def test_replaying_dead_letters(pipeline):
    school = School(pipeline, "weigert")
    rb = Runbook(pipeline, "Replaying dead letters", **{"<tenant>": "weigert"})
    start(pipeline)
    tenant = pipeline.portal_tenant("weigert")
    try:
        pipeline.ctl("tenant", "put", str(school.file))
        pipeline.portal.faults({"tenant": tenant, "status": 400, "methods": ["POST"],
                                "count": -1})
        try:
            failed = pipeline.ctl("sync", "weigert", "--wait", "600", check=False).stdout
            assert "failed (stage applier)" in failed, failed
        finally:
            pipeline.portal.faults(None)
        out = rb.run("lasyncctl dlq list --tenant <tenant>").stdout
        (letter,) = [line for line in out.splitlines() if ".dlq " in line]
        topic, pos = letter.split()[:2]
        part, off = pos.split(":")
        rb.subs.update({"<dlq-topic>": topic, "<partition>": part, "<offset>": off})
        show = rb.run("lasyncctl dlq show <dlq-topic> <partition> <offset>").stdout
        assert "change set: sync=" in show, show
        dry = rb.run("lasyncctl dlq replay --tenant <tenant> --dry-run").stdout
        assert "would replay 1 dead letter(s)" in dry, dry
        assert users(pipeline, "weigert") == []
        rb.run("lasyncctl dlq replay --tenant <tenant>")
        wait_until(lambda: len(users(pipeline, "weigert")) > 5, 120, "the replay to apply")
        wait_until(lambda: '"outcome": "ok"' in pipeline.ctl("status", "--json").stdout, 120,
                   "an ok result")
        assert " ok " in next(line for line in rb.run("lasyncctl status").stdout.splitlines()
                              if line.startswith("weigert "))
        rb.done()
    finally:
        school.remove()


def test_lifting_quarantine(pipeline):
    school = School(pipeline, "karantaine")
    rb = Runbook(pipeline, "Lifting quarantine", **{"<tenant>": "karantaine"})
    school.key_file.write_text("a-wrong-key\n")
    start(pipeline, "fetcher", "mapper", "applier", "notifier")
    try:
        pipeline.ctl("tenant", "put", str(school.file))
        for _ in range(3):
            p = pipeline.ctl("sync", "karantaine", "--wait", "600", check=False)
            assert "failed (stage fetcher)" in p.stdout, p.stdout
        st = rb.run("lasyncctl status").stdout
        assert "[QUARANTINED]" in st, st
        notifier = pipeline.daemons["notifier"]
        wait_until(lambda: metric_sum(notifier.metrics(), "lasync_tenant_quarantined",
                                      tenant="karantaine") == 1, 60, "the quarantine gauge")
        # The cause fixed: the right key in the file the tenant references.
        school.key_file.write_text(PS_KEY + "\n")
        out = rb.run("lasyncctl sync <tenant> --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        (row,) = [s for s in json.loads(rb.run("lasyncctl status --json").stdout)
                  if s["tenant"] == "karantaine"]
        assert row["quarantined"] is False and row["failures"] == 0, row
        wait_until(lambda: metric_sum(notifier.metrics(), "lasync_tenant_quarantined",
                                      tenant="karantaine") == 0, 60, "the gauge to drop")
        rb.done()
    finally:
        school.remove()


def test_rotating_a_certificate_and_a_key(pipeline):
    esis = School(pipeline, "certwissel", vendor="esis")
    ps = School(pipeline, "sleutelwissel")
    certs = pipeline.las.certs
    # Both start with credentials that no longer work.
    shutil.copy(certs / "client-expired.pem", esis.cert)
    shutil.copy(certs / "client-expired.key", esis.cert_key)
    ps.key_file.write_text("last-years-key\n")
    rb_esis = Runbook(pipeline, "Rotating a school's ESIS certificate or ParnasSys key",
                      **{"<tenant>": "certwissel"})
    rb_ps = Runbook(pipeline, "Rotating a school's ESIS certificate or ParnasSys key",
                    **{"<tenant>": "sleutelwissel"})
    ensure_topics(pipeline)
    fetcher, mapper = pipeline.workers("esis")
    pipeline.start("fetcher", "mapper", fetcher, mapper, "applier")
    try:
        for s in (esis, ps):
            pipeline.ctl("tenant", "put", str(s.file))
        p = pipeline.ctl("sync", "certwissel", "--wait", "600", check=False)
        assert "verlopen" in p.stdout, p.stdout
        p = pipeline.ctl("sync", "sleutelwissel", "--wait", "600", check=False)
        assert "failed (stage fetcher)" in p.stdout, p.stdout
        # The Secret's files are replaced; no daemon restarts.
        shutil.copy(certs / "client.pem", esis.cert)
        shutil.copy(certs / "client.key", esis.cert_key)
        ps.key_file.write_text(PS_KEY + "\n")
        pids = {n: d.proc.pid for n, d in pipeline.daemons.items()}
        out = rb_esis.run("lasyncctl sync <tenant> --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        out = rb_ps.run("lasyncctl sync <tenant> --wait 600").stdout
        assert ": ok (stage applier)" in out, out
        st = rb_esis.run("lasyncctl status").stdout
        for t in ("certwissel", "sleutelwissel"):
            assert " ok " in next(line for line in st.splitlines() if line.startswith(t + " "))
        assert {n: d.proc.pid for n, d in pipeline.daemons.items()} == pids
        left = metric_sum(pipeline.daemons[fetcher].metrics(),
                          "lasync_client_cert_expiry_seconds", tenant="certwissel")
        assert left > 14 * 86400, left
        rb_esis.done()
    finally:
        esis.remove()
        ps.remove()


def helm_line() -> list[str]:
    (line,) = [c for c in sections()["Scaling per vendor"] if c.startswith("helm ")]
    return shlex.split(line)


def test_scaling_per_vendor(pipeline):
    # The helm upgrade of the runbook, rendered with the same --set.
    args = helm_line()
    assert args[:4] == ["helm", "upgrade", "lasync", "deploy/helm/lasync"]
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    helm = ROOT / ".local" / "deploy-tools" / "bin" / "helm"
    assert helm.exists(), "helm is not installed; run scripts/deps.sh"
    cmd = [str(helm), "template", "lasync", str(ROOT / "deploy" / "helm" / "lasync"),
           "--kube-version", "1.33.0"] + [x for s in sets for x in ("--set", s)]
    docs = [d for d in yaml.safe_load_all(subprocess.run(cmd, check=True, capture_output=True,
                                                         text=True).stdout) if d]
    so = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    assert so["lasync-fetcher-esis"]["spec"]["maxReplicaCount"] == 8
    dep = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    res = dep["lasync-mapper-esis"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["limits"]["memory"] == "1Gi"
    other = dep["lasync-mapper-parnassys"]["spec"]["template"]["spec"]["containers"][0]
    assert other["resources"]["limits"]["memory"] != "1Gi"

    # On the stack: a second ESIS fetcher joins the group and shares the work.
    # One school per partition (librdkafka's default partitioner: CRC-32 of
    # the key, the tenant id), so each fetcher gets one school's requests.
    names = [f"schaal{i}" for i in range(20)]
    picked = [next(n for n in names if zlib.crc32(n.encode()) % PARTITIONS == p)
              for p in range(PARTITIONS)]
    schools = [School(pipeline, n, vendor="esis") for n in picked]
    rb = Runbook(pipeline, "Scaling per vendor")
    ensure_topics(pipeline)
    f1, m1 = pipeline.workers("esis")
    f2 = pipeline.daemon("fetcher", instance="-esis-2", vendor="esis").name
    pipeline.start(f1, m1, f2, "applier")
    try:
        for s in schools:
            pipeline.ctl("tenant", "put", str(s.file))
        group = f"{pipeline.prefix}-fetcher-esis"

        # Each member holds a partition of its own (what an operator reads
        # off lasync_consumer_partitions after scaling out); only then do
        # the requests go out, so the split is the group's, not the race's.
        def both_assigned():
            held = [metric_sum(pipeline.daemons[f].metrics(), "lasync_consumer_partitions",
                               group=group) for f in (f1, f2)]
            return all(h >= 1 for h in held) and sum(held) == PARTITIONS
        wait_until(both_assigned, 60, "both ESIS fetchers holding a partition")
        for _ in range(3):
            for s in schools:
                pipeline.ctl("sync", s.tenant)
        for s in schools:
            pipeline.sync(s.tenant, wait=600)
        due = rb.run("lasyncctl sync --due --dry-run")
        assert due.returncode == 0
        st = rb.run("lasyncctl status").stdout
        for s in schools:
            assert " ok " in next(line for line in st.splitlines()
                                  if line.startswith(s.tenant + " ")), st
        done = [metric_sum(pipeline.daemons[f].metrics(), "lasync_events_total", outcome="done")
                for f in (f1, f2)]
        assert sum(done) >= 8 and all(d > 0 for d in done), done
        rb.done()
    finally:
        for s in schools:
            s.remove()


def redis_drop(prefix: str):
    """What a lost Redis looks like to this pipeline: none of its keys."""
    url = env("LASYNC_REDIS_URL")
    keys = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern", f"{prefix}:*"],
                          check=True, capture_output=True, text=True).stdout.split()
    assert keys, "the pipeline left nothing in Redis"
    for i in range(0, len(keys), 200):
        subprocess.run(["redis-cli", "-u", url, "DEL", *keys[i:i + 200]], check=True,
                       capture_output=True)
    left = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern", f"{prefix}:*"],
                          check=True, capture_output=True, text=True).stdout.split()
    assert not left


def test_recovering_from_a_lost_redis(pipeline):
    school = School(pipeline, "geheugen")
    rb = Runbook(pipeline, "Recovering from a lost Redis", **{"<tenant>": "geheugen"})
    start(pipeline)
    tenant = pipeline.portal_tenant("geheugen")
    try:
        onboard(pipeline, school)
        before = sorted((u["externalId"], u["userName"]) for u in users(pipeline, "geheugen"))
        writes = pipeline.portal.stats(tenant)["writes"]
        redis_drop(pipeline.prefix)
        out = rb.run("lasyncctl sync <tenant> --wait 900").stdout
        assert ": ok (stage applier)" in out, out
        out = rb.run("lasyncctl sync <tenant> --full --wait 900").stdout
        assert ": ok (stage applier)" in out, out
        assert " ok " in next(line for line in rb.run("lasyncctl status").stdout.splitlines()
                              if line.startswith("geheugen "))
        after = sorted((u["externalId"], u["userName"]) for u in users(pipeline, "geheugen"))
        assert after == before, "a profile was duplicated or lost"
        # Reconciled against the portal: looked up, compared, nothing written.
        assert pipeline.portal.stats(tenant)["writes"] == writes
        rb.done()
    finally:
        school.remove()
