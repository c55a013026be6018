#!/usr/bin/env python3
"""smtp_sink - an SMTP server that keeps every message it accepts as a .eml file.

SYNOPSIS
    smtp_sink.py --port PORT --maildir DIR [--host 127.0.0.1]

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

EXIT STATUS
    0 after SIGTERM or SIGINT, 1 when it cannot listen.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("smtp_sink")


class MaildirHandler:
    """aiosmtpd handler: write each message to a .eml file."""

    def __init__(self, maildir: str):
        self.maildir = maildir
        self.sequence = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            number = next(self.sequence)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{number:06d}.eml"
        head = [f"X-Envelope-From: {envelope.mail_from}"]
        head += [f"X-Envelope-To: {rcpt}" for rcpt in envelope.rcpt_tos]
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
        return "250 Message accepted for delivery"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="smtp_sink.py", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    args = p.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosmtpd logs every SMTP command with its addresses at INFO: too chatty.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    os.makedirs(args.maildir, exist_ok=True)
    controller = Controller(MaildirHandler(args.maildir), hostname=args.host,
                            port=args.port, enable_SMTPUTF8=True,
                            data_size_limit=32 * 1024 * 1024, ready_timeout=10)
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
