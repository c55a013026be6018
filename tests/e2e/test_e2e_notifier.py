"""lasync-notifier end to end (R21, R17, R9): the signed webhook, e-mail over
real SMTP, exactly once, the durable suggestion status, resolution by later
change sets, weekly reminders and held-sync e-mails.

Mail goes to a real SMTP server: the stack's sink ($LASYNC_SMTP_MAILDIR),
or - for outages, refusals, STARTTLS and AUTH - a sink of the test's own,
started here from scripts/smtp_sink.py on a free port and stopped and
started by its pid.  Messages are found by their Message-ID, which is
computed here independently of the notifier (SHA-256 over length-prefixed
parts, as DESIGN §2's deterministic e-mail ids), and parsed with Python's
email package.  Each test uses its own topic prefix, portal tenant,
suggestion ids and recipient addresses, so tests running side by side
never see each other's mail.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import ROOT, env, free_port, metric_sum, wait_until

EXAMPLE = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
KEY = (EXAMPLE / "leveranciersleutel").read_text().strip()
SECRET = "whsec-" + uuid.uuid4().hex
FROM = "Ouderportaal De Linde <noreply@delinde.example.nl>"
DOMAIN = "delinde.example.nl"
PARENT = "parnassys:guardian:200001"
# Values and addresses of the tests (the Message-ID's domain is the sender's
# and may be logged; the recipients' addresses may not).
PERSONAL = ("06-12345678", "06-87654321", "Emma de Vries", "Zoë", "Lindelaan",
            "Dorpsstraat", "ict+", "directie+", "m.smit+", "prive@", "oud+", "admin+")


# --- helpers --------------------------------------------------------------

def digest(*parts: str) -> str:
    """lasync_digest: SHA-256 over 8-byte little-endian length-prefixed parts,
    first 128 bits in hex."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()[:32]


def message_id(tenant: str, kind: str, ref: str, domain: str = DOMAIN) -> str:
    return f"<{kind}.{digest('notifier-message-id-v1', tenant, kind, ref)}@{domain}>"


def iso_week() -> str:
    y, w, _ = datetime.now(ZoneInfo("Europe/Amsterdam")).isocalendar()
    return f"{y:04d}-W{w:02d}"


def suggestion(sid: str, **over) -> dict:
    body = {
        "suggestionId": sid,
        "parent": {"id": "p-" + sid, "externalId": PARENT},
        "children": [
            {"id": "c-1", "externalId": "parnassys:student:100001", "displayName": "Emma de Vries"},
            {"id": "c-2", "externalId": None, "displayName": "Zoë <b>de</b> Vries"},
        ],
        "changes": [
            {"field": "phoneMobile", "old": "06-12345678", "new": "06-87654321"},
            {"field": "streetAddress", "old": "Lindelaan 12 B", "new": "Dorpsstraat 1 & 2"},
        ],
        "submittedAt": "2026-11-29T08:20:55Z",
    }
    body.update(over)
    return body


def sign(body: bytes, secret: str = SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(pipeline, tenant: str, body, headers: dict | None = None, signed: bool = True,
         t: int | None = None, secret: str = SECRET) -> tuple[int, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    port = pipeline.daemons["notifier"].webhook_port
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/tenants/{tenant}/suggestions",
                                 data=raw, method="POST")
    req.add_header("Content-Type", "application/json")
    if signed:
        req.add_header("X-Lasync-Signature", sign(raw, secret, t))
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def kcat(*args: str, data: bytes | None = None) -> bytes:
    p = subprocess.run(["kcat", "-b", env("LASYNC_KAFKA_BROKERS"), *args], input=data,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, f"kcat {' '.join(args)}: {p.stderr.decode()}"
    return p.stdout


def topic_count(pipeline, suffix: str) -> int:
    out = kcat("-C", "-t", f"{pipeline.prefix}.{suffix}", "-o", "beginning", "-e", "-q",
               "-f", "%o\\n")
    return len(out.splitlines())


def produce(pipeline, suffix: str, key: str, value: bytes, tmp: Path):
    f = tmp / f"msg-{uuid.uuid4().hex}"
    f.write_bytes(value)
    kcat("-P", "-t", f"{pipeline.prefix}.{suffix}", "-k", key, str(f))


def redis(*args: str) -> str:
    p = subprocess.run(["redis-cli", "-u", env("LASYNC_REDIS_URL"), *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def raw_mails(maildir: Path, mid: str) -> list[bytes]:
    """Every message in maildir with this Message-ID, as received."""
    out = []
    for f in sorted(maildir.glob("*.eml")):
        if f.name.startswith("."):
            continue  # the SMTP sink's file being written (renamed when done)
        raw = f.read_bytes()
        if mid.encode() in raw and email.message_from_bytes(
                raw, policy=email.policy.default)["Message-ID"] == mid:
            out.append(raw)
    return out


def mails(maildir: Path, mid: str) -> list:
    """Every message in maildir with this Message-ID (parsed)."""
    return [email.message_from_bytes(r, policy=email.policy.default)
            for r in raw_mails(maildir, mid)]


def wait_mail(maildir: Path, mid: str, timeout: float = 60):
    return wait_until(lambda: mails(maildir, mid), timeout, f"mail {mid} in {maildir}")[0]


def stack_maildir() -> Path:
    return Path(env("LASYNC_SMTP_MAILDIR"))


def envelope_to(m) -> set[str]:
    return {a.lower() for a in m.get_all("X-Envelope-To", [])}


def metric(pipeline, name: str, **labels) -> float:
    return metric_sum(pipeline.daemons["notifier"].metrics(), name, **labels)


def suggestions(pipeline, tenant: str) -> dict:
    return {s["ref"]: s for s in json.loads(pipeline.ctl("suggestions", tenant, "--json").stdout)}


def managers(pipeline) -> list[str]:
    return [f"ict+{pipeline.prefix}@delinde.example.nl",
            f"Directie+{pipeline.prefix}@delinde.example.nl"]


def setup_notifier(pipeline, *extra: str, tenant: str = "delinde", brin: str = "99ZZ",
                   daemons: tuple[str, ...] = ("notifier",)):
    pipeline.tenant(tenant, brin=brin, key=KEY, manager_emails=managers(pipeline),
                    webhook_secret=SECRET)
    if "notifier" not in pipeline.daemons:
        pipeline.daemon("notifier", "--smtp-from", FROM, *extra)
    pipeline.start(*daemons)


def assert_no_personal_data(pipeline):
    log = pipeline.log_text("notifier")
    for s in PERSONAL:
        assert s not in log, f"the notifier log holds personal data ({s!r})"
    metrics = urllib.request.urlopen(
        f"http://127.0.0.1:{pipeline.daemons['notifier'].port}/metrics").read().decode()
    for s in PERSONAL:
        assert s not in metrics, f"the notifier metrics hold personal data ({s!r})"


class Sink:
    """An SMTP sink of the test's own (scripts/smtp_sink.py), stopped and
    started by its pid."""

    def __init__(self, tmp: Path, *options: str):
        self.port = free_port()
        self.maildir = tmp / f"mail-{self.port}"
        self.log = tmp / f"sink-{self.port}.log"
        self.options = list(options)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        py = ROOT / ".local" / "venv" / "bin" / "python"
        seen = self.log.read_bytes().count(b"SMTP on") if self.log.exists() else 0
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen([str(py if py.exists() else sys.executable), "-u",
                                      str(ROOT / "scripts" / "smtp_sink.py"), "--port",
                                      str(self.port), "--maildir", str(self.maildir),
                                      *self.options],
                                     stdout=fh, stderr=subprocess.STDOUT)
        fh.close()
        wait_until(lambda: self.log.read_bytes().count(b"SMTP on") > seen, 20,
                   "the test's SMTP sink")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "smtp-cert.pem", tmp / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


# --- protobuf, by hand (the tests have no protobuf library) ---------------

def _varint(n: int) -> bytes:
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _str(num: int, s: str) -> bytes:
    b = s.encode()
    return _varint(num << 3 | 2) + _varint(len(b)) + b


def _int(num: int, v: int) -> bytes:
    return _varint(num << 3) + _varint(v)


def sync_result(tenant: str, sync_id: str, outcome: int, error_class: str, reason: str,
                deactivated: int) -> bytes:
    """lasync.v1.SyncResult (sync.proto): header, vendor, outcome, stage,
    error_class, reason, counts{users_deactivated}, finished_at_ms."""
    now = int(time.time() * 1000)
    header = (_str(1, tenant) + _str(2, uuid.uuid4().hex) + _str(3, sync_id)
              + _int(5, now) + _str(6, "mapper"))
    counts = _int(3, deactivated)
    return (_varint(1 << 3 | 2) + _varint(len(header)) + header + _int(2, 1) + _int(3, outcome)
            + _str(4, "mapper") + _str(5, error_class) + _str(6, reason)
            + _varint(7 << 3 | 2) + _varint(len(counts)) + counts + _int(9, now))


# --- the tests ------------------------------------------------------------

def test_r21_signed_webhook_mails_once_to_managers_and_entitlement_holders(pipeline, tmp_path):
    p = pipeline.prefix
    portal_tenant = pipeline.portal_tenant("delinde")
    holder = f"m.smit+{p}@delinde.example.nl"
    setup_notifier(pipeline)
    # Portal users: two holders of the right (one with a manager's address
    # in other case), one former holder (inactive), one with another right.
    for user, mails_, ent, active in [
            ("h1", [{"value": "prive@example.org", "type": "home"},
                    {"value": holder, "type": "work", "primary": True}], NOTIFY_RIGHT, True),
            ("h2", [{"value": managers(pipeline)[0].upper()}], NOTIFY_RIGHT, True),
            ("h3", [{"value": f"oud+{p}@delinde.example.nl"}], NOTIFY_RIGHT, False),
            ("h4", [{"value": f"admin+{p}@delinde.example.nl"}], "beheer", True)]:
        pipeline.portal.create(portal_tenant, "Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user,
            "emails": mails_, "entitlements": [{"value": ent}], "active": active})

    sid = "s-" + uuid.uuid4().hex[:12]
    st, body = post(pipeline, "delinde", suggestion(sid))
    assert (st, body) == (202, {"status": "queued", "suggestionId": sid})
    mid = message_id("delinde", "suggestion", sid)
    m = wait_mail(stack_maildir(), mid)

    # Recipients: the managers and the active holder, each once.
    want = {a.lower() for a in managers(pipeline)} | {holder.lower()}
    assert envelope_to(m) == want
    assert {a.addr_spec.lower() for a in m["To"].addresses} == want
    assert m["From"].addresses[0].addr_spec == "noreply@delinde.example.nl"
    assert m["From"].addresses[0].display_name == "Ouderportaal De Linde"
    assert str(m["Subject"]) == \
        "Wijziging doorgegeven door ouder/verzorger van Emma de Vries en Zoë <b>de</b> Vries"
    assert "=?UTF-8?B?" in m.as_string()  # encoded on the wire
    sent = parsedate_to_datetime(str(m["Date"]))
    assert abs(sent.timestamp() - time.time()) < 120
    assert m["MIME-Version"] == "1.0"
    assert m.get_content_type() == "multipart/alternative"
    parts = list(m.iter_parts())
    assert [x.get_content_type() for x in parts] == ["text/plain", "text/html"]
    assert all(x.get_content_charset() == "utf-8" for x in parts)
    text, html = parts[0].get_content(), parts[1].get_content()
    assert "Telefoonnummer mobiel: 06-12345678 → 06-87654321" in text
    assert "Adres (straat, huisnummer): Lindelaan 12 B → Dorpsstraat 1 & 2" in text
    assert "  - Emma de Vries" in text and "  - Zoë <b>de</b> Vries" in text
    assert "Pas de gegevens daarom aan in ParnasSys" in text
    assert "Na de eerstvolgende synchronisatie zijn de nieuwe gegevens zichtbaar in Ouderportaal" \
        in text
    assert "Dorpsstraat 1 &amp; 2" in html and "Zoë &lt;b&gt;de&lt;/b&gt; Vries" in html
    assert "<b>de</b>" not in html

    # R9: the parent's profile is marked for the mapper's next sync.
    assert PARENT in redis("SMEMBERS", f"{p}:{{delinde}}:dirty").split()

    # The durable status: sent, with this Message-ID.
    s = suggestions(pipeline, "delinde")[sid]
    assert (s["state"], s["mail"], s["message_id"], s["recipients"]) == ("open", "sent", mid, 3)
    assert [f["field"] for f in s["fields"]] == ["phoneMobile", "streetAddress"]

    # Replays: the same webhook again, and the event itself re-produced.
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202
    raw = kcat("-C", "-t", f"{p}.suggestions", "-o", "beginning", "-e", "-q", "-c", "1",
               "-f", "%s")
    produce(pipeline, "suggestions", "delinde", raw, tmp_path)
    wait_until(lambda: metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                              outcome="duplicate") >= 2, 60, "both replays skipped")

    # A restart with Redis forgetting the send: the durable status alone
    # keeps the e-mail from going out again.
    d = pipeline.daemons["notifier"]
    d.signal(15)
    assert d.wait_exit(15) == 0
    redis("DEL", f"{p}:{{delinde}}:mail:suggestion:{sid}")
    produce(pipeline, "suggestions", "delinde", raw, tmp_path)
    pipeline.restart("notifier")
    wait_until(lambda: metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                              outcome="duplicate") >= 1, 60, "the replay after restart skipped")
    time.sleep(1)
    assert len(mails(stack_maildir(), mid)) == 1
    assert_no_personal_data(pipeline)


def test_r21_sent_in_redis_without_its_record_is_recorded_not_resent(pipeline):
    """The state a notifier killed after the SMTP server's 250 leaves: the
    claim in Redis already says "sent" (set before the "sent" record is
    produced), the record never reached Kafka.  The next attempt must not
    mail again, and must write the missing "sent" record, so lasyncctl and
    a later restart without Redis see the e-mail as sent."""
    p = pipeline.prefix
    setup_notifier(pipeline)
    sid = "s-" + uuid.uuid4().hex[:12]
    mid = message_id("delinde", "suggestion", sid)
    redis("SET", f"{p}:{{delinde}}:mail:suggestion:{sid}", "sent", "EX", "600")
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202
    s = wait_until(lambda: next((x for x in [suggestions(pipeline, "delinde").get(sid)]
                                 if x and x["mail"] == "sent"), None), 60,
                   "the sent record written by the next attempt")
    assert s["message_id"] == mid and s["recipients"] == 2
    assert "by=redis recorded=no" in pipeline.log_text("notifier")
    # The record is durable: a restart with Redis forgetting the claim
    # still does not mail.
    d = pipeline.daemons["notifier"]
    d.signal(15)
    assert d.wait_exit(15) == 0
    redis("DEL", f"{p}:{{delinde}}:mail:suggestion:{sid}")
    pipeline.restart("notifier")
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202
    wait_until(lambda: "by=status" in pipeline.log_text("notifier"), 60,
               "the replay skipped by its durable status")
    time.sleep(1)
    assert mails(stack_maildir(), mid) == []


NOTIFY_RIGHT = "melding-ouder-kindgegevens"


def test_r21_unsigned_or_wrongly_signed_webhook_is_refused(pipeline):
    setup_notifier(pipeline)
    body = suggestion("s-" + uuid.uuid4().hex[:12])
    st, err = post(pipeline, "delinde", body, signed=False)
    assert st == 401 and "missing" in err["error"]
    st, err = post(pipeline, "delinde", body, secret="not-the-secret")
    assert st == 401 and "does not match" in err["error"]
    st, err = post(pipeline, "delinde", body, signed=False,
                   headers={"X-Lasync-Signature": "sha256=abc"})
    assert st == 401 and "t=<unix seconds>" in err["error"]
    # A valid signature over another body.
    raw = json.dumps(body).encode()
    st, err = post(pipeline, "delinde", raw.replace(b"06-87654321", b"06-00000000"),
                   signed=False, headers={"X-Lasync-Signature": sign(raw)})
    assert st == 401
    assert topic_count(pipeline, "suggestions") == 0
    assert redis("EXISTS", f"{pipeline.prefix}:{{delinde}}:dirty").strip() == "0"
    assert metric(pipeline, "lasync_webhook_requests_total", outcome="unsigned") == 1
    assert metric(pipeline, "lasync_webhook_requests_total", outcome="bad_signature") == 3


def test_r21_stale_webhook_is_refused(pipeline):
    setup_notifier(pipeline)
    body = suggestion("s-" + uuid.uuid4().hex[:12])
    now = int(time.time())
    for t in (now - 301, now + 301, now - 3600):
        st, err = post(pipeline, "delinde", body, t=t)
        assert st == 401 and "300 seconds" in err["error"], (t, st, err)
    assert topic_count(pipeline, "suggestions") == 0
    st, _ = post(pipeline, "delinde", body, t=now - 250)  # within the window
    assert st == 202
    assert topic_count(pipeline, "suggestions") == 1


def test_r21_oversized_webhook_is_refused(pipeline):
    setup_notifier(pipeline)
    body = suggestion("s-" + uuid.uuid4().hex[:12])
    raw = json.dumps(body).encode()
    big = raw[:-1] + b"," + b'"pad":"' + b"x" * 70000 + b'"}'
    st, err = post(pipeline, "delinde", big)
    assert st == 413 and "larger than 65536 bytes" in err["error"]
    assert topic_count(pipeline, "suggestions") == 0
    # The daemon is fine and takes the next one.
    st, _ = post(pipeline, "delinde", body)
    assert st == 202


def test_webhook_port_taken_is_a_clear_startup_error_without_leaks(pipeline):
    """A webhook port another process holds stops the notifier at start with
    the cause named, and frees what its start had set up (under ASan a leak
    report turns the exit into 66, and the fixture fails on the report)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        d = pipeline.daemon("notifier", "--webhook-port", str(port))
        d.start()
        rc = d.proc.wait(timeout=60)
    log = d.log.read_text(errors="replace")
    assert rc == 1, (rc, log[-3000:])
    assert re.search(r"event=startup_failed error=\"cannot listen for http on "
                     rf"127\.0\.0\.1:{port} \(port in use\?\)\"", log), log[-3000:]
    assert not pipeline.sanitizer_reports(), log[-3000:]


def test_r21_malformed_webhook_is_refused(pipeline):
    setup_notifier(pipeline)
    sid = "s-" + uuid.uuid4().hex[:12]
    cases = [
        (b"{not json", 400, "not valid JSON"),
        (suggestion(sid, extra=1), 400, 'unknown key "extra"'),
        (suggestion(sid, changes=[{"field": "allergies", "old": "a", "new": "b"}]), 400,
         "not a field the portal sends"),
        (suggestion(sid, changes=[]), 400, "changes must be an array of 1"),
        (suggestion(sid, suggestionId=12), 400, "suggestionId must be a string"),
        (suggestion(sid, submittedAt="gisteren om acht uur"), 400, "submittedAt"),
    ]
    for body, code, why in cases:
        st, err = post(pipeline, "delinde", body)
        assert (st, why in err.get("error", "")) == (code, True), (body, st, err)
        assert "06-" not in err["error"]  # no value echoed
    st, err = post(pipeline, "nobody", suggestion(sid))
    assert st == 404 and err["error"] == "unknown tenant"
    st, err = post(pipeline, "delinde", suggestion(sid), headers={"Content-Type": "text/plain"})
    assert st == 415
    assert topic_count(pipeline, "suggestions") == 0
    assert metric(pipeline, "lasync_webhook_requests_total", outcome="malformed") == len(cases)


def test_r21_header_injection_is_refused_or_neutralised(pipeline):
    setup_notifier(pipeline)
    inject = "Emma\r\nBcc: attacker@evil.example\r\n\r\nHallo"
    sid = "s-" + uuid.uuid4().hex[:12]
    # Control characters anywhere in parent text: refused.
    for over in ({"children": [{"id": "c", "displayName": inject}]},
                 {"changes": [{"field": "locality", "old": "a", "new": "Utrecht\nBcc: x@y.nl"}]}):
        st, err = post(pipeline, "delinde", suggestion(sid, **over))
        assert st == 400 and "characters that are not allowed" in err["error"]
    assert topic_count(pipeline, "suggestions") == 0
    # What may pass - an encoded-word look-alike, markup, quotes, a colon -
    # is encoded in the Subject and escaped in the HTML.
    name = '=?UTF-8?B?QmNjOiB4QHkubmw=?= "Zoë" <script>: Bcc'
    st, _ = post(pipeline, "delinde", suggestion(
        sid, children=[{"id": "c", "displayName": name}]))
    assert st == 202
    mid = message_id("delinde", "suggestion", sid)
    m = wait_mail(stack_maildir(), mid)
    assert envelope_to(m) == {a.lower() for a in managers(pipeline)}
    assert m["Bcc"] is None and m["Cc"] is None
    assert str(m["Subject"]) == f"Wijziging doorgegeven door ouder/verzorger van {name}"
    head = raw_mails(stack_maildir(), mid)[0].split(b"\r\n\r\n", 1)[0]
    assert b"<script>" not in head and b"Zo\xc3\xab" not in head
    assert b"=?UTF-8?B?QmNjOiB4QHkubmw=?=" not in head  # the look-alike was encoded too
    assert max(head) < 0x80  # 7-bit headers
    html = list(m.iter_parts())[1].get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_r21_poison_suggestion_is_dead_lettered_and_the_next_is_mailed(pipeline, tmp_path):
    setup_notifier(pipeline)
    produce(pipeline, "suggestions", "delinde", b"\xff\x00 not a ParentSuggestion", tmp_path)
    # Change sets and results are the applier's and lasyncctl's: a bad one
    # is skipped here, not dead-lettered a second time.
    produce(pipeline, "portal-changes", "delinde", b"\xff\x00 not a ChangeSet", tmp_path)
    produce(pipeline, "sync-results", "delinde", b"\xff\x00 not a SyncResult", tmp_path)
    sid = "s-" + uuid.uuid4().hex[:12]
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202
    wait_mail(stack_maildir(), message_id("delinde", "suggestion", sid))
    wait_until(lambda: topic_count(pipeline, "suggestions.dlq") == 1, 30, "the dead letter")
    wait_until(lambda: "event=changeset_skipped" in pipeline.log_text("notifier")
               and "event=result_skipped" in pipeline.log_text("notifier"), 30,
               "the skipped change set and result")
    assert topic_count(pipeline, "portal-changes.dlq") == 0
    assert topic_count(pipeline, "sync-results.dlq") == 0


def test_r21_smtp_outage_delays_but_does_not_lose(pipeline, tmp_path):
    sink = Sink(tmp_path)
    sink.start()
    setup_notifier(pipeline, "--smtp-url", sink.url, "--max-attempts", "100")
    sink.stop()
    sid = "s-" + uuid.uuid4().hex[:12]
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202  # queued: the outage is the notifier's problem, not the portal's
    wait_until(lambda: "class=smtp_transient" in pipeline.log_text("notifier"), 30,
               "a retried send")
    time.sleep(2)
    assert not list(sink.maildir.glob("*.eml"))
    assert suggestions(pipeline, "delinde")[sid]["mail"] in ("received", "sending")
    sink.start()
    m = wait_mail(sink.maildir, message_id("delinde", "suggestion", sid))
    assert envelope_to(m) == {a.lower() for a in managers(pipeline)}
    time.sleep(3)
    assert len(mails(sink.maildir, message_id("delinde", "suggestion", sid))) == 1
    assert suggestions(pipeline, "delinde")[sid]["mail"] == "sent"
    sink.stop()


def test_r21_recipients_cached_for_their_time_and_deduplicated(pipeline):
    """The entitlement holders are looked up through SCIM once per
    --recipients-cache-s: a second suggestion within that time is mailed
    to the cached holders without a portal request (a holder added
    meanwhile is not mailed yet); after it, they are looked up again.
    Every address is mailed once, whatever its letter case or how many
    users (or managers) carry it. Portal requests are counted by the
    portal itself (GET /_stats)."""
    cache_s = 8
    p = pipeline.prefix
    portal, pt = pipeline.portal, pipeline.portal_tenant("delinde")
    setup_notifier(pipeline, "--recipients-cache-s", str(cache_s))
    holder = f"m.smit+{p}@delinde.example.nl"
    late = f"admin+{p}@delinde.example.nl"

    def holder_user(name, address, primary=False):
        e = {"value": address, "type": "work"}
        if primary:
            e["primary"] = True
        portal.create(pt, "Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "emails": [e], "entitlements": [{"value": NOTIFY_RIGHT}], "active": True})

    # One holder on two users (other case), one holder with a manager's
    # address: three distinct recipients in all.
    holder_user("h1", holder)
    holder_user("h2", holder.upper(), primary=True)
    holder_user("h3", managers(pipeline)[1].lower())
    want = {a.lower() for a in managers(pipeline)} | {holder.lower()}

    def lookups():
        return portal.stats(pt)["GET"]

    def mail_of(sid):
        st, _ = post(pipeline, "delinde", suggestion(sid))
        assert st == 202
        m = wait_mail(stack_maildir(), message_id("delinde", "suggestion", sid))
        rcpt = [a.lower() for a in m.get_all("X-Envelope-To", [])]
        assert len(rcpt) == len(set(rcpt)), f"{sid}: an address mailed twice: {len(rcpt)}"
        assert len(m["To"].addresses) == len(rcpt), f"{sid}: To and envelope differ"
        return set(rcpt)

    g0 = lookups()
    assert mail_of("s-" + uuid.uuid4().hex[:12]) == want
    looked_up = time.monotonic()
    assert lookups() == g0 + 1, f"first suggestion: {lookups() - g0} portal requests"
    assert metric(pipeline, "lasync_notifier_recipient_lookups_total", outcome="ok") == 1

    # Within the cache time: no portal request, the cached holders.
    holder_user("h4", late)
    g1 = lookups()
    assert mail_of("s-" + uuid.uuid4().hex[:12]) == want
    assert time.monotonic() - looked_up < cache_s, "too slow to test the cache"
    assert lookups() == g1, "recipients looked up again within the cache time"
    assert metric(pipeline, "lasync_notifier_recipient_lookups_total", outcome="cached") == 1

    # After it: looked up again, and the new holder is mailed too.
    time.sleep(max(0.0, cache_s + 1 - (time.monotonic() - looked_up)))
    assert mail_of("s-" + uuid.uuid4().hex[:12]) == want | {late.lower()}
    assert lookups() == g1 + 1, f"after the cache time: {lookups() - g1} portal requests"
    assert metric(pipeline, "lasync_notifier_recipient_lookups_total", outcome="ok") == 2
    assert_no_personal_data(pipeline)


class SilentServer:
    """A TCP server that accepts connections and never says a word (no
    SMTP greeting): records when each connection came and when the client
    gave up on it."""

    def __init__(self, port: int):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.conns: list[list[float | None]] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            rec = [time.monotonic(), None]
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self._hold, args=(c, rec), daemon=True).start()

    def _hold(self, c, rec):
        c.settimeout(0.2)
        while self.running:
            try:
                if not c.recv(4096):
                    break  # the client closed it
            except socket.timeout:
                continue
            except OSError:
                break
        rec[1] = time.monotonic()
        c.close()

    def closed(self) -> list[float]:
        """How long each connection the client gave up on was held open."""
        with self.lock:
            return [b - a for a, b in self.conns if b is not None]

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def test_r21_smtp_timeout_gives_up_retries_and_does_not_lose(pipeline, tmp_path):
    """An SMTP server that accepts the connection and never answers: the
    notifier gives up on each attempt within --smtp-timeout-ms, retries
    later, and once a working server is back the e-mail goes out, once."""
    timeout_ms = 1500
    sink = Sink(tmp_path)
    silent = SilentServer(sink.port)
    setup_notifier(pipeline, "--smtp-url", sink.url, "--smtp-connect-timeout-ms", "1000",
                   "--smtp-timeout-ms", str(timeout_ms), "--claim-ttl-s", "15",
                   "--max-attempts", "100")
    sid = "s-" + uuid.uuid4().hex[:12]
    mid = message_id("delinde", "suggestion", sid)
    try:
        st, _ = post(pipeline, "delinde", suggestion(sid))
        assert st == 202
        # At least two attempts, each abandoned by the notifier itself.
        held = wait_until(lambda: len(silent.closed()) >= 2 and silent.closed(), 60,
                          "two abandoned SMTP sessions")
        for t in held:
            assert t < timeout_ms / 1000 + 1.0, f"an attempt waited {t:.1f}s (timeout {timeout_ms} ms)"
        assert "curl error 28" in pipeline.log_text("notifier"), "no timeout logged"
        assert metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                      outcome="retry") >= 2
        assert suggestions(pipeline, "delinde")[sid]["mail"] in ("received", "sending")
        assert metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                      outcome="failed") == 0
    finally:
        silent.stop()
    # A working server on the same port: the e-mail goes out, once.
    sink.start()
    try:
        m = wait_mail(sink.maildir, mid, timeout=60)
        assert envelope_to(m) == {a.lower() for a in managers(pipeline)}
        time.sleep(3)
        assert len(mails(sink.maildir, mid)) == 1
        assert suggestions(pipeline, "delinde")[sid]["mail"] == "sent"
        assert topic_count(pipeline, "suggestions.dlq") == 0
        assert_no_personal_data(pipeline)
    finally:
        sink.stop()


def test_r21_smtp_4xx_retries_and_5xx_dead_letters(pipeline, tmp_path):
    sink = Sink(tmp_path, "--fail-data", "451:2")
    sink.start()
    setup_notifier(pipeline, "--smtp-url", sink.url, "--max-attempts", "6")
    sid = "s-" + uuid.uuid4().hex[:12]
    assert post(pipeline, "delinde", suggestion(sid))[0] == 202
    wait_mail(sink.maildir, message_id("delinde", "suggestion", sid))
    assert metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                  outcome="retry") == 2
    sink.stop()
    # Now a server that refuses every message for good.
    sink.options = ["--fail-data", "554:-1"]
    sink.start()
    sid2 = "s-" + uuid.uuid4().hex[:12]
    assert post(pipeline, "delinde", suggestion(sid2))[0] == 202
    wait_until(lambda: topic_count(pipeline, "suggestions.dlq") == 1, 60, "the dead letter")
    s = wait_until(lambda: suggestions(pipeline, "delinde")[sid2]["mail"] == "failed"
                   and suggestions(pipeline, "delinde")[sid2], 30, "the failed status")
    assert s["failed_at_ms"] > 0
    assert metric(pipeline, "lasync_notifier_mails_total", kind="suggestion",
                  outcome="retry") == 2  # no retry of a 5xx
    assert not mails(sink.maildir, message_id("delinde", "suggestion", sid2))
    sink.stop()


def test_r21_starttls_and_auth(pipeline, tmp_path):
    cert, key = self_signed(tmp_path)
    sink = Sink(tmp_path, "--starttls", str(cert), str(key), "--auth", "lasync:pw-" + SECRET[-6:])
    sink.start()
    # AUTH without TLS is refused at start: a password never goes in clear.
    bad = pipeline.daemon("notifier", "--smtp-url", sink.url, "--smtp-user-ref",
                          "env:SMTP_USER", "--smtp-password-ref", "env:SMTP_PASSWORD",
                          instance="-plain")
    bad.start()
    assert bad.wait_exit(30) == 1
    assert "SMTP AUTH needs TLS" in bad.log.read_text()
    pipeline.secrets.update({"SMTP_USER": "lasync", "SMTP_PASSWORD": "pw-" + SECRET[-6:]})
    setup_notifier(pipeline, "--smtp-url", sink.url, "--smtp-starttls", "true",
                   "--smtp-ca-file", str(cert), "--smtp-user-ref", "env:SMTP_USER",
                   "--smtp-password-ref", "env:SMTP_PASSWORD")
    sid = "s-" + uuid.uuid4().hex[:12]
    assert post(pipeline, "delinde", suggestion(sid))[0] == 202
    m = wait_mail(sink.maildir, message_id("delinde", "suggestion", sid))
    assert m["X-Sink-TLS"] == "yes" and m["X-Sink-Auth"] == "lasync"
    assert "pw-" not in pipeline.log_text("notifier")
    sink.stop()


def test_r21_suggestion_resolved_once_the_las_shows_it(pipeline):
    h = int(pipeline.prefix[1:], 16)
    brin = f"{h % 100:02d}N" + chr(65 + (h // 100) % 26)
    school = pipeline.las.add_school_from(EXAMPLE, "parnassys", brin, KEY, {"99ZZ": brin})
    setup_notifier(pipeline, tenant="res", brin=brin, daemons=(
        "fetcher", "mapper", "applier", "notifier"))
    assert ": ok (stage applier)" in pipeline.sync("res").stdout
    users = {u["externalId"]: u for u in pipeline.portal.users(pipeline.portal_tenant("res"))}
    fatima, daan = users["parnassys:guardian:200003"], users["parnassys:student:100002"]
    sid = "s-" + uuid.uuid4().hex[:12]
    body = suggestion(sid, parent={"id": fatima["id"], "externalId": fatima["externalId"]},
                      children=[{"id": daan["id"], "externalId": daan["externalId"],
                                 "displayName": daan["displayName"]}],
                      changes=[{"field": "phoneMobile", "old": "06-22223333",
                                "new": "06-99990000"},
                               {"field": "postalCode", "old": "1234 CD", "new": "3811 AB"}])
    assert post(pipeline, "res", body)[0] == 202
    wait_mail(stack_maildir(), message_id("res", "suggestion", sid))
    assert suggestions(pipeline, "res")[sid]["state"] == "open"

    # The school updates the mobile number in the LAS: one field matches.
    verz = school / "getVerzorgers.xml"
    verz.write_text(verz.read_text(encoding="utf-8").replace("06-22223333", "06-99990000"),
                    encoding="utf-8")
    assert ": ok (stage applier)" in pipeline.sync("res").stdout
    s = wait_until(lambda: next((x for x in [suggestions(pipeline, "res")[sid]]
                                 if x["fields"][0]["matched"]), None), 30, "phoneMobile matched")
    assert s["state"] == "open" and not s["fields"][1]["matched"]
    out = pipeline.ctl("suggestions", "res").stdout
    assert "phoneMobile*,postalCode\n" in out and "1 open" in out

    # Then the postal code: the suggestion is resolved.
    for f in school.glob("*.xml"):
        t = f.read_text(encoding="utf-8")
        if "1234 CD" in t:
            f.write_text(t.replace("1234 CD", "3811 AB"), encoding="utf-8")
    assert ": ok (stage applier)" in pipeline.sync("res").stdout
    s = wait_until(lambda: next((x for x in [suggestions(pipeline, "res")[sid]]
                                 if x["state"] == "resolved"), None), 30, "resolved")
    assert s["resolved_at_ms"] > 0 and s["mail"] == "sent"
    out = pipeline.ctl("suggestions", "res").stdout
    assert "resolved" in out and "0 open" in out
    assert "06-99990000" not in out and "3811" not in out  # ids and field names only


def test_r21_weekly_reminder_once_per_tenant_per_week(pipeline):
    # The reminder's Message-ID is (tenant, week): a tenant of this test's own.
    tenant = "rem-" + pipeline.prefix
    setup_notifier(pipeline, tenant=tenant)
    sid = "s-" + uuid.uuid4().hex[:12]
    assert post(pipeline, tenant, suggestion(sid))[0] == 202
    wait_mail(stack_maildir(), message_id(tenant, "suggestion", sid))
    # Nothing is a week old yet: cron's run asks for nothing.
    out = pipeline.ctl("suggestions", "remind", "--due").stdout
    assert "no tenant has suggestions open for 7 days" in out
    # With the age lowered, the reminder goes out once this week.
    out = pipeline.ctl("suggestions", "remind", "--due", "--min-age-days", "0").stdout
    week = iso_week()
    assert f"reminder requested for {tenant} (week {week}, 1 open)" in out
    mid = message_id(tenant, "reminder", week)
    m = wait_mail(stack_maildir(), mid)
    assert envelope_to(m) == {a.lower() for a in managers(pipeline)}
    assert str(m["Subject"]) == "Herinnering: 1 wijziging van ouders nog niet verwerkt in ParnasSys"
    text = list(m.iter_parts())[0].get_content()
    assert f"Telefoonnummer mobiel, Adres (straat, huisnummer) (kenmerk {sid})" in text
    pipeline.ctl("suggestions", "remind", tenant, "--min-age-days", "0")
    pipeline.ctl("suggestions", "remind", "--due", "--min-age-days", "0")
    wait_until(lambda: metric(pipeline, "lasync_notifier_mails_total", kind="reminder",
                              outcome="duplicate") >= 2, 60, "both repeats skipped")
    assert len(mails(stack_maildir(), mid)) == 1


def test_r17_held_sync_mails_the_managers_once(pipeline, tmp_path):
    setup_notifier(pipeline)
    pipeline.portal.create(pipeline.portal_tenant("delinde"), "Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "h1",
        "emails": [{"value": f"holder+{pipeline.prefix}@delinde.example.nl"}],
        "entitlements": [{"value": NOTIFY_RIGHT}]})
    sync_id = uuid.uuid4().hex
    held = sync_result("delinde", sync_id, 4, "deletion_guard",
                       "would deactivate 40 of 120 active profiles (limit 36: max(guard_min 25, "
                       "guard_percent 30%)); nothing applied", 40)
    # Ignored: a first-run hold and an ordinary result.
    produce(pipeline, "sync-results", "delinde",
            sync_result("delinde", uuid.uuid4().hex, 4, "first_run_pending", "", 0), tmp_path)
    produce(pipeline, "sync-results", "delinde",
            sync_result("delinde", uuid.uuid4().hex, 1, "", "", 3), tmp_path)
    produce(pipeline, "sync-results", "delinde", held, tmp_path)
    mid = message_id("delinde", "held", sync_id)
    m = wait_mail(stack_maildir(), mid)
    assert envelope_to(m) == {a.lower() for a in managers(pipeline)}  # managers only
    assert str(m["Subject"]) == \
        "Synchronisatie met ParnasSys tegengehouden: niets aangepast in Ouderportaal"
    text = list(m.iter_parts())[0].get_content()
    assert "40 van de 120 actieve profielen" in text
    assert "Klopt het wel? Neem contact op met support" in text
    assert f"Kenmerk: {sync_id}" in text
    # Redelivered and replayed: still one e-mail.
    produce(pipeline, "sync-results", "delinde", held, tmp_path)
    produce(pipeline, "sync-results", "delinde", held, tmp_path)
    wait_until(lambda: metric(pipeline, "lasync_notifier_mails_total", kind="held",
                              outcome="duplicate") >= 2, 60, "both replays skipped")
    assert len(mails(stack_maildir(), mid)) == 1
    assert metric(pipeline, "lasync_notifier_mails_total", kind="held", outcome="sent") == 1
    held_rows = json.loads(pipeline.ctl("suggestions", "delinde", "--json", "--all").stdout)
    assert [(r["kind"], r["ref"], r["mail"]) for r in held_rows] == [("held", sync_id, "sent")]


def test_r17_deletion_guard_hold_mails_the_managers(pipeline):
    """The mapper's real deletion guard: staff vanish from the LAS, the sync
    is held, the managers get one e-mail naming the numbers."""
    h = int(pipeline.prefix[1:], 16) + 7
    brin = f"{h % 100:02d}N" + chr(65 + (h // 100) % 26)
    school = pipeline.las.add_school_from(EXAMPLE, "parnassys", brin, KEY, {"99ZZ": brin})
    pipeline.tenant("guard", brin=brin, key=KEY, manager_emails=managers(pipeline),
                    webhook_secret=SECRET, settings={"guard_min": 1, "guard_percent": 10})
    pipeline.daemon("notifier", "--smtp-from", FROM)
    pipeline.start("fetcher", "mapper", "applier", "notifier")
    assert ": ok (stage applier)" in pipeline.sync("guard").stdout
    staff = school / "getMedewerkers.xml"
    text = staff.read_text(encoding="utf-8")
    staff.write_text(text[:text.index("<medewerker>")] + text[text.rindex("</medewerker>") + 13:],
                     encoding="utf-8")
    out = pipeline.sync("guard", check=False).stdout
    assert ": held (stage mapper)" in out, out
    sync_id = re.search(r"sync ([0-9a-f]+): held", out).group(1)
    m = wait_mail(stack_maildir(), message_id("guard", "held", sync_id))
    assert envelope_to(m) == {a.lower() for a in managers(pipeline)}
    text = list(m.iter_parts())[0].get_content()
    assert "zou 3 van de " in text and "niets aangepast in Ouderportaal" in text
    time.sleep(2)
    assert len(mails(stack_maildir(), message_id("guard", "held", sync_id))) == 1


def test_r9_a_parent_edit_is_rewritten_by_the_next_sync(pipeline):
    """R9: the portal's copy of LAS data is the LAS's.  A parent changes
    their mobile number in the portal and the portal posts the suggestion:
    the school gets the e-mail, and the next ordinary sync - with the LAS
    unchanged - writes the LAS value back (the profile was marked dirty),
    without a full reconcile."""
    setup_notifier(pipeline, daemons=("fetcher", "mapper", "applier", "notifier"))
    portal_tenant = pipeline.portal_tenant("delinde")
    out = pipeline.sync("delinde")
    assert ": ok (stage applier)" in out.stdout, out.stdout

    def mobile() -> str | None:
        u = next(u for u in pipeline.portal.users(portal_tenant) if u.get("externalId") == PARENT)
        return next((p["value"] for p in u.get("phoneNumbers", []) if p.get("type") == "mobile"),
                    None)

    assert mobile() == "06-12345678"
    uid = next(u["id"] for u in pipeline.portal.users(portal_tenant)
               if u.get("externalId") == PARENT)
    pipeline.portal.patch(portal_tenant, "Users", uid, [
        {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value',
         "value": "06-87654321"}])
    assert mobile() == "06-87654321"
    sid = "s-" + uuid.uuid4().hex[:12]
    st, _ = post(pipeline, "delinde", suggestion(sid))
    assert st == 202
    wait_mail(stack_maildir(), message_id("delinde", "suggestion", sid))
    dirty = f"{pipeline.prefix}:{{delinde}}:dirty"
    assert PARENT in redis("SMEMBERS", dirty).split()

    out = pipeline.sync("delinde")
    assert ": ok (stage applier)" in out.stdout, out.stdout
    assert mobile() == "06-12345678", "the LAS value was not written back"
    assert PARENT not in redis("SMEMBERS", dirty).split()
    # and the one after writes nothing again
    before = pipeline.portal.stats(portal_tenant)["writes"]
    out = pipeline.sync("delinde")
    assert ": ok (stage mapper)" in out.stdout, out.stdout
    assert pipeline.portal.stats(portal_tenant)["writes"] == before
