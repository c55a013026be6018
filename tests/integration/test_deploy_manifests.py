"""The Helm chart (deploy/helm/lasync): lint, render, schema checks, and the
properties the deployment issue asks for, offline.

kubeconform validates every rendered object strictly (unknown fields are
errors) against the Kubernetes schemas of the chart's minimum and a
current version and against KEDA's own CRD schemas (deploy/tools/install.sh).
"""

from __future__ import annotations

import json

import pytest
import yaml

from test_deploy_common import (CHART, DAEMONS, KUBE_VERSIONS, SCHEMAS, VENDORS, by_kind,
                                helm_template, rendered, run, tool)


def kubeconform(path, version: str, check: bool = True):
    return run(tool("kubeconform"), "-strict", "-summary", "-output", "json",
               "-kubernetes-version", version,
               "-schema-location",
               f"{SCHEMAS}/k8s/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}"
               "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
               "-schema-location",
               f"{SCHEMAS}/crd/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
               str(path), check=check)


def test_helm_lint():
    p = run(tool("helm"), "lint", "--strict", str(CHART), "--kube-version", KUBE_VERSIONS[-1])
    assert "1 chart(s) linted, 0 chart(s) failed" in p.stdout, p.stdout


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_rendered_objects_are_valid(tmp_path, version):
    out = tmp_path / "lasync.yaml"
    out.write_text(helm_template().stdout)
    p = kubeconform(out, version)
    summary = json.loads(p.stdout)["summary"]
    assert summary["invalid"] == 0 and summary["errors"] == 0 and summary["skipped"] == 0, p.stdout
    assert summary["valid"] == len([d for d in yaml.safe_load_all(out.read_text()) if d])
    assert summary["valid"] >= 20


def test_kubeconform_catches_mistakes(tmp_path):
    """The validation can fail: a misspelt field in a Deployment and in a
    KEDA trigger are both refused (so the schemas are really applied)."""
    docs = rendered()
    dep = next(d for d in docs if d["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    so = next(d for d in docs if d["kind"] == "ScaledObject")
    so["spec"]["maxReplicas"] = 3
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump_all([dep, so]))
    p = kubeconform(out, KUBE_VERSIONS[-1], check=False)
    assert p.returncode != 0
    assert "livenesProbe" in p.stdout and "maxReplicas" in p.stdout, p.stdout


def test_a_deployment_per_daemon_and_vendor():
    deps = by_kind(rendered(), "Deployment")
    want = {f"lasync-{d}-{v}" for d in ("fetcher", "mapper") for v in VENDORS}
    want |= {"lasync-applier", "lasync-notifier"}
    assert set(deps) == want
    for name, d in deps.items():
        c = d["spec"]["template"]["spec"]["containers"][0]
        daemon = name.split("-")[1]
        assert c["command"] == [f"lasync-{daemon}"]
        envs = {e["name"]: e.get("value") for e in c["env"]}
        if daemon in ("fetcher", "mapper"):
            assert envs["LASYNC_VENDOR"] == name.split("-")[2]
        else:
            assert "LASYNC_VENDOR" not in envs


def test_probes_resources_grace_and_security():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    docs = rendered()
    for name, d in by_kind(docs, "Deployment").items():
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, (name, probe)
        # Startup covers loading the tenants table (--tenants-timeout-ms 30 s).
        assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] > 30
        res = c["resources"]
        assert res["requests"]["memory"] and res["requests"]["cpu"] and res["limits"]["memory"]
        # Longer than --drain-ms plus the flush, commit and group leave.
        envs = {e["name"]: e.get("value") for e in c["env"]}
        drain_s = int(envs["LASYNC_DRAIN_MS"]) / 1000
        assert pod["terminationGracePeriodSeconds"] > drain_s + 5, name
        assert int(envs["LASYNC_HTTP_PORT"]) == ports["metrics"]
        assert envs["LASYNC_HTTP_BIND"] == "0.0.0.0"
        # The jobs' memory budget leaves the other half of the limit to
        # the process, Kafka's queue and one school over the budget.
        limit = res["limits"]["memory"]
        limit_mb = int(limit[:-2]) * (1024 if limit.endswith("Gi") else 1)
        assert 0 < int(envs["LASYNC_MEMORY_BUDGET_MB"]) <= limit_mb // 2, name
        # A bounded number of jobs at once: their memory, not the
        # number of schools, sets the level (BENCHMARKS.md §4).
        assert int(envs["LASYNC_MAX_JOBS"]) >= 1, name
        sc, psc = c["securityContext"], pod["securityContext"]
        assert psc["runAsNonRoot"] and psc["runAsUser"] != 0
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"]["drop"] == ["ALL"]
        ann = d["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/port"] == str(ports["metrics"])
    assert values["terminationGracePeriodSeconds"] > values["drainMs"] / 1000 + 5


def test_grace_period_shorter_than_drain_is_refused():
    p = helm_template("drainMs=30000", "terminationGracePeriodSeconds=30", check=False)
    assert p.returncode != 0 and "terminationGracePeriodSeconds" in p.stderr, p.stderr


def test_a_disruption_budget_per_deployment():
    docs = rendered()
    deps = by_kind(docs, "Deployment")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    assert set(pdbs) == set(deps)
    for name, pdb in pdbs.items():
        sel = pdb["spec"]["selector"]["matchLabels"]
        assert sel == deps[name]["spec"]["selector"]["matchLabels"], name
        assert pdb["spec"]["maxUnavailable"] == 1


def test_keda_scales_each_vendor_and_the_appliers_on_their_group_lag():
    docs = rendered("topicPrefix=prod")
    sos = by_kind(docs, "ScaledObject")
    want = {f"lasync-{d}-{v}": (f"prod-{d}-{v}",
                                f"prod.{'sync-requests' if d == 'fetcher' else 'snapshots'}.{v}")
            for d in ("fetcher", "mapper") for v in VENDORS}
    want["lasync-applier"] = ("prod-applier", "prod.portal-changes")
    assert set(sos) == set(want)
    deps = by_kind(docs, "Deployment")
    for name, so in sos.items():
        assert so["spec"]["scaleTargetRef"]["name"] == name and name in deps
        assert "replicas" not in deps[name]["spec"], "KEDA owns the replica count"
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        md = trigger["metadata"]
        assert (md["consumerGroup"], md["topic"]) == want[name]
        assert so["spec"]["maxReplicaCount"] <= 8  # no more consumers than partitions
    # The notifier is not scaled on lag; without KEDA every Deployment has replicas.
    assert deps["lasync-notifier"]["spec"]["replicas"] == 2
    plain = by_kind(rendered("autoscaling.keda=false"), "Deployment")
    assert all("replicas" in d["spec"] for d in plain.values())
    assert not by_kind(rendered("autoscaling.keda=false"), "ScaledObject")


def test_cronjobs_run_the_periodic_lasyncctl_jobs():
    crons = by_kind(rendered(), "CronJob")
    want = {"lasync-sync-due": ["sync", "--due"],
            "lasync-reminders": ["suggestions", "remind", "--due"]}
    assert set(crons) == set(want)
    for name, cj in crons.items():
        c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert c["command"] == ["lasyncctl"] and c["args"] == want[name]
        assert cj["spec"]["timeZone"] == "Europe/Amsterdam"
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    assert crons["lasync-sync-due"]["spec"]["schedule"] == "*/5 * * * *"
    assert crons["lasync-reminders"]["spec"]["schedule"] == "0 8 * * 1"
    job = by_kind(rendered(), "Job")["lasync-topics"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["topics", "ensure"]
    assert "pre-install" in job["metadata"]["annotations"]["helm.sh/hook"]


def test_secrets_are_placeholders_mounted_as_files():
    docs = rendered()
    secrets = by_kind(docs, "Secret")
    assert set(secrets) == {"lasync-las", "lasync-portal", "lasync-webhook", "lasync-smtp"}
    for name, s in secrets.items():
        assert "data" not in s
        for k, v in s["stringData"].items():
            assert v.startswith("PLACEHOLDER"), f"{name}.{k} is not a placeholder"
    mounts = {}
    for name, d in by_kind(docs, "Deployment").items():
        pod = d["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in pod["volumes"]}
        for m in pod["containers"][0]["volumeMounts"]:
            if m["mountPath"].startswith("/run/secrets/lasync/"):
                assert m["readOnly"]
                srcs = [s["secret"]["name"] for s in vols[m["name"]]["projected"]["sources"]]
                mounts.setdefault(name.split("-")[1], {})[m["mountPath"]] = srcs
        envs = {e["name"]: e.get("value", "") for e in pod["containers"][0]["env"]}
        assert not any("PLACEHOLDER" in v for v in envs.values())
    assert mounts["fetcher"] == {"/run/secrets/lasync/las": ["lasync-las"]}
    assert mounts["applier"] == {"/run/secrets/lasync/portal": ["lasync-portal"]}
    assert mounts["notifier"] == {"/run/secrets/lasync/portal": ["lasync-portal"],
                                  "/run/secrets/lasync/webhook": ["lasync-webhook"],
                                  "/run/secrets/lasync/smtp": ["lasync-smtp"]}
    assert "mapper" not in mounts  # the mapper reads no secret
    # The SMTP references point into the mounted directory.
    notifier = by_kind(docs, "Deployment")["lasync-notifier"]
    envs = {e["name"]: e.get("value") for e in
            notifier["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert envs["LASYNC_SMTP_USER_REF"] == "file:/run/secrets/lasync/smtp/user"
    assert envs["LASYNC_SMTP_PASSWORD_REF"] == "file:/run/secrets/lasync/smtp/password"
    # Production: the Secrets are made outside the chart; more than one per kind.
    prod = rendered("secrets.create=false", "secrets.las={lasync-las-0,lasync-las-1}")
    assert not by_kind(prod, "Secret")
    fetcher = by_kind(prod, "Deployment")["lasync-fetcher-esis"]["spec"]["template"]["spec"]
    (las,) = [v for v in fetcher["volumes"] if v["name"] == "secrets-las"]
    assert [s["secret"]["name"] for s in las["projected"]["sources"]] == ["lasync-las-0",
                                                                         "lasync-las-1"]


def test_per_vendor_overrides(tmp_path):
    docs = rendered(values={"fetcher": {"perVendor": {"esis": {
        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}, "limits": {"memory": "1Gi"}},
        "autoscaling": {"maxReplicas": 2}}}}}, tmp=tmp_path)
    deps = by_kind(docs, "Deployment")
    esis = deps["lasync-fetcher-esis"]["spec"]["template"]["spec"]["containers"][0]
    ps = deps["lasync-fetcher-parnassys"]["spec"]["template"]["spec"]["containers"][0]
    assert esis["resources"]["limits"]["memory"] == "1Gi"
    assert ps["resources"]["limits"]["memory"] != "1Gi"
    sos = by_kind(docs, "ScaledObject")
    assert sos["lasync-fetcher-esis"]["spec"]["maxReplicaCount"] == 2
    assert sos["lasync-fetcher-parnassys"]["spec"]["maxReplicaCount"] == 8


def test_webhook_service_exposes_only_the_webhook():
    svc = by_kind(rendered(), "Service")
    assert set(svc) == {"lasync-webhook"}
    (port,) = svc["lasync-webhook"]["spec"]["ports"]
    assert port["targetPort"] == "webhook"
    assert svc["lasync-webhook"]["spec"]["selector"]["app.kubernetes.io/component"] == "notifier"


def test_every_daemon_is_deployed():
    daemons = {d["spec"]["template"]["spec"]["containers"][0]["command"][0]
               for d in by_kind(rendered(), "Deployment").values()}
    assert daemons == {f"lasync-{d}" for d in DAEMONS}
