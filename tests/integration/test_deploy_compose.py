"""deploy/docker-compose.yml against the compose specification's JSON schema
(the one `docker compose config` uses, from the compose-go module; no Docker
engine runs here), plus what the deployment issue asks of it. Variables,
ports and commands are checked against the daemons in test_deploy_drift.py.
"""

from __future__ import annotations

import copy
import json

import jsonschema

from test_deploy_common import DEPLOY, SCHEMAS, compose


def validator():
    path = SCHEMAS / "compose-spec.json"
    assert path.is_file(), f"{path} is missing; run scripts/deps.sh"
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_valid_compose_file():
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(compose())]
    assert not errors, "\n".join(errors)


def test_schema_check_can_fail():
    doc = copy.deepcopy(compose())
    doc["services"]["applier"]["restart_policy"] = "always"   # not a service key
    doc["volume"] = {"kafka-data": None}                        # misspelt top-level key
    errors = " ".join(e.message for e in validator().iter_errors(doc))
    assert "restart_policy" in errors and "volume" in errors, errors


def test_services():
    svc = compose()["services"]
    assert set(svc) == {"kafka", "redis", "topics", "fetcher-parnassys", "fetcher-esis",
                        "mapper-parnassys", "mapper-esis", "applier", "notifier", "cron"}
    assert svc["kafka"]["image"].startswith("apache/kafka:")
    env = svc["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= 16 * 1024 * 1024
    redis = svc["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert svc["topics"]["command"][:3] == ["lasyncctl", "topics", "ensure"]
    assert svc["topics"]["restart"] == "no"
    for name in ("fetcher-parnassys", "fetcher-esis", "mapper-parnassys", "mapper-esis",
                 "applier", "notifier", "cron"):
        dep = svc[name]["depends_on"]["topics"]
        assert dep["condition"] == "service_completed_successfully", name
    for name in ("fetcher-parnassys", "fetcher-esis", "mapper-parnassys", "mapper-esis",
                 "applier", "notifier"):
        s = svc[name]
        assert s["healthcheck"]["test"][0] == "CMD", name
        assert "/healthz" in " ".join(s["healthcheck"]["test"]), name
        grace = int(s["stop_grace_period"].rstrip("s"))
        assert grace > 3 + 5, name  # --drain-ms 3 s plus the flush
        assert s["read_only"] and s["cap_drop"] == ["ALL"], name
    assert svc["fetcher-esis"]["environment"]["LASYNC_VENDOR"] == "esis"
    assert svc["mapper-parnassys"]["environment"]["LASYNC_VENDOR"] == "parnassys"
    assert svc["cron"]["command"] == ["lasync-cron"]


def test_no_secrets_in_compose():
    """Secrets come from a mounted directory the operator fills; the example
    directory holds placeholders only."""
    text = (DEPLOY / "docker-compose.yml").read_text().lower()
    for word in ("password:", "token:", "secret:", "key:"):
        assert word not in text.replace("_ref:", ""), word
    svc = compose()["services"]
    assert svc["notifier"]["environment"]["LASYNC_SMTP_PASSWORD_REF"].startswith("file:/run/")
    for f in (DEPLOY / "secrets.example").rglob("*"):
        if f.is_file() and f.name != "README.md":
            assert f.read_text().strip() == "PLACEHOLDER", f
    assert "/secrets/" in (DEPLOY / ".gitignore").read_text()
    mounts = {name: [v.split(":")[-2] for v in s.get("volumes", [])]
              for name, s in svc.items()}
    assert mounts["fetcher-esis"] == ["/run/secrets/lasync/las"]
    assert mounts["mapper-esis"] == []
    assert sorted(mounts["notifier"]) == ["/run/secrets/lasync/portal",
                                          "/run/secrets/lasync/smtp",
                                          "/run/secrets/lasync/webhook"]
