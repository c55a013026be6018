"""Tenant isolation: interleaved syncs of several schools never mix them.

Three copies of the example school, each with its own BRIN, LAS key and
family names, sync into three portal tenants at the same time (requests
interleaved, twice each). Every portal must hold its own school and nothing
of the others; a tenant's LAS key is only ever accepted for its own school
(the simulator refuses a key for another BRIN, which would fail the sync),
and each portal takes its own school's token only (the portal refuses and
counts any other), so a credential reaching the wrong portal fails too.
"""

from __future__ import annotations

import time
import uuid

from harness import ROOT, wait_until

EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
FAMILY = ["Vries", "Jansen", "Smit", "Yilmaz", "Dam", "Jansen-El Amrani"]


def test_interleaved_tenants_stay_apart(pipeline):
    schools = {"iso-a": ("71AA", "A"), "iso-b": ("72BB", "B"), "iso-c": ("73CC", "C")}
    dirs = []
    tokens: dict[str, str] = {}
    for tenant, (brin, tag) in schools.items():
        # "Jansen-El Amrani" contains "Jansen": rename the longer first.
        repl = {"99ZZ": brin, "Jansen-El Amrani": f"Amrani{tag}"}
        for name in ("Vries", "Jansen", "Smit", "Yilmaz", "Dam"):
            repl[f">{name}<"] = f">{name}{tag}<"
        dirs.append(pipeline.las.add_school_from(EXAMPLE, "parnassys", brin, f"key-{tag}", repl))
        # Each school's portal takes its own token and no other: a token
        # used for the wrong school's portal is refused and counted.
        tokens[tenant] = f"tok-{tag}-{uuid.uuid4().hex}"
        pipeline.portal.own_token(pipeline.portal_tenant(tenant), tokens[tenant])
        pipeline.tenant(tenant, brin=brin, key=f"key-{tag}", portal_token=tokens[tenant])
    pipeline.start()
    try:
        for _ in range(2):
            for tenant in schools:
                pipeline.ctl("sync", tenant, "--as-of", "2026-11-29")

        def all_done():
            st = {s["tenant"]: s for s in pipeline.status()}
            return all(st.get(t, {}).get("outcome") == "ok" for t in schools) and \
                sum(1 for line in pipeline.log_text("applier").splitlines()
                    if "event=sync_result" in line) + \
                sum(1 for line in pipeline.log_text("mapper").splitlines()
                    if "event=sync_result" in line) >= 6
        wait_until(all_done, 180, "six results, all ok")
        time.sleep(1)
        for tenant, (brin, tag) in schools.items():
            portal_tenant = pipeline.portal_tenant(tenant)
            users = pipeline.portal.users(portal_tenant, tokens[tenant])
            groups = pipeline.portal.groups(portal_tenant, tokens[tenant])
            assert pipeline.portal.stats(portal_tenant)["wrong_token"] == 0, tenant
            assert len(users) == 9 and len(groups) == 5, (tenant, len(users), len(groups))
            families = {u["name"]["familyName"] for u in users}
            want = {f"{n}{tag}" for n in ("Vries", "Jansen", "Smit", "Yilmaz", "Dam")} | \
                {f"Amrani{tag}"}
            assert families == want, (tenant, families)
            for other, (_, otag) in schools.items():
                if other != tenant:
                    assert not any(f.endswith(otag) for f in families), (tenant, other)
    finally:
        import shutil

        for tenant in tokens:
            pipeline.portal.own_token(pipeline.portal_tenant(tenant), None)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
