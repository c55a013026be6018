"""Shared helpers of the deployment checks (tests/integration/test_deploy_*.py).

No tests here. The tools come from scripts/deps.sh (deploy/tools/install.sh
puts helm, kubeconform and the schemas in .local/deploy-tools; promtool is
Debian's prometheus package); a missing one fails the test that needs it,
with the command that installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "lasync"
COMPOSE = DEPLOY / "docker-compose.yml"
TOOLS = ROOT / ".local" / "deploy-tools"
SCHEMAS = TOOLS / "schemas"
KUBE_VERSIONS = ("1.27.0", "1.33.0")  # deploy/tools/install.sh fetches these
DAEMONS = ("fetcher", "mapper", "applier", "notifier")
VENDORS = ("parnassys", "esis")
INSTALL_HINT = "run scripts/deps.sh (deploy/tools/install.sh installs it)"


def tool(name: str) -> str:
    """Path of a deploy tool; fails (never skips) when it is not installed."""
    local = TOOLS / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; {INSTALL_HINT}")
    return found


def run(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=300, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def helm_template(*sets: str, values: dict | None = None, check: bool = True,
                  tmp: Path | None = None) -> subprocess.CompletedProcess:
    args = [tool("helm"), "template", "lasync", str(CHART), "--namespace", "lasync",
            "--kube-version", KUBE_VERSIONS[-1]]
    for s in sets:
        args += ["--set", s]
    if values is not None:
        assert tmp is not None
        f = tmp / "values-extra.yaml"
        f.write_text(yaml.safe_dump(values))
        args += ["-f", str(f)]
    return run(*args, check=check)


def rendered(*sets: str, **kw) -> list[dict]:
    return [d for d in yaml.safe_load_all(helm_template(*sets, **kw).stdout) if d]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# --- what the daemons read --------------------------------------------------

def build_dir() -> Path:
    d = Path(os.environ.get("LASYNC_BUILD_DIR", ROOT / "build"))
    if not (d / "services" / "applier" / "lasync-applier").exists():
        pytest.fail(f"no lasync build in {d}: set LASYNC_BUILD_DIR (scripts/test.sh does) "
                    "or build with scripts/build.sh")
    return d


def binary(program: str) -> str:
    b = build_dir()
    if program == "lasyncctl":
        return str(b / "tools" / "lasyncctl" / "lasyncctl")
    return str(b / "services" / program / f"lasync-{program}")


def quiet_env(extra: dict | None = None) -> dict:
    """An environment without LASYNC_* of the caller (so defaults show), and
    without leak reports of the sanitizer build on --print-config."""
    envp = {k: v for k, v in os.environ.items() if not k.startswith("LASYNC_")}
    envp["ASAN_OPTIONS"] = "detect_leaks=0"
    envp.update(extra or {})
    return envp


def print_config(program: str, env: dict | None = None, args: list[str] | None = None
                 ) -> dict[str, str]:
    """The effective configuration of a daemon (or lasyncctl) given env and args."""
    envp = quiet_env({"LASYNC_KAFKA_BROKERS": "kafka.invalid:9092", **(env or {})})
    p = run(binary(program), *(args or []), "--print-config", env=envp)
    return dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)


def known_params(program: str) -> set[str]:
    """Every parameter name the program takes (flag --<name>, env LASYNC_<NAME>)."""
    args = ["--vendor", "parnassys"] if program in ("fetcher", "mapper") else []
    return set(print_config(program, args=args))


def env_name(param: str) -> str:
    return "LASYNC_" + param.upper().replace("-", "_")


def help_env_names(program: str) -> set[str]:
    """The LASYNC_* names --help documents (cross-check of env_name())."""
    p = run(binary(program), "--help", env=quiet_env(), check=False)
    return set(re.findall(r"env (LASYNC_[A-Z0-9_]+)", p.stdout + p.stderr))


def topic_suffixes() -> dict[str, str]:
    """LASYNC_T_* of lib/lasync_kafka.h: macro -> suffix."""
    text = (ROOT / "lib" / "lasync_kafka.h").read_text()
    return dict(re.findall(r'#define\s+(LASYNC_T_[A-Z_]+)\s+"([^"]+)"', text))
