"""The school rules over successive syncs of one ParnasSys school (R5-R17).

The example school is copied under a BRIN of the test's own and edited
between syncs the way a school's administration changes. After every step
the portal must hold exactly what the rules say - the expected portal is
written out by hand (portal_model.Model), never taken from lasync - and the
portal-owned data set on every profile and group before the steps (allergies,
GP, consents, news, photos) must be untouched (R9).
"""

from __future__ import annotations

import json
import re
import time

from harness import ROOT
from portal_model import Model, check, group, set_portal_owned, user

EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
V = "parnassys"
S1, S2, S3, S4 = (f"{V}:student:10000{i}" for i in (1, 2, 3, 4))
A, P, F, T = (f"{V}:guardian:20000{i}" for i in (1, 2, 3, 4))
M1, M2, M3 = (f"{V}:staff:30000{i}" for i in (1, 2, 3))
G1, G2, G3 = f"{V}:jaargroep:7001:1", f"{V}:jaargroep:7001:2", f"{V}:jaargroep:7002:3"
C12, REK = f"{V}:samengesteld:7001", f"{V}:samengesteld:7101"
ROLE = ["Leerkracht"]


def initial_model() -> Model:
    """The example school at 2026-11-29 with default settings (see
    test_e2e_parnassys.py for the reasoning)."""
    users = {
        S1: user("Emma", "de", "Vries", "student", birth="2021-09-12", year="2", preschool=False),
        S2: user("Daan", None, "Jansen", "student", birth="2022-03-03", year="1", preschool=False),
        S3: user("Sara", "de", "Vries", "student", birth="2019-05-20", year="3", preschool=False),
        A: user("Anna", "de", "Vries", "guardian", email="anna.devries@example.nl",
                address=("Lindelaan 12 B", "1234 AB", "Utrecht"),
                phones={"home": "030-1234567", "mobile": "06-12345678"},
                of={(S1, "MOEDER"), (S3, "MOEDER")}),
        P: user("Pieter", "de", "Vries", "guardian", address=("Lindelaan 12 B", "1234 AB", "Utrecht"),
                of={(S1, "VADER"), (S3, "VADER")}),
        F: user("Fatima", None, "Jansen-El Amrani", "guardian", email="F.Jansen@Example.NL",
                address=("Kastanjestraat 3", "1234 CD", "Utrecht"), phones={"mobile": "06-22223333"},
                of={(S2, "MOEDER")}),
        M1: user("Marieke", None, "Smit", "staff", email="m.smit@delinde.example.nl", roles=ROLE),
        M2: user("Ahmed", None, "Yilmaz", "staff", email="a.yilmaz@delinde.example.nl", roles=ROLE),
        M3: user("Ingrid", "van", "Dam", "staff", email="i.vandam@delinde.example.nl", roles=ROLE),
    }
    groups = {
        G1: group("Groep 1 (1/2A)", "jaargroep", ["1"], True, {("User", S2), ("User", M1), ("User", M3)}),
        G2: group("Groep 2 (1/2A)", "jaargroep", ["2"], True, {("User", S1), ("User", M1), ("User", M3)}),
        G3: group("Groep 3", "jaargroep", ["3"], True, {("User", S3), ("User", M2), ("User", M3)}),
        C12: group("1/2A", "samengesteld", ["1", "2"], False, {("Group", G1), ("Group", G2)}),
        REK: group("Rekenplus", "samengesteld", ["3"], False, {("User", S3), ("User", M2), ("User", M3)}),
    }
    return Model(users, groups)


class School:
    """A copy of the example school the test edits between syncs."""

    def __init__(self, pipeline, brin: str, key: str):
        self.dir = pipeline.las.add_school_from(EXAMPLE, V, brin, key, {"99ZZ": brin})

    def edit(self, doc: str, old: str, new: str, count: int = 1):
        path = self.dir / f"{doc}.xml"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == count, f"{doc}: expected {count}x {old!r}, found {text.count(old)}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def remove(self):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def brin_for(pipeline, n: int) -> str:
    h = int(pipeline.prefix[1:], 16) + n
    return f"{h % 100:02d}" + chr(65 + (h // 100) % 26) + chr(65 + (h // 2600) % 26)


def retenant(pipeline, tenant_id: str, settings: dict):
    """Change a tenant's settings and give the daemons time to follow."""
    path = pipeline.dir / f"tenant-{tenant_id}.json"
    doc = json.loads(path.read_text())
    doc["settings"] = settings
    path.write_text(json.dumps(doc))
    pipeline.ctl("tenant", "put", str(path))
    time.sleep(2)


def ok(out) -> str:
    assert ": ok (stage " in out.stdout, out.stdout
    return out.stdout


def writes(out) -> int:
    return int(re.search(r"portal_writes=(\d+)", out).group(1))


def leave(date: str) -> str:
    return f"<datumUitschrijving>{date}</datumUitschrijving>"


def test_successive_syncs_r5_to_r16(pipeline):
    brin = brin_for(pipeline, 1)
    school = School(pipeline, brin, "k1")
    pipeline.tenant("school", brin=brin, key="k1")
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        ok(pipeline.sync("school"))
        check(pipeline.portal, tenant, m, step="initial")
        owned = set_portal_owned(pipeline.portal, tenant)
        check(pipeline.portal, tenant, m, owned, step="portal data set")

        # R6: a guardian's address changes.
        school.edit("getVerzorgers",
                    "<id>3002</id><straat>Kastanjestraat</straat><huisnummer>3</huisnummer><postcode>1234 CD</postcode>",
                    "<id>3002</id><straat>Beukenlaan</straat><huisnummer>9</huisnummer><postcode>4321 ZZ</postcode>")
        ok(pipeline.sync("school"))
        m.users[F]["address"] = ("Beukenlaan 9", "4321 ZZ", "Utrecht")
        check(pipeline.portal, tenant, m, owned, step="R6 address")

        # R6: a phone number disappears from the LAS and from the portal.
        school.edit("getVerzorgers",
                    "<telefoonVast><nummer>030-1234567</nummer><geheim>false</geheim></telefoonVast>", "")
        ok(pipeline.sync("school"))
        m.users[A]["phones"] = {"mobile": "06-12345678"}
        check(pipeline.portal, tenant, m, owned, step="R6 phone gone")

        # R7: an e-mail that disappears is kept; one that changes replaces.
        school.edit("getVerzorgers", "<email>anna.devries@example.nl</email>", "")
        school.edit("getVerzorgers", "<email>F.Jansen@Example.NL</email>",
                    "<email>fatima.jansen@example.nl</email>")
        ok(pipeline.sync("school"))
        m.users[F]["email"] = "fatima.jansen@example.nl"
        check(pipeline.portal, tenant, m, owned, step="R7 e-mail")

        # R10: secret numbers count as missing unless the tenant imports them.
        retenant(pipeline, "school", {"import_secret_contact_data": True})
        ok(pipeline.sync("school"))
        m.users[P]["phones"] = {"mobile": "06-87654321"}
        check(pipeline.portal, tenant, m, owned, step="R10 secret imported")
        retenant(pipeline, "school", {})
        ok(pipeline.sync("school"))
        m.users[P]["phones"] = {}
        check(pipeline.portal, tenant, m, owned, step="R10 secret dropped")

        # R15: the school flips composite_groups_leading, and back.
        retenant(pipeline, "school", {"composite_groups_leading": True})
        ok(pipeline.sync("school"))
        for g, primary in ((G1, False), (G2, False), (G3, True), (C12, True), (REK, True)):
            m.groups[g]["primary"] = primary
        check(pipeline.portal, tenant, m, owned, step="R15 composites leading")
        retenant(pipeline, "school", {})
        ok(pipeline.sync("school"))
        for g, primary in ((G1, True), (G2, True), (G3, True), (C12, False), (REK, False)):
            m.groups[g]["primary"] = primary
        check(pipeline.portal, tenant, m, owned, step="R15 back")

        # A student moves group: Emma from 1/2A (leerjaar 2) to Groep 3.
        # 1/2A then holds one leerjaar: its jaargroep takes the lesgroep's
        # name (R3), the leerjaar-2 jaargroep and the composite no longer
        # map to anything and are orphaned, not deleted (R5).
        school.edit("getLeerlingen",
                    "<groepsindeling><id>9001</id><groep>7001</groep><schooljaar>27</schooljaar><leerjaar>2</leerjaar>",
                    "<groepsindeling><id>9001</id><groep>7002</groep><schooljaar>27</schooljaar><leerjaar>3</leerjaar>")
        ok(pipeline.sync("school"))
        m.users[S1]["year"] = "3"
        m.groups[G1].update(name="1/2A")
        m.groups[G2].update(orphaned=True, members=set())
        m.groups[C12].update(orphaned=True, members=set())
        m.groups[G3]["members"] |= {("User", S1)}
        check(pipeline.portal, tenant, m, owned, step="student moves group")

        # R16: Sara and Daan leave. They are deactivated and leave their
        # groups; Fatima has no active child left and is deactivated too;
        # groups without students are orphaned.
        school.edit("getLeerlingen", "<datumInschrijving>2023-05-20</datumInschrijving>",
                    "<datumInschrijving>2023-05-20</datumInschrijving>" + leave("2026-11-01"))
        school.edit("getLeerlingen", "<datumInschrijving>2026-03-03</datumInschrijving>",
                    "<datumInschrijving>2026-03-03</datumInschrijving>" + leave("2026-11-01"))
        ok(pipeline.sync("school"))
        m.users[S3]["active"] = False
        m.users[S2]["active"] = False
        m.users[F]["active"] = False
        m.users[A]["of"] = {(S1, "MOEDER")}
        m.users[P]["of"] = {(S1, "VADER")}
        m.groups[G1].update(orphaned=True, members=set())
        m.groups[REK].update(orphaned=True, members=set())
        m.groups[G3]["members"] = {("User", S1), ("User", M2), ("User", M3)}
        check(pipeline.portal, tenant, m, owned, step="R16 leavers")

        # R16: Daan returns: he, his mother and his group come back.
        school.edit("getLeerlingen",
                    "<datumInschrijving>2026-03-03</datumInschrijving>" + leave("2026-11-01"),
                    "<datumInschrijving>2026-03-03</datumInschrijving>")
        ok(pipeline.sync("school"))
        m.users[S2]["active"] = True
        m.users[F]["active"] = True
        m.groups[G1].update(orphaned=False, members={("User", S2), ("User", M1), ("User", M3)})
        check(pipeline.portal, tenant, m, owned, step="R16 returner")

        # A LAS-owned field edited in the portal, and a phone put on a
        # student: a normal sync trusts its expected state and writes
        # nothing; a full reconcile compares with the portal and repairs
        # both (R8, R9 owned data re-asserted), portal data untouched.
        users = {u["externalId"]: u for u in pipeline.portal.users(tenant)}
        pipeline.portal.patch(tenant, "Users", users[A]["id"],
                              [{"op": "replace", "path": "name.familyName", "value": "Visser"}])
        pipeline.portal.patch(tenant, "Users", users[S1]["id"],
                              [{"op": "add", "path": "phoneNumbers",
                                "value": [{"type": "mobile", "value": "06-00000000"}]}])
        out = ok(pipeline.sync("school"))
        assert writes(out) == 0, out
        out = ok(pipeline.sync("school", full=True))
        assert writes(out) == 2, out
        check(pipeline.portal, tenant, m, owned, step="full reconcile repairs drift")

        # R5: a member the school added in the portal (a portal-made
        # profile, no externalId) stays in a LAS group through normal and
        # full syncs.
        helper = pipeline.portal.create(tenant, "Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ouder-hulp", "displayName": "Hulpouder"})
        gid = {g["externalId"]: g["id"] for g in pipeline.portal.groups(tenant)}[G3]
        pipeline.portal.patch(tenant, "Groups", gid, [
            {"op": "add", "path": "members", "value": [{"value": helper["id"]}]}])
        ok(pipeline.sync("school"))
        ok(pipeline.sync("school", full=True))
        g3 = next(g for g in pipeline.portal.groups(tenant) if g["id"] == gid)
        assert helper["id"] in {x["value"] for x in g3.get("members", [])}, g3
        # lasync never replaced nor deleted anything in all these syncs.
        st = pipeline.portal.stats(tenant)
        assert st["PUT"] == 0 and st["DELETE"] == 0, st
    finally:
        school.remove()


def test_r13_under_four_turns_four(pipeline):
    brin = brin_for(pipeline, 2)
    school = School(pipeline, brin, "k2")
    pipeline.tenant("school", brin=brin, key="k2", settings={"preschool_import_weeks": 8})
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        # Noah turns 4 on 2027-01-15, 47 days after 2026-11-29: within 8
        # weeks, so he and his father are imported, Noah into the
        # automatically created Instroomgroep. Tom's address is secret.
        ok(pipeline.sync("school", as_of="2026-11-29"))
        m.users[S4] = user("Noah", None, "Bakker", "student", birth="2023-01-15", preschool=True)
        m.users[T] = user("Tom", None, "Bakker", "guardian", email="tom.bakker@example.nl",
                          of={(S4, "VADER")})
        m.groups["lasync:instroom"] = group("Instroomgroep", "instroom", [], True, {("User", S4)})
        check(pipeline.portal, tenant, m, step="R13 instroom")
        owned = set_portal_owned(pipeline.portal, tenant)

        # Before his birthday nothing changes, on it he moves to the LAS
        # group his placement gives from that day; the Instroomgroep is
        # left empty and, mapping to nothing now, orphaned (R5).
        out = ok(pipeline.sync("school", as_of="2027-01-14"))
        assert writes(out) == 0, out
        ok(pipeline.sync("school", as_of="2027-01-15"))
        m.users[S4].update(year="1", preschool=False)
        m.groups[G1]["members"] |= {("User", S4)}
        m.groups["lasync:instroom"].update(orphaned=True, members=set())
        check(pipeline.portal, tenant, m, owned, step="R13 turned four")
    finally:
        school.remove()


def test_r13_under_four_not_imported_by_default(pipeline):
    brin = brin_for(pipeline, 3)
    school = School(pipeline, brin, "k3")
    pipeline.tenant("school", brin=brin, key="k3")
    pipeline.start()
    try:
        ok(pipeline.sync("school", as_of="2026-11-29"))
        check(pipeline.portal, pipeline.portal_tenant("school"), initial_model(), step="default")
    finally:
        school.remove()


def test_r17_nearly_empty_export_is_held_then_approved(pipeline):
    brin = brin_for(pipeline, 4)
    school = School(pipeline, brin, "k4")
    settings = {"guard_min": 2, "guard_percent": 30}
    pipeline.tenant("school", brin=brin, key="k4", settings=settings)
    pipeline.start()
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        ok(pipeline.sync("school"))
        owned = set_portal_owned(pipeline.portal, tenant)
        before = pipeline.portal.stats(tenant)["writes"]

        # The export comes back with no students: all 3 students and all 3
        # guardians would be deactivated, 6 > max(2, 30% of 9): held whole.
        path = school.dir / "getLeerlingen.xml"
        text = path.read_text()
        path.write_text(re.sub(r"<leerling>.*?</leerling>", "", text, flags=re.S))
        # The preview says so before anything happens.
        pre = pipeline.ctl("sync", "school", "--preview", "--as-of", "2026-11-29", "--wait",
                           "180").stdout
        assert "WOULD BE HELD (deletion guard): would deactivate 6 of 9" in pre, pre
        held = pipeline.sync("school", check=False)
        assert held.returncode == 1 and ": held (stage mapper)" in held.stdout, held.stdout
        assert "would deactivate 6 of 9" in held.stdout, held.stdout
        assert pipeline.portal.stats(tenant)["writes"] == before, "a held sync applied something"
        check(pipeline.portal, tenant, m, owned, step="held: nothing applied")
        status = {s["tenant"]: s for s in pipeline.status()}
        assert status["school"]["outcome"] == "held"

        # A later sync of a held tenant replaces the held one (still held).
        again = pipeline.sync("school", check=False)
        assert ": held (stage mapper)" in again.stdout, again.stdout

        # Rejected: nothing applied.
        rej = pipeline.ctl("sync", "reject", "school")
        assert "rejected" in rej.stdout, rej.stdout
        no = pipeline.ctl("sync", "approve", "school", check=False)
        assert no.returncode == 1 and "no held sync" in no.stderr, no.stderr
        check(pipeline.portal, tenant, m, owned, step="rejected")

        # Held again, then approved: the deactivations are applied.
        again = pipeline.sync("school", check=False)
        assert ": held (stage mapper)" in again.stdout, again.stdout
        appr = pipeline.ctl("sync", "approve", "school", "--wait", "180")
        assert "deletion guard lifted" in appr.stdout and ": ok (stage applier)" in appr.stdout, appr.stdout
        for u in (S1, S2, S3, A, P, F):
            m.users[u]["active"] = False
        for g in (G1, G2, G3, C12, REK):
            m.groups[g].update(orphaned=True, members=set())
        check(pipeline.portal, tenant, m, owned, step="approved")
    finally:
        school.remove()


def op_lines(text: str) -> list[tuple[str, str]]:
    return sorted(re.findall(r"^\[([A-Z_]+)\] (?:user|group) (\S+)", text, flags=re.M))


def test_preview_lists_exactly_the_operations_of_the_next_sync(pipeline):
    brin = brin_for(pipeline, 5)
    school = School(pipeline, brin, "k5")
    pipeline.tenant("school", brin=brin, key="k5")
    pipeline.start(extra={"applier": ["--log-level", "debug"]})
    tenant = pipeline.portal_tenant("school")
    try:
        ok(pipeline.sync("school"))
        school.edit("getVerzorgers",
                    "<id>3002</id><straat>Kastanjestraat</straat><huisnummer>3</huisnummer>",
                    "<id>3002</id><straat>Beukenlaan</straat><huisnummer>9</huisnummer>")
        school.edit("getLeerlingen", "<datumInschrijving>2023-05-20</datumInschrijving>",
                    "<datumInschrijving>2023-05-20</datumInschrijving>" + leave("2026-11-01"))
        before = pipeline.portal.stats(tenant)["writes"]
        prev = pipeline.ctl("sync", "school", "--as-of", "2026-11-29", "--preview", "--wait", "120")
        assert ": preview (stage mapper)" in prev.stdout, prev.stdout
        assert pipeline.portal.stats(tenant)["writes"] == before, "a preview wrote to the portal"
        assert "Kastanjestraat 3" in prev.stdout and "Beukenlaan 9" in prev.stdout, \
            "the report shows old -> new"
        assert "deactivate" in prev.stdout
        planned = op_lines(prev.stdout)
        assert planned, prev.stdout

        log_before = len(pipeline.log_text("applier"))
        ok(pipeline.sync("school"))
        done = sorted(re.findall(r"event=op_done .*? type=OP_([A-Z_]+) ext=(\S+)",
                                 pipeline.log_text("applier")[log_before:]))
        assert done == planned, f"preview {planned}\nreal {done}"
    finally:
        school.remove()
