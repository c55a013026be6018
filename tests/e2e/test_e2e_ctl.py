"""lasyncctl: tenant validation, R1, status, and the daemons' configuration."""

from __future__ import annotations

import json
import subprocess

from test_e2e_parnassys import KEY


def test_r1_second_tenant_for_one_brin_is_refused(pipeline):
    pipeline.tenant("first", brin="99ZZ", key=KEY)
    doc = json.loads((pipeline.dir / "tenant-first.json").read_text())
    doc["tenant_id"] = "second"
    path = pipeline.dir / "second.json"
    path.write_text(json.dumps(doc))
    p = pipeline.ctl("tenant", "put", str(path), check=False)
    assert p.returncode == 1
    assert "R1" in p.stderr and "99ZZ" in p.stderr and "first" in p.stderr, p.stderr
    # The same tenant may be written again (an update), and another
    # dependance of the same BRIN is another school.
    pipeline.ctl("tenant", "put", str(pipeline.dir / "tenant-first.json"))
    doc["dependance"] = "01"
    path.write_text(json.dumps(doc))
    pipeline.ctl("tenant", "put", str(path))
    listed = pipeline.ctl("tenant", "list").stdout
    assert "first" in listed and "second" in listed


def test_invalid_tenant_is_refused_naming_the_field(pipeline):
    pipeline.ctl("topics", "ensure", "--partitions", "4")
    cases = {
        "brin": ({"brin": "9ZZ"}, "brin"),
        "secret value": ({"las": {"vendor": "parnassys", "endpoint": "http://127.0.0.1:1/x",
                                  "key_ref": "plaintext-key"}}, "las.key_ref"),
        "unknown setting": ({"settings": {"import_secret_contact": True}},
                            "settings.import_secret_contact"),
        "plain http portal": ({"portal": {"base_url": "http://portal.example.nl/scim",
                                          "token_ref": "env:T"}}, "portal.base_url"),
    }
    base = {
        "tenant_id": "x", "brand": "basisonline", "brin": "12AB", "dependance": "00",
        "las": {"vendor": "parnassys", "endpoint": "http://127.0.0.1:1/parnassys",
                "key_ref": "env:K"},
        "portal": {"base_url": "https://portal.example.nl/scim/v2", "token_ref": "env:T"},
    }
    for name, (change, field) in cases.items():
        doc = dict(base)
        doc.update(change)
        path = pipeline.dir / f"bad-{name.replace(' ', '-')}.json"
        path.write_text(json.dumps(doc))
        p = pipeline.ctl("tenant", "put", str(path), check=False)
        assert p.returncode == 1, name
        assert field in p.stderr, f"{name}: {p.stderr}"
    assert pipeline.ctl("tenant", "list").stdout.strip() == ""


def test_print_config_and_invalid_config(pipeline):
    binary = str(pipeline.build / "services" / "applier" / "lasync-applier")
    envp = dict(pipeline.env)
    p = subprocess.run([binary, "--print-config", "--concurrency", "4"], env=envp,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    cfg = dict(line.split("=", 1) for line in p.stdout.splitlines())
    assert cfg["kafka-brokers"] == pipeline.env["LASYNC_KAFKA_BROKERS"]  # from the environment
    assert cfg["topic-prefix"] == pipeline.prefix
    assert cfg["concurrency"] == "4"  # from the flag
    p = subprocess.run([binary, "--concurrency", "0"], env=envp, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and "concurrency" in p.stderr, p.stderr
    envp["LASYNC_MAX_ATTEMPTS"] = "many"
    p = subprocess.run([binary], env=envp, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "LASYNC_MAX_ATTEMPTS" in p.stderr, p.stderr
