"""Checks that a tenant's portal holds exactly what the LAS says, without
knowing the school in advance (for generated schools and chaos runs):

- every externalId once (no duplicate users or groups), no duplicate or
  dangling group members;
- as many users and groups as the mapper planned for the tenant's newest
  sync (its counts, from its log: ids and counts only);
- a `sync --full`, which compares every owned attribute and every group's
  LAS members with the portal itself, finds nothing to write.
"""

from __future__ import annotations

import re
from collections import Counter


def planned_counts(pipeline, tenant_id: str, mapper: str = "mapper") -> dict[str, int]:
    log = pipeline.log_text(mapper)
    found = re.findall(rf"event=mapped tenant={re.escape(tenant_id)} .*? students=(\d+) "
                       r"guardians=(\d+) staff=(\d+) groups=(\d+)", log)
    assert found, f"the mapper logged no mapped event for {tenant_id}"
    s, g, st, gr = map(int, found[-1])
    return {"users": s + g + st, "groups": gr}


def no_duplicates(pipeline, tenant_id: str):
    portal_tenant = pipeline.portal_tenant(tenant_id)
    users = pipeline.portal.users(portal_tenant)
    groups = pipeline.portal.groups(portal_tenant)
    dup_u = [e for e, n in Counter(u.get("externalId") for u in users).items() if n > 1]
    dup_g = [e for e, n in Counter(g.get("externalId") for g in groups).items() if n > 1]
    assert not dup_u and not dup_g, f"{tenant_id} duplicates: users {dup_u[:5]} groups {dup_g[:5]}"
    ids = {u["id"] for u in users} | {g["id"] for g in groups}
    for g in groups:
        members = [m["value"] for m in g.get("members", [])]
        assert len(members) == len(set(members)), f"duplicate members in {g['externalId']}"
        assert set(members) <= ids, f"dangling member in {g['externalId']}"
    return users, groups


def portal_matches_las(pipeline, tenant_id: str, wait: int = 600, mapper: str = "mapper") -> str:
    """All three checks; returns a one-line summary of what was verified."""
    users, groups = no_duplicates(pipeline, tenant_id)
    want = planned_counts(pipeline, tenant_id, mapper)
    assert len(users) == want["users"], (tenant_id, len(users), want)
    assert len(groups) == want["groups"], (tenant_id, len(groups), want)
    portal_tenant = pipeline.portal_tenant(tenant_id)
    before = pipeline.portal.stats(portal_tenant)["writes"]
    out = pipeline.sync(tenant_id, full=True, wait=wait).stdout
    assert ": ok (stage applier)" in out and "portal_writes=0" in out, out
    assert pipeline.portal.stats(portal_tenant)["writes"] == before
    return (f"{tenant_id}: {len(users)} users and {len(groups)} groups, each once, as planned; "
            f"a full reconcile found nothing to repair")
