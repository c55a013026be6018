"""First-run onboarding and profile linking (R19, R20), end to end.

A school's portal already holds groups with group-bound data and profiles
of parents and staff. The school (the repo's example ParnasSys school under
a BRIN of the test's own) is onboarded: planned, a stale plan refused,
planned again, applied. The portal must then hold every LAS profile and
group exactly once, the linked ones under their old ids with their
portal-owned data, the disputed profile in the link queue until the
operator resolves it, and a later-arriving sibling linked to the guardian
profile the family already has.

What the portal must hold is written out by hand (portal_model), never
taken from lasync.
"""

from __future__ import annotations

import json

from harness import http_json
from portal_model import EXT, PORTAL_GROUP, PORTAL_USER, check
from test_e2e_rules_parnassys import (A, C12, F, G1, G2, G3, M1, M2, M3, P, REK, S1, S2, S3,
                                      School, brin_for, initial_model, retenant)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ELSEWHERE = "parnassys:jaargroep:9:9"  # a LAS group of another school
NEWS = {"newsItems": ["nieuws-1"], "photoAlbums": ["schoolreis"]}
CARE = {"allergies": "noten", "consents": ["foto's"]}


class Managed:
    """The portal as lasync manages it: resources with an externalId (the
    portal's own profiles and groups are checked separately)."""

    def __init__(self, portal):
        self.portal = portal

    def users(self, tenant):
        return [u for u in self.portal.users(tenant) if u.get("externalId")]

    def groups(self, tenant):
        return [g for g in self.portal.groups(tenant) if g.get("externalId")]


def portal_user(given, family, kind=None, emails=(), birth=None, postcode=None, userName=None):
    doc = {"schemas": [USER, EXT, PORTAL_USER], "userName": userName or f"{given}.{family}",
           "name": {"givenName": given, "familyName": family},
           "displayName": f"{given} {family}", "active": True, PORTAL_USER: dict(CARE)}
    ext = {}
    if kind:
        ext["kind"] = kind
    if birth:
        ext["birthDate"] = birth
    if ext:
        doc[EXT] = ext
    if emails:
        doc["emails"] = [{"value": e, "type": "work" if kind == "staff" else "home"} for e in emails]
    if postcode:
        doc["addresses"] = [{"type": "home", "postalCode": postcode}]
    return doc


def portal_group(name):
    return {"schemas": [GROUP, PORTAL_GROUP], "displayName": name, PORTAL_GROUP: dict(NEWS)}


def prepopulate(portal, tenant) -> dict:
    """The portal before lasync: groups with group-bound data, and profiles -
    matching ones (other case, other name order), an ambiguous pair and
    ones the LAS does not know. Returns name -> portal id."""
    ids = {}
    for name in ("Groep 1A", "Groep 2A", "Groep 3", "Groep 8 (2025)"):
        ids[name] = portal.create(tenant, "Groups", portal_group(name))["id"]
    people = {
        # students: birth date + surname (infix placed otherwise) + roepnaam
        "emma": portal_user("EMMA", "Vries, de", "student", birth="2021-09-12"),
        "sara": portal_user("sara", "de  Vries", "student", birth="2019-05-20"),
        # guardians: e-mail in another case; without e-mail name + postcode
        "anna": portal_user("Anna", "de Vries", "guardian", emails=["Anna.DeVries@Example.nl"]),
        "pieter": portal_user("PIETER", "Vries, de", None, postcode="1234ab"),
        "fatima": portal_user("Fatima", "Jansen", "guardian", emails=["f.jansen@example.nl"]),
        # staff: one e-mail on two portal profiles -> disputed
        "smit1": portal_user("Marieke", "Smit", "staff", emails=["m.smit@delinde.example.nl"],
                             userName="msmit"),
        "smit2": portal_user("M.", "Smit", "staff", emails=["M.Smit@delinde.example.nl"],
                             userName="msmit-oud"),
        # unknown to the LAS
        "bep": portal_user("Bep", "Oma", "guardian", emails=["bep@example.nl"]),
        "kees": portal_user("Kees", "Conciërge", "staff", emails=["kees@delinde.example.nl"]),
    }
    for key, doc in people.items():
        ids[key] = portal.create(tenant, "Users", doc)["id"]
    return ids


def held(out) -> None:
    assert "held (stage mapper): first run pending" in out.stdout, out.stdout + out.stderr


def test_first_run_links_groups_and_profiles(pipeline, tmp_path):
    brin = brin_for(pipeline, 21)
    school = School(pipeline, brin, "k21")
    # Fatima is also the mother of Noah, a kleuter who starts in January.
    school.edit("getVerzorgers",
                "<relatie><leerling>100002</leerling><type>MOEDER</type>"
                "<wettelijkVertegenwoordiger>true</wettelijkVertegenwoordiger></relatie>",
                "<relatie><leerling>100002</leerling><type>MOEDER</type>"
                "<wettelijkVertegenwoordiger>true</wettelijkVertegenwoordiger></relatie>"
                "<relatie><leerling>100004</leerling><type>MOEDER</type>"
                "<wettelijkVertegenwoordiger>true</wettelijkVertegenwoordiger></relatie>")
    pipeline.tenant("school", brin=brin, key="k21", state="first_run_pending")
    tenant = pipeline.portal_tenant("school")
    portal = pipeline.portal
    ids = prepopulate(portal, tenant)
    pipeline.start()
    writes0 = portal.stats(tenant)["writes"]

    # Before first-run: fetched and mapped, nothing applied.
    held(pipeline.sync("school", check=False))
    assert portal.stats(tenant)["writes"] == writes0, "a first_run_pending tenant was written"
    plan1 = tmp_path / "plan1.json"
    pipeline.ctl("first-run", "plan", "school", "--out", str(plan1), "--date", "2026-11-29")

    # The LAS changes after planning: that plan is stale now.
    school.edit("getLeerlingen", "<naam>Rekenplus</naam>", "<naam>Rekenplus 3</naam>")
    school.edit("getLeerlingen", "<roepNaam>Daan</roepNaam>", "<roepNaam>Daniel</roepNaam>")
    held(pipeline.sync("school", check=False))
    out = pipeline.ctl("first-run", "apply", "school", str(plan1), check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "stale" in out.stderr, out.stderr
    assert 'renamed: "Rekenplus" -> "Rekenplus 3"' in out.stderr, out.stderr
    assert f"1 LAS profile(s) changed: {S2}" in out.stderr, out.stderr
    assert portal.stats(tenant)["writes"] == writes0
    assert json.loads(pipeline.ctl("tenant", "get", "school").stdout)["state"] == \
        "first_run_pending"
    school.edit("getLeerlingen", "<naam>Rekenplus 3</naam>", "<naam>Rekenplus</naam>")
    school.edit("getLeerlingen", "<roepNaam>Daniel</roepNaam>", "<roepNaam>Daan</roepNaam>")
    held(pipeline.sync("school", check=False))

    # The plan: proposals and the profile outcome.
    plan2 = tmp_path / "plan2.json"
    report = pipeline.ctl("first-run", "plan", "school", "--out", str(plan2),
                          "--date", "2026-11-29").stdout
    plan = json.loads(plan2.read_text())
    got = {g["external_id"]: (g["name"], g["action"], g.get("portal_id"), g["match"])
           for g in plan["groups"]}
    assert got == {
        G1: ("Groep 1 (1/2A)", "link", ids["Groep 1A"], "year_level"),
        G2: ("Groep 2 (1/2A)", "link", ids["Groep 2A"], "year_level"),
        G3: ("Groep 3", "link", ids["Groep 3"], "exact_name"),
        C12: ("1/2A", "create", None, "none"),
        REK: ("Rekenplus", "create", None, "none"),
    }, got
    assert plan["profile_outcome"] == {
        "student": {"linked": 2, "disputed": 0, "new": 1, "already_linked": 0},
        "guardian": {"linked": 3, "disputed": 0, "new": 0, "already_linked": 0},
        "staff": {"linked": 0, "disputed": 1, "new": 2, "already_linked": 0},
    }, plan["profile_outcome"]
    assert plan["warnings"] == []
    assert "WARNING (AVG)" not in report
    for line in ('Groep 1 (1/2A)', 'link -> "Groep 1A" (same year level)',
                 'link -> "Groep 3" (same name)', "Groep 8 (2025)"):
        assert line in report, report

    # In the summer the plan warns (AVG) and offers to link no groups.
    summer = tmp_path / "summer.json"
    report = pipeline.ctl("first-run", "plan", "school", "--out", str(summer),
                          "--date", "2026-07-15").stdout
    assert "WARNING (AVG)" in report and "--no-group-links" in report, report
    assert json.loads(summer.read_text())["warnings"] == ["avg_summer"]
    pipeline.ctl("first-run", "plan", "school", "--out", str(summer), "--no-group-links",
                 "--date", "2026-08-31")
    nolinks = json.loads(summer.read_text())
    assert nolinks["no_group_links"] is True
    assert {g["action"] for g in nolinks["groups"]} == {"create"}, nolinks["groups"]

    # A plan that links one portal group twice does not fit.
    bad = json.loads(plan2.read_text())
    for g in bad["groups"]:
        if g["external_id"] == G2:
            g["portal_id"] = ids["Groep 1A"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    out = pipeline.ctl("first-run", "apply", "school", str(tmp_path / "bad.json"), check=False)
    assert out.returncode == 1 and "chosen for both" in out.stderr, out.stderr

    # Apply: the links are stored, the tenant active, the first sync runs.
    out = pipeline.ctl("first-run", "apply", "school", str(plan2), "--wait", "180",
                       "--as-of", "2026-11-29", timeout=240)
    assert ": ok (stage applier)" in out.stdout, out.stdout
    cfg = json.loads(pipeline.ctl("tenant", "get", "school").stdout)
    assert cfg["state"] == "active"
    assert {(x["external_id"], x["portal_id"]) for x in cfg["group_links"]} == {
        (G1, ids["Groep 1A"]), (G2, ids["Groep 2A"]), (G3, ids["Groep 3"])}

    owned = {ids[k]: {PORTAL_GROUP: NEWS} for k in ("Groep 1A", "Groep 2A", "Groep 3")}
    owned.update({ids[k]: {PORTAL_USER: CARE}
                  for k in ("emma", "sara", "anna", "pieter", "fatima")})
    model = initial_model()
    # Marieke Smit is disputed: queued, not created, and so in no group yet.
    del model.users[M1]
    for g in (G1, G2):
        model.groups[g]["members"].discard(("User", M1))
    check(Managed(portal), tenant, model, owned, step="first sync")
    linked = {S1: "emma", S3: "sara", A: "anna", P: "pieter", F: "fatima",
              G1: "Groep 1A", G2: "Groep 2A", G3: "Groep 3"}
    by_ext = {r["externalId"]: r["id"] for r in portal.users(tenant) + portal.groups(tenant)
              if r.get("externalId")}
    for ext, key in linked.items():
        assert by_ext[ext] == ids[key], f"{ext} was not linked to the portal's {key}"
    unlinked = {r["id"]: r for r in portal.users(tenant) if not r.get("externalId")}
    assert set(unlinked) == {ids["smit1"], ids["smit2"], ids["bep"], ids["kees"]}, unlinked
    for r in unlinked.values():
        assert r.get(PORTAL_USER) == CARE and r.get("active") is True, r["id"]
    orphaned = json.loads(pipeline.ctl("groups", "orphaned", "school", "--json").stdout)
    assert [(g["portal_id"], g["name"]) for g in orphaned] == \
        [(ids["Groep 8 (2025)"], "Groep 8 (2025)")], orphaned

    # The link queue: Marieke Smit, with both candidates.
    queue = json.loads(pipeline.ctl("links", "list", "school", "--json").stdout)
    assert [(q["external_id"], q["kind"], q["reason"]) for q in queue] == \
        [(M1, "staff", "disputed")], queue
    assert {c["id"] for c in queue[0]["candidates"]} == {ids["smit1"], ids["smit2"]}
    out = pipeline.ctl("links", "resolve", "school", M1, "--link", "no-such-id", check=False)
    assert out.returncode == 1 and "no-such-id" in out.stderr, out.stderr
    pipeline.ctl("links", "resolve", "school", M1, "--link", ids["smit1"])
    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    model = initial_model()
    # roles are create-only: a linked profile keeps the portal's (none here)
    model.users[M1]["roles"] = None
    check(Managed(portal), tenant, model, owned, step="resolved")
    m1 = next(u for u in portal.users(tenant) if u["id"] == ids["smit1"])
    assert not m1.get("roles"), m1
    by_ext = {r["externalId"]: r["id"] for r in portal.users(tenant) if r.get("externalId")}
    assert by_ext[M1] == ids["smit1"]
    assert json.loads(pipeline.ctl("links", "list", "school", "--json").stdout) == []

    # Noah, Fatima's kleuter, arrives: the same guardian profile gets him.
    out = pipeline.sync("school", as_of="2027-01-20")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    s4 = "parnassys:student:100004"
    users = {u.get("externalId"): u for u in portal.users(tenant) if u.get("externalId")}
    assert s4 in users, sorted(users)
    fatima = users[F]
    assert fatima["id"] == ids["fatima"]
    assert {(r["externalId"], r["relation"]) for r in fatima[EXT]["guardianOf"]} == \
        {(S2, "MOEDER"), (s4, "MOEDER")}
    assert [u for u in portal.users(tenant)
            if u.get(EXT, {}).get("kind") == "guardian"
            and "Fatima" in (u.get("displayName") or "")] == [fatima]

    # Nowhere a duplicate: every externalId once, every portal profile kept.
    all_users, all_groups = portal.users(tenant), portal.groups(tenant)
    exts = [r["externalId"] for r in all_users + all_groups if r.get("externalId")]
    assert len(exts) == len(set(exts)), sorted(exts)
    assert {ids[k] for k in ("smit2", "bep", "kees")} <= {u["id"] for u in all_users}
    names = [g["displayName"] for g in all_groups]
    assert len(names) == len(set(names)), sorted(names)


def test_new_profiles_review_queues_new_profiles_until_resolved(pipeline):
    """R20 with new_profiles=review: a LAS profile no portal profile matches
    is queued ("Niet gekoppelde profielen") instead of created; unique
    matches are still linked and disputed ones queued as always. Resolving
    with --create makes exactly one profile and empties that entry; a
    second resolve of it is refused and nothing is duplicated. With the
    setting back on create, what is left in the queue is created."""
    brin = brin_for(pipeline, 22)
    School(pipeline, brin, "k22")
    pipeline.tenant("school", brin=brin, key="k22", settings={"new_profiles": "review"})
    tenant = pipeline.portal_tenant("school")
    portal = pipeline.portal
    ids = prepopulate(portal, tenant)
    pipeline.start()

    def queue():
        return {q["external_id"]: q for q in
                json.loads(pipeline.ctl("links", "list", "school", "--json").stdout)}

    def users_by_ext():
        out = {}
        for u in portal.users(tenant):
            if u.get("externalId"):
                assert u["externalId"] not in out, f"duplicate profile {u['externalId']}"
                out[u["externalId"]] = u["id"]
        return out

    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    # Daan (no portal profile like him), Ahmed and Ingrid (staff with no
    # portal profile) would be created: queued for review instead;
    # Marieke is disputed (two portal profiles share her e-mail).
    q = queue()
    assert {(e, x["kind"], x["reason"]) for e, x in q.items()} == {
        (S2, "student", "review"), (M2, "staff", "review"), (M3, "staff", "review"),
        (M1, "staff", "disputed")}, q
    for e in (S2, M2, M3):
        assert q[e]["candidates"] == [], q[e]
        assert "decision" not in q[e], q[e]
    text = pipeline.ctl("links", "list", "school").stdout
    assert "Niet gekoppelde profielen of school: 4" in text, text
    for e in (S1, S2, M1, M2, M3):
        assert (e in text) is (e != S1), f"{e} in the listing: {text}"
    # Unique matches are linked under their old ids; nothing queued exists.
    by_ext = users_by_ext()
    assert set(by_ext) == {S1, S3, A, P, F}, sorted(by_ext)
    for ext, key in {S1: "emma", S3: "sara", A: "anna", P: "pieter", F: "fatima"}.items():
        assert by_ext[ext] == ids[key], f"{ext} was not linked to the portal's {key}"
    model = initial_model()
    for e in (S2, M1, M2, M3):
        del model.users[e]
        for g in model.groups.values():
            g["members"].discard(("User", e))
    model.users[F]["of"] = set()  # Daan, her child, waits in the queue
    check(Managed(portal), tenant, model, step="review")

    # An unchanged LAS: still queued, still not created, no entry twice.
    before = {u["id"] for u in portal.users(tenant)}
    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    assert {u["id"] for u in portal.users(tenant)} == before
    assert set(queue()) == {S2, M1, M2, M3}

    # Resolve: Daan and Ingrid created (Ingrid decided twice: the decision
    # is replaced, not doubled), Marieke linked to one of her profiles.
    pipeline.ctl("links", "resolve", "school", S2, "--create")
    pipeline.ctl("links", "resolve", "school", M3, "--create")
    pipeline.ctl("links", "resolve", "school", M3, "--create")
    pipeline.ctl("links", "resolve", "school", M1, "--link", ids["smit1"])
    q = queue()
    assert {e: x.get("decision") for e, x in q.items()} == {
        S2: "create", M3: "create", M1: f"link:{ids['smit1']}", M2: None}, q
    assert {u["id"] for u in portal.users(tenant)} == before, "resolve wrote to the portal"
    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    after = portal.users(tenant)
    new = [u for u in after if u["id"] not in before]
    assert sorted(u.get("externalId") for u in new) == sorted([S2, M3]), new
    by_ext = users_by_ext()
    assert by_ext[M1] == ids["smit1"]
    assert set(queue()) == {M2}, queue()
    fatima = next(u for u in after if u["id"] == ids["fatima"])
    assert {(r["externalId"], r["relation"]) for r in fatima[EXT]["guardianOf"]} == \
        {(S2, "MOEDER")}

    # Resolving Daan again: he is no longer queued, so it is refused and
    # the next sync creates nothing.
    out = pipeline.ctl("links", "resolve", "school", S2, "--create", check=False)
    assert out.returncode == 1 and f"{S2} is not in the link queue" in out.stderr, \
        out.stdout + out.stderr
    ids_now = {u["id"] for u in portal.users(tenant)}
    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    assert {u["id"] for u in portal.users(tenant)} == ids_now
    assert users_by_ext()[S2] == by_ext[S2]

    # new_profiles back on create: Ahmed, still queued, is created.
    retenant(pipeline, "school", {"new_profiles": "create"})
    out = pipeline.sync("school")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    new = [u for u in portal.users(tenant) if u["id"] not in ids_now]
    assert [u.get("externalId") for u in new] == [M2], new
    assert queue() == {}
    model = initial_model()
    model.users[M1]["roles"] = None  # create-only: the linked profile keeps the portal's
    check(Managed(portal), tenant, model, step="created")
    unlinked = {u["id"] for u in portal.users(tenant) if not u.get("externalId")}
    assert unlinked == {ids[k] for k in ("smit2", "bep", "kees")}, unlinked


def test_first_run_apply_refuses_a_plan_the_portal_no_longer_fits(pipeline, tmp_path):
    """A portal group chosen in the plan is deleted from the portal, or
    linked to another LAS group, after planning: apply refuses, naming the
    portal group's id, and nothing is applied (tenant still pending, no
    group links, no portal writes). A new plan then applies."""
    brin = brin_for(pipeline, 23)
    School(pipeline, brin, "k23")
    pipeline.tenant("school", brin=brin, key="k23", state="first_run_pending")
    tenant = pipeline.portal_tenant("school")
    portal = pipeline.portal
    ids = {name: portal.create(tenant, "Groups", portal_group(name))["id"]
           for name in ("Groep 1A", "Groep 2A", "Groep 3")}
    pipeline.start()
    held(pipeline.sync("school", check=False))
    plan = tmp_path / "plan.json"
    pipeline.ctl("first-run", "plan", "school", "--out", str(plan), "--date", "2026-11-29")
    chosen = {g["external_id"]: g.get("portal_id") for g in json.loads(plan.read_text())["groups"]}
    assert chosen[G3] == ids["Groep 3"] and chosen[G2] == ids["Groep 2A"], chosen

    def refused(what: str) -> str:
        writes0 = portal.stats(tenant)["writes"]
        out = pipeline.ctl("first-run", "apply", "school", str(plan), "--wait", "60",
                           check=False)
        assert out.returncode == 1, f"{what}: apply did not refuse:\n{out.stdout}{out.stderr}"
        assert "refused: the plan does not fit the portal" in out.stderr, out.stderr
        assert "first-run applied" not in out.stdout, out.stdout
        cfg = json.loads(pipeline.ctl("tenant", "get", "school").stdout)
        assert cfg["state"] == "first_run_pending", f"{what}: {cfg['state']}"
        assert not cfg.get("group_links"), f"{what}: links stored {cfg['group_links']}"
        assert portal.stats(tenant)["writes"] == writes0, f"{what}: the portal was written"
        assert not [r for r in portal.users(tenant) + portal.groups(tenant)
                    if r.get("externalId") not in (None, ELSEWHERE)], \
            f"{what}: something was applied"
        return out.stderr

    # "Groep 3" is removed from the portal after planning.
    st, body = http_json("DELETE", f"{portal.base(tenant)}/Groups/{ids['Groep 3']}", portal.token)
    assert st == 204, f"delete: HTTP {st} {body}"
    err = refused("group deleted")
    assert (f'group "Groep 3": portal group "Groep 3" ({ids["Groep 3"]}) does not exist'
            in err), err
    assert ids["Groep 2A"] not in err, err  # only what no longer fits is named

    # "Groep 2A" gets linked to another LAS group meanwhile.
    portal.patch(tenant, "Groups", ids["Groep 2A"],
                 [{"op": "replace", "path": "externalId", "value": ELSEWHERE}])
    err = refused("group linked elsewhere")
    assert (f'portal group "Groep 2A" ({ids["Groep 2A"]}) is already linked to {ELSEWHERE}'
            in err), err
    assert ids["Groep 3"] in err, err

    # A new plan fits the portal as it is now and applies.
    pipeline.ctl("first-run", "plan", "school", "--out", str(plan), "--date", "2026-11-29")
    chosen = {g["external_id"]: (g["action"], g.get("portal_id"))
              for g in json.loads(plan.read_text())["groups"]}
    assert chosen[G1] == ("link", ids["Groep 1A"]), chosen
    assert chosen[G2][1] != ids["Groep 2A"] and chosen[G3] == ("create", None), chosen
    out = pipeline.ctl("first-run", "apply", "school", str(plan), "--wait", "180",
                       "--as-of", "2026-11-29", timeout=240)
    assert ": ok (stage applier)" in out.stdout, out.stdout
    cfg = json.loads(pipeline.ctl("tenant", "get", "school").stdout)
    assert cfg["state"] == "active"
    assert {(x["external_id"], x["portal_id"]) for x in cfg["group_links"]} == \
        {(G1, ids["Groep 1A"])}
    groups = {g["id"]: g for g in portal.groups(tenant)}
    assert ids["Groep 3"] not in groups
    assert groups[ids["Groep 1A"]].get("externalId") == G1
    assert groups[ids["Groep 2A"]].get("externalId") == ELSEWHERE
