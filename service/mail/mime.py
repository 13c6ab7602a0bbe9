"""Writing an email as the bytes that go on the wire: headers, MIME parts and their encodings.

Every Roomwise email has one of two shapes: text and HTML as `multipart/alternative`, or the
same with the HTML part inside a `multipart/related` that also holds the PNG charts its
`<img src="cid:…">` tags name. Writing those shapes directly costs a fraction of the stdlib
`email` package's object tree, header registry and policy folding (about 2 ms of CPU for a
recap, more than rendering its templates), and a gathering's recaps go out by the thousand.
What is written is plain RFC 5322/2045–2047: tests read every kind of message back with the
stdlib parser.

- A body of ASCII lines no longer than RFC 5322's 998 characters goes as it is (`7bit`); any
  other is UTF-8 in quoted-printable (`binascii.b2a_qp`), lines at most 76 characters. Every
  line costs the receiving server a read, and quoted-printable cuts long lines into many.
- Images are base64 in 76-character lines.
- Header values that are not ASCII are RFC 2047 encoded words (`email.header.Header`);
  headers fold at 78 characters on spaces, except ONE_LINE_HEADERS, which a folded form has
  broken at some receivers (see reference/reliability.md §4.2), up to RFC 5322's 998.
- Boundaries start with "==": quoted-printable never has two "=" in a row and base64 lines
  never start with "--", so no body line can be mistaken for a boundary.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.header import Header

CRLF = b"\r\n"
FOLD_AT = 78
LONGEST_LINE = 998
ONE_LINE_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


@dataclass(frozen=True)
class Attachment:
    """A PNG shown inline by the HTML part as `<img src="cid:{cid}">`."""

    cid: str  # without the angle brackets
    filename: str
    png: bytes


@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for SMTP or the outbox: its bytes and what the envelope needs."""

    message_id: str
    recipient: str
    data: bytes  # the whole message, CRLF line ends

    def __bytes__(self) -> bytes:
        return self.data

    @property
    def needs_smtputf8(self) -> bool:
        """An address with non-ASCII characters can only travel over SMTPUTF8 (RFC 6531)."""
        return not self.recipient.isascii()


def header(name: str, value: str) -> bytes:
    """One header field, encoded and folded, with its CRLF."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} holds a line break")
    if not value.isascii():
        encoded = Header(value, "utf-8", maxlinelen=FOLD_AT, header_name=name).encode("\r\n")
        return f"{name}: {encoded}".encode("ascii") + CRLF
    if name.lower() in ONE_LINE_HEADERS:
        return _unfolded(name, value)
    return _fold(f"{name}: {value}").encode("ascii") + CRLF


def address_header(name: str, display_name: str, address: str) -> bytes:
    """`Name <address>` (the name quoted or encoded as needed), or the bare address."""
    if not display_name:
        return _unfolded(name, address)
    if display_name.isascii():
        if any(c in display_name for c in '()<>[]:;@\\,."'):
            escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
            display_name = f'"{escaped}"'
        return _unfolded(name, f"{display_name} <{address}>")
    encoded = Header(display_name, "utf-8", header_name=name).encode("\r\n")
    return _unfolded(name, f"{encoded} <{address}>")


def alternative(
    headers: Iterable[bytes], text: str, html: str, images: Sequence[Attachment] = ()
) -> bytes:
    """The whole message: `headers` (from `header`), then text and HTML as alternatives, the
    HTML with its images as a related part when there are any."""
    html_part = _text_part("html", html)
    if images:
        html_part = _multipart("related", [html_part, *(_image_part(i) for i in images)])
    body = _multipart("alternative", [_text_part("plain", text), html_part])
    return b"".join([*headers, b"MIME-Version: 1.0\r\n", body])


def _unfolded(name: str, value: str) -> bytes:
    """A header on one line as it is: ASCII, or an address SMTPUTF8 carries as is."""
    line = f"{name}: {value}"
    if len(line) > LONGEST_LINE:
        raise ValueError(f"header {name} is longer than {LONGEST_LINE} characters")
    return line.encode("utf-8") + CRLF


def _fold(line: str) -> str:
    """Fold at the last space before FOLD_AT characters; a word longer than that stays whole."""
    if len(line) <= FOLD_AT:
        return line
    lines: list[str] = []
    while len(line) > FOLD_AT:
        cut = line.rfind(" ", 0, FOLD_AT + 1)
        if cut <= line.find(":") + 1:  # no space to fold at: the rest of the word stays whole
            cut = line.find(" ", FOLD_AT)
            if cut == -1:
                break
        lines.append(line[:cut])
        line = line[cut:]  # the space starts the continuation line
    lines.append(line)
    return "\r\n".join(lines)


def _text_part(subtype: str, body: str) -> bytes:
    body = body.replace("\r\n", "\n")
    if not body.endswith("\n"):
        body += "\n"
    if body.isascii() and "\r" not in body and max(map(len, body.split("\n"))) <= LONGEST_LINE:
        encoding, encoded = "7bit", body.encode("ascii")
    else:
        encoding, encoded = "quoted-printable", binascii.b2a_qp(body.encode("utf-8"), istext=True)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        + encoded.replace(b"\n", CRLF)
    )


def _image_part(image: Attachment) -> bytes:
    return (
        "Content-Type: image/png\r\n"
        f'Content-Disposition: inline; filename="{image.filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-ID: <{image.cid}>\r\n\r\n".encode("ascii")
        + base64.encodebytes(image.png).replace(b"\n", CRLF)
    )


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    boundary = f"=={secrets.token_hex(12)}".encode("ascii")
    delimiter = b"--" + boundary
    chunks = [f'Content-Type: multipart/{subtype}; boundary="'.encode("ascii"), boundary, b'"\r\n']
    for part in parts:
        chunks += [CRLF, delimiter, CRLF, part]
    chunks += [CRLF, delimiter, b"--", CRLF]
    return b"".join(chunks)
