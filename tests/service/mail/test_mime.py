"""The MIME writer, read back by the stdlib parser: what a mail client will see."""

from __future__ import annotations

import html
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from service.mail import mime, render
from service.mail.transport import NO_SMTPUTF8, SmtpServer, SmtpTransport, Verdict
from tests.smtp_sink import SmtpSink

TEXT = (
    "Hello Zoë,\n\n"
    "A line with = signs, a tab\tand trailing spaces   \n"
    ".a line that starts with a dot\n" + "long " * 40 + "\n"
)
HTML = '<p style="margin:0">Grüße — ' + "<b>bold</b> " * 30 + "</p>\n"


def parse(data: bytes) -> EmailMessage:
    parsed: EmailMessage = BytesParser(policy=policy.default).parsebytes(data)
    return parsed


def message(headers: list[bytes], images: tuple[mime.Attachment, ...] = ()) -> bytes:
    return mime.alternative(headers, TEXT, HTML, images)


def test_bodies_come_back_exactly_and_no_line_is_too_long() -> None:
    data = message([mime.header("Subject", "Hi")])
    parsed = parse(data)
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    # Lines end in CRLF on the wire, as the stdlib's own SMTP policy writes them.
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only: smtplib sends bytes as given
    assert not parsed.defects and not plain.defects and not html.defects


def test_images_are_related_parts_named_by_content_id() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    data = message([], (mime.Attachment("chart.1@example.com", "chart.png", png),))
    parsed = parse(data)
    html_part = parsed.get_body(("html",))
    related = next(p for p in parsed.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in parsed.walk() if p.get_content_type() == "image/png")
    assert html_part is not None and next(related.iter_parts()) is html_part
    assert image["Content-ID"] == "<chart.1@example.com>"
    assert image.get_content_disposition() == "inline"
    assert image.get_filename() == "chart.png"
    assert image.get_content() == png


def test_non_ascii_and_long_subjects_are_encoded_and_folded() -> None:
    subject = "Your recap of Café Crème Networking — " + "Zürich " * 12
    long_ascii = "Recap: " + "breakfast " * 20
    parsed = parse(
        message([mime.header("Subject", subject), mime.header("X-Long", long_ascii.strip())])
    )
    assert parsed["Subject"] == subject
    assert parsed["X-Long"] == long_ascii.strip()


def test_list_unsubscribe_stays_on_one_line() -> None:
    value = "<https://example.com/u/" + "a" * 200 + ">, <mailto:u@example.com?subject=x>"
    raw = mime.header("List-Unsubscribe", value)
    assert raw == f"List-Unsubscribe: {value}\r\n".encode()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Roomwise", "Roomwise <hello@example.com>"),
        ("Roomwise, Breakfast Club", '"Roomwise, Breakfast Club" <hello@example.com>'),
        ("Zoë's Club", "Zoë's Club <hello@example.com>"),
        ("", "hello@example.com"),
    ],
)
def test_address_headers_parse_back(name: str, expected: str) -> None:
    parsed = parse(message([mime.address_header("From", name, "hello@example.com")]))
    assert parsed["From"] == expected
    assert parsed["From"].addresses[0].addr_spec == "hello@example.com"


def test_a_header_cannot_smuggle_another() -> None:
    with pytest.raises(ValueError, match="line break"):
        mime.header("Subject", "Hi\r\nBcc: everyone@example.com")


def test_a_mailbox_with_non_ascii_needs_a_server_that_takes_it(smtp_sink: SmtpSink) -> None:
    mail = mime.OutgoingMail("<m@example.com>", "zoë@example.com", message([]))
    with SmtpTransport(SmtpServer.from_url(smtp_sink.url), "roomwise@example.com") as transport:
        result = transport.send(mail)
    assert result.verdict is Verdict.FAILED
    assert result.detail == NO_SMTPUTF8
    assert smtp_sink.received == []


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Plain ASCII, short lines.\n", "7bit"),
        ("Grüße from Zoë.\n", "quoted-printable"),
        ("x" * 999 + "\n", "quoted-printable"),
        ("a lone\rcarriage return\n", "quoted-printable"),
    ],
)
def test_the_lightest_safe_encoding_is_chosen(body: str, encoding: str) -> None:
    parsed = parse(mime.alternative([], body, "<p>hi</p>\n"))
    plain = parsed.get_body(("plain",))
    assert plain is not None
    assert plain["Content-Transfer-Encoding"] == encoding
    assert plain.get_content().replace("\r\n", "\n") == body.replace("\r\n", "\n")


def test_html_is_sent_as_a_few_ascii_lines_that_read_the_same() -> None:
    page = "<table>\n" + "<tr><td>Zoë, Café Crème</td></tr>\n" * 200 + "</table>\n"
    sent = render.html_for_sending(page)
    assert sent.isascii()
    assert all(len(line) <= render.HTML_LINE for line in sent.splitlines())
    assert sent.count("\n") < page.count("\n") / 10
    # A browser sees the same words between the same tags: a line break in HTML is a space.
    assert html.unescape(sent).split() == page.split()
    part = parse(mime.alternative([], "text\n", sent)).get_body(("html",))
    assert part is not None and part["Content-Transfer-Encoding"] == "7bit"
