"""Building emails from the database: real rows, real rescoring, the message parsed as received."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

import pytest
from sqlalchemy import event, insert, select

from service import rescoring
from service.context import current_settings
from service.db import engine_for, session_scope
from service.mail.build import MailBuilder, digest_payloads, summary_payload
from service.mail.links import LinkSigner, RecapLink, UnsubscribeLink
from service.models import (
    Attendance,
    Connection,
    Gathering,
    Group,
    GroupLeave,
    MailKind,
    MailMessage,
    Person,
)
from tests.conftest import SECRET_KEY

SIGNER = LinkSigner(SECRET_KEY, "http://roomwise.test")
START = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
NOW = START + timedelta(days=30)
URL = re.compile(r"http://roomwise\.test/[^\s\"<>]+")


@dataclass(frozen=True)
class Scene:
    organizer_id: int
    group_id: int
    gatherings: list[int]  # oldest first; the last is the one the emails are about
    people: list[int]
    emails: list[str]

    @property
    def latest(self) -> int:
        return self.gatherings[-1]


def scene(app, tenant, people: int = 6, held: int = 4) -> Scene:
    """A social group that met weekly: everyone at the first gatherings, then person 5 stops
    coming; at the latest, 0–1 confirmed, 0–2 unconfirmed, 3 registered but never came."""
    suffix = uuid.uuid4().hex[:8]
    emails = [f"p{n}-{suffix}@example.com" for n in range(people)]
    with app.app_context(), session_scope() as session:
        group = Group(organizer_id=tenant.organizer_id, name="Thursday Mixers", format="social")
        session.add(group)
        session.flush()
        gatherings = []
        for week in range(held):
            starts = START + timedelta(days=7 * week)
            gathering = Gathering(
                organizer_id=tenant.organizer_id,
                group_id=group.id,
                name=f"Mixer {week + 1}",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                summarized_at=starts + timedelta(hours=4) if week < held - 1 else None,
            )
            session.add(gathering)
            gatherings.append(gathering)
        persons = [
            Person(
                organizer_id=tenant.organizer_id,
                email=email,
                email_normalized=email,
                name=f"Person {n}",
                company=f"Company {n}",
            )
            for n, email in enumerate(emails)
        ]
        session.add_all(persons)
        session.flush()
        for week, gathering in enumerate(gatherings):
            for n, person in enumerate(persons):
                latest = week == held - 1
                if (n == 5 and week >= held - 2) or (latest and n == 4):
                    continue
                came = not (latest and n == 3)
                session.add(
                    Attendance(
                        gathering_id=gathering.id,
                        person_id=person.id,
                        registered_at=gathering.starts_at - timedelta(days=1),
                        checked_in_at=gathering.starts_at + timedelta(minutes=5 * n)
                        if came
                        else None,
                        source="api",
                    )
                )
        latest = gatherings[-1]
        for other, confirmed in ((persons[1], True), (persons[2], False)):
            session.add(
                Connection(
                    organizer_id=tenant.organizer_id,
                    gathering_id=latest.id,
                    person_low_id=persons[0].id,
                    person_high_id=other.id,
                    source="api",
                    confirmed=confirmed,
                )
            )
        session.flush()
        for gathering in gatherings:
            rescoring.rescore_gathering(session, gathering.id)
        rescoring.rescore_group(session, group.id, now=latest.starts_at + timedelta(hours=1))
        return Scene(
            tenant.organizer_id,
            group.id,
            [g.id for g in gatherings],
            [p.id for p in persons],
            emails,
        )


def ledger_row(app, scene: Scene, kind: MailKind, recipient: str, **values) -> int:
    with app.app_context(), session_scope() as session:
        row = MailMessage(
            organizer_id=scene.organizer_id,
            kind=kind,
            recipient=recipient,
            subject_key=values.pop("subject_key", f"gathering:{scene.latest}"),
            context=values.pop("context", {"gathering_id": scene.latest}),
            message_id=f"<{uuid.uuid4().hex}@roomwise.test>",
            **values,
        )
        session.add(row)
        session.flush()
        return row.id


def build(app, row_id: int) -> tuple[EmailMessage | None, MailMessage]:
    with app.app_context(), session_scope() as session:
        row = session.get_one(MailMessage, row_id)
        message = MailBuilder(session, current_settings(), SIGNER).build(row, now=NOW)
        session.expunge(row)
        return message, row


def received(message: EmailMessage) -> tuple[bytes, EmailMessage]:
    raw = bytes(message)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def texts(parsed: EmailMessage) -> tuple[str, str]:
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def assert_headers(app, raw: bytes, parsed: EmailMessage, row: MailMessage) -> None:
    with app.app_context():
        mail_from = current_settings().mail_from
    assert parsed["From"] == mail_from
    assert parsed["To"] == row.recipient
    assert parsed["Message-ID"] == row.message_id
    assert parsed["Date"].datetime == NOW
    link = UnsubscribeLink(row.id)
    mailbox = parseaddr(mail_from)[1]
    expected = (
        f"List-Unsubscribe: <{SIGNER.unsubscribe_url(link)}>, "
        f"<{SIGNER.unsubscribe_mailto(mailbox, link)}>\r\n"
    ).encode()
    assert expected in raw  # on one line, exactly
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert SIGNER.read_unsubscribe(
        parsed["List-Unsubscribe"].split("<")[1].split(">")[0].rsplit("/", 1)[1]
    ) == UnsubscribeLink(row.id)
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        assert len(line) <= 998


def test_a_recap_as_received(app, tenant):
    world = scene(app, tenant)
    row_id = ledger_row(
        app, world, MailKind.ATTENDEE_RECAP, world.emails[0], person_id=world.people[0]
    )
    message, row = build(app, row_id)
    assert message is not None
    raw, parsed = received(message)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert_headers(app, raw, parsed, row)
    assert parsed["Subject"] == "Your recap of Mixer 4"
    text, html = texts(parsed)

    # Confirmed connections only, by name and company; nobody else's address anywhere.
    assert "Person 1, Company 1" in text
    assert "Person 2" not in text and "Person 2" not in html
    decoded = raw.decode() + text + html
    for other in world.emails[1:]:
        assert other not in decoded
    assert "You used" in text and "of your conversation capacity" in text
    assert "Your standing in Thursday Mixers:" in text
    assert "48 hours" in text

    urls = set(URL.findall(text))
    assert {url.replace("&", "&amp;") for url in urls} <= set(URL.findall(html)) | {
        url for url in URL.findall(html)
    }
    recap = RecapLink(world.people[0], world.latest)
    answers = {url.split("/me/", 1)[1].split("/", 1)[-1] for url in urls if "/me/" in url}
    assert {"outcome?kind=lead", "outcome?kind=referral", "talked", "leave"} <= answers
    for url in urls:
        if "/me/" in url:
            token = url.split("/me/", 1)[1].split("/", 1)[0]
            assert SIGNER.read_recap(token) == recap


def test_a_batch_reading_only_its_recipients_builds_the_same_recaps(app, tenant):
    world = scene(app, tenant)
    rows = [
        ledger_row(app, world, MailKind.ATTENDEE_RECAP, email, person_id=person)
        for email, person in zip(world.emails[:3], world.people[:3], strict=True)
    ]
    with app.app_context(), session_scope() as session:
        settings = current_settings()
        for row_id, person in zip(rows, world.people, strict=False):
            row = session.get_one(MailMessage, row_id)
            whole = MailBuilder(session, settings, SIGNER).build(row, now=NOW)
            own = MailBuilder(session, settings, SIGNER, recipients={person}).build(row, now=NOW)
            assert whole is not None and own is not None
            assert without_recap_tokens(texts(received(whole)[1])) == without_recap_tokens(
                texts(received(own)[1])
            )


RECAP_TOKEN = re.compile(r"(?<=http://roomwise\.test/me/)[^/\s\"<>?]+")


def without_recap_tokens(parts: tuple[str, str]) -> list[str]:
    """The parts with each recap token checked and replaced by the link it signs: a token
    carries the second it was made, so two builds a moment apart differ only there."""

    def link(match: re.Match[str]) -> str:
        return repr(SIGNER.read_recap(match.group()))

    return [RECAP_TOKEN.sub(link, part) for part in parts]


def test_a_summary_carries_its_arrivals_chart_inline(app, tenant):
    world = scene(app, tenant)
    row_id = ledger_row(app, world, MailKind.GATHERING_SUMMARY, "organizer@example.com")
    message, row = build(app, row_id)
    assert message is not None
    raw, parsed = received(message)
    assert_headers(app, raw, parsed, row)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, related = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    cid = image["Content-ID"].strip("<>")
    html = html_part.get_content()
    assert f'src="cid:{cid}"' in html
    assert "<script" not in html and "http://" not in html.split("Unsubscribe")[0].replace(
        "http://roomwise.test", ""
    )

    text = plain.get_content()
    assert parsed["Subject"] == "Summary: Mixer 4, 3 checked in"
    assert "3 people checked in of 4 registered" in text
    assert "Size score" in text
    assert "0 first-timers and 3 returning" in text
    for email in world.emails:
        assert email not in raw.decode()


def test_a_weekly_digest_with_a_health_chart_per_group(app, tenant):
    world = scene(app, tenant, held=6)
    period_end = START + timedelta(days=7 * 5, hours=14)
    period_start = period_end - timedelta(days=7)
    context = {"period_start": period_start.isoformat(), "period_end": period_end.isoformat()}
    row_id = ledger_row(
        app,
        world,
        MailKind.WEEKLY_DIGEST,
        "organizer@example.com",
        subject_key=f"week:{period_start.date()}",
        context=context,
    )
    message, row = build(app, row_id)
    assert message is not None
    raw, parsed = received(message)
    assert_headers(app, raw, parsed, row)
    text, html = texts(parsed)
    assert "== Thursday Mixers ==" in text
    assert "came back to Mixer 6" in text
    [image] = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html

    with app.app_context(), session_scope() as session:
        [(group_id, data)] = digest_payloads(session, world.organizer_id, period_start, period_end)
    assert group_id == world.group_id
    assert [g["name"] for g in data["gatherings"]] == ["Mixer 6"]
    assert data["retention"] is not None and data["retention"]["latest"] == "Mixer 6"
    assert data["health"] is not None
    assert len(data["health_history"]) == 6
    json.dumps(data)
    assert "@example.com" not in json.dumps(data)


def test_regulars_going_quiet_in_the_digest(app, tenant):
    world = scene(app, tenant, held=6)  # person 5 missed the last two after four in a row
    period_end = START + timedelta(days=7 * 5, hours=14)
    with app.app_context(), session_scope() as session:
        [(_, data)] = digest_payloads(
            session, world.organizer_id, period_end - timedelta(days=7), period_end
        )
    assert data["regulars_going_quiet"] == [{"id": world.people[5], "name": "Person 5"}]


def test_the_summary_payload_matches_the_email(app, tenant):
    world = scene(app, tenant)
    with app.app_context(), session_scope() as session:
        data = summary_payload(session, world.latest)
        assert summary_payload(session, 10**9) is None
    assert data is not None
    assert data["checked_in"] == 3
    assert data["registered"] == 4
    assert data["gathering"]["id"] == world.latest
    assert data["group"] == {"id": world.group_id, "name": "Thursday Mixers"}
    assert data["score"] is not None
    assert (data["first_timers"], data["returning"]) == (0, 3)
    assert sum(data["standings"].values()) == 6
    assert "@example.com" not in json.dumps(data)


def test_nothing_to_send_once_the_subject_is_gone(app, tenant):
    world = scene(app, tenant)
    never_came = ledger_row(
        app, world, MailKind.ATTENDEE_RECAP, world.emails[3], person_id=world.people[3]
    )
    left = ledger_row(
        app, world, MailKind.ATTENDEE_RECAP, world.emails[1], person_id=world.people[1]
    )
    with app.app_context(), session_scope() as session:
        session.add(GroupLeave(group_id=world.group_id, person_id=world.people[1]))
    assert build(app, never_came)[0] is None
    assert build(app, left)[0] is None

    summary = ledger_row(app, world, MailKind.GATHERING_SUMMARY, "organizer@example.com")
    with app.app_context(), session_scope() as session:
        session.delete(session.get_one(Gathering, world.latest))
    assert build(app, summary)[0] is None


@pytest.mark.parametrize("count", [2000])
def test_recaps_of_one_gathering_cost_a_bounded_number_of_queries(app, tenant, count):
    suffix = uuid.uuid4().hex[:8]
    with app.app_context(), session_scope() as session:
        group = Group(organizer_id=tenant.organizer_id, name="Big Mixer", format="social")
        gathering = Gathering(
            organizer_id=tenant.organizer_id,
            group=group,
            name="Big night",
            starts_at=START,
            ends_at=START + timedelta(hours=2),
        )
        session.add(gathering)
        session.flush()
        emails = [f"big{n}-{suffix}@example.com" for n in range(count)]
        person_ids = session.scalars(
            insert(Person).returning(Person.id),
            [
                {
                    "organizer_id": tenant.organizer_id,
                    "email": email,
                    "email_normalized": email,
                    "name": f"Guest {n}",
                }
                for n, email in enumerate(emails)
            ],
        ).all()
        session.execute(
            insert(Attendance),
            [
                {
                    "gathering_id": gathering.id,
                    "person_id": person_id,
                    "checked_in_at": START + timedelta(seconds=n),
                    "source": "api",
                }
                for n, person_id in enumerate(person_ids)
            ],
        )
        pairs = sorted(zip(person_ids[::2], person_ids[1::2], strict=True))
        session.execute(
            insert(Connection),
            [
                {
                    "organizer_id": tenant.organizer_id,
                    "gathering_id": gathering.id,
                    "person_low_id": min(pair),
                    "person_high_id": max(pair),
                    "source": "api",
                    "confirmed": True,
                }
                for pair in pairs
            ],
        )
        rescoring.rescore_gathering(session, gathering.id)
        rescoring.rescore_group(session, group.id)
        session.execute(
            insert(MailMessage),
            [
                {
                    "organizer_id": tenant.organizer_id,
                    "kind": MailKind.ATTENDEE_RECAP,
                    "recipient": email,
                    "subject_key": f"gathering:{gathering.id}",
                    "person_id": person_id,
                    "context": {"gathering_id": gathering.id},
                    "message_id": f"<{uuid.uuid4().hex}@roomwise.test>",
                }
                for person_id, email in zip(person_ids, emails, strict=True)
            ],
        )
        gathering_id = gathering.id

    with app.app_context(), session_scope() as session:
        rows = session.scalars(
            select(MailMessage).where(
                MailMessage.organizer_id == tenant.organizer_id,
                MailMessage.subject_key == f"gathering:{gathering_id}",
            )
        ).all()
        builder = MailBuilder(session, current_settings(), SIGNER)
        statements: list[str] = []

        def count_statement(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        engine = engine_for(app)
        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            messages = [builder.build(row) for row in rows]
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
    assert len(messages) == count and all(message is not None for message in messages)
    assert len(statements) <= 10, statements
