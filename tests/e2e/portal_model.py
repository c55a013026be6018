"""An independent model of what the portal must hold, for e2e scenarios.

Tests describe the expected portal as plain dicts (worked out by hand from
the LAS documents and the rules) and compare it with the SCIM server's
resources: every LAS user and group exactly once, the attributes lasync owns,
the LAS members of every group, and the portal-owned attributes the test set
beforehand (R9: lasync never writes them).
"""

from __future__ import annotations

import copy

EXT = "urn:lasync:scim:school:1.0:User"
GEXT = "urn:lasync:scim:school:1.0:Group"
PORTAL_USER = "urn:example:portal:1.0:User"
PORTAL_GROUP = "urn:example:portal:1.0:Group"


def user(given, infix, family, kind, **kw):
    u = {"given": given, "infix": infix, "family": family, "kind": kind, "active": True,
         "email": None, "phones": {}, "address": None, "of": set(), "birth": None,
         "year": None, "preschool": None, "roles": None, "emergency": None}
    u.update(kw)
    return u


def group(name, kind, years, primary, members, orphaned=False):
    return {"name": name, "kind": kind, "years": list(years), "primary": primary,
            "orphaned": orphaned, "members": set(members)}


class Model:
    def __init__(self, users: dict, groups: dict):
        self.users = copy.deepcopy(users)
        self.groups = copy.deepcopy(groups)

    def copy(self) -> "Model":
        return Model(self.users, self.groups)


def _typed(values, t):
    return [v for v in values or [] if v.get("type") == t]


def check(portal, tenant: str, model: Model, owned: dict | None = None, step: str = ""):
    """Compare the portal with the model; owned maps portal id -> the
    portal-owned extension values the test set (they must be unchanged)."""
    where = f"[{step}] " if step else ""
    users = portal.users(tenant)
    groups = portal.groups(tenant)
    ids = {r["id"]: r.get("externalId") for r in users + groups}
    by_ext = {}
    for u in users:
        assert u.get("externalId") not in by_ext, f"{where}duplicate user {u.get('externalId')}"
        by_ext[u.get("externalId")] = u
    assert set(by_ext) == set(model.users), (
        f"{where}users differ: missing {sorted(set(model.users) - set(by_ext))}, "
        f"unexpected {sorted(set(by_ext) - set(model.users))}")
    for ext, want in model.users.items():
        u = by_ext[ext]
        x = u.get(EXT, {})
        got = {
            "given": u.get("name", {}).get("givenName"),
            "infix": x.get("nameInfix"),
            "family": u.get("name", {}).get("familyName"),
            "kind": x.get("kind"),
            "active": u.get("active"),
        }
        for k in got:
            assert got[k] == want[k], f"{where}{ext} {k}: got {got[k]!r}, want {want[k]!r}"
        display = " ".join(p for p in (want["given"], want["infix"], want["family"]) if p)
        assert u.get("displayName") == display, f"{where}{ext} displayName {u.get('displayName')!r}"
        emails = [e["value"] for e in _typed(u.get("emails"), "work" if want["kind"] == "staff"
                                             else "home")]
        assert emails == ([want["email"]] if want["email"] else []), \
            f"{where}{ext} e-mail: got {emails}, want {want['email']!r}"
        phones = {p.get("type"): p.get("value") for p in u.get("phoneNumbers") or []}
        assert phones == want["phones"], f"{where}{ext} phones: got {phones}, want {want['phones']}"
        addrs = _typed(u.get("addresses"), "home")
        got_addr = (addrs[0].get("streetAddress"), addrs[0].get("postalCode"),
                    addrs[0].get("locality")) if addrs else None
        if want["kind"] == "student":
            assert not u.get("addresses"), f"{where}R8: {ext} has an address"
        assert got_addr == want["address"], f"{where}{ext} address: got {got_addr}, want {want['address']}"
        rel = {(r.get("externalId"), r.get("relation")) for r in x.get("guardianOf", [])}
        assert rel == want["of"], f"{where}{ext} guardianOf: got {rel}, want {want['of']}"
        for r in x.get("guardianOf", []):
            assert ids.get(r.get("value")) == r.get("externalId"), f"{where}{ext} guardianOf id"
        for k, attr in (("birth", "birthDate"), ("year", "yearLevel"), ("preschool", "preschool"),
                        ("emergency", "emergencyPhone")):
            if want[k] is not None or x.get(attr) is not None:
                assert x.get(attr) == want[k], f"{where}{ext} {attr}: got {x.get(attr)!r}, want {want[k]!r}"
        if want["roles"] is not None:
            assert [r.get("value") for r in u.get("roles", [])] == want["roles"], f"{where}{ext} roles"
    gby = {}
    for g in groups:
        assert g.get("externalId") not in gby, f"{where}duplicate group {g.get('externalId')}"
        gby[g.get("externalId")] = g
    assert set(gby) == set(model.groups), (
        f"{where}groups differ: missing {sorted(set(model.groups) - set(gby))}, "
        f"unexpected {sorted(set(gby) - set(model.groups))}")
    for ext, want in model.groups.items():
        g = gby[ext]
        x = g.get(GEXT, {})
        assert g.get("displayName") == want["name"], f"{where}{ext} name {g.get('displayName')!r}"
        assert x.get("kind") == want["kind"], f"{where}{ext} kind"
        assert sorted(x.get("yearLevels") or []) == sorted(want["years"]), \
            f"{where}{ext} yearLevels {x.get('yearLevels')}"
        assert x.get("primary") is want["primary"], f"{where}{ext} primary {x.get('primary')}"
        assert bool(x.get("lasOrphaned")) is want["orphaned"], f"{where}{ext} lasOrphaned"
        members = [(m.get("type"), ids.get(m.get("value"), m.get("value")))
                   for m in g.get("members", [])]
        assert len(members) == len(set(members)), f"{where}duplicate members in {ext}"
        assert set(members) == want["members"], \
            f"{where}{ext} members: got {sorted(set(members))}, want {sorted(want['members'])}"
    for rid, values in (owned or {}).items():
        r = next((x for x in users + groups if x["id"] == rid), None)
        assert r is not None, f"{where}R9: resource {rid} with portal-owned data is gone"
        for schema, attrs in values.items():
            assert r.get(schema) == attrs, f"{where}R9: {rid} {schema}: got {r.get(schema)}, want {attrs}"


def set_portal_owned(portal, tenant: str) -> dict:
    """Give every user and group portal-owned data (allergies, GP, consents,
    news, photos) that lasync must never touch; returns what was set."""
    owned = {}
    for u in portal.users(tenant):
        v = {"allergies": "pinda's", "generalPractitioner": "huisartsenpraktijk 7",
             "consents": ["foto's", "uitstapjes"]}
        portal.patch(tenant, "Users", u["id"], [{"op": "add", "value": {PORTAL_USER: v}}])
        owned[u["id"]] = {PORTAL_USER: v}
    for g in portal.groups(tenant):
        v = {"newsItems": ["n-1", "n-2"], "photoAlbums": ["a-1"]}
        portal.patch(tenant, "Groups", g["id"], [{"op": "add", "value": {PORTAL_GROUP: v}}])
        owned[g["id"]] = {PORTAL_GROUP: v}
    return owned
