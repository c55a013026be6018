"""lassim_esis - the ESIS (UWLR 2.2) interface of the LAS simulator.

POST /esis, SOAP 1.1, SOAPAction HaalLeerlinggegevens | HaalVerzorgergegevens.
Header au:autorisatie{autorisatiesleutel, klantcode, klantnaam}; body
le:leerlinggegevens_verzoek (or vz:verzorgergegevens_verzoek) with schooljaar
"2026-2027", brincode, dependancecode, xsdversie 2.2.

Answers: <fixtures>/esis/<brincode><dependancecode>/<SOAPAction>.xml (200).
Every refusal is a SOAP fault (HTTP 500, as SOAP 1.1 services answer faults;
400 for a malformed request) whose detail is au:autorisatiefout{code[,
koppeling]}:

  ONBEKENDE_SCHOOL   no fixture directory for brincode+dependancecode
  SLEUTEL_ONGELDIG   autorisatiesleutel missing or not the school's file
  KOPPELING_LABEL    key right, but klantnaam is not the label in the school's
                     `koppeling` file; au:koppeling names that label (R18)

Only KOPPELING_LABEL is documented (las-formats); the other codes are this
simulator's model. The TLS and client-certificate part of ESIS is the
listener's business (lassim.py --https-port), not this adapter's.
"""

import re
from xml.sax.saxutils import escape

from lassim_soap import LasRequest, local_name, namespace, parse_envelope, read_fields, soap_action
from lassim_vendor import VendorAdapter, consecutive_years, read_secret, same_secret

AU_NS = "http://www.edustandaard.nl/leerresultaten/2/autorisatie"
LE_NS = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
VZ_NS = "urn:esis:verzorgers:model:1"

# SOAPAction -> (namespace, local name) of the request body element
REQUESTS = {
    "HaalLeerlinggegevens": (LE_NS, "leerlinggegevens_verzoek"),
    "HaalVerzorgergegevens": (VZ_NS, "verzorgergegevens_verzoek"),
}
BODY_FIELDS = ("schooljaar", "brincode", "dependancecode", "xsdversie")
AUTH_FIELDS = ("autorisatiesleutel", "klantcode", "klantnaam")
_BRIN = re.compile(r"^[0-9A-Z]{4}$")
_DEPENDANCE = re.compile(r"^[0-9]{2}$")


class Esis(VendorAdapter):
    """ESIS UWLR 2.2 leerlinggegevens plus the modelled verzorgers call."""

    name = "esis"
    path = "/esis"
    prefix = "SOAP-ENV"
    operations = tuple(REQUESTS)

    def parse(self, headers, body):
        action = soap_action(headers)
        bad = self.bad_request_factory(operation=action if action in self.operations else "-")
        if action is None:
            raise bad("no-soapaction", "SOAPAction header missing")
        if action not in REQUESTS:
            raise bad("unknown-soapaction", f"unknown SOAPAction {action!r}; expected one of "
                      + ", ".join(self.operations))
        header, op = parse_envelope(body, bad)
        ns, element = REQUESTS[action]
        if namespace(op.tag) != ns or local_name(op.tag) != element:
            raise bad("operation-mismatch",
                      f"Body element {local_name(op.tag)} (namespace {namespace(op.tag) or 'none'}) "
                      f"does not match SOAPAction {action}: expected {element} in namespace {ns}")
        fields = read_fields(op, ns, BODY_FIELDS, bad)
        for name in BODY_FIELDS:
            if not fields.get(name):
                raise bad("missing-element", f"element {name} missing or empty")
        if not _BRIN.match(fields["brincode"]):
            raise bad("invalid-brin", "brincode must be 4 characters, digits and capitals")
        if not _DEPENDANCE.match(fields["dependancecode"]):
            raise bad("invalid-dependance", "dependancecode must be 2 digits")
        school = fields["brincode"] + fields["dependancecode"]
        bad = self.bad_request_factory(school, action)
        if not consecutive_years(fields["schooljaar"], "-"):
            raise bad("invalid-schooljaar", "schooljaar must read \"YYYY-YYYY+1\", e.g. \"2026-2027\"")
        if fields["xsdversie"] != "2.2":
            raise bad("invalid-xsdversie", "xsdversie must be 2.2")
        auth = self._autorisatie(header, bad)
        return LasRequest(self.name, school, action, {**fields, **auth})

    @staticmethod
    def _autorisatie(header, bad):
        """Read au:autorisatie from the SOAP header ({} when absent)."""
        if header is None:
            return {}
        blocks = [h for h in header if h.tag == f"{{{AU_NS}}}autorisatie"]
        if len(blocks) > 1:
            raise bad("duplicate-element", "au:autorisatie occurs more than once")
        return read_fields(blocks[0], AU_NS, AUTH_FIELDS, bad) if blocks else {}

    def autorisatiefout(self, status, message, code, reason, req, koppeling=None):
        """A fault whose detail is au:autorisatiefout (the shape of the example)."""
        lines = [f'        <au:autorisatiefout xmlns:au="{AU_NS}">',
                 f"          <au:code>{code}</au:code>"]
        if koppeling is not None:
            lines.append(f"          <au:koppeling>{escape(koppeling)}</au:koppeling>")
        lines.append("        </au:autorisatiefout>")
        return self.fault(status, message, reason, req, "\n".join(lines), faultcode="Client")

    def authorize(self, fixtures, req):
        directory = self.school_dir(fixtures, req.school)
        if directory is None:
            raise self.autorisatiefout(500, f"Onbekende school {req.school}", "ONBEKENDE_SCHOOL",
                                       "unknown-school", req)
        expected = read_secret(directory / "autorisatiesleutel")
        if expected is None:
            raise self.fault(500, f"school {req.school} has no autorisatiesleutel fixture",
                             "no-key-file", req)
        if not same_secret(req.fields.get("autorisatiesleutel"), expected):
            raise self.autorisatiefout(500, "Autorisatie mislukt", "SLEUTEL_ONGELDIG",
                                       "key-wrong", req)
        label = read_secret(directory / "koppeling")
        if label is not None and req.fields.get("klantnaam", "") != label:
            raise self.autorisatiefout(500, "Autorisatie mislukt", "KOPPELING_LABEL",
                                       "wrong-label", req, koppeling=label)
        path = self.document(fixtures, req)
        if path is None:
            raise self.missing_document(req)
        return path

    def injected_fault(self, status, req):
        if status in (401, 403):
            return self.autorisatiefout(status, "Autorisatie mislukt", "SLEUTEL_ONGELDIG",
                                        "injected", req)
        return super().injected_fault(status, req)

