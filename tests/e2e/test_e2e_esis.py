"""ESIS end to end: UWLR 2.2 over real mutual TLS, the label fault (R18),
client certificates, and per-vendor workers.

The LAS simulator's HTTPS listener (scripts/stack.sh, LASYNC_LASSIM_HTTPS_URL)
requires a client certificate signed by the test CA of scripts/certs.sh
(LASYNC_CERTS_DIR): client.pem/.key and client.p12 are valid, client-wrong
is signed by another CA, client-expired ended on 2026-01-01, and
client-expiring ends within 10 days.

Expected portal values are worked out by hand from the example documents
(fixtures/las/esis/88YY01) and DESIGN.md at sync date 2026-11-29, not taken
from lasync's output: every student is 4 or older; the groep 1/2A carries
jaargroep C (a combination group), so it stays one jaargroep named "1/2A"
whose yearLevels are its students' jaargroepen 1 and 2 (R4); Groep 5 holds
jaargroep 5; the samengestelde_groep Taalclub is a composite of its students
(Bram, jaargroep 5) and staff (R4, R3); staff follow their groepen; Eva de
Boer's vast number is geheim and so missing (R10), her toevoeging "a" ends
the street address, Mark Visser's empty one adds nothing; the nood number
is the guardian's emergencyPhone (R6); relations are stored as ESIS gives
them ("vader", "moeder").
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness import ROOT, env, metric_sum, wait_until
from test_e2e_parnassys import KEY as PS_KEY
from test_e2e_parnassys import check_example_portal as check_parnassys_portal
from test_e2e_parnassys import display, typed

EXT = "urn:lasync:scim:school:1.0:User"
GEXT = "urn:lasync:scim:school:1.0:Group"
EXAMPLE = ROOT / "fixtures" / "las" / "esis" / "88YY01"
KEY = (EXAMPLE / "autorisatiesleutel").read_text().strip()

S1, S2, S3 = "esis:student:L2001", "esis:student:L2002", "esis:student:L2003"
M1, M2 = "esis:staff:M301", "esis:staff:M302"
G12A, G5, TAAL = "esis:jaargroep:G12A", "esis:jaargroep:G5", "esis:samengesteld:SG-TAAL"

STUDENTS = {
    S1: ("Lotte", None, "Visser", "2021-02-01", "2"),
    S2: ("Finn", "de", "Boer", "2022-06-30", "1"),
    S3: ("Bram", None, "Visser", "2018-04-11", "5"),
}
GUARDIANS = {
    "esis:guardian:V501": {
        "names": ("Mark", None, "Visser"),
        "email": "mark.visser@example.nl",
        "address": ("Wilgenlaan 7", "5678 GH", "Zwolle"),
        "phones": {"home": "038-7654321", "mobile": "06-44445555"},
        "emergency": "06-66667777",
        "of": {(S1, "vader"), (S3, "vader")},
    },
    "esis:guardian:V502": {
        "names": ("Eva", "de", "Boer"),
        "email": None,
        "address": ("Populierstraat 21 a", "5678 JK", "Zwolle"),
        "phones": {"mobile": "06-88889999"},  # her vast is geheim (R10)
        "emergency": None,
        "of": {(S2, "moeder")},
    },
}
STAFF = {
    M1: (("Sanne", None, "Mulder"), "s.mulder@dewilg.example.nl"),
    M2: (("Joost", "van den", "Berg"), "j.vandenberg@dewilg.example.nl"),
}
GROUPS = {
    G12A: ("1/2A", "jaargroep", ["1", "2"], True, {("User", S1), ("User", S2), ("User", M1)}),
    G5: ("Groep 5", "jaargroep", ["5"], True, {("User", S3), ("User", M2)}),
    TAAL: ("Taalclub", "samengesteld", ["5"], False, {("User", S3), ("User", M2)}),
}

LABEL_MSG_BO = ("ESIS weigert de koppeling: de sleutel hoort bij het label 'BasisschoolApps'. "
                "Selecteer in het ESIS Koppelportaal het label 'BasisOnline Ouderportaal' "
                "(niet 'ParentCom').")
LABEL_MSG_BSA = ("ESIS weigert de koppeling: de sleutel hoort bij het label "
                 "'BasisOnline Ouderportaal'. Selecteer in het ESIS Koppelportaal het label "
                 "'BasisschoolApps'.")


# --- helpers -------------------------------------------------------------

def certs(pipeline, name: str = "client", p12: bool = False) -> dict:
    """The las fields of an ESIS tenant on the simulator's HTTPS listener
    with one of certs.sh's client certificates (PEM pair, or PKCS#12 with
    its password file)."""
    c = pipeline.las.certs
    las = {"endpoint": f"{pipeline.las.https_url}/esis", "ca_ref": f"file:{c}/ca.pem"}
    if p12:
        las.update(client_cert_ref=f"file:{c}/{name}.p12",
                   client_cert_password_ref=f"file:{c}/{name}.pass")
    else:
        las.update(client_cert_ref=f"file:{c}/{name}.pem", client_key_ref=f"file:{c}/{name}.key")
    return las


def refresh_certs():
    """certs.sh is idempotent; it remakes the expiring certificate once it
    is nearly gone, so a long-lived stack keeps its promise."""
    subprocess.run([str(ROOT / "scripts" / "certs.sh"), "--dir", env("LASYNC_CERTS_DIR")],
                   check=True, capture_output=True)


def esis_tenant(pipeline, tenant_id: str, school: str = "88YY01", key: str = KEY,
                brand: str = "basisonline", **cert) -> dict:
    return pipeline.tenant(tenant_id, brin=school[:4], dependance=school[4:], key=key,
                           vendor="esis", brand=brand, las=certs(pipeline, **cert))


def copy_school(pipeline, koppeling: str) -> str:
    """A copy of the example school under a fresh BRIN (dependance 01), whose
    key was issued for the label koppeling; returns "<BRIN>01"."""
    root = pipeline.las.root / "esis"
    while True:
        brin = f"7{random.randint(0, 9)}{random.choice('ABCDEFGHJKLMNPQRSTUVW')}" \
               f"{random.choice('ABCDEFGHJKLMNPQRSTUVW')}"
        try:
            (root / f"{brin}01").mkdir(parents=True)
            break
        except FileExistsError:
            continue
    school = f"{brin}01"
    pipeline.las.add_school_from(EXAMPLE, "esis", school, KEY, {"88YY": brin})
    (root / school / "koppeling").write_text(koppeling + "\n")
    return school


def result_line(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("sync ") and ": " in line
                 and "requested" not in line), out)


def request(pipeline, tenant_id: str, as_of: str = "2026-11-29") -> str:
    """Request a sync without waiting; returns its sync id."""
    out = pipeline.ctl("sync", tenant_id, "--as-of", as_of).stdout
    return out.split()[1]


def outcome(pipeline, tenant_id: str, sync_id: str) -> str | None:
    s = {x["tenant"]: x for x in pipeline.status()}.get(tenant_id) or {}
    return s.get("outcome") if s.get("sync_id") == sync_id else None


def topic_keys(pipeline, topic: str) -> list[str]:
    """The message keys of one of this pipeline's topics, from the broker."""
    p = subprocess.run(["kcat", "-C", "-b", pipeline.env["LASYNC_KAFKA_BROKERS"], "-t",
                        f"{pipeline.prefix}.{topic}", "-e", "-q", "-f", "%k\n"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def lassim_lines(school: str) -> list[str]:
    """The simulator's request log lines of one school."""
    log = Path(env("LASYNC_STACK_DIR")) / "lassim" / "lassim.log"
    return [ln for ln in log.read_text(errors="replace").splitlines() if f"school={school} " in ln]


def line_with(text: str, *parts: str) -> str | None:
    """The first log line holding every part."""
    return next((ln for ln in text.splitlines() if all(p in ln for p in parts)), None)


def check_example_portal(portal, tenant):
    users = portal.users(tenant)
    groups = portal.groups(tenant)
    by_ext = {u["externalId"]: u for u in users}
    ids = {u["id"]: u["externalId"] for u in users} | {g["id"]: g["externalId"] for g in groups}

    assert len(by_ext) == len(users), "duplicate users in the portal"
    assert set(by_ext) == set(STUDENTS) | set(GUARDIANS) | set(STAFF)

    for ext, (given, infix, family, birth, year) in STUDENTS.items():
        u = by_ext[ext]
        x = u[EXT]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == \
            (given, infix, family), ext
        assert u["displayName"] == display(given, infix, family)
        assert x["kind"] == "student" and x["birthDate"] == birth and x["yearLevel"] == year, ext
        assert u.get("active") is True
        assert not u.get("phoneNumbers"), f"R8: {ext} has phone numbers"
        assert not u.get("addresses"), f"R8: {ext} has an address"

    for ext, g in GUARDIANS.items():
        u = by_ext[ext]
        x = u[EXT]
        given, infix, family = g["names"]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == \
            (given, infix, family), ext
        assert u["displayName"] == display(given, infix, family)
        assert x["kind"] == "guardian" and u.get("active") is True
        assert [e["value"] for e in typed(u.get("emails"), "home")] == \
            ([g["email"]] if g["email"] else []), ext
        addr = typed(u.get("addresses"), "home")
        assert len(addr) == 1, ext
        assert (addr[0]["streetAddress"], addr[0]["postalCode"], addr[0]["locality"]) == \
            g["address"], ext
        assert {p["type"]: p["value"] for p in u.get("phoneNumbers") or []} == g["phones"], ext
        assert x.get("emergencyPhone") == g["emergency"], f"R6 emergency number of {ext}"
        assert {(r["externalId"], r["relation"]) for r in x.get("guardianOf", [])} == g["of"], ext
        for r in x["guardianOf"]:
            assert ids[r["value"]] == r["externalId"], "guardianOf value is the student's portal id"

    for ext, (names, email) in STAFF.items():
        u = by_ext[ext]
        x = u[EXT]
        assert (u["name"]["givenName"], x.get("nameInfix"), u["name"]["familyName"]) == names
        assert u["displayName"] == display(*names)
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


def portal_writes(pipeline) -> float:
    m = pipeline.daemons["applier"].metrics()
    return sum(metric_sum(m, "lasync_portal_requests_total", method=x)
               for x in ("POST", "PATCH", "PUT", "DELETE"))


# --- tests ---------------------------------------------------------------

def test_esis_example_school_end_to_end(pipeline):
    """R4, R6, R10 over real mutual TLS (PKCS#12 client certificate)."""
    pipeline.vendor = "esis"
    esis_tenant(pipeline, "dewilg", p12=True)
    pipeline.start("fetcher", "mapper", "applier")
    tenant = pipeline.portal_tenant("dewilg")

    out = pipeline.sync("dewilg").stdout
    assert ": ok (stage applier)" in out, out
    check_example_portal(pipeline.portal, tenant)
    status = {s["tenant"]: s for s in pipeline.status()}
    assert status["dewilg"]["counts"]["users_created"] == 7
    assert status["dewilg"]["counts"]["groups_created"] == 3
    # Both calls went over TLS with the client certificate.
    lines = [ln for ln in lassim_lines("88YY01") if "client_cn=lasync-esis-client " in ln]
    assert any("op=HaalLeerlinggegevens status=200" in ln for ln in lines), lines[-5:]
    assert any("op=HaalVerzorgergegevens status=200" in ln for ln in lines), lines[-5:]

    # An unchanged LAS writes nothing, counted at the portal and the applier.
    before, applier_before = pipeline.portal.stats(tenant), portal_writes(pipeline)
    out = pipeline.sync("dewilg").stdout
    assert ": ok" in out and "portal_writes=0" in out, out
    assert pipeline.portal.stats(tenant)["writes"] == before["writes"]
    assert portal_writes(pipeline) == applier_before

    # A full reconcile against the portal itself: still nothing to write.
    out = pipeline.sync("dewilg", full=True).stdout
    assert ": ok (stage applier)" in out and "portal_writes=0" in out, out
    assert pipeline.portal.stats(tenant)["writes"] == before["writes"]
    check_example_portal(pipeline.portal, tenant)


# Personal data of the example school that must never reach a log line or a
# metric: names, streets, postcodes, numbers, e-mail addresses.
PERSONAL = ["Lotte", "Visser", "Finn", "Boer", "Bram", "Mark", "Eva", "Sanne", "Mulder", "Joost",
            "Berg", "Wilgenlaan", "Populierstraat", "5678 GH", "5678 JK", "Zwolle",
            "038-7654321", "038-1112223", "06-44445555", "06-66667777", "06-88889999",
            "example.nl", KEY]


def test_esis_logs_and_metrics_carry_no_personal_data(pipeline):
    pipeline.vendor = "esis"
    esis_tenant(pipeline, "dewilg")
    pipeline.start("fetcher", "mapper", "applier",
                   extra={d: ["--log-level", "debug"] for d in ("fetcher", "mapper", "applier")})
    assert ": ok (stage applier)" in pipeline.sync("dewilg").stdout
    pipeline.sync("dewilg", full=True)
    texts = {name: pipeline.log_text(name) for name in pipeline.daemons}
    texts.update({f"{name} /metrics": "\n".join(f"{k} {v}" for k, v in d.metrics().items())
                  for name, d in pipeline.daemons.items()})
    for where, text in texts.items():
        leaked = [w for w in PERSONAL if w in text]
        assert not leaked, f"{where} contains personal data or the key: {leaked}"


def test_r18_wrong_label_names_the_label_to_select(pipeline):
    """A key issued for another label: a failed sync result that tells the
    school which label to select, per brand, and nothing reaches the portal."""
    pipeline.vendor = "esis"
    bo = copy_school(pipeline, "BasisschoolApps")
    bsa = copy_school(pipeline, "BasisOnline Ouderportaal")
    try:
        esis_tenant(pipeline, "bo", school=bo, brand="basisonline")
        esis_tenant(pipeline, "bsa", school=bsa, brand="basisschoolapps")
        pipeline.start("fetcher", "mapper", "applier")
        for tenant, want in (("bo", LABEL_MSG_BO), ("bsa", LABEL_MSG_BSA)):
            p = pipeline.sync(tenant, check=False)
            line = result_line(p.stdout)
            assert p.returncode == 1, p.stdout
            assert line.endswith(f": failed (stage fetcher): {want}"), line
            assert pipeline.portal.stats(pipeline.portal_tenant(tenant))["writes"] == 0
            s = {x["tenant"]: x for x in pipeline.status()}[tenant]
            assert (s["outcome"], s["reason"]) == ("failed", want)
        log = pipeline.log_text("fetcher")
        assert "event=snapshot_out" not in log, "nothing may be fetched into a snapshot"
        assert "class=las_label" in log
        # Permanent: each call was made once, never retried.
        assert "event=job_retry" not in log
        assert metric_sum(pipeline.daemons["fetcher"].metrics(), "lasync_fetch_failures_total",
                          vendor="esis", **{"class": "las_label"}) == 4
    finally:
        for school in (bo, bsa):
            shutil.rmtree(pipeline.las.school_dir("esis", school), ignore_errors=True)


def test_client_certificate_problems_are_named(pipeline):
    """Missing, wrong (another CA) and expired client certificates each fail
    their own sync with a clear message; PEM and PKCS#12 certificates work,
    and one about to expire is reported ahead of time."""
    refresh_certs()
    pipeline.vendor = "esis"
    certs_of = {"pem": {"name": "client"}, "p12": {"p12": True},
                "expiring": {"name": "client-expiring"}, "wrong": {"name": "client-wrong"},
                "expired": {"name": "client-expired"}, "missing": {"name": "client-absent"}}
    schools = {}  # R1: one school per tenant
    try:
        for tenant in certs_of:
            schools[tenant] = copy_school(pipeline, "BasisOnline Ouderportaal")
        certificate_problems(pipeline, schools, certs_of)
    finally:
        for school in schools.values():
            shutil.rmtree(pipeline.las.school_dir("esis", school), ignore_errors=True)


def certificate_problems(pipeline, schools: dict, certs_of: dict):
    c = pipeline.las.certs
    docs = {t: esis_tenant(pipeline, t, school=schools[t], **certs_of[t]) for t in schools}
    pipeline.start("fetcher")

    want = {
        "missing": f"Het ESIS-clientcertificaat ontbreekt: "
                   f"{docs['missing']['las']['client_cert_ref']} (bestand niet gevonden)",
        "wrong": "ESIS weigert het clientcertificaat: het is niet uitgegeven door een "
                 "certificaatautoriteit die de server vertrouwt (TLS: unknown ca)",
        "expired": f"Het ESIS-clientcertificaat is verlopen op 2026-01-01: vervang "
                   f"file:{c}/client-expired.pem door een geldig certificaat",
    }
    for tenant, reason in want.items():
        p = pipeline.sync(tenant, check=False, wait=60)
        line = result_line(p.stdout)
        assert p.returncode == 1 and line.endswith(f": failed (stage fetcher): {reason}"), \
            f"{tenant}: {line}"
        assert pipeline.portal.stats(pipeline.portal_tenant(tenant))["writes"] == 0

    # The good ones fetch a snapshot (the mapper's part is another test).
    good = {t: request(pipeline, t) for t in ("pem", "p12", "expiring")}
    log = wait_until(lambda: (lambda text: text if all(
        f"event=snapshot_out tenant={t} sync={s}" in text for t, s in good.items()) else None)(
        pipeline.log_text("fetcher")), 60, "snapshots of the tenants with good certificates")

    # The log names the tenant and the problem, in English, without secrets.
    assert 'event=client_cert_invalid tenant=expired class=las_cert ' \
           'problem="client certificate expired on 2026-01-01"' in log
    assert "event=client_cert_invalid tenant=missing class=las_cert" in log
    assert line_with(log, "event=las_call_failed tenant=wrong ", "class=las_cert", "unknown ca")
    for tenant in want:
        assert line_with(log, "event=dead_lettered", f"tenant={tenant} ", "class=las_cert"), tenant
    assert (c / "client.pass").read_text().strip() not in log
    # ... and one about to expire is reported ahead of time.
    warn = line_with(log, "event=client_cert_expiring tenant=expiring ")
    assert warn, log
    days = int(warn.split("days_left=")[1].split()[0])
    assert 1 <= days <= 9, warn
    assert "not_after=20" in warn and "warn_days=30" in warn
    assert not line_with(log, "event=client_cert_expiring tenant=pem "), "2 years is no warning"

    m = pipeline.daemons["fetcher"].metrics()
    gauge = {t: metric_sum(m, "lasync_client_cert_expiry_seconds", tenant=t)
             for t in ("pem", "p12", "expiring", "expired")}
    assert 0 < gauge["expiring"] <= 10 * 86400, gauge
    assert gauge["pem"] > 700 * 86400 and gauge["p12"] > 700 * 86400, gauge
    assert gauge["expired"] < 0, "an expired certificate shows as negative seconds"
    assert not [k for k in m if k[0] == "lasync_client_cert_expiry_seconds"
                and ("tenant", "missing") in k[1]], "no expiry for a missing certificate"

    # The simulator served the good certificates, each call over TLS with
    # the tenant's certificate, and never the refused ones.
    for tenant, cn in (("pem", "lasync-esis-client"), ("p12", "lasync-esis-client"),
                       ("expiring", "lasync-esis-client-expiring")):
        lines = lassim_lines(schools[tenant])
        for op in ("HaalLeerlinggegevens", "HaalVerzorgergegevens"):
            assert line_with("\n".join(lines), "tls=1", f"client_cn={cn} ", f"op={op}",
                             "status=200"), (tenant, lines)
    for tenant in ("wrong", "expired", "missing"):
        assert lassim_lines(schools[tenant]) == [], f"{tenant}: no request may be served"


def test_vendor_workers_are_independent(pipeline):
    """ESIS workers down or slow never hold up ParnasSys tenants; queued ESIS
    syncs complete once ESIS workers run again."""
    school = copy_school(pipeline, "BasisOnline Ouderportaal")
    try:
        vendor_workers(pipeline, school)
    finally:
        shutil.rmtree(pipeline.las.school_dir("esis", school), ignore_errors=True)


def vendor_workers(pipeline, school: str):
    pipeline.tenant("delinde", brin="99ZZ", key=PS_KEY, vendor="parnassys")
    esis_tenant(pipeline, "dewilg", school=school)
    ps = pipeline.workers("parnassys")
    es = pipeline.workers("esis", "--log-level", "debug")  # fetch_started is debug
    pipeline.start(*ps, "applier")

    # ESIS workers down: the ESIS request waits on its own topic.
    queued = request(pipeline, "dewilg")
    out = pipeline.sync("delinde").stdout
    assert ": ok (stage applier)" in out, out
    check_parnassys_portal(pipeline.portal, pipeline.portal_tenant("delinde"))
    assert outcome(pipeline, "dewilg", queued) is None
    assert topic_keys(pipeline, "sync-requests.esis") == ["dewilg"]
    assert topic_keys(pipeline, "sync-requests.parnassys") == ["delinde"]

    # ESIS workers start: the queued sync completes.
    pipeline.start(*es)
    wait_until(lambda: outcome(pipeline, "dewilg", queued), 120, "the queued ESIS sync")
    assert outcome(pipeline, "dewilg", queued) == "ok", pipeline.status()
    check_example_portal(pipeline.portal, pipeline.portal_tenant("dewilg"))

    # Stopped (SIGTERM) after working: ParnasSys goes on, ESIS waits, and
    # the restarted workers take up where their group left off.
    for key in es:
        pipeline.daemons[key].signal(signal.SIGTERM)
    for key in es:
        assert pipeline.daemons[key].wait_exit(15) == 0, key
    queued = request(pipeline, "dewilg")
    out = pipeline.sync("delinde", full=True).stdout
    assert ": ok (stage applier)" in out, out
    assert outcome(pipeline, "dewilg", queued) is None
    for key in es:
        pipeline.restart(key)
    wait_until(lambda: outcome(pipeline, "dewilg", queued), 120, "the ESIS sync queued while stopped")
    assert outcome(pipeline, "dewilg", queued) == "ok", pipeline.status()

    # ESIS slow (its LAS answers after 15 s): ParnasSys syncs go on meanwhile.
    # The rule names this test's own school (the simulator is shared) and
    # is used up by the two ESIS calls.
    pipeline.las.faults({"vendor": "esis", "school": school, "status": 200,
                         "delay_ms": 15000, "count": 2})
    slow = request(pipeline, "dewilg")
    wait_until(lambda: line_with(pipeline.log_text("fetcher-esis"), "event=fetch_started",
                                 "tenant=dewilg", f"sync={slow}") or
               outcome(pipeline, "dewilg", slow), 30, "the ESIS fetch to start")
    started = time.monotonic()
    out = pipeline.sync("delinde").stdout
    assert ": ok (stage " in out, out  # unchanged: the mapper ends it
    assert time.monotonic() - started < 12, "the ParnasSys sync waited for ESIS"
    assert outcome(pipeline, "dewilg", slow) is None, "ESIS was not slow after all"
    wait_until(lambda: outcome(pipeline, "dewilg", slow), 90, "the slow ESIS sync")
    assert outcome(pipeline, "dewilg", slow) == "ok"

    # Each vendor's workers consume their own topic in their own group ...
    for vendor in ("parnassys", "esis"):
        for stage in ("fetcher", "mapper"):
            assert line_with(pipeline.log_text(f"{stage}-{vendor}"), "event=ready",
                             f"group={pipeline.prefix}-{stage}-{vendor} "), (stage, vendor)
    # ... and saw only their own vendor's tenants.
    assert not line_with(pipeline.log_text("fetcher-parnassys"), "tenant=dewilg ")
    assert not line_with(pipeline.log_text("fetcher-esis"), "tenant=delinde ")
    assert not line_with(pipeline.log_text("mapper-parnassys"), "tenant=dewilg ")
    assert not line_with(pipeline.log_text("mapper-esis"), "tenant=delinde ")
