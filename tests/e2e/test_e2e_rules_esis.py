"""The school rules over successive syncs of one ESIS school, over mutual
TLS (the ESIS side of test_e2e_rules_parnassys.py).

The ESIS example school is copied under a BRIN of the test's own and edited
between syncs; after every step the portal must equal a hand-written model
(portal_model.Model) and the portal-owned data set before must be
untouched (R9).  ESIS has no leaving date: a leaver is a student absent
from the export (R16).
"""

from __future__ import annotations

import re
import shutil

from portal_model import Model, check, group, set_portal_owned, user
from test_e2e_esis import KEY, certs, copy_school
from test_e2e_rules_parnassys import ok, retenant, writes

V = "esis"
S1, S2, S3 = "esis:student:L2001", "esis:student:L2002", "esis:student:L2003"
MARK, EVA = "esis:guardian:V501", "esis:guardian:V502"
M1, M2 = "esis:staff:M301", "esis:staff:M302"
G12A, G5, TAAL = "esis:jaargroep:G12A", "esis:jaargroep:G5", "esis:samengesteld:SG-TAAL"
ROLE = ["Leerkracht"]


def initial_model() -> Model:
    """The ESIS example at 2026-11-29 (see test_e2e_esis.py for why)."""
    users = {
        S1: user("Lotte", None, "Visser", "student", birth="2021-02-01", year="2", preschool=False),
        S2: user("Finn", "de", "Boer", "student", birth="2022-06-30", year="1", preschool=False),
        S3: user("Bram", None, "Visser", "student", birth="2018-04-11", year="5", preschool=False),
        MARK: user("Mark", None, "Visser", "guardian", email="mark.visser@example.nl",
                   address=("Wilgenlaan 7", "5678 GH", "Zwolle"),
                   phones={"home": "038-7654321", "mobile": "06-44445555"},
                   emergency="06-66667777", of={(S1, "vader"), (S3, "vader")}),
        EVA: user("Eva", "de", "Boer", "guardian", address=("Populierstraat 21 a", "5678 JK", "Zwolle"),
                  phones={"mobile": "06-88889999"}, of={(S2, "moeder")}),
        M1: user("Sanne", None, "Mulder", "staff", email="s.mulder@dewilg.example.nl", roles=ROLE),
        M2: user("Joost", "van den", "Berg", "staff", email="j.vandenberg@dewilg.example.nl",
                 roles=ROLE),
    }
    groups = {
        G12A: group("1/2A", "jaargroep", ["1", "2"], True, {("User", S1), ("User", S2), ("User", M1)}),
        G5: group("Groep 5", "jaargroep", ["5"], True, {("User", S3), ("User", M2)}),
        TAAL: group("Taalclub", "samengesteld", ["5"], False, {("User", S3), ("User", M2)}),
    }
    return Model(users, groups)


class School:
    def __init__(self, pipeline):
        self.code = copy_school(pipeline, "BasisOnline Ouderportaal")
        self.dir = pipeline.las.root / "esis" / self.code

    def edit(self, doc: str, old: str, new: str, regex: bool = False):
        path = self.dir / f"{doc}.xml"
        text = path.read_text(encoding="utf-8")
        if regex:
            new_text, n = re.subn(old, new, text, flags=re.S)
        else:
            n = text.count(old)
            new_text = text.replace(old, new)
        assert n == 1, f"{doc}: expected one {old!r}, found {n}"
        path.write_text(new_text, encoding="utf-8")


def start(pipeline, school: School, settings: dict | None = None):
    pipeline.tenant("school", brin=school.code[:4], dependance=school.code[4:], key=KEY,
                    vendor=V, las=certs(pipeline), settings=settings or {})
    pipeline.start(*pipeline.workers(V), "applier")
    pipeline.vendor = V


def test_successive_syncs_esis(pipeline):
    school = School(pipeline)
    start(pipeline, school)
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        ok(pipeline.sync("school"))
        check(pipeline.portal, tenant, m, step="initial")
        owned = set_portal_owned(pipeline.portal, tenant)

        # R6: Mark moves house.
        school.edit("HaalVerzorgergegevens", "<vz:straat>Wilgenlaan</vz:straat><vz:huisnummer>7",
                    "<vz:straat>Berkenlaan</vz:straat><vz:huisnummer>8")
        ok(pipeline.sync("school"))
        m.users[MARK]["address"] = ("Berkenlaan 8", "5678 GH", "Zwolle")
        check(pipeline.portal, tenant, m, owned, step="R6 address")

        # R6: the emergency number disappears from ESIS, and from the portal.
        school.edit("HaalVerzorgergegevens",
                    '<vz:telefoon soort="nood" geheim="false">06-66667777</vz:telefoon>', "")
        ok(pipeline.sync("school"))
        m.users[MARK]["emergency"] = None
        check(pipeline.portal, tenant, m, owned, step="R6 emergency number gone")

        # R7: the e-mail disappears and is kept.
        school.edit("HaalVerzorgergegevens", "<vz:emailadres>mark.visser@example.nl</vz:emailadres>",
                    "")
        out = ok(pipeline.sync("school"))
        assert writes(out) == 0, out
        check(pipeline.portal, tenant, m, owned, step="R7 e-mail kept")

        # R10: Eva's secret vast number comes in when the tenant imports
        # secret data.
        retenant(pipeline, "school", {"import_secret_contact_data": True})
        ok(pipeline.sync("school"))
        m.users[EVA]["phones"] = {"home": "038-1112223", "mobile": "06-88889999"}
        check(pipeline.portal, tenant, m, owned, step="R10 secret imported")
        retenant(pipeline, "school", {})
        ok(pipeline.sync("school"))
        m.users[EVA]["phones"] = {"mobile": "06-88889999"}
        check(pipeline.portal, tenant, m, owned, step="R10 secret dropped")

        # R15: composites leading: Taalclub becomes primary; the ESIS
        # jaargroepen belong to no composite and stay primary.
        retenant(pipeline, "school", {"composite_groups_leading": True})
        ok(pipeline.sync("school"))
        m.groups[TAAL]["primary"] = True
        check(pipeline.portal, tenant, m, owned, step="R15 composites leading")
        retenant(pipeline, "school", {})
        ok(pipeline.sync("school"))
        m.groups[TAAL]["primary"] = False
        check(pipeline.portal, tenant, m, owned, step="R15 back")

        # A student moves group: Bram (jaargroep 5) into the combination
        # group 1/2A; Groep 5 is left without students and orphaned (R5).
        school.edit("HaalLeerlinggegevens",
                    '<le:jaargroep>5</le:jaargroep><le:groep key="G5"/>',
                    '<le:jaargroep>5</le:jaargroep><le:groep key="G12A"/>')
        ok(pipeline.sync("school"))
        m.groups[G12A].update(years=["1", "2", "5"],
                              members={("User", S1), ("User", S2), ("User", S3), ("User", M1)})
        m.groups[G5].update(orphaned=True, members=set())
        check(pipeline.portal, tenant, m, owned, step="student moves group")

        # R16: Finn leaves (absent from the export): he and Eva, whose only
        # child he is, are deactivated; 1/2A loses him and his jaargroep.
        school.edit("HaalLeerlinggegevens", r'<le:leerling key="L2002">.*?</le:leerling>', "",
                    regex=True)
        ok(pipeline.sync("school"))
        m.users[S2]["active"] = False
        m.users[EVA]["active"] = False
        m.groups[G12A].update(years=["2", "5"], members={("User", S1), ("User", S3), ("User", M1)})
        check(pipeline.portal, tenant, m, owned, step="R16 leaver")

        # Drift repaired by a full reconcile, portal data untouched.
        users = {u["externalId"]: u for u in pipeline.portal.users(tenant)}
        pipeline.portal.patch(tenant, "Users", users[MARK]["id"],
                              [{"op": "replace", "path": "name.givenName", "value": "Marc"}])
        pipeline.portal.patch(tenant, "Users", users[S1]["id"],
                              [{"op": "add", "path": "phoneNumbers",
                                "value": [{"type": "home", "value": "038-0000000"}]}])
        assert writes(ok(pipeline.sync("school"))) == 0
        assert writes(ok(pipeline.sync("school", full=True))) == 2
        check(pipeline.portal, tenant, m, owned, step="full reconcile repairs drift")
    finally:
        shutil.rmtree(school.dir, ignore_errors=True)


def test_r17_held_then_approved_esis(pipeline):
    school = School(pipeline)
    start(pipeline, school, {"guard_min": 1, "guard_percent": 30})
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        ok(pipeline.sync("school"))
        owned = set_portal_owned(pipeline.portal, tenant)
        before = pipeline.portal.stats(tenant)["writes"]
        school.edit("HaalLeerlinggegevens", r"<le:leerlingen>.*?</le:leerlingen>",
                    "<le:leerlingen></le:leerlingen>", regex=True)
        held = pipeline.sync("school", check=False)
        assert ": held (stage mapper)" in held.stdout and "would deactivate 5 of 7" in held.stdout, \
            held.stdout
        assert pipeline.portal.stats(tenant)["writes"] == before
        check(pipeline.portal, tenant, m, owned, step="held")
        appr = pipeline.ctl("sync", "approve", "school", "--wait", "180")
        assert ": ok (stage applier)" in appr.stdout, appr.stdout
        for u in (S1, S2, S3, MARK, EVA):
            m.users[u]["active"] = False
        for g in (G12A, G5, TAAL):
            m.groups[g].update(orphaned=True, members=set())
        check(pipeline.portal, tenant, m, owned, step="approved")
    finally:
        shutil.rmtree(school.dir, ignore_errors=True)


def test_r13_under_four_turns_four_esis(pipeline):
    """R13 for ESIS (placements without dates): Finn is made 3 years old,
    turning 4 on 2027-01-15.  Within preschool_import_weeks he and his
    mother are imported, he into the Instroomgroep, not into his LAS group;
    from his birthday on he is in 1/2A and the Instroomgroep is orphaned."""
    school = School(pipeline)
    school.edit("HaalLeerlinggegevens", "<le:geboortedatum>2022-06-30</le:geboortedatum>",
                "<le:geboortedatum>2023-01-15</le:geboortedatum>")
    start(pipeline, school, {"preschool_import_weeks": 8})
    tenant = pipeline.portal_tenant("school")
    m = initial_model()
    try:
        ok(pipeline.sync("school", as_of="2026-11-29"))
        # ESIS gives the year on the student record itself (le:jaargroep),
        # so yearLevel is the LAS's from the start; only the group waits.
        m.users[S2].update(birth="2023-01-15", preschool=True, year="1")
        m.groups[G12A].update(years=["2"], members={("User", S1), ("User", M1)})
        m.groups["lasync:instroom"] = group("Instroomgroep", "instroom", [], True, {("User", S2)})
        check(pipeline.portal, tenant, m, step="R13 instroom")
        owned = set_portal_owned(pipeline.portal, tenant)

        out = ok(pipeline.sync("school", as_of="2027-01-14"))
        assert writes(out) == 0, out
        ok(pipeline.sync("school", as_of="2027-01-15"))
        m.users[S2].update(year="1", preschool=False)
        m.groups[G12A].update(years=["1", "2"], members={("User", S1), ("User", S2),
                                                         ("User", M1)})
        m.groups["lasync:instroom"].update(orphaned=True, members=set())
        check(pipeline.portal, tenant, m, owned, step="R13 turned four")
    finally:
        shutil.rmtree(school.dir, ignore_errors=True)
