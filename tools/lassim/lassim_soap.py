"""lassim_soap - SOAP 1.1 plumbing shared by the LAS simulator's vendors.

  parse_envelope(body)     safe parse of a request; returns (header, operation)
  soap_fault(...)          a SOAP 1.1 Fault document as bytes
  SoapError                raised by vendor adapters: HTTP status + fault body
  LasRequest               what a vendor adapter extracted from a request

Requests are parsed with xml.etree (expat) after refusing any DOCTYPE, so no
entity can be declared, expanded or fetched. Every failure becomes a
SoapError naming the element at fault; callers never see a parser exception.
"""

import dataclasses
import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclasses.dataclass
class LasRequest:
    """One parsed LAS request: who asks what, and the fields as sent."""
    vendor: str
    school: str        # BRIN (ParnasSys) or BRIN+dependance (ESIS)
    operation: str
    fields: dict


class SoapError(Exception):
    """A request the simulator answers with an error document.

    status is the HTTP status, body the bytes to send, reason a short token
    for the request log (never key values or personal data). school and
    operation are what was understood before the error, for the stats.
    """

    def __init__(self, status, body, reason, school="-", operation="-"):
        super().__init__(reason)
        self.status = status
        self.body = body
        self.reason = reason
        self.school = school
        self.operation = operation


def soap_fault(prefix, faultcode, faultstring, detail=None):
    """Return a SOAP 1.1 Fault envelope as UTF-8 bytes.

    prefix is the envelope prefix the vendor uses ("soap", "SOAP-ENV");
    faultcode is local ("Client", "Server"); detail, when given, is an
    already-serialised XML fragment of whole lines indented for the <detail>.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<{prefix}:Envelope xmlns:{prefix}="{SOAP11_NS}">',
        f"  <{prefix}:Body>",
        f"    <{prefix}:Fault>",
        f"      <faultcode>{prefix}:{faultcode}</faultcode>",
        f"      <faultstring>{escape(faultstring)}</faultstring>",
    ]
    if detail is not None:
        lines += ["      <detail>", detail.rstrip("\n"), "      </detail>"]
    lines += [f"    </{prefix}:Fault>", f"  </{prefix}:Body>",
              f"</{prefix}:Envelope>", ""]
    return "\n".join(lines).encode("utf-8")


def soap_action(headers):
    """Return the SOAPAction header without surrounding quotes, or None."""
    value = headers.get("SOAPAction")
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.strip()


def parse_envelope(body, bad_request):
    """Parse a SOAP 1.1 request envelope.

    Returns (header element or None, the single element in Body).
    bad_request(reason, message) must build the SoapError to raise.
    """
    if _DOCTYPE.search(body):
        raise bad_request("doctype", "DOCTYPE and ENTITY declarations are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise bad_request("malformed-xml", f"request is not well-formed XML: {exc}") from None
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        raise bad_request("soap12", "SOAP 1.2 envelope; this interface speaks SOAP 1.1")
    if root.tag != f"{{{SOAP11_NS}}}Envelope":
        raise bad_request("no-envelope", f"root element {local_name(root.tag)} is not a SOAP 1.1 Envelope")
    header = root.find(f"{{{SOAP11_NS}}}Header")
    bodies = root.findall(f"{{{SOAP11_NS}}}Body")
    if len(bodies) != 1:
        raise bad_request("no-body", "Envelope must hold exactly one Body")
    operations = list(bodies[0])
    if len(operations) != 1:
        raise bad_request("body-children", "Body must hold exactly one operation element")
    return header, operations[0]


def local_name(tag):
    """Return the local part of an ElementTree tag ("{ns}x" -> "x")."""
    return tag.rsplit("}", 1)[-1]


def namespace(tag):
    """Return the namespace of an ElementTree tag, "" when unqualified."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def read_fields(element, ns, allowed, bad_request):
    """Read the simple child elements of element, all in namespace ns.

    Returns {local name: stripped text}. An unknown, duplicated, wrongly
    qualified or non-simple child is a bad request naming that child.
    """
    fields = {}
    for child in element:
        name = local_name(child.tag)
        if namespace(child.tag) != ns:
            where = f"namespace {namespace(child.tag)}" if namespace(child.tag) else "no namespace"
            want = f"namespace {ns}" if ns else "no namespace"
            raise bad_request("child-namespace", f"element {name} is in {where}; expected {want}")
        if name not in allowed:
            raise bad_request("unknown-element", f"unknown element {name} in {local_name(element.tag)}")
        if name in fields:
            raise bad_request("duplicate-element", f"element {name} occurs more than once")
        if len(child):
            raise bad_request("complex-element", f"element {name} must hold text only")
        fields[name] = (child.text or "").strip()
    return fields
