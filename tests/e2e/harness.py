"""End-to-end harness: the four lasync daemons and lasyncctl on the real stack.

Each test gets a Pipeline with its own topic prefix (so its topics, consumer
groups and Redis keys are its own), its own portal tenants on the shared
scim2-server, and its own LAS fixture directories under the stack's LAS
simulator root. The stack itself (Kafka, Redis, portal, SMTP, LAS simulator)
is started by scripts/stack.sh; these tests start nothing of it and fail,
never skip, when it is missing.

Daemons run from LASYNC_BUILD_DIR (the sanitizer build under CI), log to
files in the test's directory (printed when a test fails), and expose
/healthz and /metrics on ports chosen here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HINT = ('run through scripts/test.sh, or start the stack and load its environment: '
        'scripts/stack.sh start --instance test && eval "$(scripts/stack.sh env --instance test)"')

DAEMONS = ("fetcher", "mapper", "applier", "notifier")


class StackMissing(AssertionError):
    pass


class PortTaken(Exception):
    """A daemon could not listen: the port chosen for it was taken since."""


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise StackMissing(f"{name} is not set; {HINT}")
    return value


def build_dir() -> Path:
    d = Path(os.environ.get("LASYNC_BUILD_DIR", ROOT / "build"))
    if not (d / "services" / "applier" / "lasync-applier").exists():
        raise StackMissing(f"no lasync build in {d}: set LASYNC_BUILD_DIR or build first ({HINT})")
    return d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, what: str, interval: float = 0.1):
    """Poll pred() until it returns a truthy value; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http_json(method: str, url: str, token: str | None = None, body=None, timeout: float = 30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text -> {(name, ((label, value), ...)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if "{" in head:
            name, _, rest = head.partition("{")
            labels = []
            for part in rest.rstrip("}").split('",'):
                if not part:
                    continue
                k, _, v = part.partition('="')
                labels.append((k, v.rstrip('"')))
            out[(name, tuple(sorted(labels)))] = float(value)
        else:
            out[(head, ())] = float(value)
    return out


def metric_sum(metrics: dict, name: str, **labels) -> float:
    total = 0.0
    for (n, lab), v in metrics.items():
        if n != name:
            continue
        d = dict(lab)
        if all(d.get(k) == v for k, v in labels.items()):
            total += v
    return total


class Portal:
    """The test portal (scim2-server behind tools/portal/portal.py)."""

    def __init__(self):
        self.url = env("LASYNC_PORTAL_URL").rstrip("/")
        self.token = env("LASYNC_PORTAL_TOKEN")

    def base(self, tenant: str) -> str:
        return f"{self.url}/{tenant}/v2"

    def list(self, tenant: str, coll: str, token: str | None = None) -> list[dict]:
        out, start = [], 1
        while True:
            st, doc = http_json("GET", f"{self.base(tenant)}/{coll}?startIndex={start}&count=1000",
                                token or self.token)
            assert st == 200, f"listing {coll} of {tenant}: HTTP {st} {doc}"
            res = doc.get("Resources", [])
            out.extend(res)
            start += len(res)
            if not res or start > doc.get("totalResults", 0):
                return out

    def users(self, tenant: str, token: str | None = None) -> list[dict]:
        return self.list(tenant, "Users", token)

    def groups(self, tenant: str, token: str | None = None) -> list[dict]:
        return self.list(tenant, "Groups", token)

    def own_token(self, tenant: str, token: str | None):
        """Give a portal tenant a token of its own (it then refuses every
        other), or with None take it back."""
        if token is None:
            http_json("DELETE", f"{self.url}/_tokens?tenant={tenant}")
            return
        st, body = http_json("POST", f"{self.url}/_tokens", body={"tenant": tenant,
                                                                  "token": token})
        assert st == 201, f"portal tokens: HTTP {st} {body}"

    def create(self, tenant: str, coll: str, doc: dict) -> dict:
        st, body = http_json("POST", f"{self.base(tenant)}/{coll}", self.token, doc)
        assert st == 201, f"create in {coll}: HTTP {st} {body}"
        return body

    def patch(self, tenant: str, coll: str, rid: str, ops: list[dict]):
        st, body = http_json("PATCH", f"{self.base(tenant)}/{coll}/{rid}", self.token,
                             {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": ops})
        assert st in (200, 204), f"patch {coll}/{rid}: HTTP {st} {body}"

    def stats(self, tenant: str) -> dict:
        st, doc = http_json("GET", f"{self.url}/_stats")
        assert st == 200, f"portal stats: HTTP {st}"
        return doc.get("tenants", {}).get(tenant, {"writes": 0, "GET": 0, "POST": 0, "PATCH": 0,
                                                    "PUT": 0, "DELETE": 0})

    def faults(self, rule: dict | None):
        if rule is None:
            http_json("DELETE", f"{self.url}/_faults")
        else:
            st, body = http_json("POST", f"{self.url}/_faults", body=rule)
            assert st in (200, 201, 204), f"portal faults: HTTP {st} {body}"


class Las:
    """The stack's LAS simulator and its fixture root."""

    def __init__(self):
        self.url = env("LASYNC_LASSIM_URL").rstrip("/")
        self.root = Path(os.environ.get("LASYNC_LASSIM_FIXTURES", ROOT / "fixtures" / "las"))

    @property
    def https_url(self) -> str:
        """The simulator's HTTPS listener (mutual TLS, for ESIS)."""
        return env("LASYNC_LASSIM_HTTPS_URL").rstrip("/")

    @property
    def certs(self) -> Path:
        """scripts/certs.sh's directory: the test CA, client certificates."""
        return Path(env("LASYNC_CERTS_DIR"))

    def school_dir(self, vendor: str, school: str) -> Path:
        return self.root / vendor / school

    def add_school_from(self, src: Path, vendor: str, school: str, key: str,
                        replace: dict[str, str] | None = None) -> Path:
        """Copy a school's documents to a new fixture dir, rewriting strings (e.g. the BRIN)."""
        dst = self.school_dir(vendor, school)
        if dst.resolve() == src.resolve():
            return dst
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.glob("*.xml"):
            text = f.read_text(encoding="utf-8")
            for a, b in (replace or {}).items():
                text = text.replace(a, b)
            (dst / f.name).write_text(text, encoding="utf-8")
        keyfile = "leveranciersleutel" if vendor == "parnassys" else "autorisatiesleutel"
        (dst / keyfile).write_text(key + "\n")
        return dst

    def generate(self, vendor: str, brin: str, students: int, seed: int, key: str,
                 extra: list[str] | None = None) -> Path:
        cmd = [sys.executable, str(ROOT / "tools" / "lasgen" / "lasgen.py"), vendor,
               "--brin", brin, "--students", str(students), "--seed", str(seed),
               "--out", str(self.root), "--key", key] + (extra or [])
        subprocess.run(cmd, check=True, capture_output=True)
        return self.school_dir(vendor, brin)

    def faults(self, rule: dict | None):
        if rule is None:
            http_json("DELETE", f"{self.url}/_control/faults")
        else:
            st, body = http_json("POST", f"{self.url}/_control/faults", body=rule)
            assert st in (200, 201, 204), f"lassim faults: HTTP {st} {body}"


class Daemon:
    def __init__(self, name: str, argv: list[str], envp: dict, log: Path, port: int):
        self.name, self.argv, self.env, self.log, self.port = name, argv, envp, log, port
        self.proc: subprocess.Popen | None = None
        self.webhook_port: int | None = None  # the notifier's suggestion webhook

    def start(self):
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        fh.close()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def wait_ready(self, timeout: float = 60):
        for _ in range(3):
            try:
                return self._wait_ready(timeout)
            except PortTaken:
                # free_port() cannot reserve: another process on the
                # machine took the port in between; choose again.
                self.repick_ports()
                self.start()
        return self._wait_ready(timeout)

    def _wait_ready(self, timeout: float):
        def ready():
            if self.proc.poll() is not None:
                tail = self.tail()
                # the daemon's last log line, before any sanitizer report
                last = next((ln for ln in reversed(self.tail(10**6).splitlines())
                             if ln.startswith("ts=")), "")
                if "startup_failed" in last and "port in use" in last:
                    raise PortTaken(self.name)
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} while starting;"
                                     f" log {self.log}:\n{tail}")
            return self.healthy()
        wait_until(ready, timeout, f"{self.name} /healthz")

    def repick_ports(self):
        for flag in ("--http-port", "--webhook-port"):
            if flag in self.argv:
                i = self.argv.index(flag) + 1
                new = free_port()
                if flag == "--http-port":
                    self.port = new
                elif self.webhook_port is not None:
                    self.webhook_port = new
                self.argv[i] = str(new)

    def metrics(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def signal(self, sig: int):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Pipeline:
    """One isolated lasync deployment: topic prefix, daemons, lasyncctl."""

    def __init__(self, workdir: Path, vendor: str = "parnassys"):
        self.build = build_dir()
        self.dir = workdir
        self.prefix = "t" + uuid.uuid4().hex[:10]
        self.vendor = vendor
        self.portal = Portal()
        self.las = Las()
        self.daemons: dict[str, Daemon] = {}
        self.secrets: dict[str, str] = {}
        self.topics_ready = False
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LASYNC_KAFKA_BROKERS": env("LASYNC_KAFKA_BROKERS"),
            "LASYNC_REDIS_URL": env("LASYNC_REDIS_URL"),
            "LASYNC_TOPIC_PREFIX": self.prefix,
            # Two partitions per topic keep a long test run's broker within
            # its open-file limit (each test's topics are deleted at stop).
            "LASYNC_TOPIC_PARTITIONS": "2",
            "LASYNC_LOG_LEVEL": "info",
            "LASYNC_PORTAL_TOKEN": self.portal.token,
            # The notifier mails through the stack's SMTP sink.
            "LASYNC_SMTP_URL": os.environ.get("LASYNC_SMTP_URL", "smtp://127.0.0.1:25"),
            # Short backoff so retries happen within a test's time.
            "LASYNC_BACKOFF_BASE_MS": "200",
            "LASYNC_BACKOFF_MAX_MS": "2000",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=66",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        }

    # --- daemons ------------------------------------------------------

    def daemon(self, name: str, *extra: str, instance: str = "",
               vendor: str | None = None) -> Daemon:
        key = name + instance
        port = free_port()
        argv = [str(self.build / "services" / name / f"lasync-{name}"), "--http-port", str(port)]
        if name in ("fetcher", "mapper"):
            argv += ["--vendor", vendor or self.vendor]
        webhook = None
        if name == "notifier" and not any(a.startswith("--webhook-port") for a in extra):
            # Its own port, so pipelines (and a running demo) never collide.
            webhook = free_port()
            argv += ["--webhook-port", str(webhook)]
        argv += list(extra)
        envp = dict(self.env)
        envp.update(self.secrets)
        d = Daemon(key, argv, envp, self.dir / f"{key}.log", port)
        d.webhook_port = webhook
        self.daemons[key] = d
        return d

    def start(self, *names: str, extra: dict[str, list[str]] | None = None):
        names = names or DAEMONS
        for n in names:
            d = self.daemons.get(n) or self.daemon(n, *(extra or {}).get(n, []))
            d.start()
        for n in names:
            self.daemons[n].wait_ready()

    def workers(self, vendor: str, *extra: str) -> tuple[str, str]:
        """The fetcher and mapper of one vendor, keyed "fetcher-<vendor>" and
        "mapper-<vendor>" (made once), for a pipeline serving both vendors:
        pipeline.start(*pipeline.workers("esis"), "applier", "notifier")."""
        keys = []
        for name in ("fetcher", "mapper"):
            key = f"{name}-{vendor}"
            if key not in self.daemons:
                self.daemon(name, *extra, instance=f"-{vendor}", vendor=vendor)
            keys.append(key)
        return keys[0], keys[1]

    def restart(self, name: str):
        d = self.daemons[name]
        d.start()
        d.wait_ready()

    def stop(self, timeout: float = 10):
        for d in self.daemons.values():
            d.signal(signal.SIGTERM)
        for d in self.daemons.values():
            if d.proc is None:
                continue
            try:
                d.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                d.proc.wait()
        if self.topics_ready:
            # The test's topics go with it: a long run must not pile up
            # partitions (and open files) in the shared broker.
            self.ctl("topics", "delete", "--yes", check=False, timeout=60)

    def sanitizer_reports(self) -> list[str]:
        """AddressSanitizer / UBSan / LeakSanitizer findings in any daemon's
        log: a test that passes with one of these is still a failure."""
        found = []
        for name, d in self.daemons.items():
            try:
                text = d.log.read_text(errors="replace")
            except OSError:
                continue
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                           "runtime error:"):
                if marker in text:
                    found.append(f"{name}: {marker} (log {d.log})")
        return found

    def logs(self) -> str:
        return "\n".join(f"--- {n} ({d.log}) ---\n{d.tail(60)}" for n, d in self.daemons.items())

    def log_text(self, name: str) -> str:
        return self.daemons[name].log.read_text(errors="replace")

    # --- lasyncctl ----------------------------------------------------

    def ctl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        envp = dict(self.env)
        envp.update(self.secrets)
        p = subprocess.run([str(self.build / "tools" / "lasyncctl" / "lasyncctl"), *args],
                           env=envp, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"lasyncctl {' '.join(args)} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}\n{self.logs()}")
        return p

    def tenant(self, tenant_id: str, brin: str, dependance: str = "00", key: str = "",
               portal_tenant: str | None = None, settings: dict | None = None,
               state: str = "active", vendor: str | None = None, brand: str = "basisonline",
               las: dict | None = None, manager_emails: list[str] | None = None,
               webhook_secret: str | None = None, portal_token: str | None = None) -> dict:
        """Register a tenant; its LAS key reaches the daemons as an env secret, so
        register tenants before starting the daemons that need their keys.
        las adds to or overrides the las object (ESIS: endpoint, client_cert_ref...).
        webhook_secret becomes the tenant's webhook_secret_ref (an env secret too);
        portal_token, the tenant's own portal token (an env secret; see
        Portal.own_token), instead of the launcher's."""
        vendor = vendor or self.vendor
        if not self.topics_ready:
            self.ctl("topics", "ensure", "--partitions", "2")
            self.topics_ready = True
        secret = f"LASYNC_TEST_KEY_{tenant_id.upper().replace('-', '_')}"
        self.secrets[secret] = key
        doc = {
            "tenant_id": tenant_id,
            "brand": brand,
            "brin": brin,
            "dependance": dependance,
            "las": {"vendor": vendor, "endpoint": f"{self.las.url}/{vendor}",
                    "key_ref": f"env:{secret}"},
            "portal": {"base_url": self.portal.base(portal_tenant or f"{self.prefix}-{tenant_id}"),
                       "token_ref": "env:LASYNC_PORTAL_TOKEN"},
            "settings": settings or {},
            "state": state,
            "manager_emails": (manager_emails if manager_emails is not None
                               else [f"ict@{tenant_id}.example.nl"]),
        }
        doc["las"].update(las or {})
        if portal_token is not None:
            ref = f"LASYNC_TEST_PORTAL_{tenant_id.upper().replace('-', '_')}"
            self.secrets[ref] = portal_token
            doc["portal"]["token_ref"] = f"env:{ref}"
        if webhook_secret is not None:
            hook = f"LASYNC_TEST_WEBHOOK_{tenant_id.upper().replace('-', '_')}"
            self.secrets[hook] = webhook_secret
            doc["webhook_secret_ref"] = f"env:{hook}"
        path = self.dir / f"tenant-{tenant_id}.json"
        path.write_text(json.dumps(doc, indent=2))
        self.ctl("tenant", "put", str(path))
        return doc

    def portal_tenant(self, tenant_id: str) -> str:
        return f"{self.prefix}-{tenant_id}"

    def sync(self, tenant_id: str, as_of: str = "2026-11-29", wait: int = 180, full: bool = False,
             check: bool = True) -> subprocess.CompletedProcess:
        args = ["sync", tenant_id, "--as-of", as_of, "--wait", str(wait)]
        if full:
            args.append("--full")
        return self.ctl(*args, check=check, timeout=wait + 30)

    def status(self) -> list[dict]:
        return json.loads(self.ctl("status", "--json").stdout)


def cleanup_school(path: Path):
    shutil.rmtree(path, ignore_errors=True)
