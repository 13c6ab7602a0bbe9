"""A real SMTP server for tests: aiosmtpd in a thread, recording what it accepted.

Per-recipient replies (`refuse`) simulate bounces such as `550 5.1.1` or `451 4.7.1`;
`hold` makes the server keep a message it has received without answering, so a test can kill
the sender mid-send.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = BytesParser(policy=policy.default).parsebytes(self.data)
        return parsed


@dataclass
class SmtpSink:
    """The handler and its records; `host`/`port` once started, `url` for `SMTP_URL`."""

    received: list[Received] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)
    held: dict[str, threading.Event] = field(default_factory=dict)
    connections: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO for `address` with `reply` (e.g. "550 5.1.1 no such user")."""
        self.replies[address.lower()] = reply

    def hold(self, address: str) -> threading.Event:
        """Keep the next message to `address` unanswered until the returned event is set."""
        event = threading.Event()
        self.held[address.lower()] = event
        return event

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address.lower() in map(str.lower, r.recipients)]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
        self.replies.clear()
        self.held.clear()
        self.connections = 0

    # --- aiosmtpd hooks ---

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self._lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content))
            )
        for address in envelope.rcpt_tos:
            event = self.held.pop(address.lower(), None)
            if event is not None:
                while not event.is_set():
                    await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


class RunningSink:
    """Starts the sink on a free port; `stop()` shuts it down."""

    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.sink.port = _free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.sink.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self.sink

    def stop(self) -> None:
        for event in self.sink.held.values():
            event.set()
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
