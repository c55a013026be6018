"""deploy/Dockerfile without a Docker engine: its package lists and build
context are kept in step with the build, the binaries and .dockerignore.

- build stage: every pkg-config module and program CMakeLists.txt requires
  comes from a Debian package the stage installs (found with dpkg -S on
  this Debian 12 machine, the same release as the stage);
- runtime stage: every shared library the built binaries link (ELF NEEDED)
  is in a package the stage installs (or in the base image's libc6), plus
  tzdata and ca-certificates;
- build context: the COPY'd paths, seen through .dockerignore as Docker
  applies it, are enough to configure the whole CMake tree (CMake checks
  every source file exists), and nothing else is sent.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

from test_deploy_common import DEPLOY, ROOT, binary, run

DOCKERFILE = DEPLOY / "Dockerfile"


def stages() -> dict[str, str]:
    text = DOCKERFILE.read_text()
    parts = re.split(r"^FROM \S+ AS (\w+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def apt_packages(stage: str) -> set[str]:
    text = stages()[stage].replace("\\\n", " ")
    out = set()
    for m in re.finditer(r"apt-get install -y --no-install-recommends ([^&]*)", text):
        out |= set(m.group(1).split())
    return out


def owner(path: str) -> str:
    p = run("dpkg", "-S", path)
    return p.stdout.split(":", 1)[0]


def test_build_stage_has_what_cmake_needs():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    modules = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([\w.+-]+)\)", cmake)
    assert len(modules) >= 9
    have = apt_packages("build")
    missing = []
    for mod in modules:
        if mod == "cmocka":  # unit tests only (LASYNC_TESTS=OFF in the image)
            continue
        pcdir = run("pkg-config", "--variable=pcfiledir", mod).stdout.strip()
        pkg = owner(f"{pcdir}/{mod}.pc")
        if pkg not in have:
            missing.append(f"{mod} ({pkg})")
    for prog in re.findall(r"find_program\(\w+ ([\w-]+) REQUIRED\)", cmake):
        pkg = owner(shutil.which(prog))
        if pkg not in have:
            missing.append(f"{prog} ({pkg})")
    assert not missing, f"the build stage lacks {missing}"
    assert {"cmake", "pkg-config", "build-essential"} <= have


def test_runtime_stage_has_every_linked_library():
    have = apt_packages("runtime")
    assert {"tzdata", "ca-certificates"} <= have  # Europe/Amsterdam; HTTPS peers
    needed = set()
    for prog in ("fetcher", "mapper", "applier", "notifier", "lasyncctl"):
        out = run("readelf", "-d", binary(prog)).stdout
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    # The sanitizer build links its runtimes too; the image is built without.
    needed = {n for n in needed if not re.match(r"lib(asan|ubsan)\.so", n)}
    missing = []
    for lib in sorted(needed):
        p = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
        pkgs = {line.split(":", 1)[0] for line in p.stdout.splitlines()}
        pkgs = {x for x in pkgs if not x.endswith("-dev")}
        assert pkgs, f"no package ships {lib}"
        if not pkgs & (have | {"libc6"}):
            missing.append(f"{lib} ({', '.join(sorted(pkgs))})")
    assert not missing, f"the runtime stage lacks {missing}"


def test_runs_as_non_root_with_the_cron_script():
    runtime = stages()["runtime"]
    assert re.search(r"^USER 10001:10001$", runtime, re.M)
    assert "COPY deploy/lasync-cron /usr/local/bin/lasync-cron" in runtime
    assert "--strip" in stages()["build"]
    assert "ARG DEBIAN_SLIM_IMAGE=debian:12-slim" in DOCKERFILE.read_text()


def dockerignore_allows(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; "!" re-includes; a
    pattern matching a parent directory matches everything below it."""
    allowed = True
    parts = rel.split("/")
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        hit = False
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, p):
                hit = True
            elif p.startswith("**/") and any(fnmatch.fnmatchcase(x, p[3:]) for x in parts[:i]):
                hit = True
        if hit:
            allowed = neg
    return allowed


def test_build_context_configures(tmp_path):
    """Copy what the Dockerfile COPYs, filtered by .dockerignore, and run the
    build stage's cmake configure on it."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copies = re.findall(r"^COPY (?!--from)(\S+) ", DOCKERFILE.read_text(), re.M)
    files = [p for p in run("git", "ls-files", "--cached", "--others",
                                       "--exclude-standard", cwd=ROOT).stdout.splitlines()]
    ctx = tmp_path / "ctx"
    sent = []
    for rel in files:
        if not (ROOT / rel).is_file():
            continue  # deleted in the work tree
        if dockerignore_allows(rel, patterns):
            sent.append(rel)
            dst = ctx / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst)
    # Every COPY source is in the context, and nothing but them is.
    for src in copies:
        src = src.rstrip("/").removeprefix("./")
        assert any(s == src or s.startswith(src + "/") for s in sent), f"COPY {src}: not sent"
    assert all(any(s == c.rstrip("/") or s.startswith(c.rstrip("/") + "/") for c in copies)
               for s in sent), [s for s in sent if not any(s.startswith(c.rstrip("/")) for c in copies)]
    assert not any(s.startswith(("tests/", "fixtures/", "docs/", ".local/")) for s in sent)
    src = tmp_path / "src"
    for c in copies:
        c = c.rstrip("/")
        if c.startswith("deploy/"):
            continue
        s = ctx / c
        if s.is_dir():
            shutil.copytree(s, src / c)
        else:
            (src / c).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, src / c)
    m = re.search(r"cmake -S \. -B /build (.*?) \\", stages()["build"])
    args = m.group(1).split()
    p = run("cmake", "-S", str(src), "-B", str(tmp_path / "build"), *args, check=False)
    assert p.returncode == 0, f"the image's sources do not configure:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert Path(tmp_path / "build" / "Makefile").exists()
