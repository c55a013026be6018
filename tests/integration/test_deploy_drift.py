"""Drift check: what deploy/ configures must be what the daemons read.

Fails when a LASYNC_* variable, a flag, a port, a topic or a consumer group
in the Helm chart, the compose file or the Dockerfile does not match the
built daemons:

- variables and flags: each container's LASYNC_* variables and --flags must
  be parameters its program takes (`--print-config` of the built binary,
  cross-checked with `--help`);
- settings: each Deployment and compose service sets what its program needs
  (what --help marks required, e.g. the fetcher's and mapper's vendor, plus
  brokers, Redis URL and topic prefix, and the notifier's SMTP server), the
  vendor its name says, and all of one manifest the same brokers, Redis and
  prefix; the daemon accepts that configuration alone (--print-config). A
  mutated copy of the chart and the compose file shows the check can fail;
- ports: the effective --http-port / --webhook-port of each container,
  computed by the daemon itself from the manifest's environment, must be
  the port the manifest probes, exposes and annotates for scraping;
- topics: every topic suffix of lib/lasync_kafka.h exists after
  `lasyncctl topics ensure` (the Job and the compose one-shot), and every
  KEDA trigger names a topic that exists;
- consumer groups: each KEDA trigger's group and topic must be what the
  scaled Deployment's daemon really joins and consumes: the daemons run on
  the development stack (tests/e2e/harness.py Pipeline, its own prefix)
  and report them in lasync_consumer_lag{group,topic};
- commands: the CronJobs' and the compose file's lasyncctl commands run
  against the stack under that prefix and succeed.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from test_deploy_common import (CHART, COMPOSE, DAEMONS, DEPLOY, ROOT, binary, by_kind, compose,
                                env_name, help_env_names, known_params, print_config, quiet_env,
                                rendered, topic_suffixes)

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import Pipeline, env, wait_until  # noqa: E402

DEFAULT_PORTS = {"fetcher": 9101, "mapper": 9102, "applier": 9103, "notifier": 9104}


def program_of(command: list[str]) -> str:
    head = os.path.basename(command[0])
    if head.startswith("lasync-") and head[len("lasync-"):] in DAEMONS:
        return head[len("lasync-"):]
    assert head in ("lasyncctl", "lasync-cron"), f"unknown program {head}"
    return head


def k8s_containers(docs: list[dict]):
    """(where, program, env, args, ports by name, probe ports, scrape port)."""
    out = []
    for kind in ("Deployment", "Job", "CronJob"):
        for name, d in by_kind(docs, kind).items():
            spec = d["spec"]
            if kind == "CronJob":
                spec = spec["jobTemplate"]["spec"]
            pod = spec["template"]
            ann = pod["metadata"].get("annotations", {})
            for c in pod["spec"]["containers"]:
                envs = {e["name"]: e["value"] for e in c.get("env", [])}
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                probes = {c[p]["httpGet"]["port"] for p in
                          ("startupProbe", "readinessProbe", "livenessProbe") if p in c}
                probes = {ports.get(p, p) for p in probes}
                out.append((f"{kind}/{name}", program_of(c["command"]), envs,
                            list(c.get("args", [])), ports, probes,
                            int(ann["prometheus.io/port"]) if "prometheus.io/port" in ann else None))
    return out


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's runtime stage: every container starts with it."""
    text = (DEPLOY / "Dockerfile").read_text().split(" AS runtime", 1)[1]
    out = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, re.M):
        out.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", block))
    return out


def compose_containers():
    doc = compose()
    out = []
    for name, svc in doc["services"].items():
        if "command" not in svc or not str(svc.get("image", "")).startswith("${LASYNC_IMAGE"):
            continue
        envs = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        hc = " ".join(svc.get("healthcheck", {}).get("test", []))
        probes = {int(p) for p in re.findall(r"/dev/tcp/127\.0\.0\.1/(\d+)", hc)}
        published = {int(p.split(":")[-1]) for p in svc.get("ports", [])}
        out.append((f"compose/{name}", program_of(svc["command"]), envs, svc["command"][1:],
                    published, probes, None))
    return out


def resolve_compose_vars(value: str) -> str:
    """${NAME:-default} -> default (what compose does without NAME set)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


@pytest.fixture(scope="module")
def params():
    out = {d: known_params(d) for d in DAEMONS}
    out["lasyncctl"] = known_params("lasyncctl")
    out["lasync-cron"] = out["lasyncctl"]  # it passes its environment to lasyncctl
    return out


def test_help_and_print_config_agree(params):
    """env_name() is how the daemons map a parameter to its variable."""
    for program in (*DAEMONS, "lasyncctl"):
        assert help_env_names(program) == {env_name(p) for p in params[program]}, program


def test_every_variable_and_flag_is_read(params):
    containers = k8s_containers(rendered()) + compose_containers()
    assert len(containers) >= 14
    problems = []
    for where, program, envs, args, *_ in containers:
        known_env = {env_name(p) for p in params[program]}
        for k in envs:
            if k.startswith("LASYNC_") and k not in known_env:
                problems.append(f"{where}: {program} does not read {k}")
        if program in DAEMONS:
            for a in args:
                if a.startswith("--") and a[2:].split("=")[0] not in params[program]:
                    problems.append(f"{where}: {program} has no flag {a}")
    assert not problems, "\n".join(problems)


def test_dockerfile_variables_and_ports(params):
    text = (DEPLOY / "Dockerfile").read_text()
    every = set().union(*(params[d] for d in DAEMONS), params["lasyncctl"])
    env_names = set(re.findall(r"\b(LASYNC_[A-Z0-9_]+)=", text))
    assert env_names, "the image sets LASYNC_HTTP_BIND"
    assert env_names <= {env_name(p) for p in every}, env_names
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.*)$", text, re.M) for p in line.split()}
    defaults = {int(print_config(d, args=["--vendor", "esis"] if d in ("fetcher", "mapper")
                                 else [])["http-port"]) for d in DAEMONS}
    defaults.add(int(print_config("notifier")["webhook-port"]))
    assert exposed == defaults
    assert {int(print_config(d, args=["--vendor", "esis"] if d in ("fetcher", "mapper") else [])
                ["http-port"]) for d in DAEMONS} == set(DEFAULT_PORTS.values())


def effective(program: str, envs: dict, args: list[str]) -> dict:
    e = {k: resolve_compose_vars(v) for k, v in envs.items() if k.startswith("LASYNC_")}
    e.pop("LASYNC_KAFKA_BROKERS", None)
    # Secret references are resolved at use, never at start: print-config only.
    return print_config(program, env=e, args=[a for a in args if a.startswith("--")])


def test_ports_are_what_the_daemons_listen_on():
    problems = []
    for where, program, envs, args, ports, probes, scrape in \
            k8s_containers(rendered()) + compose_containers():
        if program not in DAEMONS:
            continue
        if where.startswith("compose/"):
            envs = {**image_env(), **envs}  # compose adds to the image's ENV
        cfg = effective(program, envs, args)
        http = int(cfg["http-port"])
        if where.startswith("compose/"):
            if probes != {http}:
                problems.append(f"{where}: healthcheck on {probes}, daemon listens on {http}")
            if program == "notifier" and ports != {int(cfg["webhook-port"])}:
                problems.append(f"{where}: publishes {ports}, webhook on {cfg['webhook-port']}")
        else:
            if ports.get("metrics") != http or probes != {http} or scrape != http:
                problems.append(f"{where}: metrics port {ports.get('metrics')}, probes {probes},"
                                f" scrape {scrape}; daemon listens on {http}")
            if program == "notifier" and ports.get("webhook") != int(cfg["webhook-port"]):
                problems.append(f"{where}: webhook port {ports.get('webhook')}, daemon "
                                f"{cfg['webhook-port']}")
        if cfg["http-bind"] != "0.0.0.0":
            problems.append(f"{where}: /healthz bound to {cfg['http-bind']}, unreachable for probes")
        if program in ("fetcher", "mapper") and cfg["vendor"] not in ("parnassys", "esis"):
            problems.append(f"{where}: vendor {cfg['vendor']}")
    assert not problems, "\n".join(problems)


# --- what each workload must set ----------------------------------------------

# Parameters whose defaults fit only a developer's machine (Kafka and Redis on
# 127.0.0.1, the prefix "lasync" whatever the release's is): every lasync
# container must set them, and all of one manifest to the same value. On top
# come what a program's --help marks "(required)" (the fetcher's and mapper's
# --vendor, --kafka-brokers) and the notifier's SMTP server.
DEPLOYMENT_SPECIFIC = ("kafka-brokers", "redis-url", "topic-prefix")
ALSO_NEEDED = {"notifier": {"smtp-url"}}


@functools.lru_cache(maxsize=None)
def required_params(program: str) -> frozenset[str]:
    """What the program's --help marks (required)."""
    p = subprocess.run([binary(program), "--help"], env=quiet_env(), capture_output=True,
                       text=True, timeout=60)
    return frozenset(re.findall(r"^\s+--([a-z0-9-]+)\s.*\(required\)$", p.stdout + p.stderr,
                                re.M))


def needed_params(program: str, params: dict) -> set[str]:
    binary_name = "lasyncctl" if program == "lasync-cron" else program
    needed = (required_params(binary_name) | set(DEPLOYMENT_SPECIFIC)
              | ALSO_NEEDED.get(program, set()))
    unknown = needed - params[program]
    assert not unknown, f"{program} takes no {unknown}: update DEPLOYMENT_SPECIFIC/ALSO_NEEDED"
    return needed


def setting(envs: dict, args: list[str], param: str) -> str | None:
    """What a container sets param to (flag first, as the daemons read it),
    or None when it leaves it to the default."""
    for i, a in enumerate(args):
        if a.startswith(f"--{param}="):
            return a.split("=", 1)[1]
        if a == f"--{param}" and i + 1 < len(args):
            return args[i + 1]
    v = envs.get(env_name(param))
    return None if v is None else resolve_compose_vars(v)


def refusal(program: str, envs: dict, args: list[str]) -> str | None:
    """The container's own configuration (image ENV, its variables and
    flags, nothing from the caller) through --print-config: None when the
    program accepts it, else its complaint."""
    e = {**image_env(), **{k: resolve_compose_vars(v) for k, v in envs.items()
                           if k.startswith("LASYNC_")}}
    flags = [a for a in args if a.startswith("--")] if program in DAEMONS else []
    p = subprocess.run([binary("lasyncctl" if program == "lasync-cron" else program), *flags,
                        "--print-config"], env=quiet_env(e), capture_output=True, text=True,
                       timeout=60)
    if p.returncode == 0:
        return None
    last = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
    m = re.search(r'error="([^"]*)"', last)  # the daemons' config_invalid line
    return m.group(1) if m else last


def unset_settings(containers: list, params: dict) -> list[str]:
    """Every lasync container of one manifest sets what its program needs,
    each fetcher and mapper the vendor of its name, and all of them the same
    brokers, Redis and topic prefix."""
    problems, values = [], {p: {} for p in DEPLOYMENT_SPECIFIC}
    for where, program, envs, args, *_ in containers:
        for param in sorted(needed_params(program, params)):
            value = setting(envs, args, param)
            if not value:
                problems.append(f"{where}: {program} needs {param} (env {env_name(param)} or "
                                f"--{param}); the manifest leaves it to the default")
            elif param in values:
                values[param].setdefault(value, []).append(where)
        if program in ("fetcher", "mapper"):
            named = where.rsplit("-", 1)[-1]
            vendor = setting(envs, args, "vendor")
            if vendor and vendor != named:
                problems.append(f"{where}: {program} serves vendor {vendor}, its name says {named}")
        complaint = refusal(program, envs, args)
        if complaint:
            problems.append(f"{where}: {program} refuses its configuration: {complaint}")
    for param, seen in values.items():
        if len(seen) > 1:
            problems.append(f"{param} differs between containers: {seen}")
    return problems


def test_every_workload_sets_what_its_daemon_needs(params):
    deployments = [c for c in k8s_containers(rendered()) if c[0].startswith("Deployment/")]
    assert {c[1] for c in deployments} == set(DAEMONS)
    for program in ("fetcher", "mapper"):
        assert "vendor" in needed_params(program, params), "--help no longer marks --vendor"
    for containers in (k8s_containers(rendered()), compose_containers()):
        problems = unset_settings(containers, params)
        assert not problems, "\n".join(problems)


# Each: where, the file, the text replaced, what replaces it, the problems it
# must cause.
MUTATIONS = {
    "chart-without-redis": (
        "chart", "templates/_helpers.tpl",
        "- name: LASYNC_REDIS_URL\n  value: {{ .Values.redis.url | quote }}\n", "",
        ("Deployment/lasync-applier: applier needs redis-url",
         "Deployment/lasync-fetcher-esis: fetcher needs redis-url")),
    "chart-without-vendor": (
        "chart", "templates/deployments.yaml",
        "            - name: LASYNC_VENDOR\n              value: {{ $w.vendor }}\n", "",
        ("Deployment/lasync-mapper-esis: mapper needs vendor",
         "Deployment/lasync-mapper-esis: mapper refuses its configuration: vendor is required")),
    "compose-wrong-vendor": (
        "compose", "docker-compose.yml",
        "LASYNC_VENDOR: esis\n      LASYNC_HTTP_PORT: \"9101\"",
        "LASYNC_VENDOR: parnassys\n      LASYNC_HTTP_PORT: \"9101\"",
        ("compose/fetcher-esis: fetcher serves vendor parnassys, its name says esis",)),
    "compose-other-prefix": (
        "compose", "docker-compose.yml",
        "      LASYNC_HTTP_PORT: \"9103\"\n",
        "      LASYNC_HTTP_PORT: \"9103\"\n      LASYNC_TOPIC_PREFIX: other\n",
        ("topic-prefix differs between containers",)),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_mutated_manifest_fails_the_settings_check(mutation, params, tmp_path, monkeypatch):
    """The check above on a temporary copy of deploy/ with one drift put in."""
    import test_deploy_common as common
    kind, rel, old, new, expected = MUTATIONS[mutation]
    chart, compose_file = tmp_path / "chart", tmp_path / "docker-compose.yml"
    shutil.copytree(CHART, chart)
    shutil.copy(COMPOSE, compose_file)
    monkeypatch.setattr(common, "CHART", chart)
    monkeypatch.setattr(common, "COMPOSE", compose_file)
    containers = k8s_containers(rendered()) if kind == "chart" else compose_containers()
    assert not unset_settings(containers, params), "the unchanged copy must pass"
    target = (chart / rel) if kind == "chart" else compose_file
    text = target.read_text()
    assert old in text, f"{mutation}: {rel} no longer holds the text to change; update MUTATIONS"
    target.write_text(text.replace(old, new, 1))
    containers = k8s_containers(rendered()) if kind == "chart" else compose_containers()
    problems = unset_settings(containers, params)
    for want in expected:
        assert any(want in p for p in problems), f"{want!r} not in:\n" + "\n".join(problems)


def kafka_topics(prefix: str) -> set[str]:
    p = subprocess.run(["kcat", "-b", env("LASYNC_KAFKA_BROKERS"), "-L", "-J"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    import json
    return {t["topic"] for t in json.loads(p.stdout)["topics"]
            if t["topic"].startswith(prefix + ".")}


def lag_labels(daemon) -> set[tuple[str, str]]:
    m = daemon.metrics()
    return {(dict(lab)["group"], dict(lab)["topic"]) for (n, lab) in m
            if n == "lasync_consumer_lag"}


@pytest.fixture(scope="module")
def stack_pipeline(tmp_path_factory):
    pipe = Pipeline(tmp_path_factory.mktemp("drift"))
    yield pipe
    pipe.stop()  # deletes the prefix's topics
    reports = pipe.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def test_topics_ensure_creates_every_topic_of_lasync_kafka_h(stack_pipeline):
    """The compose one-shot and the chart's Job run exactly this command."""
    pipe = stack_pipeline
    job = by_kind(rendered(f"topicPrefix={pipe.prefix}"), "Job")["lasync-topics"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    pipe.ctl(*c["args"])
    pipe.topics_ready = True  # so the pipeline deletes them at the end
    assert compose()["services"]["topics"]["command"][1:] == c["args"]
    want: dict[str, set[str]] = {}
    for macro, suffix in topic_suffixes().items():
        if macro == "LASYNC_T_DLQ_SUFFIX":
            continue
        if macro in ("LASYNC_T_SYNC_REQUESTS", "LASYNC_T_SNAPSHOTS"):
            want[macro] = {f"{pipe.prefix}.{suffix}.{v}" for v in ("parnassys", "esis")}
        else:
            want[macro] = {f"{pipe.prefix}.{suffix}"}
    # A broker's metadata answer may lag a creation that was just
    # acknowledged: ask until it lists them (or the wait fails below).
    every = set().union(*want.values())
    topics: set[str] = set()

    def listed() -> bool:
        nonlocal topics
        topics = kafka_topics(pipe.prefix)
        return every <= topics
    try:
        wait_until(listed, 30, "the topics in the broker's metadata")
    except AssertionError:
        pass
    for macro, names in want.items():
        assert names <= topics, f"{macro}: {names - topics} not created by topics ensure"


def test_keda_groups_and_topics_are_what_the_daemons_consume(stack_pipeline):
    pipe = stack_pipeline
    if not pipe.topics_ready:
        pipe.ctl("topics", "ensure", "--partitions", "2")
        pipe.topics_ready = True
    docs = rendered(f"topicPrefix={pipe.prefix}")
    deps = by_kind(docs, "Deployment")
    keys = {}
    for name in deps:
        _, daemon, *vendor = name.split("-")
        if daemon in ("fetcher", "mapper"):
            keys[name] = pipe.workers(vendor[0])[0 if daemon == "fetcher" else 1]
        else:
            keys[name] = daemon
    pipe.start(*sorted(set(keys.values())))
    observed = {}
    for name, key in keys.items():
        observed[name] = wait_until(lambda: lag_labels(pipe.daemons[key]), 60,
                                    f"{key} consumer lag metric")
    topics = kafka_topics(pipe.prefix)
    sos = by_kind(docs, "ScaledObject")
    assert len(sos) == 5
    for name, so in sos.items():
        md = so["spec"]["triggers"][0]["metadata"]
        pair = (md["consumerGroup"], md["topic"])
        assert pair in observed[name], f"{name}: KEDA watches {pair}, daemon consumes {observed[name]}"
        assert md["topic"] in topics
    # The daemons' groups follow the prefix as the chart assumes.
    assert {g for (g, _t) in observed["lasync-notifier"]} == {f"{pipe.prefix}-notifier"}


def test_periodic_commands_run(stack_pipeline, tmp_path):
    """The CronJobs' lasyncctl commands, and the compose cron script, against
    the stack under the test's prefix (no tenants: nothing is requested)."""
    pipe = stack_pipeline
    if not pipe.topics_ready:
        pipe.ctl("topics", "ensure", "--partitions", "2")
        pipe.topics_ready = True
    for name, cj in by_kind(rendered(), "CronJob").items():
        c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        p = pipe.ctl(*c["args"])
        assert p.returncode == 0, name
    # deploy/lasync-cron: one round, with the reminder due now, then SIGTERM.
    envp = dict(pipe.env)
    envp["ASAN_OPTIONS"] = "detect_leaks=0"
    envp["PATH"] = f"{Path(binary('lasyncctl')).parent}:{envp['PATH']}"
    today = str(datetime.now(ZoneInfo("Europe/Amsterdam")).isoweekday())
    envp.update(CRON_INTERVAL_S="600", CRON_REMIND_WEEKDAY=today, CRON_REMIND_HOUR="00")
    log = tmp_path / "cron.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(DEPLOY / "lasync-cron")], env=envp, stdout=fh,
                                stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "event=remind_due" in log.read_text(), 120, "lasync-cron's first round")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    text = log.read_text()
    assert "event=sync_due result=ok" in text, text
    assert "event=remind_due result=ok" in text, text
    assert rc == 0 and "event=stopping" in text, text
