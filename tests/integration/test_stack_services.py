"""The development stack as scripts/stack.sh starts it: Kafka, Redis, the SMTP sink, the env file.

The tests start nothing: they read the LASYNC_* variables of
`eval "$(scripts/stack.sh env --instance test)"` and fail, never skip,
when a component is not there. The portal has its own file,
test_stack_portal.py.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import smtplib
import socket
import subprocess
import urllib.parse
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINT = ('start the stack and load its environment: scripts/stack.sh start --instance test '
        '&& eval "$(scripts/stack.sh env --instance test)"')


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set; {HINT}")
    return value


def redis_command(url: str, *args: str) -> bytes:
    """Send one command in RESP and return the raw reply (enough for simple replies)."""
    parts = urllib.parse.urlsplit(url)
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as s:
            s.sendall(payload)
            data = s.recv(65536)
            s.settimeout(0.1)  # then take whatever else is on its way
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except TimeoutError:
                pass
            return data
    except OSError as exc:
        pytest.fail(f"Redis at {url} is unreachable ({exc}); {HINT}")


def test_env_file_matches_environment() -> None:
    stack_dir = Path(env("LASYNC_STACK_DIR"))
    text = (stack_dir / "env").read_text()
    for name in ("LASYNC_KAFKA_BROKERS", "LASYNC_REDIS_URL", "LASYNC_PORTAL_URL",
                 "LASYNC_PORTAL_TOKEN", "LASYNC_LASSIM_URL", "LASYNC_SMTP_URL",
                 "LASYNC_STACK_DIR", "LASYNC_SMTP_MAILDIR"):
        assert f"export {name}={env(name)}\n" in text, name
    instance = env("LASYNC_STACK_INSTANCE")
    out = subprocess.run([str(ROOT / "scripts/stack.sh"), "env", "--instance", instance],
                         check=True, capture_output=True, text=True).stdout
    assert out == text


def test_redis_answers_with_aof_and_no_rdb() -> None:
    url = env("LASYNC_REDIS_URL")
    assert redis_command(url, "PING") == b"+PONG\r\n"
    assert b"appendonly\r\n$3\r\nyes" in redis_command(url, "CONFIG", "GET", "appendonly")
    assert redis_command(url, "CONFIG", "GET", "save").endswith(b"save\r\n$0\r\n\r\n")
    key = f"{{t-{uuid.uuid4().hex}}}:probe"
    assert redis_command(url, "SET", key, "1", "NX", "EX", "30") == b"+OK\r\n"
    assert redis_command(url, "SET", key, "1", "NX", "EX", "30") == b"$-1\r\n"


def test_kafka_metadata_lists_one_broker() -> None:
    brokers = env("LASYNC_KAFKA_BROKERS")
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed; run scripts/deps.sh"
    out = subprocess.run([kcat, "-L", "-b", brokers, "-m", "10"], capture_output=True, text=True)
    assert out.returncode == 0, f"Kafka at {brokers} did not answer: {out.stderr.strip()}; {HINT}"
    assert " 1 brokers:" in out.stdout
    assert f"broker 1 at {brokers}" in out.stdout


def test_smtp_sink_keeps_each_message_with_its_envelope() -> None:
    url = urllib.parse.urlsplit(env("LASYNC_SMTP_URL"))
    maildir = Path(env("LASYNC_SMTP_MAILDIR"))
    marker = uuid.uuid4().hex
    msg = EmailMessage()
    msg["From"] = "lasync@school.example"
    msg["To"] = "manager@school.example"
    msg["Subject"] = f"Wijziging gegevens {marker} – é"
    msg["Message-ID"] = f"<{marker}@lasync.test>"
    msg.set_content(f"Beste koppelingsbeheerder, {marker} ë")
    try:
        with smtplib.SMTP(url.hostname, url.port, timeout=10) as smtp:
            refused = smtp.send_message(msg, to_addrs=["manager@school.example", "hidden@school.example"])
    except OSError as exc:
        pytest.fail(f"SMTP at {url.geturl()} is unreachable ({exc}); {HINT}")
    assert refused == {}
    # The message is on disk before the server answers 250.
    found = [p for p in maildir.glob("*.eml") if marker.encode() in p.read_bytes()]
    assert len(found) == 1
    parsed = email.message_from_bytes(found[0].read_bytes(), policy=email.policy.default)
    assert parsed["X-Envelope-From"] == "lasync@school.example"
    assert parsed.get_all("X-Envelope-To") == ["manager@school.example", "hidden@school.example"]
    assert parsed["Message-ID"] == f"<{marker}@lasync.test>"
    assert parsed["Subject"] == f"Wijziging gegevens {marker} – é"
    assert parsed.get_content().strip() == f"Beste koppelingsbeheerder, {marker} ë"
    assert not list(maildir.glob(".*"))  # no half-written files left
