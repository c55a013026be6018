#!/usr/bin/env python3
"""portal - the development parent portal: scim2-server behind a threaded HTTP/1.1 server.

SYNOPSIS
    portal.py --port PORT --schema FILE --resource-type FILE
              (--bearer-token TOKEN | --bearer-token-file FILE | --no-auth)
              [--host 127.0.0.1] [--access-log FILE]

DESCRIPTION
    Serves scim2-server's WSGI application, multi-tenant by URL prefix
    (<base>/<tenant>/v2/Users; a tenant is created empty on its first request
    and lives in memory until the process stops), the same way the
    `scim2-server --dynamic-tenants` command builds it, with three changes:

    - an HTTP/1.1 server with keep-alive (Http11Handler) instead of wsgiref:
      scim2-server's own runner (wsgiref + ThreadingMixIn) speaks HTTP/1.0
      and closes the connection after every response, which would make the
      applier open one TCP connection per request. waitress closes the
      connection after every 204 (every PATCH), and werkzeug's server closes
      every connection, so neither fits. One thread per connection; that is
      safe: scim2-server's InMemoryStorage holds one re-entrant lock for the
      whole of every operation (storage.operation()), and the tenant table
      has its own lock.
    - a control middleware (PortalControl) that counts requests per tenant
      and method (GET /_stats) and answers injected faults (POST /_faults),
      so tests can assert "no portal writes" and simulate 5xx/429/slowness.
      It never changes what scim2-server answers to a request it lets through.
    - one access-log line per request, to --access-log (never the terminal).

    Paths starting with "/_" belong to the launcher, not to tenants:
      GET  /_stats[?tenant=T]         request counts (see PortalControl)
      POST /_stats/reset[?tenant=T]   zero them
      GET  /_faults                   the armed faults
      POST /_faults                   arm one (JSON, see Fault.parse)
      DELETE /_faults[?tenant=T]      disarm all (or one tenant's)
      POST /_tokens                   {"tenant": T, "token": X}: from now on
                                      tenant T accepts X and only X (not
                                      the launcher's own tokens): a test
                                      of tenant isolation gives each tenant
                                      a credential of its own
      DELETE /_tokens?tenant=T        back to the launcher's tokens
      /_probe/v2/...                  a SCIM tenant for health checks, left
                                      out of the stats and of every fault
    Any other "/_name" is refused with 404, as an unknown tenant.

    The bearer token protects the SCIM endpoints (ServiceProviderConfig is
    public, as RFC 7643 §5 wants); the control endpoints need none: the
    server binds to the loopback address and exists for tests.

EXIT STATUS
    0 after SIGTERM or SIGINT, 2 on a usage error, 1 when it cannot serve.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_to_bytes
from scim2_models import ResourceType, Schema, ScimProvider
from scim2_server.applications.wsgi import TenantDispatcher
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import (
    BEARER_TOKEN_SCHEME,
    BearerTokenApplication,
)
from scim2_server.utils import load_default_service_provider_config

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PROBE_TENANT = "_probe"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_CONTROL_BODY = 64 * 1024
MAX_DELAY_MS = 120_000
MAX_BODY = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 300

log = logging.getLogger("portal")
access_log = logging.getLogger("portal.access")


# ---------------------------------------------------------------- helpers


def json_response(
    start_response: Callable[..., Any],
    status: int,
    body: Any,
    content_type: str = "application/json",
    extra_headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Send a JSON body with its status; return the WSGI body."""
    data = json.dumps(body).encode()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = [("Content-Type", content_type),
               ("Content-Length", str(len(data))),
               ("Cache-Control", "no-cache"), *extra_headers]
    start_response(f"{status} {phrase}", headers)
    return [data]


def scim_error(start_response: Callable[..., Any], status: int, detail: str,
               extra_headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """Send a SCIM error message (RFC 7644 §3.12)."""
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    return json_response(start_response, status, body,
                         "application/scim+json", extra_headers)


def split_tenant(path: str) -> tuple[str, str]:
    """Return (tenant, rest) of a request path: "/t1/v2/Users" -> ("t1", "/v2/Users")."""
    tenant, _, rest = path.lstrip("/").partition("/")
    return tenant, "/" + rest


def is_search(method: str, rest: str) -> bool:
    """Tell a POST /.search (a read) from the writing POSTs."""
    return method == "POST" and rest.rstrip("/").endswith("/.search")


# ---------------------------------------------------------------- faults


@dataclass
class Fault:
    """One armed fault: the next `remaining` matching requests get it.

    status      answer this HTTP status (400..599) instead of serving, or
                None to serve normally after the delay
    retry_after value of a Retry-After header sent with the status, seconds
    delay_ms    wait this long before answering (or serving)
    remaining   requests left; -1 means until DELETE /_faults
    tenant      only this tenant's requests; None: every tenant
    methods     only these methods; None: every method
    path        only requests whose path (after the tenant) ends so, e.g.
                "/Bulk"; None: every path
    query       only requests whose query string holds this text, e.g.
                "filter="; None: any query, or none
    """

    status: int | None
    retry_after: int | None
    delay_ms: int
    remaining: int
    tenant: str | None
    methods: frozenset[str] | None
    path: str | None = None
    query: str | None = None
    id: int = 0

    @classmethod
    def parse(cls, doc: Any) -> "Fault":
        """Build a fault from the JSON body of POST /_faults, or raise ValueError."""
        if not isinstance(doc, dict):
            raise ValueError("body must be a JSON object")
        known = {"tenant", "status", "retry_after", "count", "delay_ms", "methods", "path",
                 "query"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}")

        def integer(name: str, default: int | None, low: int, high: int) -> int | None:
            value = doc.get(name, default)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}]")
            return value

        status = integer("status", None, 400, 599)
        retry_after = integer("retry_after", None, 0, 86400)
        delay_ms = integer("delay_ms", 0, 0, MAX_DELAY_MS) or 0
        count = integer("count", 1, -1, 1_000_000)
        if count == 0:
            raise ValueError("count must be >= 1, or -1 for until cleared")
        if status is None and delay_ms == 0:
            raise ValueError("a fault needs a status, a delay_ms, or both")
        if retry_after is not None and status is None:
            raise ValueError("retry_after needs a status")
        tenant = doc.get("tenant")
        if tenant is not None and (not isinstance(tenant, str) or not tenant):
            raise ValueError("tenant must be a non-empty string")
        methods = doc.get("methods")
        if methods is not None:
            if (not isinstance(methods, list) or not methods
                    or not all(isinstance(m, str) and m.upper() in METHODS for m in methods)):
                raise ValueError(f"methods must be a non-empty list of {', '.join(METHODS)}")
            methods = frozenset(m.upper() for m in methods)
        path = doc.get("path")
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise ValueError("path must be a string starting with /")
        query = doc.get("query")
        if query is not None and (not isinstance(query, str) or not query):
            raise ValueError("query must be a non-empty string")
        return cls(status, retry_after, delay_ms, count, tenant, methods, path, query)

    def matches(self, tenant: str, method: str, rest: str = "/", query: str = "") -> bool:
        return ((self.tenant is None or self.tenant == tenant)
                and (self.methods is None or method in self.methods)
                and (self.path is None or rest.rstrip("/").endswith(self.path))
                and (self.query is None or self.query in query))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "tenant": self.tenant, "status": self.status,
                "retry_after": self.retry_after, "delay_ms": self.delay_ms,
                "count": self.remaining,
                "methods": sorted(self.methods) if self.methods else None,
                "path": self.path, "query": self.query}


# ---------------------------------------------------------------- middleware


class PortalControl:
    """WSGI middleware: request statistics, fault injection and the access log.

    Statistics, per tenant (GET /_stats):
      GET, POST, PUT, PATCH, DELETE  every request received, by HTTP method,
                                     whatever its outcome (faulted ones too)
      searches   POST .../.search requests (reads; also counted under POST)
      writes     POST (not .search), PUT, PATCH and DELETE requests that
                 reached scim2-server (not answered by a fault), whatever
                 scim2-server answered; a bulk request counts once
      bulk       POST .../Bulk requests (also in POST and writes)
      bulk_operations  the operations those Bulk requests carried
      faulted    requests answered by an injected fault status
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], master_token: str | None = None):
        self.app = app
        self.master_token = master_token
        self.tenant_tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stats: dict[str, dict[str, int]] = {}
        self.faults: list[Fault] = []
        self.fault_ids = 0
        self.started = time.time()

    # -- statistics

    @staticmethod
    def empty_counts() -> dict[str, int]:
        return {**{m: 0 for m in METHODS}, "searches": 0, "writes": 0, "bulk": 0,
                "bulk_operations": 0, "faulted": 0, "wrong_token": 0}

    def count(self, tenant: str, key: str, n: int = 1) -> None:
        with self.lock:
            counts = self.stats.setdefault(tenant, self.empty_counts())
            counts[key] = counts.get(key, 0) + n

    def count_bulk(self, tenant: str, environ: dict[str, Any]) -> None:
        """Count a Bulk request and its operations; the body is read here
        and handed on unchanged."""
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        body = environ["wsgi.input"].read(size) if size > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            ops = json.loads(body).get("Operations")
            n = len(ops) if isinstance(ops, list) else 0
        except (ValueError, AttributeError):
            n = 0
        self.count(tenant, "bulk")
        self.count(tenant, "bulk_operations", n)

    # -- faults

    def take_fault(self, tenant: str, method: str, rest: str = "/",
                   query: str = "") -> Fault | None:
        """Consume one use of the first armed fault that matches a request."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(tenant, method, rest, query):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # -- control endpoints

    def control(self, environ: dict[str, Any], start_response: Callable[..., Any],
                name: str, rest: str) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        tenant = query.get("tenant", [None])[0]

        if name == "_stats" and rest in ("/", "") and method == "GET":
            with self.lock:
                if tenant is not None:
                    body: Any = dict(self.stats.get(tenant, self.empty_counts()))
                else:
                    body = {"since": self.started,
                            "tenants": {t: dict(c) for t, c in self.stats.items()}}
            return json_response(start_response, 200, body)
        if name == "_stats" and rest == "/reset" and method == "POST":
            with self.lock:
                if tenant is not None:
                    self.stats.pop(tenant, None)
                else:
                    self.stats.clear()
                    self.started = time.time()
            return json_response(start_response, 200, {"reset": tenant or "all"})
        if name == "_faults" and rest in ("/", ""):
            if method == "GET":
                with self.lock:
                    body = {"faults": [f.to_json() for f in self.faults]}
                return json_response(start_response, 200, body)
            if method == "POST":
                try:
                    fault = Fault.parse(json.loads(self.read_body(environ) or b"null"))
                except ValueError as exc:  # includes JSONDecodeError
                    return json_response(start_response, 400, {"error": str(exc)})
                with self.lock:
                    self.fault_ids += 1
                    fault.id = self.fault_ids
                    self.faults.append(fault)
                log.info("fault armed: %s", fault.to_json())
                return json_response(start_response, 201, fault.to_json())
            if method == "DELETE":
                with self.lock:
                    before = len(self.faults)
                    self.faults = [f for f in self.faults
                                   if tenant is not None and f.tenant != tenant]
                    cleared = before - len(self.faults)
                log.info("faults cleared: %d (tenant=%s)", cleared, tenant or "*")
                return json_response(start_response, 200, {"cleared": cleared})
            return json_response(start_response, 405, {"error": "use GET, POST or DELETE"})
        if name == "_tokens" and rest in ("/", ""):
            if method == "POST":
                try:
                    doc = json.loads(self.read_body(environ) or b"null")
                    t, token = doc["tenant"], doc["token"]
                    if not (isinstance(t, str) and isinstance(token, str) and token):
                        raise ValueError("tenant and token must be strings")
                except (ValueError, KeyError, TypeError) as exc:
                    return json_response(start_response, 400, {"error": str(exc)})
                with self.lock:
                    self.tenant_tokens[t] = token
                log.info("tenant token set: %s", t)
                return json_response(start_response, 201, {"tenant": t})
            if method == "DELETE" and tenant is not None:
                with self.lock:
                    gone = self.tenant_tokens.pop(tenant, None) is not None
                return json_response(start_response, 200, {"cleared": int(gone)})
            return json_response(start_response, 405, {"error": "use POST, or DELETE ?tenant="})
        return json_response(start_response, 404, {"error": "unknown control endpoint"})

    @staticmethod
    def read_body(environ: dict[str, Any]) -> bytes:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ValueError("bad Content-Length") from None
        if size > MAX_CONTROL_BODY:
            raise ValueError("body too large")
        return environ["wsgi.input"].read(size) if size > 0 else b""

    # -- WSGI

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        status_holder: list[str] = ["000"]

        def recording_start_response(status: str, headers: list[tuple[str, str]],
                                     exc_info: Any = None) -> Any:
            status_holder[0] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        # Read before dispatching: TenantDispatcher moves the tenant from
        # PATH_INFO to SCRIPT_NAME.
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        body = self.dispatch(environ, recording_start_response)
        size = sum(len(chunk) for chunk in body)
        access_log.info('%s "%s %s %s" %s %d %.1fms',
                        environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                        path, environ.get("SERVER_PROTOCOL", "-"),
                        status_holder[0], size, (time.monotonic() - started) * 1000)
        return body

    def dispatch(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        tenant, rest = split_tenant(environ.get("PATH_INFO", ""))

        if tenant.startswith("_") and tenant != PROBE_TENANT:
            if tenant in ("_stats", "_faults", "_tokens"):
                return self.control(environ, start_response, tenant, rest)
            return scim_error(start_response, 404, "Unknown tenant")
        if tenant == PROBE_TENANT or not TenantDispatcher.is_valid_tenant(tenant):
            return list(self.app(environ, start_response))

        self.count(tenant, method if method in METHODS else "OTHER")
        with self.lock:
            own = self.tenant_tokens.get(tenant)
        if own is not None:
            # A tenant with a token of its own accepts that token only; the
            # SCIM application behind sees the launcher's token.
            if environ.get("HTTP_AUTHORIZATION", "") != f"Bearer {own}":
                self.count(tenant, "wrong_token")
                return scim_error(start_response, 401, "Not this tenant's token")
            if self.master_token:
                environ["HTTP_AUTHORIZATION"] = f"Bearer {self.master_token}"
        searching = is_search(method, rest)
        if searching:
            self.count(tenant, "searches")

        fault = self.take_fault(tenant, method, rest,
                                unquote(environ.get("QUERY_STRING", "")))
        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
            if fault.status is not None:
                self.count(tenant, "faulted")
                extra = ([("Retry-After", str(fault.retry_after))]
                         if fault.retry_after is not None else [])
                return scim_error(start_response, fault.status,
                                  f"Injected fault (portal launcher, fault {fault.id})",
                                  extra)

        if method in WRITE_METHODS and not searching:
            self.count(tenant, "writes")
        if method == "POST" and rest.rstrip("/").endswith("/Bulk"):
            self.count_bulk(tenant, environ)
        return list(self.app(environ, start_response))


# ---------------------------------------------------------------- server


class BadRequest(Exception):
    """A request the HTTP layer refuses before the application sees it."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class Http11Handler(BaseHTTPRequestHandler):
    """A minimal WSGI gateway over http.server, with HTTP/1.1 keep-alive.

    The request body is read whole before the application runs (so a
    response that ignores the body never leaves bytes on a kept-alive
    connection), and the response body is collected whole and sent with a
    Content-Length (none on 1xx/204/304, RFC 9110 §8.6). The server's `app`
    attribute is the WSGI application.
    """

    protocol_version = "HTTP/1.1"
    server_version = "lasync-dev-portal"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S  # an idle kept-alive connection is closed after this
    # Headers and body are two writes: with Nagle on, the client's delayed
    # ACK holds the body back ~40 ms on every kept-alive response.
    disable_nagle_algorithm = True

    def read_body(self) -> bytes:
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding and encoding != "chunked":
            raise BadRequest(501, "unsupported Transfer-Encoding")
        if encoding == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest(400, "bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(8192).strip():  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BadRequest(413, "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise BadRequest(400, "bad Content-Length") from None
        if size < 0:
            raise BadRequest(400, "bad Content-Length")
        if size > MAX_BODY:
            raise BadRequest(413, "request body too large")
        body = self.rfile.read(size)
        if len(body) != size:
            raise BadRequest(400, "request body shorter than Content-Length")
        return body

    def make_environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form
            path = "/" + path.split("/", 3)[-1] if path.count("/") >= 3 else "/"
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            # PEP 3333: the URL-decoded path, bytes as latin-1.
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
        }
        for name, value in self.headers.items():
            if "_" in name:  # ambiguous with "-" once in the environ: drop it
                continue
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                continue
            if key != "CONTENT_TYPE":
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def run_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        response: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info and response:
                raise exc_info[1].with_traceback(exc_info[2])
            response[:] = [status, headers]
            return lambda data: None  # the write() callable: unused by scim2-server

        result = self.server.app(environ, start_response)  # type: ignore[attr-defined]
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return response[0], response[1], body

    def send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code = int(status.split(" ", 1)[0])
        self.send_response(code, status.split(" ", 1)[1] if " " in status else None)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection",
                                    "date", "server"):
                self.send_header(name, value)
        bodiless = code in (204, 304) or 100 <= code < 200
        if not bodiless:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if not bodiless and self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self) -> None:
        try:
            body = self.read_body()
        except BadRequest as exc:
            self.close_connection = True  # the rest of the stream is unknown
            error = {"schemas": [ERROR_SCHEMA], "status": str(exc.status), "detail": str(exc)}
            self.send(f"{exc.status} {exc}", [("Content-Type", "application/scim+json")],
                      json.dumps(error).encode())
            return
        try:
            status, headers, data = self.run_app(self.make_environ(body))
        except Exception:  # a bug in the application: answer 500, keep serving
            log.error("application error on %s %s:\n%s", self.command, self.path,
                      traceback.format_exc())
            error = {"schemas": [ERROR_SCHEMA], "status": "500", "detail": "internal error"}
            status, headers = "500 Internal Server Error", [("Content-Type", "application/scim+json")]
            data = json.dumps(error).encode()
        self.send(status, headers, data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # PortalControl writes the access log

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # http.server's own complaints: bad request lines, unknown methods.
        log.warning("http: %s: %s", self.address_string(), format % args)


class PortalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Callable[..., Iterable[bytes]]):
        super().__init__(address, Http11Handler)
        self.app = app


def build_scim_app(schema_file: str, resource_type_file: str,
                   tokens: list[str]) -> TenantDispatcher:
    """Build scim2-server's multi-tenant application as `scim2-server --dynamic-tenants` does."""
    with open(schema_file, encoding="utf-8") as f:
        schemas = [Schema.model_validate(s) for s in json.load(f)]
    with open(resource_type_file, encoding="utf-8") as f:
        resource_types = [ResourceType.model_validate(r) for r in json.load(f)]
    config = load_default_service_provider_config()
    if tokens:
        config.authentication_schemes = [*(config.authentication_schemes or []),
                                         BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(schemas, resource_types, config=config)
    service = ScimService(provider, secret=os.environ.get("SCIM2_SERVER_SECRET"))

    def make_tenant(tenant: str) -> BearerTokenApplication:
        log.info("tenant created: %s", tenant)
        return BearerTokenApplication(InMemoryStorage(), provider,
                                      service=service, bearer_tokens=tokens)

    return TenantDispatcher(make_tenant)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="portal.py", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--schema", required=True, metavar="FILE",
                   help="JSON list of every schema served (core ones included)")
    p.add_argument("--resource-type", required=True, metavar="FILE",
                   help="JSON list of resource types")
    p.add_argument("--bearer-token", action="append", default=[], metavar="TOKEN")
    p.add_argument("--bearer-token-file", action="append", default=[], metavar="FILE",
                   help="read a token from the first line of FILE (keeps it out of ps)")
    p.add_argument("--no-auth", action="store_true",
                   help="accept requests without a token (never the default)")
    p.add_argument("--access-log", metavar="FILE",
                   help="append one line per request here (default: stderr)")
    args = p.parse_args(argv)
    for path in args.bearer_token_file:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.readline().strip()
        except OSError as exc:
            p.error(f"--bearer-token-file: {exc}")
        if not token:
            p.error(f"--bearer-token-file: {path} is empty")
        args.bearer_token.append(token)
    if not args.bearer_token and not args.no_auth:
        p.error("give --bearer-token or --bearer-token-file (or --no-auth)")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    access_log.propagate = False
    handler: logging.Handler = (logging.FileHandler(args.access_log, encoding="utf-8")
                                if args.access_log else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)

    try:
        scim = build_scim_app(args.schema, args.resource_type, args.bearer_token)
    except (OSError, ValueError) as exc:
        log.error("cannot load the SCIM configuration: %s", exc)
        return 1

    app = PortalControl(scim, args.bearer_token[0] if args.bearer_token else None)
    try:
        server = PortalServer((args.host, args.port), app)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving SCIM on http://%s:%d/<tenant>/v2 (auth=%s)", args.host, args.port,
             "bearer" if args.bearer_token else "none")
    try:
        server.serve_forever(poll_interval=0.5)
    except SystemExit:
        log.info("stopping on signal")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
