"""The ParnasSys example school through all four daemons into the portal.

Expected values are worked out by hand from the example documents and
DESIGN.md's rules at sync date 2026-11-29, not taken from lasync's output:
Noah Bakker is 3 (R13), so neither he nor his only guardian Tom is imported;
Pieter's secret mobile is left out (R10); Sara's own mobile is not imported
(R8); the lesgroep 1/2A holds two leerjaren and so becomes two jaargroepen
named "Groep 1 (1/2A)" and "Groep 2 (1/2A)" plus a composite "1/2A" of those
two (R3); Groep 3 holds one leerjaar and keeps its name; the sublesgroep
Rekenplus is a composite of its students; staff follow their groups; every
staff member gets the default role whatever their functie (R11).
"""

from __future__ import annotations

from harness import ROOT, metric_sum

EXT = "urn:lasync:scim:school:1.0:User"
GEXT = "urn:lasync:scim:school:1.0:Group"
EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
KEY = (EXAMPLE / "leveranciersleutel").read_text().strip()

STUDENTS = {
    "parnassys:student:100001": ("Emma", "de", "Vries", "2021-09-12", "2"),
    "parnassys:student:100002": ("Daan", None, "Jansen", "2022-03-03", "1"),
    "parnassys:student:100003": ("Sara", "de", "Vries", "2019-05-20", "3"),
}
GUARDIANS = {
    "parnassys:guardian:200001": {
        "names": ("Anna", "de", "Vries"),
        "email": "anna.devries@example.nl",
        "address": ("Lindelaan 12 B", "1234 AB", "Utrecht"),
        "phones": {"home": "030-1234567", "mobile": "06-12345678"},
        "of": {("parnassys:student:100001", "MOEDER"), ("parnassys:student:100003", "MOEDER")},
    },
    "parnassys:guardian:200002": {
        "names": ("Pieter", "de", "Vries"),
        "email": None,
        "address": ("Lindelaan 12 B", "1234 AB", "Utrecht"),
        "phones": {},  # his only number, the mobile, is secret (R10)
        "of": {("parnassys:student:100001", "VADER"), ("parnassys:student:100003", "VADER")},
    },
    "parnassys:guardian:200003": {
        "names": ("Fatima", None, "Jansen-El Amrani"),
        "email": "F.Jansen@Example.NL",  # verbatim
        "address": ("Kastanjestraat 3", "1234 CD", "Utrecht"),
        "phones": {"mobile": "06-22223333"},
        "of": {("parnassys:student:100002", "MOEDER")},
    },
}
STAFF = {
    "parnassys:staff:300001": (("Marieke", None, "Smit"), "m.smit@delinde.example.nl"),
    "parnassys:staff:300002": (("Ahmed", None, "Yilmaz"), "a.yilmaz@delinde.example.nl"),
    "parnassys:staff:300003": (("Ingrid", "van", "Dam"), "i.vandam@delinde.example.nl"),
}
S1, S2, S3 = (f"parnassys:student:10000{i}" for i in (1, 2, 3))
M1, M2, M3 = (f"parnassys:staff:30000{i}" for i in (1, 2, 3))
G1, G2, G3 = "parnassys:jaargroep:7001:1", "parnassys:jaargroep:7001:2", "parnassys:jaargroep:7002:3"
GROUPS = {
    G1: ("Groep 1 (1/2A)", "jaargroep", ["1"], True, {("User", S2), ("User", M1), ("User", M3)}),
    G2: ("Groep 2 (1/2A)", "jaargroep", ["2"], True, {("User", S1), ("User", M1), ("User", M3)}),
    G3: ("Groep 3", "jaargroep", ["3"], True, {("User", S3), ("User", M2), ("User", M3)}),
    "parnassys:samengesteld:7001": ("1/2A", "samengesteld", ["1", "2"], False,
                                    {("Group", G1), ("Group", G2)}),
    "parnassys:samengesteld:7101": ("Rekenplus", "samengesteld", ["3"], False,
                                    {("User", S3), ("User", M2), ("User", M3)}),
}


def display(given, infix, family):
    return " ".join(p for p in (given, infix, family) if p)


def typed(values, t):
    return [v for v in values or [] if v.get("type") == t]


def check_example_portal(portal, tenant):
    users = portal.users(tenant)
    groups = portal.groups(tenant)
    by_ext = {u["externalId"]: u for u in users}
    ids = {u["id"]: u["externalId"] for u in users} | {g["id"]: g["externalId"] for g in groups}

    # Exactly the expected users, each once.
    assert len(by_ext) == len(users), "duplicate users in the portal"
    assert set(by_ext) == set(STUDENTS) | set(GUARDIANS) | set(STAFF)

    for ext, (given, infix, family, birth, year) in STUDENTS.items():
        u = by_ext[ext]
        x = u[EXT]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == \
            (given, infix, family), ext
        assert u["displayName"] == display(given, infix, family)
        assert x["kind"] == "student" and x["birthDate"] == birth and x["yearLevel"] == year
        assert u.get("active") is True
        assert not u.get("phoneNumbers"), f"R8: {ext} has phone numbers"
        assert not u.get("addresses"), f"R8: {ext} has an address"

    for ext, g in GUARDIANS.items():
        u = by_ext[ext]
        x = u[EXT]
        given, infix, family = g["names"]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == \
            (given, infix, family), ext
        assert x["kind"] == "guardian" and u.get("active") is True
        emails = typed(u.get("emails"), "home")
        assert [e["value"] for e in emails] == ([g["email"]] if g["email"] else []), ext
        addr = typed(u.get("addresses"), "home")
        assert len(addr) == 1, ext
        assert (addr[0]["streetAddress"], addr[0]["postalCode"], addr[0]["locality"]) == g["address"]
        phones = {p["type"]: p["value"] for p in u.get("phoneNumbers") or []}
        assert phones == g["phones"], ext
        rel = {(r["externalId"], r["relation"]) for r in x.get("guardianOf", [])}
        assert rel == g["of"], ext
        for r in x["guardianOf"]:
            assert ids[r["value"]] == r["externalId"], "guardianOf value is the student's portal id"

    for ext, (names, email) in STAFF.items():
        u = by_ext[ext]
        x = u[EXT]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == names
        assert x["kind"] == "staff"
        assert [e["value"] for e in typed(u.get("emails"), "work")] == [email]
        assert [r["value"] for r in u.get("roles", [])] == ["Leerkracht"], "R11 default role"

    gby = {g["externalId"]: g for g in groups}
    assert len(gby) == len(groups), "duplicate groups in the portal"
    assert set(gby) == set(GROUPS)
    for ext, (name, kind, years, primary, members) in GROUPS.items():
        g = gby[ext]
        x = g[GEXT]
        assert g["displayName"] == name, ext
        assert x["kind"] == kind and sorted(x["yearLevels"]) == years, ext
        assert x["primary"] is primary, ext
        assert x.get("lasOrphaned") is False, ext
        got = {(m["type"], ids[m["value"]]) for m in g.get("members", [])}
        assert got == members, ext
        assert len(g.get("members", [])) == len(members), f"duplicate members in {ext}"
        if kind == "samengesteld":
            assert x.get("parentsSeeAllYearGroups") is False, "R14"


def test_example_school_end_to_end(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")

    out = pipeline.sync("delinde").stdout
    assert ": ok (stage applier)" in out, out
    check_example_portal(pipeline.portal, tenant)

    status = {s["tenant"]: s for s in pipeline.status()}
    assert status["delinde"]["outcome"] == "ok"
    assert status["delinde"]["counts"]["users_created"] == 9
    assert status["delinde"]["counts"]["groups_created"] == 5

    # A second sync with an unchanged LAS makes zero portal writes, counted
    # at the portal itself and by the applier.
    before = pipeline.portal.stats(tenant)
    applier_writes = metric_sum(pipeline.daemons["applier"].metrics(),
                                "lasync_portal_requests_total", method="PATCH") + \
        metric_sum(pipeline.daemons["applier"].metrics(), "lasync_portal_requests_total",
                   method="POST")
    out = pipeline.sync("delinde").stdout
    assert ": ok" in out and "portal_writes=0" in out, out
    after = pipeline.portal.stats(tenant)
    assert after["writes"] == before["writes"], (before, after)
    assert metric_sum(pipeline.daemons["applier"].metrics(), "lasync_portal_requests_total",
                      method="PATCH") + \
        metric_sum(pipeline.daemons["applier"].metrics(), "lasync_portal_requests_total",
                   method="POST") == applier_writes

    # A full reconcile compares with the portal itself: still nothing to write.
    out = pipeline.sync("delinde", full=True).stdout
    assert ": ok (stage applier)" in out and "portal_writes=0" in out, out
    assert pipeline.portal.stats(tenant)["writes"] == before["writes"]
    check_example_portal(pipeline.portal, tenant)


# Personal data of the example school that must never reach a log line or a
# metric: names, street, postcode, phone numbers, e-mail addresses.
PERSONAL = ["Emma", "Vries", "Daan", "Jansen", "Sara", "Anna", "Pieter", "Fatima", "Amrani",
            "Marieke", "Smit", "Yilmaz", "Ingrid", "Lindelaan", "Kastanjestraat", "1234 AB",
            "030-1234567", "06-12345678", "06-22223333", "example.nl", "Example.NL", "Utrecht",
            "Noah", "Bakker"]


def test_logs_and_metrics_carry_no_personal_data(pipeline):
    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start(extra={d: ["--log-level", "debug"] for d in ("fetcher", "mapper", "applier")})
    pipeline.sync("delinde")
    pipeline.sync("delinde", full=True)
    texts = {name: pipeline.log_text(name) for name in pipeline.daemons}
    texts.update({f"{name} /metrics": "\n".join(f"{k} {v}" for k, v in d.metrics().items())
                  for name, d in pipeline.daemons.items()})
    for where, text in texts.items():
        leaked = [w for w in PERSONAL if w in text]
        assert not leaked, f"{where} contains personal data: {leaked}"


def test_redis_loss_costs_work_not_duplicates(pipeline):
    """With the expected state and every idempotency key gone, the next sync
    reconciles against the portal and creates nothing twice."""
    import subprocess

    pipeline.tenant("delinde", brin="99ZZ", key=KEY)
    pipeline.start()
    tenant = pipeline.portal_tenant("delinde")
    pipeline.sync("delinde")
    url = pipeline.env["LASYNC_REDIS_URL"]
    port = url.rsplit(":", 1)[1]
    keys = subprocess.run(["redis-cli", "-p", port, "--scan", "--pattern", f"{pipeline.prefix}:*"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert keys, "expected lasync keys in Redis"
    subprocess.run(["redis-cli", "-p", port, "DEL", *keys], check=True, capture_output=True)
    before = pipeline.portal.stats(tenant)
    out = pipeline.sync("delinde").stdout
    assert ": ok (stage applier)" in out, out
    assert pipeline.portal.stats(tenant)["POST"] == before["POST"], "nothing created twice"
    check_example_portal(pipeline.portal, tenant)


def test_r2_the_las_is_only_read(pipeline):
    """R2: lasync never writes to a LAS. Every request the simulator saw for
    a school of this test's own is one of the read operations."""
    from harness import http_json
    from test_e2e_rules_parnassys import School, brin_for

    brin = brin_for(pipeline, 9)
    school = School(pipeline, brin, "r2-key")
    try:
        pipeline.tenant("delinde", brin=brin, key="r2-key")
        pipeline.start()
        pipeline.sync("delinde")
        pipeline.sync("delinde", full=True)
        st, stats = http_json("GET", f"{pipeline.las.url}/_control/stats")
        assert st == 200
        ops = stats["requests"]["parnassys"][brin]
        assert set(ops) == {"getLeerlingen", "getMedewerkers", "getVerzorgers"}, ops
        assert all(set(codes) == {"200"} for codes in ops.values()), ops
    finally:
        school.remove()
