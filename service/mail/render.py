"""Turning a composed email into an RFC 5322 message: Jinja2 templates, MIME parts, headers.

Each email is a folder under `service/templates/email/<kind>/` with `subject.txt`, `body.txt` and
`body.html`; the bodies extend a shared layout (`email/layout.txt`, `email/layout.html`) that
carries the footer: why the reader gets the email and the unsubscribe link. HTML is autoescaped;
plain text is not (it is not HTML).

The message is `multipart/alternative` (text, then HTML); with charts, the HTML part becomes a
`multipart/related` whose PNG parts the `<img src="cid:…">` tags name. Headers follow RFC 8058:
`List-Unsubscribe` (https and mailto) and `List-Unsubscribe-Post`. A folded `List-Unsubscribe`
has broken DKIM verification at some receivers (see reference/reliability.md §4.2), so the
policy writes it, and only it, on one line; every other header folds at 78 as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy as policies
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.mail.charts import Chart

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Headers written on one line whatever their length (at most 998 characters, RFC 5322 §2.1.1).
ONE_LINE_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


class HeaderClasses(HeaderRegistry):
    """The standard registry, but one header class per name instead of a new class each time.

    `HeaderRegistry` creates a class for every header it is asked to parse, set or fold, about
    thirty per message; keeping them takes about a quarter off building and writing a recap.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._classes.pop(name.lower(), None)


_HEADER_CLASSES = HeaderClasses()
_ONE_LINE = policies.SMTP.clone(max_line_length=None, header_factory=_HEADER_CLASSES)


class MailPolicy(EmailPolicy):
    """`email.policy.SMTP` (CRLF line ends, headers folded at 78) except ONE_LINE_HEADERS."""

    def fold(self, name: str, value: Any) -> str:
        if name.lower() in ONE_LINE_HEADERS:
            return str(_ONE_LINE.fold(name, value))
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in ONE_LINE_HEADERS:
            return bytes(_ONE_LINE.fold_binary(name, value))
        return bytes(super().fold_binary(name, value))


POLICY = MailPolicy(linesep="\r\n", header_factory=_HEADER_CLASSES)

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class InlineImage:
    """A chart attached to the HTML part, which shows it as `<img src="cid:{cid}">`."""

    cid: str  # without the angle brackets
    chart: Chart


@dataclass(frozen=True)
class Envelope:
    """Everything about a message that is not its content."""

    sender: str
    recipient: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    date: datetime


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(
    kind: str,
    view: Any,
    unsubscribe_url: str,
    images: Mapping[str, InlineImage] | None = None,
) -> Rendered:
    """Fill the three templates of `kind` with `view` (the composed email), the unsubscribe
    URL and the inline images by name (a template shows an image only when it is there)."""
    context = {"m": view, "unsubscribe_url": unsubscribe_url, "images": dict(images or {})}
    subject = environment.get_template(f"email/{kind}/subject.txt").render(context)
    return Rendered(
        subject=" ".join(subject.split()),
        text=environment.get_template(f"email/{kind}/body.txt").render(context),
        html=environment.get_template(f"email/{kind}/body.html").render(context),
    )


def message(
    rendered: Rendered, envelope: Envelope, images: Mapping[str, InlineImage] | None = None
) -> EmailMessage:
    """The MIME message: headers, text and HTML alternatives, charts as related PNG parts."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = envelope.sender
    mail["To"] = envelope.recipient
    mail["Subject"] = rendered.subject
    mail["Date"] = format_datetime(envelope.date)
    mail["Message-ID"] = envelope.message_id
    mail["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>, <{envelope.unsubscribe_mailto}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(rendered.text, cte="quoted-printable")
    mail.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    html = mail.get_body(preferencelist=("html",))
    if images and isinstance(html, EmailMessage):
        for name, image in images.items():
            html.add_related(
                image.chart.png,
                maintype="image",
                subtype="png",
                cid=f"<{image.cid}>",
                disposition="inline",
                filename=f"{name}.png",
            )
    return mail


def content_id(name: str, message_id: str) -> str:
    """A Content-ID unique to this image in this message: `<name>.<Message-ID's local part>@…`."""
    return f"{name}.{message_id.strip('<>')}"
