#!/usr/bin/env python3
"""lassim - LAS simulator: serves ParnasSys and ESIS SOAP from fixture files.

Usage:
  lassim.py --port P --fixtures DIR [--bind ADDR] [--log FILE] [--port-file F]
            [--https-port P2 --cert F --key F [--client-ca F]]

  POST /parnassys        ParnasSys getLeerlingen | getMedewerkers | getVerzorgers
  POST /esis             ESIS HaalLeerlinggegevens | HaalVerzorgergegevens
  /_control/...          test control API: stats, reset, fault injection

Fixture layout, control API and fault rules: docs/las-simulator.md. Every
listener serves every path; the HTTPS listener (--https-port) asks for a
client certificate signed by --client-ca when that is given (ESIS), and
refuses the connection without one.

The simulator is quiet: nothing on stdout, a request log only with --log (one
key=value line per request: vendor, school, operation, status, bytes, time;
never a key or personal data). Fixtures are re-read on every request and
streamed in chunks with a Content-Length. Python 3.11 standard library only.
Exit status 0 after SIGTERM/SIGINT, 2 on bad arguments.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lassim_esis import Esis  # noqa: E402
from lassim_parnassys import ParnasSys  # noqa: E402
from lassim_soap import SoapError  # noqa: E402
from lassim_state import FaultRuleError, SimState, parse_fault_rule  # noqa: E402

VENDORS = (ParnasSys, Esis)         # one adapter per vendor
MAX_REQUEST_BYTES = 1 << 20         # a LAS request is a few hundred bytes
MAX_CONTROL_BYTES = 64 << 10
CHUNK = 256 << 10                   # streaming chunk for injected bodies
IDLE_TIMEOUT = 120                  # seconds a kept-alive connection may idle
HANDSHAKE_TIMEOUT = 10


class RequestTooLarge(Exception):
    """The request body exceeds the limit; the connection is closed."""


class LasHandler(BaseHTTPRequestHandler):
    """One connection: LAS SOAP requests and control API calls."""

    protocol_version = "HTTP/1.1"
    server_version = "lassim/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT

    # -- plumbing -----------------------------------------------------------

    def setup(self):
        super().setup()
        self.state = self.server.state
        self.state.stats.count_connection()

    def version_string(self):
        return self.server_version

    def log_request(self, code="-", size="-"):
        """Requests are logged by _log() with vendor fields instead."""

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        """Route the stdlib's own messages (errors) to the request log."""
        self.state.log.write(event="http-error", client=self.client_address[0],
                             message=(format % args).replace(" ", "_"))

    def _send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self._send(status, body, "application/json")

    def _read_body(self, limit):
        """Return the request body (Content-Length or chunked), at most limit bytes."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, size = [], 0
            while True:
                line = self.rfile.readline(1024)
                chunk_len = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if chunk_len == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                size += chunk_len
                if size > limit:
                    raise RequestTooLarge()
                parts.append(self.rfile.read(chunk_len))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > limit:
            raise RequestTooLarge()
        return self.rfile.read(length)

    def _bad_body(self, exc):
        """Refuse an oversized or undecodable body and close the connection,
        since the rest of it may still be on the wire."""
        self.close_connection = True
        if isinstance(exc, RequestTooLarge):
            status, text = 413, b"request too large\n"
        else:
            status, text = 400, b"bad request body framing\n"
        self._send(status, text, "text/plain; charset=utf-8", [("Connection", "close")])

    # -- dispatch -----------------------------------------------------------

    def do_GET(self):  # noqa: N802 - stdlib naming
        self._dispatch()

    def do_POST(self):  # noqa: N802
        self._dispatch()

    def do_DELETE(self):  # noqa: N802
        self._dispatch()

    def _dispatch(self):
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            self._control(path[len("/_control/"):])
            return
        vendor = self.state.vendors.get(path)
        if vendor is None:
            self._finish_las("-", "-", "-", 404, b"not found\n", "text/plain; charset=utf-8",
                             reason="unknown-path")
            return
        if self.command != "POST":
            self._finish_las(vendor.name, "-", "-", 405, b"use POST\n",
                             "text/plain; charset=utf-8", headers=[("Allow", "POST")],
                             reason="method")
            return
        self._las(vendor)

    # -- LAS requests -------------------------------------------------------

    def _las(self, vendor):
        started = time.monotonic()
        try:
            body = self._read_body(MAX_REQUEST_BYTES)
        except (RequestTooLarge, ValueError) as exc:
            self._bad_body(exc)
            self._count_and_log(vendor.name, "-", "-",
                                413 if isinstance(exc, RequestTooLarge) else 400, 0, started,
                                "bad-body", False)
            return
        ctype = self.headers.get("Content-Type", "")
        fault = None
        try:
            if not ctype.lower().startswith("text/xml"):
                raise vendor.fault(415, f"Content-Type must be text/xml for SOAP 1.1, not {ctype!r}",
                                   "content-type")
            req = vendor.parse(self.headers, body)
            fault = self.state.faults.take(vendor.name, req.school, req.operation)
            if fault is not None and self._inject(vendor, req, fault, started):
                return
            document = vendor.authorize(self.state.fixtures, req)
        except SoapError as err:
            self._finish_las(vendor.name, err.school, err.operation, err.status, err.body,
                             "text/xml; charset=utf-8", reason=err.reason,
                             injected=fault is not None, started=started)
            return
        self._stream(vendor, req, document, started, injected=fault is not None)

    def _stream(self, vendor, req, document, started, injected):
        """Send a fixture document in chunks with its Content-Length."""
        try:
            f = open(document, "rb")
        except OSError:
            err = vendor.missing_document(req)
            self._finish_las(vendor.name, req.school, req.operation, err.status, err.body,
                             "text/xml; charset=utf-8", reason=err.reason, started=started)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                sent = self.connection.sendfile(f, 0, size)
            except OSError:
                sent = -1
            if sent != size:            # file shrank underneath us, or peer left
                self.close_connection = True
        self._count_and_log(vendor.name, req.school, req.operation, 200, size, started,
                            "injected-delay" if injected else "ok", injected)

    def _inject(self, vendor, req, fault, started):
        """Apply a fault rule; return False when the normal answer should follow."""
        if fault["delay_ms"]:
            time.sleep(fault["delay_ms"] / 1000.0)
        status, kind = fault["status"], fault["body"]
        if kind is None and status == 200:
            return False                  # delay only
        headers = []
        if fault["retry_after"] is not None:
            headers.append(("Retry-After", str(fault["retry_after"])))
        if kind is None:
            err = vendor.injected_fault(status, req)
            self._finish_las(vendor.name, req.school, req.operation, status, err.body,
                             "text/xml; charset=utf-8", headers=headers, reason="injected",
                             injected=True, started=started)
            return True
        if kind == "html":
            page = (f"<html><head><title>{status} Error</title></head><body>"
                    f"<h1>{status} Error</h1><p>lassim injected fault</p></body></html>\n")
            self._finish_las(vendor.name, req.school, req.operation, status,
                             page.encode("ascii"), "text/html; charset=utf-8", headers=headers,
                             reason="injected-html", injected=True, started=started)
            return True
        document = vendor.document(self.state.fixtures, req)
        doc = document.read_bytes() if document else _placeholder_document(vendor, req)
        if kind == "disconnect":
            self._disconnect(status, doc, headers)
            self._count_and_log(vendor.name, req.school, req.operation, status, len(doc) // 2,
                                started, "injected-disconnect", True)
            return True
        body = {"malformed": _malformed, "truncated": _truncated,
                "empty": lambda d: b""}[kind](doc)
        self._finish_las(vendor.name, req.school, req.operation, status, body,
                         "text/xml; charset=utf-8", headers=headers,
                         reason=f"injected-{kind}", injected=True, started=started)
        return True

    def _disconnect(self, status, doc, headers):
        """Promise the whole document, send half of it, then hang up."""
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(doc)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        half = doc[: len(doc) // 2]
        for i in range(0, len(half), CHUNK):
            self.wfile.write(half[i:i + CHUNK])
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _finish_las(self, vendor, school, operation, status, body, ctype, headers=(),
                    reason="", injected=False, started=None):
        self._send(status, body, ctype, headers)
        self._count_and_log(vendor, school, operation, status, len(body),
                            started or time.monotonic(), reason, injected)

    def _count_and_log(self, vendor, school, operation, status, size, started, reason, injected):
        self.state.stats.count_request(vendor, school, operation, status, injected)
        self._log(vendor, school, operation, status, size, started, reason)

    def _log(self, vendor, school, operation, status, size, started, reason):
        tls = isinstance(self.connection, ssl.SSLSocket)
        self.state.log.write(
            client=f"{self.client_address[0]}:{self.client_address[1]}",
            tls=int(tls), client_cn=_peer_cn(self.connection) if tls else None,
            method=self.command, path=urlsplit(self.path).path, vendor=vendor,
            school=school, op=operation, status=status, bytes=size,
            ms=f"{(time.monotonic() - started) * 1000:.1f}", reason=reason or None)

    # -- control API --------------------------------------------------------

    def _control(self, what):
        started = time.monotonic()
        try:
            body = self._read_body(MAX_CONTROL_BYTES)
        except (RequestTooLarge, ValueError) as exc:
            self._bad_body(exc)
            return
        route = (self.command, what)
        state = self.state
        if route == ("GET", "health"):
            self._send_json(200, {"ok": True, "vendors": sorted(v.name for v in state.vendors.values())})
        elif route == ("GET", "stats"):
            self._send_json(200, state.stats.snapshot())
        elif route == ("POST", "reset"):
            state.stats.reset()
            state.faults.clear()
            self._send_json(200, {"ok": True})
        elif route == ("GET", "faults"):
            self._send_json(200, {"faults": state.faults.list()})
        elif route == ("DELETE", "faults"):
            cleared = len(state.faults.list())
            state.faults.clear()
            self._send_json(200, {"ok": True, "cleared": cleared})
        elif route == ("POST", "faults"):
            self._add_faults(body)
        else:
            self._send_json(404, {"error": f"no control endpoint {self.command} /_control/{what}"})
        state.log.write(event="control", method=self.command, path=f"/_control/{what}",
                        ms=f"{(time.monotonic() - started) * 1000:.1f}")

    def _add_faults(self, body):
        """POST /_control/faults: one rule object or a list of them."""
        try:
            parsed = json.loads(body or b"null")
            rules = [parse_fault_rule(r) for r in (parsed if isinstance(parsed, list) else [parsed])]
        except (ValueError, FaultRuleError) as exc:
            self._send_json(400, {"error": str(exc)})
            return
        for rule in rules:
            self.state.faults.add(rule)
        self._send_json(201, {"ok": True, "faults": rules})


def _peer_cn(conn):
    """Return the commonName of a verified TLS client certificate, if any."""
    cert = conn.getpeercert() or {}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value.replace(" ", "_")
    return None


def _truncated(doc):
    """The first half of a document: a cut-off, ill-formed XML answer."""
    return doc[: len(doc) // 2]


def _malformed(doc):
    """The whole document with its last end tag misspelled.

    A streaming parser reads nearly everything before it finds out, which is
    exactly what a mapper must survive without applying half a snapshot.
    """
    doc = doc.rstrip()
    cut = doc.rfind(b"</")
    end = doc.find(b">", cut)
    if cut < 0 or end < 0:
        return doc + b"<unclosed"
    return doc[:end] + b"-broken" + doc[end:] + b"\n"


def _placeholder_document(vendor, req):
    """A small well-formed answer when the school has no fixture document."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{vendor.prefix}:Envelope '
            f'xmlns:{vendor.prefix}="http://schemas.xmlsoap.org/soap/envelope/">'
            f"<{vendor.prefix}:Body><{req.operation}Response/></{vendor.prefix}:Body>"
            f"</{vendor.prefix}:Envelope>\n").encode("utf-8")


class LasServer(ThreadingHTTPServer):
    """Plain HTTP listener; one thread per connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state):
        self.state = state
        super().__init__(address, LasHandler)

    def handle_error(self, request, client_address):
        """Keep tracebacks off stdout/stderr: log the error class only."""
        exc = sys.exc_info()[1]
        self.state.log.write(event="connection-error", client=client_address[0],
                             error=type(exc).__name__)


class TlsLasServer(LasServer):
    """HTTPS listener; the handshake runs in the connection's own thread."""

    def __init__(self, address, state, context):
        self.context = context
        super().__init__(address, state)

    def finish_request(self, request, client_address):
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.state.log.write(event="tls-refused", client=client_address[0],
                                 error=type(exc).__name__)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


def tls_context(cert, key, client_ca):
    """Server TLS context; with client_ca, a client certificate is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def parse_args(argv):
    """Command line; see the module docstring."""
    p = argparse.ArgumentParser(prog="lassim.py", description="LAS simulator (ParnasSys, ESIS)")
    p.add_argument("--port", type=int, required=True, help="HTTP port (0: any free port)")
    p.add_argument("--fixtures", type=Path, required=True,
                   help="fixture root holding parnassys/<BRIN>/ and esis/<BRIN><dep>/")
    p.add_argument("--bind", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--log", help="append a request log to this file")
    p.add_argument("--port-file", help="write the bound ports as JSON here once listening")
    p.add_argument("--https-port", type=int, help="also listen with TLS on this port")
    p.add_argument("--cert", help="server certificate (PEM) for --https-port")
    p.add_argument("--key", help="server private key (PEM) for --https-port")
    p.add_argument("--client-ca", help="CA (PEM) that signs client certificates; "
                   "when given, the HTTPS listener requires one")
    args = p.parse_args(argv)
    if not args.fixtures.is_dir():
        p.error(f"--fixtures {args.fixtures}: not a directory")
    if args.https_port is not None and not (args.cert and args.key):
        p.error("--https-port needs --cert and --key")
    if (args.cert or args.key or args.client_ca) and args.https_port is None:
        p.error("--cert/--key/--client-ca need --https-port")
    return args


def write_port_file(path, ports):
    """Atomically write {"http": P, "https": P2} so waiters never read half."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ports, f)
    os.replace(tmp, path)


def main(argv=None):
    """Start the listeners and serve until SIGTERM or SIGINT."""
    args = parse_args(argv)
    state = SimState(args.fixtures.resolve(), args.log, {v.path: v() for v in VENDORS})
    try:
        servers = [LasServer((args.bind, args.port), state)]
        if args.https_port is not None:
            context = tls_context(args.cert, args.key, args.client_ca)
            servers.append(TlsLasServer((args.bind, args.https_port), state, context))
    except (OSError, ssl.SSLError) as exc:
        print(f"lassim: cannot listen: {exc}", file=sys.stderr)
        return 1
    ports = {"http": servers[0].server_address[1]}
    if len(servers) > 1:
        ports["https"] = servers[1].server_address[1]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    state.log.write(event="start", **{f"{k}_port": v for k, v in ports.items()},
                    fixtures=str(state.fixtures).replace(" ", "_"))
    if args.port_file:
        write_port_file(args.port_file, ports)
    while not stop.wait(1.0):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    state.log.write(event="stop")
    state.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
