"""Planning and sending mail against a real SMTP server: each message once, bounces handled.

The scene is the recap pages' breakfast: Ada, Ben, Cy and Dan checked in, Eve only registered.
Planning is run with the clock two hours and a bit after the breakfast ended.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.config import Settings
from service.context import current_settings
from service.db import session_scope
from service.mail import planning, sending
from service.mail.links import LinkSigner
from service.mail.preferences import suppress
from service.models import (
    Gathering,
    Group,
    GroupLeave,
    MailKind,
    MailMessage,
    MailStatus,
    Organizer,
    RescoreJob,
    Suppression,
)
from tests.conftest import SECRET_KEY, Tenant
from tests.service.recap_helpers import (
    Scene,
    scored_breakfast,
    set_aside_other_tests_mail,
)
from tests.smtp_sink import SmtpSink

ATTENDEES = ["ada@example.com", "ben@example.com", "cy@example.com", "dan@example.com"]


@pytest.fixture(autouse=True)
def _nothing_else_due(app: Flask) -> None:
    set_aside_other_tests_mail(app)


@pytest.fixture()
def scene(app: Flask, client: FlaskClient, tenant: Tenant) -> Scene:
    return scored_breakfast(app, client, tenant)


@pytest.fixture()
def ended(app: Flask, scene: Scene) -> datetime:
    """When the breakfast ended."""
    with app.app_context(), session_scope() as session:
        gathering = session.get(Gathering, scene.breakfast)
        assert gathering is not None
        return planning.end_of(gathering)


@pytest.fixture()
def smtp_settings(app: Flask, smtp_sink: SmtpSink) -> Iterator[Settings]:
    with app.app_context():
        yield replace(current_settings(), smtp_url=smtp_sink.url)


def plan(app: Flask, at: datetime) -> int:
    with app.app_context(), session_scope() as session:
        return planning.plan_due_summaries(session, current_settings(), now=at)


def send(app: Flask, settings: Settings, at: datetime | None = None) -> Counter[str]:
    with app.app_context(), session_scope() as session:
        if at is None:
            return sending.send_due(session, settings)
        return sending.send_due(session, settings, clock=lambda: at)


def ledger(app: Flask, organizer_id: int) -> list[MailMessage]:
    with app.app_context(), session_scope() as session:
        rows = session.scalars(
            select(MailMessage)
            .where(MailMessage.organizer_id == organizer_id)
            .order_by(MailMessage.id)
        ).all()
        session.expunge_all()
        return list(rows)


def organizer_email(app: Flask, scene: Scene) -> str:
    with app.app_context(), session_scope() as session:
        organizer = session.get(Organizer, scene.organizer_id)
        assert organizer is not None
        return organizer.email


# --- planning ------------------------------------------------------------------------------------


def test_a_summary_and_a_recap_per_attendee_are_planned_after_the_grace_period(
    app: Flask, scene: Scene, ended: datetime
) -> None:
    assert plan(app, ended + timedelta(minutes=119)) == 0
    assert ledger(app, scene.organizer_id) == []

    assert plan(app, ended + timedelta(minutes=121)) == 1

    rows = ledger(app, scene.organizer_id)
    by_kind = Counter(row.kind for row in rows)
    assert by_kind == {MailKind.GATHERING_SUMMARY: 1, MailKind.ATTENDEE_RECAP: 4}
    assert sorted(r.recipient for r in rows if r.kind == MailKind.ATTENDEE_RECAP) == ATTENDEES
    assert {row.subject_key for row in rows} == {f"gathering:{scene.breakfast}"}
    assert [r.recipient for r in rows if r.kind == MailKind.GATHERING_SUMMARY] == [
        organizer_email(app, scene)
    ]


def test_planning_twice_or_at_once_adds_nothing(app: Flask, scene: Scene, ended: datetime) -> None:
    at = ended + timedelta(hours=3)
    threads = [threading.Thread(target=plan, args=(app, at)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    plan(app, at + timedelta(minutes=1))
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Gathering).where(Gathering.id == scene.breakfast).values(summarized_at=None)
        )
    plan(app, at + timedelta(minutes=2))

    assert len(ledger(app, scene.organizer_id)) == 5


def test_a_gathering_is_summarized_only_once_its_scores_are_fresh(
    app: Flask, scene: Scene, ended: datetime
) -> None:
    with app.app_context(), session_scope() as session:
        session.add(RescoreJob(gathering_id=scene.breakfast, due_at=ended))
    assert plan(app, ended + timedelta(hours=3)) == 0
    with app.app_context(), session_scope() as session:
        session.execute(RescoreJob.__table__.delete())
    assert plan(app, ended + timedelta(hours=3)) == 1


def test_old_gatherings_are_not_news(app: Flask, scene: Scene, ended: datetime) -> None:
    assert plan(app, ended + planning.SUMMARY_MAX_AGE + timedelta(minutes=1)) == 0
    assert ledger(app, scene.organizer_id) == []


def test_no_recaps_when_the_organizer_switched_them_off_or_a_member_left(
    app: Flask, scene: Scene, ended: datetime
) -> None:
    with app.app_context(), session_scope() as session:
        session.add(GroupLeave(group_id=scene.group, person_id=scene.people["ben"]))
    plan(app, ended + timedelta(hours=3))
    recaps = [r.recipient for r in ledger(app, scene.organizer_id) if r.kind == "attendee_recap"]
    assert "ben@example.com" not in recaps and len(recaps) == 3

    with app.app_context(), session_scope() as session:
        session.execute(update(Group).where(Group.id == scene.group).values(attendee_recaps=False))
        session.execute(
            update(Gathering).where(Gathering.id == scene.breakfast).values(summarized_at=None)
        )
        session.execute(MailMessage.__table__.delete())
    plan(app, ended + timedelta(hours=3))
    assert [r.kind for r in ledger(app, scene.organizer_id)] == ["gathering_summary"]


# --- sending -------------------------------------------------------------------------------------


def test_every_message_goes_out_once_over_one_connection(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    plan(app, ended + timedelta(hours=3))

    assert send(app, smtp_settings) == {"sent": 5}
    assert send(app, smtp_settings) == {}

    assert smtp_sink.connections == 1
    assert sorted(r.recipients[0] for r in smtp_sink.received) == sorted(
        [*ATTENDEES, organizer_email(app, scene)]
    )
    rows = ledger(app, scene.organizer_id)
    assert {row.status for row in rows} == {MailStatus.SENT}
    by_recipient = {row.recipient: row for row in rows}
    for received in smtp_sink.received:
        message = received.message
        row = by_recipient[received.recipients[0]]
        assert message["Message-ID"] == row.message_id
        assert message["To"] == row.recipient
        assert message["Date"] is not None
        assert received.envelope_from == "roomwise@localhost"


def test_the_headers_one_click_unsubscribe_needs(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    plan(app, ended + timedelta(hours=3))
    send(app, smtp_settings)

    signer = LinkSigner(SECRET_KEY, "http://roomwise.test")
    rows = {row.recipient: row for row in ledger(app, scene.organizer_id)}
    for received in smtp_sink.received:
        raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode()
        [line] = [h for h in raw_headers.split("\r\n") if h.startswith("List-Unsubscribe:")]
        https, mailto = [part.strip(" <>") for part in line.split(":", 1)[1].split(",")]
        assert https.startswith("http://roomwise.test/u/")
        link = signer.read_unsubscribe(https.rsplit("/", 1)[1])
        assert link.message_id == rows[received.recipients[0]].id
        assert mailto.startswith("mailto:roomwise@localhost?subject=unsubscribe")
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw_headers


def test_recaps_are_text_and_html_and_the_summary_carries_its_chart_inline(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    plan(app, ended + timedelta(hours=3))
    send(app, smtp_settings)

    [recap] = smtp_sink.to("ada@example.com")
    message = recap.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    [summary] = smtp_sink.to(organizer_email(app, scene))
    images = [p for p in summary.message.walk() if p.get_content_type() == "image/png"]
    assert images, "the summary's chart is an inline PNG"
    html = _html(summary.message)
    for image in images:
        assert image["Content-ID"] is not None
        assert f"cid:{image['Content-ID'].strip('<>')}" in html
        assert image.get_content().startswith(b"\x89PNG")
    for received in smtp_sink.received:
        assert "<script" not in _html(received.message)
        assert "<svg" not in _html(received.message)


def _html(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def test_a_permanent_refusal_suppresses_only_that_address(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse("ben@example.com", "550 5.1.1 <ben@example.com>: no such user")
    plan(app, ended + timedelta(hours=3))

    assert send(app, smtp_settings) == {"sent": 4, "suppressed": 1}

    with app.app_context(), session_scope() as session:
        suppressions = session.scalars(
            select(Suppression).where(Suppression.organizer_id == scene.organizer_id)
        ).all()
        assert [(s.email_normalized, s.reason) for s in suppressions] == [
            ("ben@example.com", "bounced")
        ]
        assert "550" in (suppressions[0].detail or "")
    [ben] = [row for row in ledger(app, scene.organizer_id) if row.recipient == "ben@example.com"]
    assert ben.status == MailStatus.SUPPRESSED
    assert smtp_sink.to("ben@example.com") == []
    assert len(smtp_sink.to("cy@example.com")) == 1


def test_a_temporary_refusal_is_retried_later_with_the_same_message_id(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse("cy@example.com", "451 4.7.1 greylisted, try again later")
    plan(app, ended + timedelta(hours=3))
    now = datetime.now(UTC)

    assert send(app, smtp_settings, now) == {"sent": 4, "pending": 1}
    [cy] = [row for row in ledger(app, scene.organizer_id) if row.recipient == "cy@example.com"]
    assert (cy.status, cy.attempts) == (MailStatus.PENDING, 1)
    first = sending.RETRIES.delays[0]
    assert first * 0.8 <= cy.due_at - now <= first * 1.2
    assert "451" in (cy.last_error or "")

    smtp_sink.replies.clear()
    assert send(app, smtp_settings, now + timedelta(seconds=30)) == {}
    assert send(app, smtp_settings, now + first * 1.3) == {"sent": 1}
    [received] = smtp_sink.to("cy@example.com")
    assert received.message["Message-ID"] == cy.message_id


def test_temporary_refusals_give_up_after_about_a_day(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    smtp_sink.refuse("cy@example.com", "452 4.2.2 mailbox full")
    plan(app, ended + timedelta(hours=3))
    at = datetime.now(UTC)
    for _ in range(len(sending.RETRIES.delays) + 1):
        send(app, smtp_settings, at)
        at += sending.RETRIES.delays[-1] * 2
    [cy] = [row for row in ledger(app, scene.organizer_id) if row.recipient == "cy@example.com"]
    assert (cy.status, cy.attempts) == (MailStatus.FAILED, len(sending.RETRIES.delays) + 1)
    assert sum(sending.RETRIES.delays, timedelta()) > timedelta(hours=20)


def test_an_unsubscribe_after_planning_is_honoured_at_once(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    plan(app, ended + timedelta(hours=3))
    with app.app_context(), session_scope() as session:
        suppress(session, scene.organizer_id, "Dan@Example.com ", "unsubscribed")

    assert send(app, smtp_settings) == {"sent": 4, "skipped": 1}
    assert smtp_sink.to("dan@example.com") == []


def test_two_senders_at_once_send_each_message_once(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    plan(app, ended + timedelta(hours=3))
    results: list[Counter[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(send(app, smtp_settings))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results, Counter()) == {"sent": 5}
    recipients = [r.recipients[0] for r in smtp_sink.received]
    assert sorted(recipients) == sorted(set(recipients)) and len(recipients) == 5


def test_without_an_smtp_server_mail_lands_in_the_outbox(
    app: Flask, scene: Scene, ended: datetime, tmp_path: Path
) -> None:
    plan(app, ended + timedelta(hours=3))
    with app.app_context():
        settings = replace(current_settings(), smtp_url="", var_dir=tmp_path)

    assert send(app, settings) == {"sent": 5}

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 5
    assert not list((tmp_path / "outbox").glob("*.partial"))
    ids = {row.message_id for row in ledger(app, scene.organizer_id)}
    parsed = [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in files]
    assert {message["Message-ID"] for message in parsed} == ids


def test_a_worker_that_died_mid_send_leaves_one_message_uncertain_and_the_rest_due(
    app: Flask, scene: Scene, ended: datetime, smtp_settings: Settings
) -> None:
    """What the lease recovery does with a batch whose worker stopped after its second message
    (the end-to-end version with a real worker killed by SIGKILL is in tests/tasks)."""
    plan(app, ended + timedelta(hours=3))
    now = datetime.now(UTC)
    lease = timedelta(seconds=smtp_settings.mail_lease_seconds)
    with app.app_context(), session_scope() as session:
        rows = session.scalars(select(MailMessage).order_by(MailMessage.id)).all()
        rows = [r for r in rows if r.organizer_id == scene.organizer_id]
        rows[0].status = rows[1].status = MailStatus.SENT
        rows[2].status = MailStatus.SENDING
        for row in rows[2:]:
            row.claim, row.claimed_until = "dead", now + lease
        for row in rows[3:]:
            row.status = MailStatus.CLAIMED
        uncertain_id = rows[2].id

    assert send(app, smtp_settings, now) == {}
    assert send(app, smtp_settings, now + lease + timedelta(seconds=1)) == {"sent": 2}

    statuses = {row.id: row.status for row in ledger(app, scene.organizer_id)}
    assert statuses[uncertain_id] == MailStatus.UNCERTAIN
    assert Counter(statuses.values()) == {"sent": 4, "uncertain": 1}
