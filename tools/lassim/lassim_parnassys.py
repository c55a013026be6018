"""lassim_parnassys - the ParnasSys interface of the LAS simulator.

POST /parnassys, SOAP 1.1, SOAPAction getLeerlingen | getMedewerkers |
getVerzorgers (quoted or not). The body holds <op xmlns="http://www.topicus.nl/
parnassys"> with unqualified children leveranciernaam, leveranciersleutel,
brinnummer and schooljaar ("2026 / 2027").

Answers: <fixtures>/parnassys/<BRIN>/<op>.xml (200); a malformed request is a
400 fault naming the element; an unknown BRIN a 500 fault naming it; a missing
or wrong leveranciersleutel (compared with the school's file of that name) a
401 fault. The schooljaar must be well-formed; it is not compared with the
fixture's schooljaar.
"""

import re

from lassim_soap import LasRequest, local_name, namespace, parse_envelope, read_fields, soap_action
from lassim_vendor import VendorAdapter, consecutive_years, read_secret, same_secret

PARNASSYS_NS = "http://www.topicus.nl/parnassys"
FIELDS = ("leveranciernaam", "leveranciersleutel", "brinnummer", "schooljaar")
_BRIN = re.compile(r"^[0-9A-Z]{4}$")


class ParnasSys(VendorAdapter):
    """ParnasSys generic interface (GKV v3 shape, see las-formats/README.md)."""

    name = "parnassys"
    path = "/parnassys"
    prefix = "soap"
    operations = ("getLeerlingen", "getMedewerkers", "getVerzorgers")

    def parse(self, headers, body):
        action = soap_action(headers)
        bad = self.bad_request_factory(operation=action if action in self.operations else "-")
        if action is None:
            raise bad("no-soapaction", "SOAPAction header missing")
        if action not in self.operations:
            raise bad("unknown-soapaction", f"unknown SOAPAction {action!r}; expected one of "
                      + ", ".join(self.operations))
        _, op = parse_envelope(body, bad)
        if namespace(op.tag) != PARNASSYS_NS or local_name(op.tag) != action:
            raise bad("operation-mismatch",
                      f"Body element {local_name(op.tag)} (namespace {namespace(op.tag) or 'none'}) "
                      f"does not match SOAPAction {action} in namespace {PARNASSYS_NS}")
        fields = read_fields(op, "", FIELDS, bad)
        for name in ("leveranciernaam", "brinnummer", "schooljaar"):
            if not fields.get(name):
                raise bad("missing-element", f"element {name} missing or empty")
        brin = fields["brinnummer"]
        bad = self.bad_request_factory(brin if _BRIN.match(brin) else "-", action)
        if not _BRIN.match(brin):
            raise bad("invalid-brin", "brinnummer must be 4 characters, digits and capitals")
        if not consecutive_years(fields["schooljaar"], " / "):
            raise bad("invalid-schooljaar", "schooljaar must read \"YYYY / YYYY+1\", e.g. \"2026 / 2027\"")
        return LasRequest(self.name, brin, action, fields)

    def authorize(self, fixtures, req):
        directory = self.school_dir(fixtures, req.school)
        if directory is None:
            raise self.fault(500, f"Onbekend brinnummer: {req.school}", "unknown-brin", req,
                             faultcode="Client")
        expected = read_secret(directory / "leveranciersleutel")
        if expected is None:
            raise self.fault(500, f"school {req.school} has no leveranciersleutel fixture",
                             "no-key-file", req)
        given = req.fields.get("leveranciersleutel")
        if not given:
            raise self.fault(401, "leveranciersleutel ontbreekt", "key-missing", req)
        if not same_secret(given, expected):
            raise self.fault(401, f"Ongeldige leveranciersleutel voor brinnummer {req.school}",
                             "key-wrong", req)
        path = self.document(fixtures, req)
        if path is None:
            raise self.missing_document(req)
        return path

    def injected_fault(self, status, req):
        """The fault document for a status asked by a fault rule."""
        if status in (401, 403):
            return self.fault(status, f"Ongeldige leveranciersleutel voor brinnummer {req.school}",
                              "injected", req)
        return self.fault(status, f"Injected fault: HTTP {status}", "injected", req)
