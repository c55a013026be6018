#!/usr/bin/env python3
"""pipeline.py - the pipeline, applier and memory benchmarks (BENCHMARKS.md).

Usage (bench/run.sh calls these; the bench stack must be up):
  pipeline.py sweep   --schools N [--seed S] [--runs first,steady,change1,year] [--steady-nights 3]
  pipeline.py applier --schools N [--seed S] [--concurrency 4,8,16]
  pipeline.py memory  [--tenants 1,100,1000] [--sizes 250,500,1000,2000,4000]

Every run is one deployment of lasync on the bench stack (scripts/stack.sh
--instance bench): its own topic prefix (so its own topics, consumer groups,
Redis keys and portal tenants), the release daemons of build/bench, tenants
registered with lasyncctl, and the LAS simulator serving lasgen's national
sample (tools/lasgen national), switched between the base, the 1% changed
and the next-year variant by two symlinks in the simulator's fixture root.

What a run measures, with the machine's load before and after:
  wall time      first sync request to last result (bench/bench_sweep)
  per stage      each daemon's own counters (/metrics) and CPU seconds
                 (/proc/<pid>/stat), so records/s, MB/s and ops/s per busy
                 second as well as per wall second
  peak RSS       VmHWM of each process, reset before every run
                 (/proc/<pid>/clear_refs 5)
  Kafka bytes    the value bytes each topic received during the run (kcat)
  kcat           the same snapshot messages produced into a fresh topic
                 and consumed back with kcat, on the same broker
Output: key=value lines on stdout and one JSON document per run in --out.
Logs and outputs carry ids and counts only.  LASYNC_MEMORY_BUDGET_MB
(--memory-budget-mb), LASYNC_MAX_BACKLOG (--max-backlog),
LASYNC_JOBS_PER_PARTITION (--jobs-per-partition), LASYNC_MAX_JOBS
(--max-jobs), LASYNC_KAFKA_EXTRA
(--kafka-extra), LASYNC_SCIM_BULK (the applier's --scim-bulk),
MALLOC_ARENA_MAX and
GLIBC_TUNABLES in the environment are passed to the daemons, and recorded in
the memory rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUNABLES = ("LASYNC_MEMORY_BUDGET_MB", "LASYNC_MAX_BACKLOG", "LASYNC_JOBS_PER_PARTITION",
            "LASYNC_MAX_JOBS",
            "LASYNC_KAFKA_EXTRA", "LASYNC_SCIM_BULK",
            "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")
BUILD = Path(os.environ.get("LASYNC_BENCH_BUILD", ROOT / "build" / "bench"))
DAEMON_DIR = BUILD / "lasync" / "services"
CTL = BUILD / "lasync" / "tools" / "lasyncctl" / "lasyncctl"
SWEEP = BUILD / "bench_sweep"
SCIMLOAD = BUILD / "scimload"
LASGEN = ROOT / "tools" / "lasgen" / "lasgen.py"
WORK = ROOT / ".local" / "bench"
PARTITIONS = 8
# The sync dates: the base school year 2026/2027 after the autumn leavers,
# and the next one a few weeks into it (lasgen --year-transition).
DATE = "2026-11-16"
NEXT_DATE = "2026-11-17"
NEXT_DATE2 = "2026-11-18"
NEXT_YEAR_DATE = "2027-09-15"
# run -> (fixture variant, sync date).  The runs are nights in a row, as in
# production: a resync on the same day as the import would be a case no
# school has, and would let the mapper's unchanged-snapshot fast path skip
# the check that the sync date is still inside the mapping's window.
RUNS = {
    "first": ("base", DATE),
    "steady": ("base", NEXT_DATE),
    "change1": ("c1", NEXT_DATE2),
    "year": ("yt", NEXT_YEAR_DATE),
}
VARIANTS = {"base": [], "c1": ["--change-rate", "0.01"], "yt": ["--year-transition"]}


def log(msg: str):
    print(f"pipeline: {msg}", file=sys.stderr, flush=True)


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def stack_env() -> dict[str, str]:
    out = subprocess.run([str(ROOT / "scripts" / "stack.sh"), "env", "--instance", "bench"],
                         check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip("'\"")
    return env


def fresh_portal():
    """Restart the bench stack's portal: it keeps every resource in memory,
    and the tenants of earlier runs (a 1,000-school sweep leaves ~1.1
    million resources) made a later first import measurably slower - its
    RSS went from 5 to 11 GB over a session's runs."""
    cmd = [str(ROOT / "scripts" / "stack.sh"), "restart", "--instance", "bench", "portal"]
    for attempt in (1, 2):      # stopping a portal of 10 GB can outlast stack.sh's wait
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode == 0:
            return
        log(f"portal restart (attempt {attempt}) failed: {p.stderr.strip()[-300:]}")
    raise RuntimeError("the bench portal did not restart")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------- fixtures

def fixtures(schools: int, seed: int, variants, extra: list[str] | None = None,
             tag: str = "national") -> Path:
    """lasgen national's sample (cached under .local/bench/fixtures)."""
    base = WORK / "fixtures" / f"{tag}-n{schools}-s{seed}"
    for v in variants:
        d = base / v
        if (d / "schools.tsv").exists():
            continue
        log(f"generating {schools} schools ({v}) into {d}")
        t0 = time.monotonic()
        tmp = base / f"{v}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, str(LASGEN), "national", "--schools", str(schools),
                        "--seed", str(seed), "--out", str(tmp)] + VARIANTS[v] + (extra or []),
                       check=True, stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)
        tmp.rename(d)
        log(f"generated {v} in {time.monotonic() - t0:.0f} s")
    return base


def manifest(d: Path) -> list[dict]:
    rows = []
    for line in (d / "schools.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        vendor, brin, dep, students, guardians, staff, groups, nbytes = line.split("\t")
        rows.append(dict(vendor=vendor, brin=brin, dependance=dep, students=int(students),
                         guardians=int(guardians), staff=int(staff), groups=int(groups),
                         bytes=int(nbytes)))
    return rows


def serve(env: dict, variant_dir: Path):
    """Point the simulator's parnassys/ and esis/ at a variant (symlinks,
    swapped atomically; the simulator reads its files on every request)."""
    root = Path(env["LASYNC_LASSIM_FIXTURES"])
    for vendor in ("parnassys", "esis"):
        link = root / vendor
        if link.exists() and not link.is_symlink():
            link.rename(root / f"{vendor}.examples")     # the repo's examples, kept aside
        target = variant_dir / vendor
        target.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{vendor}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)


# ------------------------------------------------------------- deployment

class Deployment:
    """One lasync deployment on the bench stack under its own prefix."""

    def __init__(self, env: dict, prefix: str, logdir: Path):
        self.stack = env
        self.prefix = prefix
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LASYNC_KAFKA_BROKERS": env["LASYNC_KAFKA_BROKERS"],
            "LASYNC_REDIS_URL": env["LASYNC_REDIS_URL"],
            "LASYNC_TOPIC_PREFIX": prefix,
            "LASYNC_TOPIC_PARTITIONS": str(PARTITIONS),
            "LASYNC_LOG_LEVEL": "info",
            "LASYNC_PORTAL_TOKEN": env["LASYNC_PORTAL_TOKEN"],
            "LASYNC_SMTP_URL": env["LASYNC_SMTP_URL"],
        }
        # the daemons' memory and queue settings and glibc's arena cap,
        # when the caller sets them
        for var in TUNABLES:
            if os.environ.get(var):
                self.env[var] = os.environ[var]
        self.tenants: list[dict] = []

    def ctl(self, *args: str, timeout: float = 300) -> str:
        p = subprocess.run([str(CTL), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"lasyncctl {args[0]} {args[1] if len(args) > 1 else ''}: "
                               f"exit {p.returncode}: {p.stderr.strip()[-500:]}")
        return p.stdout

    def register(self, schools: list[dict]):
        """Topics, then one tenant per school (lasyncctl tenant put, 4 at a time)."""
        self.ctl("topics", "ensure", "--partitions", str(PARTITIONS))
        las = Path(self.stack["LASYNC_LASSIM_FIXTURES"])
        certs = Path(self.stack["LASYNC_CERTS_DIR"])
        tdir = self.logdir / "tenants"
        tdir.mkdir(exist_ok=True)
        files = []
        for s in schools:
            tid = f"s-{s['brin'].lower()}{s['dependance']}"
            if s["vendor"] == "parnassys":
                las_cfg = {"vendor": "parnassys",
                           "endpoint": f"{self.stack['LASYNC_LASSIM_URL']}/parnassys",
                           "key_ref": f"file:{las}/parnassys/{s['brin']}/leveranciersleutel"}
            else:
                school = f"{s['brin']}{s['dependance']}"
                las_cfg = {"vendor": "esis",
                           "endpoint": f"{self.stack['LASYNC_LASSIM_HTTPS_URL']}/esis",
                           "key_ref": f"file:{las}/esis/{school}/autorisatiesleutel",
                           "ca_ref": f"file:{certs}/ca.pem",
                           "client_cert_ref": f"file:{certs}/client.pem",
                           "client_key_ref": f"file:{certs}/client.key"}
            doc = {"tenant_id": tid, "brand": "basisonline", "brin": s["brin"],
                   "dependance": s["dependance"], "las": las_cfg,
                   "portal": {"base_url": f"{self.stack['LASYNC_PORTAL_URL']}/{self.prefix}-{tid}/v2",
                              "token_ref": "env:LASYNC_PORTAL_TOKEN"},
                   "settings": {}, "state": "active",
                   "manager_emails": [f"ict@{tid}.example.nl"]}
            f = tdir / f"{tid}.json"
            f.write_text(json.dumps(doc))
            files.append(f)
            self.tenants.append(dict(s, tenant_id=tid))
        t0 = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda f: self.ctl("tenant", "put", str(f)), files))
        log(f"{len(files)} tenants registered in {time.monotonic() - t0:.0f} s")

    def vendors(self) -> list[str]:
        return sorted({t["vendor"] for t in self.tenants})

    def start(self, *names: str):
        for name in names:
            daemon, _, vendor = name.partition("-")
            port = free_port()
            argv = [str(DAEMON_DIR / daemon / f"lasync-{daemon}"), "--http-port", str(port)]
            # LASYNC_BENCH_WRAP_<DAEMON>: a profiler to start it under, e.g.
            # LASYNC_BENCH_WRAP_APPLIER="heaptrack -o /tmp/applier" (that
            # daemon's RSS figures are then the wrapper's, not its own)
            wrap = os.environ.get(f"LASYNC_BENCH_WRAP_{daemon.upper()}")
            if wrap:
                argv = wrap.split() + argv
            if vendor:
                argv += ["--vendor", vendor]
            if daemon == "notifier":
                argv += ["--webhook-port", str(free_port())]
            fh = open(self.logdir / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=fh,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            fh.close()
            self.ports[name] = port
        for name in names:
            deadline = time.monotonic() + 120
            while not self.healthy(name):
                if self.procs[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {self.logdir / (name + '.log')}")
                time.sleep(0.2)

    def all_daemons(self) -> list[str]:
        return [f"{d}-{v}" for v in self.vendors() for d in ("fetcher", "mapper")] + \
            ["applier", "notifier"]

    def healthy(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/healthz",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def metrics(self, name: str) -> dict[str, float]:
        """Counters and histogram sums summed over labels other than vendor/method/type."""
        out: dict[str, float] = {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics",
                                    timeout=10) as r:
            for line in r.read().decode().splitlines():
                if not line or line[0] == "#":
                    continue
                head, _, value = line.rpartition(" ")
                metric = head.split("{")[0]
                if metric.startswith("lasync_tenant_") or metric.endswith("_bucket"):
                    continue
                labels = dict(re.findall(r'(\w+)="([^"]*)"', head))
                key = metric
                for lab in ("method", "outcome", "stage", "state", "type"):
                    if lab in labels:
                        key += f"[{lab}={labels[lab]}]"
                out[key] = out.get(key, 0.0) + float(value)
        return out

    def stop(self):
        # each daemon leads its own process group (start_new_session), so
        # a profiler's child (LASYNC_BENCH_WRAP_*) stops with it
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()

    def cleanup(self):
        """The deployment's topics (the portal tenants and Redis keys stay
        until the bench stack is reset)."""
        try:
            self.ctl("topics", "delete", "--yes", timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log(f"cleanup: {e}")


# ------------------------------------------------------- process accounting

CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_hwm(pid: int):
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def proc_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Every `every` seconds during a run, each daemon's RSS, its jobs'
    memory estimate (lasync_jobs_memory_estimate_bytes), its fetched
    backlog (lasync_consumer_backlog_bytes) and malloc's heap
    (lasync_heap_bytes: in use, free inside the heap, mmapped), so a peak
    can be told apart: jobs in flight, messages waiting, a fragmented heap,
    or memory outside malloc.  A row: [t, rss, estimate, backlog, in_use,
    free, mmapped], seconds and MB."""

    def __init__(self, dep: "Deployment", names: list[str], every: float = 2.0):
        super().__init__(daemon=True)
        self.dep, self.names, self.every = dep, names, every
        self.samples: dict[str, list] = {n: [] for n in names}
        self.stopping = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stopping.wait(self.every):
            t = round(time.monotonic() - self.t0, 1)
            for n in self.names:
                p = self.dep.procs.get(n)
                if p is None or p.poll() is not None:
                    continue
                try:
                    m = self.dep.metrics(n)
                except OSError:
                    m = {}
                est = m.get("lasync_jobs_memory_estimate_bytes", 0.0)
                backlog = m.get("lasync_consumer_backlog_bytes", 0.0)
                heap = [m.get(f"lasync_heap_bytes[state={s}]", 0.0)
                        for s in ("in_use", "free", "mmapped")]
                self.samples[n].append([t, round(proc_rss_kb(p.pid) / 1024, 1),
                                        round(est / 2**20, 1),
                                        round(backlog / 2**20, 1),
                                        *(round(h / 2**20, 1) for h in heap)])

    def stop(self) -> dict[str, list]:
        self.stopping.set()
        self.join(timeout=10)
        return self.samples


def stack_pids(env: dict) -> dict[str, int]:
    """The bench stack's own processes (for CPU and RSS next to the daemons)."""
    pids = {}
    for comp in ("kafka", "redis", "portal", "lassim"):
        f = Path(env["LASYNC_STACK_DIR"]) / "run" / f"{comp}.pid"
        try:
            pids[comp] = int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return pids


def portal_requests(dep: Deployment, prefix: str | None = None) -> dict[str, int]:
    """Requests the portal counted for the deployment's tenants, by method
    (tools/portal's /_stats)."""
    with urllib.request.urlopen(f"{dep.stack['LASYNC_PORTAL_URL']}/_stats", timeout=30) as r:
        doc = json.load(r)
    total: dict[str, int] = {}
    for tenant, counts in doc.get("tenants", {}).items():
        if tenant.startswith((prefix or dep.prefix) + "-"):
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
    return total


# ------------------------------------------------------------------ kafka

def topic_names(dep: Deployment) -> list[str]:
    t = [f"{dep.prefix}.{n}" for n in ("portal-changes", "sync-results", "held-syncs")]
    for v in dep.vendors():
        t += [f"{dep.prefix}.sync-requests.{v}", f"{dep.prefix}.snapshots.{v}"]
    return t


def end_offsets(brokers: str, topic: str) -> dict[int, int]:
    """partition -> high watermark (kcat -Q with the 'latest' timestamp)."""
    out = subprocess.run(["kcat", "-b", brokers, "-Q"] +
                         [a for p in range(PARTITIONS) for a in ("-t", f"{topic}:{p}:-1")],
                         capture_output=True, text=True, timeout=60).stdout
    offs = {}
    for line in out.splitlines():
        m = re.search(r"\[(\d+)\] offset (-?\d+)", line)
        if m:
            offs[int(m.group(1))] = int(m.group(2))
    return offs


def kcat_read(brokers: str, topic: str, start: dict[int, int], end: dict[int, int],
              fmt: str, out=None) -> bytes | None:
    """The messages of [start, end) of every partition, printed with fmt."""
    chunks = []
    for p, e in sorted(end.items()):
        s = start.get(p, 0)
        if e <= s:
            continue
        cmd = ["kcat", "-C", "-b", brokers, "-t", topic, "-p", str(p), "-o", str(s),
               "-c", str(e - s), "-e", "-q", "-f", fmt,
               "-X", "fetch.message.max.bytes=20000000"]
        if out is not None:
            subprocess.run(cmd, check=True, stdout=out, timeout=600)
        else:
            chunks.append(subprocess.run(cmd, check=True, capture_output=True,
                                         timeout=600).stdout)
    return None if out is not None else b"".join(chunks)


def topic_bytes(brokers: str, topic: str, start, end) -> tuple[int, int]:
    """(messages, value bytes) of the range."""
    sizes = kcat_read(brokers, topic, start, end, "%S\n").split()
    return len(sizes), sum(int(x) for x in sizes if x.isdigit())


DELIM = "\n~lasync-bench-7f3c9a1e5d~\n"     # never in a protobuf + zstd message in practice


def kcat_baseline(dep: Deployment, start: dict, end: dict, reps: int = 3,
                  max_load: float = 1.0) -> dict:
    """kcat moving the run's snapshot messages through the same broker: the
    values are taken out once, then timed `reps` times, each after the
    machine is quiet again: produced into fresh topics of the same
    partitioning, and consumed back.  total_s is the median of the
    repetitions (all of them in totals_s): a single kcat run right after a
    sweep, while Kafka and the portal still settle, varied 1.5-2.8 s."""
    brokers = dep.env["LASYNC_KAFKA_BROKERS"]
    res = {"messages": 0, "bytes": 0, "produce_s": 0.0, "consume_s": 0.0, "totals_s": []}
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        dumps = []
        for v in dep.vendors():
            topic = f"{dep.prefix}.snapshots.{v}"
            dump = Path(tmp) / f"{v}.bin"
            with open(dump, "wb") as fh:
                kcat_read(brokers, topic, start[topic], end[topic], "%s" + DELIM, out=fh)
            n = dump.read_bytes().count(DELIM.encode())
            res["messages"] += n
            res["bytes"] += dump.stat().st_size - n * len(DELIM)
            dumps.append((v, dump, n))
        runs = []
        for rep in range(reps):
            wait_quiet(max_load, 120)
            kprefix = f"{dep.prefix}k{rep}"
            env = dict(dep.env, LASYNC_TOPIC_PREFIX=kprefix)
            subprocess.run([str(CTL), "topics", "ensure", "--partitions", str(PARTITIONS)],
                           env=env, check=True, capture_output=True, timeout=300)
            produce_s = consume_s = 0.0
            for v, dump, n in dumps:
                dst = f"{kprefix}.snapshots.{v}"
                t0 = time.monotonic()
                subprocess.run(["kcat", "-P", "-b", brokers, "-t", dst, "-D", DELIM, "-l",
                                "-X", "message.max.bytes=17825792", "-X", "linger.ms=5",
                                str(dump)], check=True, timeout=900)
                produce_s += time.monotonic() - t0
                t0 = time.monotonic()
                got = subprocess.run(["kcat", "-C", "-b", brokers, "-t", dst, "-o", "beginning",
                                      "-e", "-q", "-f", "%S\n",
                                      "-X", "fetch.message.max.bytes=20000000"],
                                     check=True, capture_output=True,
                                     timeout=900).stdout.split()
                consume_s += time.monotonic() - t0
                if len(got) != n:
                    raise RuntimeError(f"kcat moved {len(got)} of {n} snapshot messages")
            subprocess.run([str(CTL), "topics", "delete", "--yes"], env=env,
                           capture_output=True, timeout=300)
            runs.append((produce_s + consume_s, produce_s, consume_s))
    runs.sort()
    mid = runs[len(runs) // 2]
    res["total_s"], res["produce_s"], res["consume_s"] = mid
    res["totals_s"] = [round(r[0], 3) for r in runs]
    return res


# -------------------------------------------------------------- one sweep

def sweep_once(dep: Deployment, run: str, as_of: str, timeout: int, out: Path,
               kcat: bool = True, hold: Path | None = None, before=None,
               max_load: float = 1.0) -> dict:
    """One sweep over every tenant, measured (see the module docstring)."""
    brokers = dep.env["LASYNC_KAFKA_BROKERS"]
    names = list(dep.procs)
    others = stack_pids(dep.stack)
    pids = {n: p.pid for n, p in dep.procs.items()} | others
    topics = topic_names(dep)
    start = {t: end_offsets(brokers, t) for t in topics}
    for pid in pids.values():
        reset_hwm(pid)
    m0 = {n: dep.metrics(n) for n in names}
    cpu0 = {n: proc_cpu(p) for n, p in pids.items()}
    portal0 = portal_requests(dep)
    load_before = load1()
    cmd = [str(SWEEP), "--brokers", brokers, "--prefix", dep.prefix, "--as-of", as_of,
           "--timeout", str(timeout)]
    if hold is not None:
        cmd += ["--hold-file", str(hold)]
    log(f"run {run}: {len(dep.tenants)} tenants, load {load_before:.2f}")
    sampler = RssSampler(dep, list(dep.procs))
    sampler.start()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(out / f"{run}.sweep.err", "w"),
                            text=True)
    if before is not None:
        before()          # e.g. start the applier, then lift the hold
        for n, p in dep.procs.items():      # what before() started
            if n not in names:
                names.append(n)
                pids[n] = p.pid
                cpu0[n] = proc_cpu(p.pid)
                m0[n] = {}
    sweep_out, _ = proc.communicate()
    timeline = sampler.stop()
    load_after = load1()
    line = next((x for x in sweep_out.splitlines() if x.startswith("sweep ")), "")
    result = {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}
    if proc.returncode != 0:
        log(f"run {run}: bench_sweep exit {proc.returncode}; see {out / (run + '.sweep.err')}")
    m1 = {n: dep.metrics(n) for n in names}
    cpu1 = {n: proc_cpu(p) for n, p in pids.items()}
    end = {t: end_offsets(brokers, t) for t in topics}
    portal1 = portal_requests(dep)
    stats = {
        "portal_requests": {k: v - portal0.get(k, 0) for k, v in portal1.items()},
        "run": run, "as_of": as_of, "tenants": len(dep.tenants), "load_before": load_before,
        "load_after": load_after, "sweep": result, "sweep_exit": proc.returncode,
        "cpu_s": {n: round(cpu1[n] - cpu0[n], 2) for n in pids},
        "peak_rss_mb": {n: round(proc_hwm_kb(p) / 1024, 1) for n, p in pids.items()},
        "metrics": {n: {k: round(v - m0[n].get(k, 0.0), 3) for k, v in m1[n].items()
                        if v - m0[n].get(k, 0.0) != 0} for n in names},
        "kafka": {},
        # [seconds into the run, RSS MB, jobs' memory estimate MB,
        #  fetched backlog MB]
        "rss_timeline": timeline,
    }
    for t in topics:
        msgs, nbytes = topic_bytes(brokers, t, start[t], end[t])
        stats["kafka"][t.removeprefix(dep.prefix + ".")] = {"messages": msgs, "bytes": nbytes}
    if kcat:
        snaps = [t for t in topics if ".snapshots." in t]
        stats["kcat"] = kcat_baseline(dep, {t: start[t] for t in snaps},
                                      {t: end[t] for t in snaps}, max_load=max_load)
    (out / f"{run}.json").write_text(json.dumps(stats, indent=1))
    print(summary_line(stats), flush=True)
    return stats


def summary_line(s: dict) -> str:
    sw = s["sweep"]
    kb = sum(v["bytes"] for v in s["kafka"].values())
    snap = sum(v["bytes"] for k, v in s["kafka"].items() if k.startswith("snapshots."))
    parts = [f"pipeline run={s['run']} tenants={s['tenants']} wall_s={sw.get('wall_s', '?')}",
             f"ok={sw.get('ok', '?')}/{sw.get('tenants', '?')}",
             f"ops={sw.get('ops', '?')} portal_writes={sw.get('portal_writes', '?')}",
             f"kafka_mb={kb / 1e6:.1f} snapshot_mb={snap / 1e6:.1f}"]
    if "kcat" in s:
        k = s["kcat"]
        wall = float(sw.get("wall_s", 0) or 0)
        parts.append(f"kcat_s={k['total_s']:.2f} (median of {k.get('totals_s')}; produce "
                     f"{k['produce_s']:.2f} + consume {k['consume_s']:.2f}) "
                     f"vs_kcat={wall / k['total_s']:.1f}x"
                     if k["total_s"] else "kcat_s=0")
    parts.append("cpu_s=" + ",".join(f"{n}:{v}" for n, v in s["cpu_s"].items()))
    parts.append("peak_rss_mb=" + ",".join(f"{n}:{v}" for n, v in s["peak_rss_mb"].items()))
    pr = s.get("portal_requests", {})
    parts.append("portal=" + ",".join(f"{k}:{pr.get(k, 0)}" for k in ("GET", "POST", "PATCH")))
    parts.append(f"load={s['load_before']:.2f}->{s['load_after']:.2f}")
    return " ".join(parts)


def shift_date(date: str, days: int) -> str:
    import datetime
    return (datetime.date.fromisoformat(date) + datetime.timedelta(days=days)).isoformat()


def nights_before(runs: list[str], run: str, args) -> int:
    """Extra nights before `run`'s own date: the repeated steady nights push
    the 1% run back so that the nights stay in order."""
    if run == "change1" and "steady" in runs:
        return args.steady_nights - 1
    return 0


def wait_quiet(max_load: float, max_wait: int):
    """Wait (up to max_wait s) for the 1-minute load to fall below max_load."""
    deadline = time.monotonic() + max_wait
    while load1() >= max_load and time.monotonic() < deadline:
        log(f"load {load1():.2f} >= {max_load}; waiting")
        time.sleep(30)


# ---------------------------------------------------------------- commands

def cmd_sweep(args):
    env = stack_env()
    runs = args.runs.split(",")
    variants = sorted({RUNS[r][0] for r in runs})
    fx = fixtures(args.schools, args.seed, variants)
    schools = manifest(fx / "base")
    prefix = f"bs{args.schools}x{int(time.time()) % 100000}"
    out = Path(args.out) / prefix
    out.mkdir(parents=True, exist_ok=True)
    fresh_portal()
    dep = Deployment(env, prefix, out / "logs")
    serve(env, fx / "base")
    dep.register(schools)
    dep.start(*dep.all_daemons())
    try:
        for run in runs:
            variant, as_of = RUNS[run]
            serve(env, fx / variant)
            nights = args.steady_nights if run == "steady" else 1
            walls = []
            for night in range(nights):
                # the same school data on successive nights (the 1% run
                # comes on the night after the last of them)
                date = shift_date(as_of, night + (nights_before(runs, run, args)))
                name = run if night == 0 else f"{run}-n{night + 1}"
                wait_quiet(args.max_load, args.max_wait)
                st = sweep_once(dep, name, date, args.timeout, out, kcat=not args.no_kcat,
                                max_load=args.max_load)
                walls.append(float(st["sweep"].get("wall_s", 0) or 0))
            if nights > 1:
                log(f"run {run}: {nights} nights, wall_s {sorted(walls)} "
                    f"median {sorted(walls)[nights // 2]:.3f}")
    finally:
        dep.stop()
        if not args.keep:
            dep.cleanup()
    log(f"results in {out}")


def cmd_memory(args):
    """Peak RSS per daemon for 1, 100, 1000 tenants of the same size, and
    for one tenant of growing size (first import, then a steady resync)."""
    env = stack_env()
    out = Path(args.out) / f"memory{int(time.time()) % 100000}"
    out.mkdir(parents=True, exist_ok=True)
    cases = [(n, args.tenant_size) for n in map(int, args.tenants.split(","))] + \
            [(1, s) for s in map(int, args.sizes.split(","))]
    rows = []
    for n, size in cases:
        tag = f"mem{size}"
        fx = fixtures(n, args.seed, ["base"], ["--median", str(size), "--students", str(size),
                                              "--min-students", str(size),
                                              "--esis-share", "0"], tag=tag)
        schools = manifest(fx / "base")
        prefix = f"bm{n}s{size}x{int(time.time()) % 100000}"
        fresh_portal()
        dep = Deployment(env, prefix, out / prefix)
        serve(env, fx / "base")
        dep.register(schools)
        dep.start(*dep.all_daemons())
        try:
            wait_quiet(args.max_load, args.max_wait)
            first = sweep_once(dep, f"{prefix}-first", DATE, args.timeout, out, kcat=False)
            steady = sweep_once(dep, f"{prefix}-steady", NEXT_DATE, args.timeout, out, kcat=False)
        finally:
            dep.stop()
            dep.cleanup()
        row = {"tenants": n, "students": size,
               "memory_budget_mb": os.environ.get("LASYNC_MEMORY_BUDGET_MB", "default"),
               "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
               "settings": {v: os.environ[v] for v in TUNABLES if os.environ.get(v)},
               "first": first["peak_rss_mb"], "steady": steady["peak_rss_mb"],
               "first_wall_s": first["sweep"].get("wall_s"),
               "steady_wall_s": steady["sweep"].get("wall_s")}
        rows.append(row)
        print("memory tenants=%d students=%d budget_mb=%s wall_s=%s/%s " %
              (n, size, row["memory_budget_mb"], row["first_wall_s"], row["steady_wall_s"]) +
              " ".join(f"{d}:{max(first['peak_rss_mb'].get(d, 0), steady['peak_rss_mb'].get(d, 0))}"
                       for d in dep.all_daemons()), flush=True)
    (out / "memory.json").write_text(json.dumps(rows, indent=1))
    log(f"results in {out}")


def portal_list(url: str, token: str, coll: str) -> list[dict]:
    res, start = [], 1
    while True:
        req = urllib.request.Request(f"{url}/{coll}?startIndex={start}&count=1000",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=120) as r:
            doc = json.load(r)
        got = doc.get("Resources", [])
        res += got
        start += len(got)
        if not got or start > doc.get("totalResults", 0):
            return res


def equivalent_requests(dep: Deployment, path: Path, run_tag: str) -> dict:
    """What the applier wrote, as plain requests into fresh portal tenants:
    the same resources created with the same bodies (groups, then students
    and staff, then guardians - the applier's stages), then each group's
    members set with one PATCH, as the applier's SET_MEMBERS does."""
    url, token = dep.stack["LASYNC_PORTAL_URL"], dep.stack["LASYNC_PORTAL_TOKEN"]
    phases: list[list[str]] = [[], [], [], []]
    n = 0
    for t in dep.tenants:
        base = f"{dep.prefix}-{t['tenant_id']}"
        dst = f"/{run_tag}-{t['tenant_id']}/v2"
        users = portal_list(f"{url}/{base}/v2", token, "Users")
        groups = portal_list(f"{url}/{base}/v2", token, "Groups")
        for i, g in enumerate(groups):
            body = {k: v for k, v in g.items() if k not in ("id", "meta", "members")}
            phases[0].append(f"g{n}x{i}\tPOST\t{dst}/Groups\t{json.dumps(body, separators=(',', ':'))}")
            if g.get("members"):
                patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                         "Operations": [{"op": "add", "path": "members",
                                         "value": [{"value": m["value"], "type": m.get("type", "User")}
                                                   for m in g["members"]]}]}
                phases[3].append(f"-\tPATCH\t{dst}/Groups/{{g{n}x{i}}}\t"
                                 f"{json.dumps(patch, separators=(',', ':'))}")
        for u in users:
            body = {k: v for k, v in u.items() if k not in ("id", "meta", "groups")}
            kind = (u.get("urn:lasync:scim:school:1.0:User") or {}).get("kind")
            phases[2 if kind == "guardian" else 1].append(
                f"-\tPOST\t{dst}/Users\t{json.dumps(body, separators=(',', ':'))}")
        n += 1
    with open(path, "w") as f:
        f.write("\nBARRIER\n".join("\n".join(p) for p in phases if p) + "\n")
    return {"requests": sum(len(p) for p in phases), "posts": sum(len(p) for p in phases[:3]),
            "patches": len(phases[3])}


def cmd_applier(args):
    """The applier through its full path (Kafka, Redis, SCIM) on a first
    import, against scimload sending the same writes to the same portal."""
    env = stack_env()
    fx = fixtures(args.schools, args.seed, ["base"])
    schools = manifest(fx / "base")
    prefix = f"ba{args.schools}x{int(time.time()) % 100000}"
    out = Path(args.out) / prefix
    out.mkdir(parents=True, exist_ok=True)
    fresh_portal()
    dep = Deployment(env, prefix, out / "logs")
    dep.env["LASYNC_SCIM_BULK"] = args.scim_bulk
    serve(env, fx / "base")
    dep.register(schools)
    workers = [d for d in dep.all_daemons() if d != "applier"]
    dep.start(*workers)
    hold = out / "go"
    try:
        wait_quiet(args.max_load, args.max_wait)

        def release():
            # every change set waits in Kafka before the applier starts
            want = len(dep.tenants)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                done = sum(dep.metrics(m).get("lasync_map_seconds_count", 0)
                           for m in workers if m.startswith("mapper"))
                if done >= want:
                    break
                time.sleep(0.5)
            log(f"{want} change sets waiting; starting the applier")
            dep.start("applier")
            hold.touch()

        applied = sweep_once(dep, "applier", DATE, args.timeout, out, kcat=False, hold=hold,
                             before=release)
        reqfile = out / "equivalent.txt"
        eq = equivalent_requests(dep, reqfile, f"{prefix}lg")
        a_wall = float(applied["sweep"].get("wall_s", 0) or 0)
        a_writes = int(applied["sweep"].get("portal_writes", 0))
        a_ops = int(applied["sweep"].get("ops", 0))
        print(f"applier full_path scim_bulk={args.scim_bulk} ops={a_ops} portal_writes={a_writes} "
              f"wall_s={a_wall:.2f} ops_per_s={a_ops / a_wall:.1f} "
              f"writes_per_s={a_writes / a_wall:.1f} "
              f"load={applied['load_before']:.2f}->{applied['load_after']:.2f}", flush=True)
        best = 0.0
        for c in map(int, args.concurrency.split(",")):
            tag = f"{prefix}c{c}"
            f = out / f"equivalent-c{c}.txt"
            f.write_text(reqfile.read_text().replace(f"/{prefix}lg-", f"/{tag}-"))
            wait_quiet(args.max_load, args.max_wait)
            lg = subprocess.run([str(SCIMLOAD), "--base", env["LASYNC_PORTAL_URL"],
                                 "--token-env", "LASYNC_PORTAL_TOKEN", "--concurrency", str(c),
                                 str(f)], env=dict(os.environ, **env), capture_output=True,
                                text=True, timeout=args.timeout)
            line = next((x for x in lg.stdout.splitlines() if "phase=all" in x), "")
            wps = float(re.search(r"writes_per_s=([\d.]+)", line).group(1)) if line else 0.0
            best = max(best, wps)
            print(f"applier plain_load concurrency={c} {line.removeprefix('scimload ')} "
                  f"exit={lg.returncode}", flush=True)
            (out / f"scimload-c{c}.out").write_text(lg.stdout + lg.stderr)
        ratio = (a_writes / a_wall) / best * 100 if best and a_wall else 0
        print(f"applier summary equivalent_requests={eq['requests']} applier_writes_per_s="
              f"{a_writes / a_wall:.1f} plain_best_writes_per_s={best:.1f} "
              f"applier_vs_plain_pct={ratio:.0f}", flush=True)
        if args.bulk:
            # the same creates as SCIM Bulk requests: what Bulk support in
            # the applier would buy against this portal
            tag = f"{prefix}b{args.bulk}"
            f = out / "equivalent-bulk.txt"
            f.write_text(reqfile.read_text().replace(f"/{prefix}lg-", f"/{tag}-"))
            wait_quiet(args.max_load, args.max_wait)
            lg = subprocess.run([str(SCIMLOAD), "--base", env["LASYNC_PORTAL_URL"],
                                 "--token-env", "LASYNC_PORTAL_TOKEN", "--concurrency", "4",
                                 "--bulk", str(args.bulk), str(f)], env=dict(os.environ, **env),
                                capture_output=True, text=True, timeout=args.timeout)
            line = next((x for x in lg.stdout.splitlines() if "phase=all" in x), "")
            print(f"applier plain_bulk bulk={args.bulk} {line.removeprefix('scimload ')} "
                  f"exit={lg.returncode}", flush=True)
            (out / "scimload-bulk.out").write_text(lg.stdout + lg.stderr)
    finally:
        dep.stop()
        if not args.keep:
            dep.cleanup()
    log(f"results in {out}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="pipeline.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=7)
    common.add_argument("--out", default=str(WORK / "results"))
    common.add_argument("--timeout", type=int, default=14400, help="seconds per sweep")
    common.add_argument("--max-load", type=float, default=1.0,
                        help="wait for the 1-minute load to drop below this before a run")
    common.add_argument("--max-wait", type=int, default=1800,
                        help="seconds to wait for a quiet machine before measuring anyway")
    common.add_argument("--keep", action="store_true", help="keep the run's topics")
    s = sub.add_parser("sweep", parents=[common])
    s.add_argument("--schools", type=int, default=1000)
    s.add_argument("--runs", default="first,steady,change1,year")
    s.add_argument("--no-kcat", action="store_true")
    s.add_argument("--steady-nights", type=int, default=3,
                   help="steady resyncs on successive nights (each measured)")
    a = sub.add_parser("applier", parents=[common])
    a.add_argument("--schools", type=int, default=40)
    a.add_argument("--concurrency", default="4,8,16")
    a.add_argument("--scim-bulk", choices=("auto", "off"), default="auto",
                   help="the applier's --scim-bulk (off: one request per write, as before)")
    a.add_argument("--bulk", type=int, default=100,
                   help="also send the creates as SCIM Bulk requests of this many (0: not)")
    m = sub.add_parser("memory", parents=[common])
    m.add_argument("--tenants", default="1,100,1000")
    m.add_argument("--tenant-size", type=int, default=200)
    m.add_argument("--sizes", default="250,500,1000,2000,4000")
    args = p.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    return {"sweep": cmd_sweep, "applier": cmd_applier, "memory": cmd_memory}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
