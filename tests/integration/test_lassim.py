"""The LAS simulator's own test: tools/lassim run as a process against a
temporary copy of the repo's fixtures (fixtures/las), talked to over HTTP
(and HTTPS with client certificates for ESIS).

Each test gets its own simulator on a free port, so tests may rewrite
fixtures and set faults freely. Needs only Python and the openssl command
(for the HTTPS test); fails, never skips, when something is missing.
"""

import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LASSIM = REPO / "tools" / "lassim" / "lassim.py"
LASGEN = REPO / "tools" / "lasgen" / "lasgen.py"
FIXTURES = REPO / "fixtures" / "las"
REQUESTS = FIXTURES / "requests"
PARNASSYS_OPS = ("getLeerlingen", "getMedewerkers", "getVerzorgers")
ESIS_OPS = ("HaalLeerlinggegevens", "HaalVerzorgergegevens")
PARNASSYS_KEY = "dev-key-99ZZ"
ESIS_KEY = "dev-esis-key-88YY01"
SECRET_PLACEHOLDER = "(secret reference resolved at fetch time)"


class Simulator:
    """A running lassim process and small clients for it."""

    def __init__(self, fixtures, workdir, extra_args=()):
        self.fixtures = fixtures
        self.log = workdir / "lassim.log"
        port_file = workdir / "ports.json"
        self.proc = subprocess.Popen(
            [sys.executable, str(LASSIM), "--port", "0", "--fixtures", str(fixtures),
             "--log", str(self.log), "--port-file", str(port_file), *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"lassim did not start: {self.proc.stderr.read().decode()}")
            time.sleep(0.02)
        self.ports = json.loads(port_file.read_text())
        self.port = self.ports["http"]

    def stop(self):
        """Stop with SIGTERM; return (exit status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err

    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post(self, path, body, soapaction, conn=None, content_type="text/xml; charset=utf-8"):
        """POST a SOAP body; return (status, headers, body bytes)."""
        own = conn is None
        conn = conn or self.connect()
        headers = {"Content-Type": content_type}
        if soapaction is not None:
            headers["SOAPAction"] = soapaction
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if own:
            conn.close()
        return resp.status, dict(resp.getheaders()), data

    def parnassys(self, op, key=PARNASSYS_KEY, brin="99ZZ", conn=None, quoted=True):
        action = f'"{op}"' if quoted else op
        return self.post("/parnassys", parnassys_request(op, key, brin), action, conn)

    def esis(self, op, key=ESIS_KEY, klantnaam="BasisOnline Ouderportaal", school=("88YY", "01")):
        return self.post("/esis", esis_request(op, key, klantnaam, school), op)

    def control(self, method, what, payload=None):
        conn = self.connect()
        body = json.dumps(payload).encode() if payload is not None else None
        conn.request(method, f"/_control/{what}", body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        data = json.loads(resp.read() or b"null")
        conn.close()
        return resp.status, data

    def stats(self):
        return self.control("GET", "stats")[1]

    def count(self, vendor, school, op, status):
        return self.stats()["requests"].get(vendor, {}).get(school, {}).get(op, {}).get(str(status), 0)


def parnassys_request(op, key, brin, schooljaar="2026 / 2027"):
    """The example getLeerlingen request, for op, key and BRIN."""
    text = (REQUESTS / "parnassys-getLeerlingen.request.xml").read_text(encoding="utf-8")
    text = text.replace("getLeerlingen", op).replace(SECRET_PLACEHOLDER, key)
    text = text.replace("<brinnummer xmlns=\"\">99ZZ<", f"<brinnummer xmlns=\"\">{brin}<")
    return text.replace("2026 / 2027", schooljaar).encode("utf-8")


def esis_request(op, key, klantnaam, school):
    """The example ESIS request of op, with key, klantnaam and school."""
    text = (REQUESTS / f"esis-{op}.request.xml").read_text(encoding="utf-8")
    text = text.replace(SECRET_PLACEHOLDER, key).replace("BasisOnline Ouderportaal", klantnaam)
    text = text.replace("brincode>88YY<", f"brincode>{school[0]}<")
    return text.replace("dependancecode>01<", f"dependancecode>{school[1]}<").encode("utf-8")


@pytest.fixture
def sim(tmp_path):
    """A simulator on a fresh copy of fixtures/las; checks it stayed quiet."""
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    simulator = Simulator(fixtures, tmp_path)
    yield simulator
    status, out, err = simulator.stop()
    assert status == 0
    assert out == b"", "lassim must not write to stdout"
    assert err == b"", err.decode()


def example(op):
    return (FIXTURES / "parnassys/99ZZ" / f"{op}.xml").read_bytes()


# -- ParnasSys ----------------------------------------------------------------------

def test_serves_the_three_examples_byte_for_byte_on_one_connection(sim):
    conn = sim.connect()
    for op in PARNASSYS_OPS:
        status, headers, body = sim.parnassys(op, conn=conn)
        assert status == 200
        assert body == example(op)
        assert headers["Content-Type"] == "text/xml; charset=utf-8"
        assert headers["Content-Length"] == str(len(body))
    conn.close()
    stats = sim.stats()
    assert stats["connections"] == 2          # the keep-alive one plus the stats call
    assert all(sim.count("parnassys", "99ZZ", op, 200) == 1 for op in PARNASSYS_OPS)


def test_soapaction_with_or_without_quotes(sim):
    assert sim.parnassys("getMedewerkers", quoted=False)[0] == 200
    assert sim.parnassys("getMedewerkers", quoted=True)[0] == 200


def test_wrong_or_missing_key_is_401_fault(sim):
    status, headers, body = sim.parnassys("getLeerlingen", key="not-the-key")
    assert status == 401
    assert b"<faultstring>" in body and b"leveranciersleutel" in body
    assert b"not-the-key" not in body
    status, _, body = sim.parnassys("getLeerlingen", key="")
    assert status == 401 and b"Fault" in body
    assert sim.count("parnassys", "99ZZ", "getLeerlingen", 401) == 2
    assert "not-the-key" not in sim.log.read_text()


def test_unknown_brin_is_a_fault_naming_it(sim):
    status, _, body = sim.parnassys("getLeerlingen", brin="12AB")
    assert status == 500
    assert b"<faultstring>Onbekend brinnummer: 12AB</faultstring>" in body


@pytest.mark.parametrize("body,action,fragment", [
    (b"this is not xml", '"getLeerlingen"', b"not well-formed"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', '"getLeerlingen"', b"DOCTYPE"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ"), '"getVerzorgers"', b"does not match"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ"), None, b"SOAPAction header missing"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ", "2026-2027"), '"getLeerlingen"', b"schooljaar"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ", "2026 / 2028"), '"getLeerlingen"', b"schooljaar"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ").replace(b'<brinnummer xmlns="">',
     b'<brinnummer xmlns="http://www.topicus.nl/parnassys">'), '"getLeerlingen"', b"brinnummer is in namespace"),
    (parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ").replace(
        b'<brinnummer xmlns="">99ZZ</brinnummer>', b""), '"getLeerlingen"', b"brinnummer missing"),
])
def test_malformed_request_is_400_fault(sim, body, action, fragment):
    status, _, answer = sim.post("/parnassys", body, action)
    assert status == 400
    assert b"<soap:Fault>" in answer and fragment in answer


def test_wrong_content_type_and_path(sim):
    status, _, body = sim.post("/parnassys", parnassys_request("getLeerlingen", PARNASSYS_KEY, "99ZZ"),
                               '"getLeerlingen"', content_type="application/soap+xml")
    assert status == 415 and b"text/xml" in body
    assert sim.post("/nothing", b"x", "x")[0] == 404


def test_fixtures_are_reread_on_every_request(sim):
    assert sim.parnassys("getVerzorgers")[2] == example("getVerzorgers")
    changed = example("getVerzorgers").replace(b"06-22223333", b"06-99998888")
    (sim.fixtures / "parnassys/99ZZ/getVerzorgers.xml").write_bytes(changed)
    assert sim.parnassys("getVerzorgers")[2] == changed
    (sim.fixtures / "parnassys/99ZZ/leveranciersleutel").write_text("rotated-key\n")
    assert sim.parnassys("getVerzorgers")[0] == 401
    assert sim.parnassys("getVerzorgers", key="rotated-key")[0] == 200


# -- faults and stats ---------------------------------------------------------------

def test_fault_500_twice_then_success(sim):
    status, rule = sim.control("POST", "faults", {"vendor": "parnassys", "school": "99ZZ",
                                                  "operation": "getVerzorgers", "status": 500, "count": 2})
    assert status == 201 and rule["faults"][0]["count"] == 2
    assert sim.parnassys("getLeerlingen")[0] == 200           # another operation: untouched
    assert sim.parnassys("getVerzorgers")[0] == 500
    status, _, body = sim.parnassys("getVerzorgers")
    assert status == 500 and b"Injected fault" in body
    assert sim.parnassys("getVerzorgers")[2] == example("getVerzorgers")
    assert sim.control("GET", "faults")[1] == {"faults": []}
    stats = sim.stats()
    assert stats["injected"] == 2
    assert stats["requests"]["parnassys"]["99ZZ"]["getVerzorgers"] == {"500": 2, "200": 1}


def test_fault_malformed_and_truncated_bodies(sim):
    sim.control("POST", "faults", [{"body": "malformed"}, {"body": "truncated"}, {"body": "empty"}])
    status, _, body = sim.parnassys("getLeerlingen")
    assert status == 200 and len(body) > len(example("getLeerlingen")) // 2
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    status, headers, body = sim.parnassys("getLeerlingen")
    assert status == 200 and body == example("getLeerlingen")[: len(body)] and len(body) < len(example("getLeerlingen"))
    assert headers["Content-Length"] == str(len(body))
    status, _, body = sim.parnassys("getLeerlingen")
    assert status == 200 and body == b""
    assert sim.parnassys("getLeerlingen")[2] == example("getLeerlingen")


def test_fault_disconnect_cuts_the_transfer(sim):
    sim.control("POST", "faults", {"school": "99ZZ", "body": "disconnect"})
    with pytest.raises(http.client.IncompleteRead):
        sim.parnassys("getLeerlingen")
    assert sim.parnassys("getLeerlingen")[0] == 200


def test_fault_delay_makes_a_client_time_out(sim):
    sim.control("POST", "faults", {"operation": "getMedewerkers", "delay_ms": 1500})
    conn = sim.connect(timeout=0.3)
    with pytest.raises((socket.timeout, TimeoutError)):
        sim.parnassys("getMedewerkers", conn=conn)
    conn.close()
    started = time.monotonic()
    assert sim.parnassys("getMedewerkers")[0] == 200       # the rule was used up
    assert time.monotonic() - started < 1.0


def test_fault_503_with_retry_after_and_401(sim):
    sim.control("POST", "faults", [{"status": 503, "retry_after": 7}, {"status": 401}])
    status, headers, _ = sim.parnassys("getLeerlingen")
    assert status == 503 and headers["Retry-After"] == "7"
    status, _, body = sim.parnassys("getLeerlingen")
    assert status == 401 and b"leveranciersleutel" in body


@pytest.mark.parametrize("rule", [{"status": 302}, {"body": "weird"}, {"count": 0}, {"colour": "red"},
                                  {"status": 200}, "not an object"])
def test_control_refuses_bad_fault_rules(sim, rule):
    status, answer = sim.control("POST", "faults", rule)
    assert status == 400 and answer["error"]


def test_stats_count_and_reset(sim):
    sim.parnassys("getLeerlingen")
    sim.parnassys("getLeerlingen", key="wrong")
    sim.parnassys("getLeerlingen", brin="11AA")
    sim.control("POST", "faults", {"status": 500, "count": 5})
    stats = sim.stats()
    assert stats["total"] == 3
    assert stats["requests"]["parnassys"]["99ZZ"]["getLeerlingen"] == {"200": 1, "401": 1}
    assert stats["requests"]["parnassys"]["11AA"]["getLeerlingen"] == {"500": 1}
    assert sim.control("POST", "reset")[0] == 200
    assert sim.stats()["total"] == 0
    assert sim.control("GET", "faults")[1]["faults"] == []
    sim.control("POST", "faults", {"status": 500, "count": 5})
    assert sim.control("DELETE", "faults")[1]["cleared"] == 1
    assert sim.parnassys("getLeerlingen")[0] == 200


def test_request_log_has_no_secrets_or_names(sim):
    sim.parnassys("getVerzorgers")
    sim.parnassys("getVerzorgers", key="some-wrong-key")
    log = sim.log.read_text()
    assert "vendor=parnassys school=99ZZ op=getVerzorgers status=200" in log
    for secret in (PARNASSYS_KEY, "some-wrong-key", "Fatima", "Jansen"):
        assert secret not in log


def test_large_generated_school_is_streamed(sim):
    subprocess.run([sys.executable, str(LASGEN), "parnassys", "--brin", "12AB", "--students", "2000",
                    "--seed", "7", "--out", str(sim.fixtures)], check=True, capture_output=True)
    want = (sim.fixtures / "parnassys/12AB/getLeerlingen.xml").read_bytes()
    assert len(want) > 1_000_000
    started = time.monotonic()
    status, headers, body = sim.parnassys("getLeerlingen", key="dev-key-12AB", brin="12AB")
    assert status == 200 and body == want and headers["Content-Length"] == str(len(want))
    assert time.monotonic() - started < 5


# -- ESIS ---------------------------------------------------------------------------

def test_esis_serves_the_examples(sim):
    for op in ESIS_OPS:
        status, headers, body = sim.esis(op)
        assert status == 200
        assert body == (FIXTURES / "esis/88YY01" / f"{op}.xml").read_bytes()


def test_esis_wrong_label_is_the_example_fault(sim):
    (sim.fixtures / "esis/88YY01/koppeling").write_text("BasisschoolApps\n")
    status, _, body = sim.esis("HaalLeerlinggegevens", klantnaam="BasisOnline Ouderportaal")
    assert status == 500
    assert body == (FIXTURES / "esis/fault-wrong-label.xml").read_bytes()


def test_esis_label_names_the_koppeling_of_the_key(sim):
    status, _, body = sim.esis("HaalVerzorgergegevens", klantnaam="BasisschoolApps")
    assert status == 500
    assert b"<au:code>KOPPELING_LABEL</au:code>" in body
    assert b"<au:koppeling>BasisOnline Ouderportaal</au:koppeling>" in body


def test_esis_wrong_key_unknown_school_and_bad_request(sim):
    status, _, body = sim.esis("HaalLeerlinggegevens", key="wrong")
    assert status == 500 and b"<au:code>SLEUTEL_ONGELDIG</au:code>" in body
    status, _, body = sim.esis("HaalLeerlinggegevens", school=("88YY", "02"))
    assert status == 500 and b"<au:code>ONBEKENDE_SCHOOL</au:code>" in body
    body = esis_request("HaalLeerlinggegevens", ESIS_KEY, "BasisOnline Ouderportaal", ("88YY", "01"))
    status, _, answer = sim.post("/esis", body.replace(b"2026-2027", b"2026 / 2027"), "HaalLeerlinggegevens")
    assert status == 400 and b"schooljaar" in answer
    assert sim.count("esis", "88YY01", "HaalLeerlinggegevens", 500) == 1


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=lassim test CA")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.pem",
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=basisonline-88YY01")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.pem", "-days", "2")


def test_esis_over_https_requires_a_client_certificate(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificates(certs)
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    sim = Simulator(fixtures, tmp_path, ["--https-port", "0", "--cert", str(certs / "server.pem"),
                                         "--key", str(certs / "server.key"),
                                         "--client-ca", str(certs / "ca.pem")])
    try:
        body = esis_request("HaalLeerlinggegevens", ESIS_KEY, "BasisOnline Ouderportaal", ("88YY", "01"))
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "HaalLeerlinggegevens"}
        context = ssl.create_default_context(cafile=str(certs / "server.pem"))
        context.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
        conn = http.client.HTTPSConnection("127.0.0.1", sim.ports["https"], context=context, timeout=10)
        conn.request("POST", "/esis", body=body, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == (FIXTURES / "esis/88YY01/HaalLeerlinggegevens.xml").read_bytes()
        conn.close()
        anonymous = ssl.create_default_context(cafile=str(certs / "server.pem"))
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            conn = http.client.HTTPSConnection("127.0.0.1", sim.ports["https"], context=anonymous, timeout=10)
            conn.request("POST", "/esis", body=body, headers=headers)
            conn.getresponse().read()
        assert "client_cn=basisonline-88YY01" in sim.log.read_text()
    finally:
        status, out, _ = sim.stop()
    assert status == 0 and out == b""


def test_bad_arguments_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, str(LASSIM), "--port", "0", "--fixtures", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2 and "not a directory" in proc.stderr
    assert proc.stdout == ""
