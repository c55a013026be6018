"""lassim_vendor - the contract of one LAS vendor in the simulator.

A vendor adapter turns a POST on its path into either the path of a fixture
document to stream back, or a SoapError. Adding a vendor (or the real partner
API of one) means one new lassim_<vendor>.py with a VendorAdapter subclass,
registered in lassim.py's VENDORS table.

  parse(headers, body)      -> LasRequest      (validation of the request)
  document(fixtures, req)   -> Path or None    (the fixture, no key check)
  authorize(fixtures, req)  -> Path            (key checks, then the fixture)
  fault(status, message)    -> SoapError       (a vendor-shaped fault)

Fixtures are re-read on every request: nothing is cached, so a test may
rewrite a school's files between two syncs.
"""

import hmac
import re

from lassim_soap import SoapError, soap_fault

_SCHOOL_DIR = re.compile(r"^[0-9A-Z]{4}([0-9]{2})?$")


def read_secret(path):
    """Return the stripped text of a small key file, or None if absent."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(4096).strip()
    except FileNotFoundError:
        return None


def same_secret(given, expected):
    """Compare two secrets in constant time; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def consecutive_years(text, separator):
    """True when text is "YYYY<separator>YYYY+1"."""
    m = re.fullmatch(r"(\d{4})" + re.escape(separator) + r"(\d{4})", text)
    return bool(m) and int(m.group(2)) == int(m.group(1)) + 1


class VendorAdapter:
    """Base class: the parts every SOAP vendor shares."""

    name = ""            # vendor name used in stats and fault rules
    path = ""            # URL path the vendor answers on
    prefix = "soap"      # envelope prefix of the vendor's fault documents
    operations = ()      # accepted SOAPAction values

    def parse(self, headers, body):
        """Validate a request; return a LasRequest or raise SoapError."""
        raise NotImplementedError

    def school_dir(self, fixtures, school):
        """Return the fixture directory of a school, or None when unknown."""
        if not _SCHOOL_DIR.match(school):
            return None
        directory = fixtures / self.name / school
        return directory if directory.is_dir() else None

    def document(self, fixtures, req):
        """Return the fixture document for req without any key check."""
        directory = self.school_dir(fixtures, req.school)
        if directory is None:
            return None
        path = directory / f"{req.operation}.xml"
        return path if path.is_file() else None

    def authorize(self, fixtures, req):
        """Check the credentials of req; return its document or raise."""
        raise NotImplementedError

    def fault(self, status, message, reason="fault", req=None, detail=None, faultcode=None):
        """Build a SoapError with a fault document in this vendor's style.

        faultcode defaults to Client for 4xx and Server for 5xx; a refusal
        caused by the request's content (unknown school, wrong label) passes
        "Client" with HTTP 500, as SOAP 1.1 services answer faults.
        """
        code = faultcode or ("Client" if 400 <= status < 500 else "Server")
        return SoapError(status, soap_fault(self.prefix, code, message, detail),
                         reason,
                         req.school if req else "-",
                         req.operation if req else "-")

    def bad_request_factory(self, school="-", operation="-"):
        """Return a bad_request(reason, message) callable for the parsers."""
        def bad_request(reason, message):
            return SoapError(400, soap_fault(self.prefix, "Client", message),
                             reason, school, operation)
        return bad_request

    def injected_fault(self, status, req):
        """The fault document for a status asked by a fault rule."""
        return self.fault(status, f"Injected fault: HTTP {status}", "injected", req)

    def missing_document(self, req):
        """The fault for a known school without this operation's fixture."""
        return self.fault(500, f"no {req.operation} document for school {req.school}",
                          "no-document", req)
