"""Putting a message on the wire: SMTP over one reused connection, or `.eml` files in the outbox.

Opening an SMTP connection (TCP, greeting, EHLO, maybe TLS and AUTH) costs more than sending a
small message over it, so a batch shares one connection. What the server answered decides what
happens next (`service.mail.sending`): a 5xx refusal of the recipient is for good, a 4xx or a
dropped connection is worth retrying later. Without `SMTP_URL` mail goes to `var/outbox/` as
files a newcomer can open.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qs, unquote, urlsplit

from service.config import Settings
from service.mail.mime import OutgoingMail

# Seconds to wait for the server at each step before the attempt counts as a temporary failure.
SMTP_TIMEOUT = 30.0
NO_SMTPUTF8 = "the mail server does not take addresses with non-ASCII characters (no SMTPUTF8)"


class Verdict(StrEnum):
    SENT = "sent"
    REFUSED = "refused"  # 5xx for the recipient: the address does not take mail, suppress it
    FAILED = "failed"  # 5xx for the message itself (sender or content): do not retry it
    DEFERRED = "deferred"  # 4xx, timeout or dropped connection: try again later


@dataclass(frozen=True)
class SendResult:
    verdict: Verdict
    code: int | None = None
    detail: str = ""


class Transport(Protocol):
    """Sends messages one after another, over whatever connection it keeps open."""

    def send(self, mail: OutgoingMail) -> SendResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class _Closing:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release by default."""


@dataclass(frozen=True)
class SmtpServer:
    """Where `SMTP_URL` points: `smtp://[user:password@]host[:port][?starttls=true]` or `smtps://…`."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            starttls=query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


class SmtpTransport(_Closing):
    """One SMTP connection, opened at the first message and reused for the rest of the batch.

    A dropped connection fails only the message in flight (deferred); the next message opens a
    new one.
    """

    def __init__(self, server: SmtpServer, envelope_from: str) -> None:
        self._server = server
        self._envelope_from = envelope_from
        self._connection: smtplib.SMTP | None = None
        self.connections_opened = 0

    def send(self, mail: OutgoingMail) -> SendResult:
        options = ["SMTPUTF8"] if mail.needs_smtputf8 else []
        try:
            connection = self._connect()
            if options and not connection.has_extn("smtputf8"):
                return SendResult(Verdict.FAILED, None, NO_SMTPUTF8)
            connection.sendmail(self._envelope_from, [mail.recipient], mail.data, options)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients.get(mail.recipient, (0, b""))
            return _by_code(code, reply, refused=True)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            return _by_code(error.smtp_code, error.smtp_error, refused=False)
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            return SendResult(Verdict.DEFERRED, None, f"{type(error).__name__}: {error}")
        return SendResult(Verdict.SENT, 250)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        server = self._server
        connection: smtplib.SMTP
        if server.implicit_tls:
            connection = smtplib.SMTP_SSL(
                server.host, server.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
            if server.starttls:
                connection.starttls(context=ssl.create_default_context())
        if server.username:
            connection.login(server.username, server.password)
        self._connection = connection
        self.connections_opened += 1
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _by_code(code: int, reply: bytes | str, *, refused: bool) -> SendResult:
    detail = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 500 <= code < 600:
        return SendResult(Verdict.REFUSED if refused else Verdict.FAILED, code, detail)
    return SendResult(Verdict.DEFERRED, code or None, detail)


class OutboxTransport(_Closing):
    """Writes each message to `<outbox>/<ledger Message-ID>.eml`, whole or not at all."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def send(self, mail: OutgoingMail) -> SendResult:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = outbox_path(self._directory, mail.message_id)
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(mail.data)
        os.replace(partial, path)
        return SendResult(Verdict.SENT)


def outbox_path(directory: Path, message_id: str) -> Path:
    """The file the outbox writes the message with this ledger Message-ID to."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in message_id)
    return directory / f"{name.strip('_')}.eml"


def open_transport(settings: Settings) -> Transport:
    """SMTP when `SMTP_URL` is set, else the file outbox under `var/`."""
    if settings.smtp_url:
        return SmtpTransport(SmtpServer.from_url(settings.smtp_url), settings.sender_address)
    return OutboxTransport(settings.outbox_dir)
