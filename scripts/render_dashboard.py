"""render_dashboard.py - the helper of scripts/render_dashboard.sh.

A scripted run of lasync on the development stack, scraped by a real
Prometheus, after which every panel of deploy/grafana/lasync.json is
evaluated through Prometheus' HTTP API (query_range) and plotted with
matplotlib into docs/images/, so a reader sees what an operator sees. The
same run measures the daemons' memory (peak RSS, VmHWM) for the sizing of
deploy/helm/lasync/values.yaml.

The run (tests/e2e/harness.py Pipeline: its own topic prefix, portal
tenants and fixture directories; both vendors' workers, applier, notifier):
  1. a 2,000-student ParnasSys school and a 2,000-student ESIS school
     (lasgen), first sync (every profile created), then an unchanged one;
  2. a burst of sync requests, so consumer lag builds up and drains;
  3. a tenant whose LAS key is wrong: three failed syncs, quarantined;
  4. a school whose export comes back empty: held by the deletion guard
     (R17), the managers are e-mailed;
  5. a school whose portal refuses creates: dead-lettered;
  6. a parent's suggestion through the webhook: one e-mail.

Usage (the .sh sets the environment): render_dashboard.py --out DIR
        [--students N] [--prometheus PATH] [--sizing FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import Pipeline, free_port, wait_until  # noqa: E402

DASHBOARD = ROOT / "deploy" / "grafana" / "lasync.json"
EXAMPLE_PS = ROOT / "fixtures" / "las" / "parnassys" / "99ZZ"
PS_KEY = (EXAMPLE_PS / "leveranciersleutel").read_text().strip()
STEP_S = 2
RATE = "20s"  # $__rate_interval at a 2 s scrape interval


def log(msg: str):
    print(f"render_dashboard: {time.strftime('%H:%M:%S')} {msg}", flush=True)


# --- Prometheus -------------------------------------------------------------

class Prometheus:
    def __init__(self, binary: str, workdir: Path, targets: dict[str, tuple[int, dict]]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = {
            "global": {"scrape_interval": f"{STEP_S}s", "evaluation_interval": f"{STEP_S}s"},
            "scrape_configs": [{
                "job_name": "lasync",
                "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                    "labels": {"component": name.split("-")[0], **labels}}
                                   for name, (port, labels) in targets.items()],
            }],
        }
        (workdir / "prometheus.yml").write_text(json.dumps(conf))
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.ready, 60, "Prometheus /-/ready", interval=0.5)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError("Prometheus exited; see its log")
            return False

    def query_range(self, expr: str, start: float, end: float) -> list[dict]:
        q = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": STEP_S})
        with urllib.request.urlopen(f"{self.url}/api/v1/query_range?{q}", timeout=60) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# --- memory -----------------------------------------------------------------

class RssSampler(threading.Thread):
    """Peak VmRSS of each daemon, sampled every 0.2 s, and VmHWM at the end."""

    def __init__(self, pipe: Pipeline):
        super().__init__(daemon=True)
        self.pipe, self.peak, self.stop_flag = pipe, {}, False

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return 0.0

    @staticmethod
    def status(pid: int) -> dict[str, int]:
        out = {}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])  # kB
        except OSError:
            pass
        return out

    def run(self):
        while not self.stop_flag:
            for name, d in list(self.pipe.daemons.items()):
                if d.proc and d.proc.poll() is None:
                    rss = self.status(d.proc.pid).get("VmRSS", 0)
                    self.peak[name] = max(self.peak.get(name, 0), rss)
            time.sleep(0.2)

    def report(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, d in self.pipe.daemons.items():
            st = self.status(d.proc.pid) if d.proc and d.proc.poll() is None else {}
            out[name] = {"peak_rss_mib": round(max(self.peak.get(name, 0), st.get("VmHWM", 0))
                                               / 1024, 1),
                         "end_rss_mib": round(st.get("VmRSS", 0) / 1024, 1),
                         "cpu_seconds": round(self.cpu_seconds(d.proc.pid), 1)
                         if d.proc else 0.0}
        return out


# --- the scripted run -------------------------------------------------------

def esis_las(pipe: Pipeline) -> dict:
    c = pipe.las.certs
    return {"endpoint": f"{pipe.las.https_url}/esis", "ca_ref": f"file:{c}/ca.pem",
            "client_cert_ref": f"file:{c}/client.p12",
            "client_cert_password_ref": f"file:{c}/client.pass"}


def fresh_brin(pipe: Pipeline, vendor: str, first: str, dep: str = "") -> str:
    root = pipe.las.root / vendor
    for a in "0123456789":
        for b in "ABCDEFGHJKLMNPQRSTUVWXYZ":
            brin = f"{first}{a}{b}{b}"
            if not (root / f"{brin}{dep}").exists():
                return brin
    raise AssertionError("no free BRIN")


def signed_suggestion(secret: str, body: dict) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    t = str(int(time.time()))
    sig = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return raw, f"t={t},v1={sig}"


def setup(pipe: Pipeline, students: int, made: list[Path]) -> Path:
    """Schools and tenants (before the daemons exist: the harness hands the
    tenants' LAS keys to the daemons it makes afterwards)."""
    # 1. two big schools, one per vendor
    ps = fresh_brin(pipe, "parnassys", "4")
    made.append(pipe.las.generate("parnassys", ps, students, seed=21, key="ps-key"))
    es = fresh_brin(pipe, "esis", "5", "00")
    pipe.las.generate("esis", es, students, seed=22, key="es-key")
    made.append(pipe.las.root / "esis" / f"{es}00")
    pipe.tenant("parnassys2000", brin=ps, key="ps-key", webhook_secret="hook-secret",
                manager_emails=["ict@parnassys2000.example.nl"])
    pipe.tenant("esis2000", brin=es, dependance="00", key="es-key", vendor="esis",
                las=esis_las(pipe))
    # 3. wrong key; 4. held; 5. dead-lettered: copies of the example school
    bad = fresh_brin(pipe, "parnassys", "6")
    made.append(pipe.las.add_school_from(EXAMPLE_PS, "parnassys", bad, "right-key",
                                         {"99ZZ": bad}))
    pipe.tenant("wrongkey", brin=bad, key="not-the-key")
    held = fresh_brin(pipe, "parnassys", "7")
    held_dir = pipe.las.add_school_from(EXAMPLE_PS, "parnassys", held, PS_KEY, {"99ZZ": held})
    made.append(held_dir)
    pipe.tenant("emptyexport", brin=held, key=PS_KEY, settings={"guard_min": 2,
                                                                "guard_percent": 30})
    dl = fresh_brin(pipe, "parnassys", "8")
    made.append(pipe.las.add_school_from(EXAMPLE_PS, "parnassys", dl, PS_KEY, {"99ZZ": dl}))
    pipe.tenant("refused", brin=dl, key=PS_KEY)
    return held_dir


def scripted_run(pipe: Pipeline, students: int, held_dir: Path):
    pipe.start(*pipe.workers("parnassys"), *pipe.workers("esis"), "applier", "notifier")
    time.sleep(20)  # a quiet baseline on the graphs

    log(f"first sync of a {students}-student ParnasSys school")
    pipe.sync("parnassys2000", wait=1800)
    log(f"first sync of a {students}-student ESIS school")
    pipe.sync("esis2000", wait=1800)
    log("unchanged second syncs")
    pipe.sync("parnassys2000", wait=900)
    pipe.sync("esis2000", wait=900)

    log("a burst of sync requests (lag)")
    for _ in range(12):
        pipe.ctl("sync", "parnassys2000", "--as-of", "2026-11-29")
        pipe.ctl("sync", "esis2000", "--as-of", "2026-11-29")
    wait_until(lambda: sum(v for (n, _l), v in pipe.daemons["applier"].metrics().items()
                           if n == "lasync_consumer_lag") == 0
               and sum(v for (n, _l), v in pipe.daemons["fetcher-parnassys"].metrics().items()
                       if n == "lasync_consumer_lag") == 0, 1800, "the burst to drain",
               interval=2)

    log("wrong LAS key: three failed syncs, quarantined")
    for _ in range(3):
        pipe.sync("wrongkey", check=False, wait=300)

    log("an empty export: held by the deletion guard")
    pipe.sync("emptyexport", wait=300)
    path = held_dir / "getLeerlingen.xml"
    path.write_text(re.sub(r"<leerling>.*?</leerling>", "", path.read_text(), flags=re.S))
    pipe.sync("emptyexport", check=False, wait=300)

    log("a portal refusing creates: dead-lettered")
    tenant = pipe.portal_tenant("refused")
    pipe.portal.faults({"tenant": tenant, "status": 400, "methods": ["POST"], "count": -1})
    try:
        pipe.sync("refused", check=False, wait=300)
    finally:
        pipe.portal.faults(None)

    log("a parent's suggestion through the webhook")
    users = pipe.portal.users(pipe.portal_tenant("parnassys2000"))
    parent = next(u for u in users if u["externalId"].startswith("parnassys:guardian:"))
    body = {"suggestionId": "render-1",
            "parent": {"id": parent["id"], "externalId": parent["externalId"]},
            "children": [], "submittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "changes": [{"field": "phoneMobile", "old": None, "new": "06-12121212"}]}
    raw, sig = signed_suggestion("hook-secret", body)
    port = pipe.daemons["notifier"].webhook_port
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/tenants/parnassys2000/suggestions", data=raw,
        method="POST", headers={"Content-Type": "application/json", "X-Lasync-Signature": sig})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202, r.status
    time.sleep(30)  # the e-mail, the gauges, the last scrapes


# --- plotting -----------------------------------------------------------------

def legend(fmt: str, labels: dict) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip() \
        or json.dumps(labels)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def plot_panel(ax, panel: dict, prom: Prometheus, start: float, end: float):
    import matplotlib.dates as mdates
    from datetime import datetime
    ax.set_title(panel["title"], fontsize=9, loc="left")
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    series = []
    for t in panel["targets"]:
        expr = t["expr"].replace("$__rate_interval", RATE)
        for s in prom.query_range(expr, start, end):
            xs = [datetime.fromtimestamp(float(x)) for x, _ in s["values"]]
            ys = [float(v) for _, v in s["values"]]
            series.append((legend(t.get("legendFormat", ""), s["metric"]), xs, ys))
    if panel["type"] in ("stat",):
        ax.axis("off")
        if not series:
            ax.text(0.5, 0.5, "0", ha="center", va="center", fontsize=28, color="green")
        for i, (name, _xs, ys) in enumerate(series[:4]):
            v = ys[-1] if ys else 0
            ax.text(0.5, 0.6 - i * 0.25, f"{v:g}", ha="center", va="center",
                    fontsize=26, color="red" if v >= 1 else "green")
            ax.text(0.5, 0.3 - i * 0.25, name, ha="center", va="center", fontsize=8)
        return
    if panel["type"] == "table":
        ax.axis("off")
        rows = [(name, f"{ys[-1] / 3600:.1f} h" if unit == "s" and ys else
                 (f"{ys[-1]:g}" if ys else "")) for name, _xs, ys in series]
        if not rows:
            ax.text(0.5, 0.5, "no rows (nothing to report)", ha="center", va="center",
                    fontsize=8, color="grey")
        else:
            ax.table(cellText=rows[:8], colLabels=["tenant", "value"], loc="center",
                     cellLoc="left")
        return
    for name, xs, ys in sorted(series, key=lambda s: s[0])[:12]:
        ax.plot(xs, [y if not math.isnan(y) else None for y in ys], label=name, linewidth=1)
    if not series:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="grey")
    ax.set_xlim(datetime.fromtimestamp(start), datetime.fromtimestamp(end))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if end - start > 900 else "%H:%M:%S"))
    ax.tick_params(labelsize=7)
    if unit:
        ax.set_ylabel(unit, fontsize=7)
    if series:
        ax.legend(fontsize=6, loc="upper left", framealpha=0.6)
    ax.grid(alpha=0.3)


def render(prom: Prometheus, start: float, end: float, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dash = json.loads(DASHBOARD.read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("dashboard-*.png"):
        old.unlink()
    made = []
    for p in panels:
        fig, ax = plt.subplots(figsize=(6, 2.8) if p["gridPos"]["w"] > 6 else (3, 2.8), dpi=80)
        plot_panel(ax, p, prom, start, end)
        fig.tight_layout()
        path = out / f"dashboard-{slug(p['title'])}.png"
        fig.savefig(path)
        plt.close(fig)
        made.append(path)
    # The whole dashboard in Grafana's grid: 24 columns, rows of height h.
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dash["panels"])
    rows += 3  # room for the title
    fig = plt.figure(figsize=(16, rows * 0.32), dpi=80)
    fig.suptitle("lasync (deploy/grafana/lasync.json), rendered from a run of the "
                 "development stack", fontsize=12, y=0.995)
    for p in dash["panels"]:
        g = p["gridPos"]
        top = 1 - (g["y"] + 2) / rows
        if p["type"] == "row":
            fig.text(0.01, top - 0.005, p["title"], fontsize=11, weight="bold", va="top")
            continue
        ax = fig.add_axes([g["x"] / 24 + 0.03, top - g["h"] / rows + 0.02,
                           g["w"] / 24 - 0.045, g["h"] / rows - 0.045])
        plot_panel(ax, p, prom, start, end)
    path = out / "dashboard.png"
    fig.savefig(path)
    plt.close(fig)
    made.append(path)
    return made


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--sizing", type=Path, default=None,
                    help="write the daemons' measured memory here (JSON)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lasync-render-"))
    pipe = Pipeline(work)
    made_dirs: list[Path] = []
    prom = None
    sampler = RssSampler(pipe)
    try:
        held_dir = setup(pipe, args.students, made_dirs)
        # Daemons made (ports known) before Prometheus, started after it.
        for v in ("parnassys", "esis"):
            pipe.workers(v)
        pipe.daemon("applier")
        pipe.daemon("notifier")
        targets = {name: (d.port, {"worker_vendor": name.split("-")[1]} if "-" in name else {})
                   for name, d in pipe.daemons.items()}
        prom = Prometheus(args.prometheus, work, targets)
        sampler.start()
        start = time.time()
        scripted_run(pipe, args.students, held_dir)
        end = time.time()
        sampler.stop_flag = True
        sizing = {"students": args.students, "build": str(pipe.build),
                  "run_seconds": round(end - start), "daemons": sampler.report()}
        log("memory: " + json.dumps(sizing["daemons"]))
        if args.sizing:
            args.sizing.write_text(json.dumps(sizing, indent=2) + "\n")
        for path in render(prom, start, end, args.out):
            log(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    except BaseException:
        print(pipe.logs(), file=sys.stderr)
        raise
    finally:
        sampler.stop_flag = True
        pipe.stop()
        if prom:
            prom.stop()
        for d in made_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if os.environ.get("LASYNC_RENDER_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
