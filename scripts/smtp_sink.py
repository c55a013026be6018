#!/usr/bin/env python3
"""smtp_sink - an SMTP server that keeps every message it accepts as a .eml file.

SYNOPSIS
    smtp_sink.py --port PORT --maildir DIR [--host 127.0.0.1]
                 [--starttls CERT KEY] [--auth USER:PASSWORD]
                 [--fail-data CODE:COUNT] [--delay-data SECONDS]

DESCRIPTION
    The development stack's mail server (scripts/stack.sh, component "smtp"),
    built on aiosmtpd. It accepts every sender and recipient, without
    authentication or TLS, and writes each message to
    DIR/<UTC time>-<sequence>.eml, byte for byte as received after the DATA
    command, preceded by two kinds of envelope header:

        X-Envelope-From: <sender>
        X-Envelope-To: <recipient>        (one line per RCPT TO)

    so tests can check who a message was really sent to (Bcc included). A file
    appears atomically (written under a dot-name, then renamed): a reader
    listing *.eml never sees half a message. File names sort in arrival order.

    SMTPUTF8 and 8BITMIME are offered; messages up to 32 MiB are accepted.
    It never delivers anything anywhere.

    Options for tests of a client's TLS and authentication (the stack's
    sink uses none of them, and without them nothing above changes):

    --starttls CERT KEY   offer STARTTLS with this PEM certificate and key,
                          and refuse MAIL before it (530)
    --auth USER:PASSWORD  require AUTH (PLAIN or LOGIN, after STARTTLS when
                          offered); a wrong password gets 535
    --fail-data CODE:COUNT
                          answer the next COUNT DATA commands with CODE (a
                          4xx or 5xx, e.g. 451:2), COUNT -1 for all; the
                          message is not kept
    --delay-data SECONDS  keep each message at once, then wait this long
                          before answering its DATA with 250 (a test can
                          act between the message arriving and the client
                          learning it was accepted)

    With --starttls or --auth each kept message also gets
        X-Sink-TLS: yes|no
        X-Sink-Auth: <user name>|-
    after its envelope lines.

EXIT STATUS
    0 after SIGTERM or SIGINT, 1 when it cannot listen.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import signal
import ssl
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("smtp_sink")


class MaildirHandler:
    """aiosmtpd handler: write each message to a .eml file."""

    def __init__(self, maildir: str, session_headers: bool = False,
                 fail_code: int = 0, fail_count: int = 0, delay: float = 0):
        self.maildir = maildir
        self.sequence = itertools.count(1)
        self.lock = threading.Lock()
        self.session_headers = session_headers
        self.fail_code = fail_code
        self.fail_count = fail_count
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.fail_count != 0:
                if self.fail_count > 0:
                    self.fail_count -= 1
                log.info("refused a message with %d as told", self.fail_code)
                return f"{self.fail_code} Refused by smtp_sink --fail-data"
            number = next(self.sequence)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{number:06d}.eml"
        head = [f"X-Envelope-From: {envelope.mail_from}"]
        head += [f"X-Envelope-To: {rcpt}" for rcpt in envelope.rcpt_tos]
        if self.session_headers:
            login = getattr(session.auth_data, "login", None)
            head.append(f"X-Sink-TLS: {'yes' if session.ssl is not None else 'no'}")
            head.append(f"X-Sink-Auth: {login.decode() if login else '-'}")
        data = "\r\n".join(head).encode("utf-8") + b"\r\n" + envelope.original_content
        tmp = os.path.join(self.maildir, "." + name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.maildir, name))
        # Envelope addresses are test data, yet keep the log free of them.
        log.info("accepted message %s: %d recipient(s), %d bytes",
                 name, len(envelope.rcpt_tos), len(envelope.original_content))
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="smtp_sink.py", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASSWORD")
    p.add_argument("--fail-data", metavar="CODE:COUNT")
    p.add_argument("--delay-data", metavar="SECONDS", type=float, default=0)
    args = p.parse_args(argv)
    fail_code, fail_count = 0, 0
    if args.fail_data:
        code, _, count = args.fail_data.partition(":")
        fail_code, fail_count = int(code), int(count or "-1")
        if not 400 <= fail_code <= 599:
            p.error("--fail-data CODE must be 4xx or 5xx")

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every SMTP command with its addresses at INFO: too chatty.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    os.makedirs(args.maildir, exist_ok=True)
    extra: dict[str, Any] = {}
    if args.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*args.starttls)
        extra.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")

        def check(mechanism: str, login: bytes, secret: bytes) -> bool:
            return login.decode() == user and secret.decode() == password

        extra.update(auth_required=True, auth_require_tls=bool(args.starttls),
                     auth_callback=check)
        # aiosmtpd 1.4 warns about its own use of Session.login_data.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    handler = MaildirHandler(args.maildir, bool(args.starttls or args.auth),
                             fail_code, fail_count, args.delay_data)
    controller = Controller(handler, hostname=args.host,
                            port=args.port, enable_SMTPUTF8=True,
                            data_size_limit=32 * 1024 * 1024, ready_timeout=10,
                            **extra)
    try:
        controller.start()
    except Exception as exc:  # aiosmtpd raises several kinds when it cannot bind
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    log.info("SMTP on %s:%d, messages in %s", args.host, args.port, args.maildir)
    while not stopping.wait(3600):
        pass
    controller.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
