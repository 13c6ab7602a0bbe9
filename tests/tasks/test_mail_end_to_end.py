"""Mail through real Celery workers and a real SMTP server: a worker killed mid-send, and the
same digest triggered twice, still give each recipient exactly one message."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.context import current_settings
from service.db import session_scope
from service.mail import planning
from service.models import Gathering, MailKind, MailMessage, MailStatus, Organizer
from service.queue import PLAN_DIGESTS, SEND_DUE_MAIL
from tests.conftest import Tenant, WorkerProcess, worker_env
from tests.service.recap_helpers import scored_breakfast, set_aside_other_tests_mail
from tests.smtp_sink import SmtpSink
from tests.support import wait_for

QUEUE = "mail-end-to-end"
LEASE_SECONDS = 10
SEND_CHUNK = 2  # messages marked `sending` together: the most a crash can leave uncertain


@pytest.fixture(autouse=True)
def _nothing_else_due(app: Flask) -> None:
    set_aside_other_tests_mail(app)


@pytest.fixture()
def start_worker(
    settings_overrides: dict[str, Any], smtp_sink: SmtpSink, tmp_path: Path
) -> Iterator[Any]:
    """Start workers on a queue of their own, sending to the test's SMTP server."""
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        env = worker_env(settings_overrides)
        env.update(
            SMTP_URL=smtp_sink.url,
            MAIL_LEASE_SECONDS=str(LEASE_SECONDS),
            MAIL_SEND_CHUNK=str(SEND_CHUNK),
            **settings,
        )
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", queue=QUEUE)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


def run_task(app: Flask, name: str) -> None:
    app.extensions["celery"].send_task(name, queue=QUEUE)


def breakfast_mail_planned(app: Flask, client: FlaskClient, tenant: Tenant) -> Any:
    """The scored breakfast, its summary and four recaps due: five messages."""
    scene = scored_breakfast(app, client, tenant)
    with app.app_context(), session_scope() as session:
        gathering = session.get(Gathering, scene.breakfast)
        assert gathering is not None
        planning.plan_due_summaries(
            session, current_settings(), planning.end_of(gathering) + timedelta(hours=3)
        )
    return scene


def test_a_worker_killed_mid_send_never_causes_a_second_copy(
    app: Flask, client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, start_worker: Any
) -> None:
    scene = breakfast_mail_planned(app, client, tenant)
    with app.app_context(), session_scope() as session:
        organizer = session.get(Organizer, scene.organizer_id)
        assert organizer is not None
        organizer_email = organizer.email
    # The summary goes first, then the recaps in person order, two at a time: the summary and
    # Ada's, then Ben's and Cy's (held by the server until the worker is dead), then Dan's.
    released = smtp_sink.hold("cy@example.com")

    first = start_worker()
    run_task(app, SEND_DUE_MAIL)
    wait_for(lambda: smtp_sink.to("cy@example.com"), timeout=30)
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait()
    released.set()

    with app.app_context(), session_scope() as session:
        statuses = Counter(
            session.scalars(
                select(MailMessage.status).where(MailMessage.organizer_id == scene.organizer_id)
            )
        )
    assert statuses == {"sent": 2, "sending": 2, "claimed": 1}

    start_worker()
    time.sleep(LEASE_SECONDS + 1)
    run_task(app, SEND_DUE_MAIL)
    wait_for(lambda: smtp_sink.to("dan@example.com"), timeout=30)

    recipients = Counter(r.recipients[0] for r in smtp_sink.received)
    assert recipients == Counter(
        {organizer_email: 1, **{f"{n}@example.com": 1 for n in ("ada", "ben", "cy", "dan")}}
    )
    with app.app_context(), session_scope() as session:
        in_flight = session.scalars(
            select(MailMessage).where(
                MailMessage.organizer_id == scene.organizer_id,
                MailMessage.status == MailStatus.UNCERTAIN,
            )
        ).all()
        assert sorted(m.recipient for m in in_flight) == ["ben@example.com", "cy@example.com"]
        assert all("never sent twice" in (m.last_error or "") for m in in_flight)


def test_a_full_batch_queues_the_next_so_one_trigger_sends_everything(
    app: Flask, client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, start_worker: Any
) -> None:
    scene = breakfast_mail_planned(app, client, tenant)
    start_worker(MAIL_BATCH_SIZE="2")
    run_task(app, SEND_DUE_MAIL)  # once; no beat runs here

    wait_for(lambda: len(smtp_sink.received) == 5, timeout=30)
    time.sleep(1)  # a sender queued after the last batch finds nothing more
    recipients = Counter(r.recipients[0] for r in smtp_sink.received)
    assert len(recipients) == 5 and set(recipients.values()) == {1}
    assert smtp_sink.connections == 3  # batches of 2, 2 and 1, a connection each
    with app.app_context(), session_scope() as session:
        statuses = Counter(
            session.scalars(
                select(MailMessage.status).where(MailMessage.organizer_id == scene.organizer_id)
            )
        )
    assert statuses == {"sent": 5}


def test_the_same_digest_triggered_twice_sends_one_message(
    app: Flask, client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, start_worker: Any
) -> None:
    scored_breakfast(app, client, tenant)
    # Make the digest due now: the organizer's digest time is the current minute, in UTC.
    now = datetime.now(UTC)
    with app.app_context(), session_scope() as session:
        organizer = session.get(Organizer, tenant.organizer_id)
        assert organizer is not None
        organizer.mail_settings = {
            "digest_weekday": now.strftime("%A").lower(),
            "digest_time": now.strftime("%H:%M"),
        }
        organizer_email = organizer.email

    start_worker()
    run_task(app, PLAN_DIGESTS)
    run_task(app, PLAN_DIGESTS)
    run_task(app, SEND_DUE_MAIL)
    run_task(app, SEND_DUE_MAIL)
    wait_for(lambda: smtp_sink.to(organizer_email), timeout=30)
    run_task(app, PLAN_DIGESTS)
    run_task(app, SEND_DUE_MAIL)

    def settled() -> bool:
        with app.app_context(), session_scope() as session:
            pending = session.scalars(
                select(MailMessage.status).where(
                    MailMessage.organizer_id == tenant.organizer_id,
                    MailMessage.status != MailStatus.SENT,
                )
            ).all()
            return not pending

    wait_for(settled, timeout=30)
    time.sleep(1)
    [digest] = smtp_sink.to(organizer_email)
    with app.app_context(), session_scope() as session:
        [row] = session.scalars(
            select(MailMessage).where(
                MailMessage.organizer_id == tenant.organizer_id,
                MailMessage.kind == MailKind.WEEKLY_DIGEST,
            )
        ).all()
        assert digest.message["Message-ID"] == row.message_id
