"""Turning a composed email into an RFC 5322 message: Jinja2 templates, then `service.mail.mime`.

Each email is a folder under `service/templates/email/<kind>/` with `subject.txt`, `body.txt` and
`body.html`; the bodies extend a shared layout (`email/layout.txt`, `email/layout.html`) that
carries the footer: why the reader gets the email and the unsubscribe link. HTML is autoescaped;
plain text is not (it is not HTML).

The message is `multipart/alternative` (text, then HTML); with charts, the HTML part becomes a
`multipart/related` whose PNG parts the `<img src="cid:…">` tags name. Headers follow RFC 8058:
`List-Unsubscribe` (https and mailto) and `List-Unsubscribe-Post`, each on one line.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.mail import mime
from service.mail.charts import Chart

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# The HTML part's lines are joined up to this many characters before it is sent (at most 998).
HTML_LINE = 900

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the code: no file check on every message
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
) -> mime.OutgoingMail:
    """The message as sent: headers, text and HTML alternatives, charts as related PNG parts."""
    headers = [
        _from_header(envelope.sender),
        mime.address_header("To", "", envelope.recipient),
        mime.header("Subject", rendered.subject),
        mime.header("Date", format_datetime(envelope.date)),
        mime.header("Message-ID", envelope.message_id),
        mime.header(
            "List-Unsubscribe", f"<{envelope.unsubscribe_url}>, <{envelope.unsubscribe_mailto}>"
        ),
        mime.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    attachments = [
        mime.Attachment(image.cid, f"{name}.png", image.chart.png)
        for name, image in (images or {}).items()
    ]
    data = mime.alternative(headers, rendered.text, html_for_sending(rendered.html), attachments)
    return mime.OutgoingMail(envelope.message_id, envelope.recipient, data)


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> bytes:
    """`MAIL_FROM` as a From header, parsed once rather than for every message."""
    name, address = parseaddr(sender)
    return mime.address_header("From", name, address)


def html_for_sending(html: str) -> str:
    """The HTML as it goes out: characters beyond ASCII as character references, and lines
    joined with a space up to HTML_LINE characters.

    Outside `<pre>`, which no email uses, HTML reads a line break as a space, so the email looks
    the same. The part then travels as a few plain 7-bit lines instead of a hundred or more
    quoted-printable ones, which a receiving server reads one by one.
    """
    joined: list[str] = []
    for line in html.encode("ascii", "xmlcharrefreplace").decode("ascii").splitlines():
        if joined and len(joined[-1]) + 1 + len(line) <= HTML_LINE:
            joined[-1] += " " + line
        else:
            joined.append(line)
    return "\n".join(joined) + "\n"


def content_id(name: str, message_id: str) -> str:
    """A Content-ID unique to this image in this message: `<name>.<Message-ID's local part>@…`."""
    return f"{name}.{message_id.strip('<>')}"
