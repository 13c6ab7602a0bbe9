"""Sending what the ledger says is due, so that no message ever goes out twice.

A batch of due rows is claimed in one short transaction (`FOR UPDATE SKIP LOCKED`, status
`claimed`, a lease), so two workers or two overlapping beats never take the same row. The rows
then go out in id order, over one SMTP connection, `MAIL_SEND_CHUNK` (default 20) at a time: a
chunk's rows are marked `sending` and committed before its first message goes to the server,
and their outcomes are committed, in one statement, once the server has answered the last of
them. So at any moment at most one chunk of a batch is `sending`, and if the worker dies, its
rows are the only ones whose fate is unknown: when the lease runs out they become `uncertain`
and are never sent again, while the batch's untouched `claimed` rows go back to `pending`. A
message can be lost to a crash, never doubled. (A chunk rather than a single message: a commit
per message was a fifth of what sending a recap cost.)

What the server answers decides the rest: a 5xx refusal of the recipient suppresses the address
(for that organizer), a 4xx or a dropped connection is retried on `RETRIES`, a 5xx refusal of
the message itself fails it without retrying.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.backoff import RetrySchedule
from service.config import Settings
from service.mail.build import MailBuilder
from service.mail.links import LinkSigner
from service.mail.mime import OutgoingMail
from service.mail.preferences import reasons_not_to_send, suppress
from service.mail.transport import SendResult, Verdict, open_transport
from service.models import MailMessage, MailStatus, utcnow

log = logging.getLogger(__name__)

# Temporary refusals are retried for about a day, then the message is given up.
RETRIES = RetrySchedule(
    delays=(
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=12),
    ),
    jitter=0.2,
)
# The states `resend` puts back: given up on, or left unknown by a crash.
RESENDABLE = (MailStatus.FAILED, MailStatus.UNCERTAIN)
UNCERTAIN_NOTE = "its worker stopped while sending it; not sent again, so never sent twice"


@dataclass(frozen=True)
class Outcome:
    """What became of one row: its new status and why."""

    status: MailStatus
    detail: str = ""
    result: SendResult | None = None


def send_due(
    session: Session,
    settings: Settings,
    *,
    limit: int | None = None,
    clock: Callable[[], datetime] = utcnow,
    more_due: Callable[[], None] | None = None,
) -> Counter[str]:
    """Send up to `limit` (`MAIL_BATCH_SIZE`) due messages over one connection; count them by
    their new status.

    `more_due` is called once the claim is committed when it took a full batch, so that more
    is probably due: the worker's task queues another sender there, and a gathering's recaps
    are sent by as many processes as the worker has, each claiming its own batch."""
    release_expired_claims(session, clock())
    session.commit()
    lease = timedelta(seconds=settings.mail_lease_seconds)
    limit = limit or settings.mail_batch_size
    claim, row_ids = _claim(session, clock(), lease, limit)
    session.commit()
    outcomes: Counter[str] = Counter()
    if not row_ids:
        return outcomes
    if more_due is not None and len(row_ids) == limit:
        more_due()
    deadline = clock() + lease / 2
    rows = list(
        session.scalars(
            select(MailMessage).where(MailMessage.id.in_(row_ids)).order_by(MailMessage.id)
        )
    )
    builder = MailBuilder(
        session,
        settings,
        LinkSigner(settings.secret_key, settings.public_base_url),
        recipients={row.person_id for row in rows if row.person_id is not None},
    )
    skip = reasons_not_to_send(session, rows)
    with open_transport(settings) as transport:
        size = settings.mail_send_chunk
        for start in range(0, len(rows), size):
            if clock() > deadline:
                # Slow going: hand the rest back rather than outrun the lease.
                _release(session, claim)
                session.commit()
                break
            chunk = [
                (row, _prepare(builder, row, skip.get(row.id)))
                for row in rows[start : start + size]
            ]
            finished = [(row, ready) for row, ready in chunk if isinstance(ready, Outcome)]
            to_send = [(row, ready) for row, ready in chunk if isinstance(ready, OutgoingMail)]
            _mark_sending(session, [row.id for row, _ in to_send])
            session.commit()
            finished += [(row, _outcome(transport.send(mail))) for row, mail in to_send]
            _record(session, finished, clock(), outcomes)
            session.commit()
    return outcomes


def resend(session: Session, message: MailMessage) -> bool:
    """Put a failed or uncertain message back to be sent as soon as the sender next runs, and
    commit; False (nothing changed) for a message in any other state.

    Only a message the sender gave up on, or whose fate a crash left unknown, is resent, so one
    that went out is never sent a second time by accident. The status is checked and changed in
    one statement, so a message is never put back while the sender is working on it. The
    recipient's opt-outs are read again before it goes out.
    """
    resent = session.execute(
        update(MailMessage)
        .where(MailMessage.id == message.id, MailMessage.status.in_(RESENDABLE))
        .values(
            status=MailStatus.PENDING,
            due_at=utcnow(),
            attempts=0,
            claim=None,
            claimed_until=None,
        )
    )
    if not getattr(resent, "rowcount", 0):
        return False
    session.commit()
    return True


def release_expired_claims(session: Session, now: datetime) -> None:
    """After a worker died: rows it never reached are due again; the one it was sending when it
    died is `uncertain` (it may have reached the server), and is never sent again."""
    session.execute(
        update(MailMessage)
        .where(MailMessage.status == MailStatus.CLAIMED, MailMessage.claimed_until < now)
        .values(status=MailStatus.PENDING, claim=None, claimed_until=None)
    )
    session.execute(
        update(MailMessage)
        .where(MailMessage.status == MailStatus.SENDING, MailMessage.claimed_until < now)
        .values(status=MailStatus.UNCERTAIN, last_error=UNCERTAIN_NOTE)
    )


def _claim(session: Session, now: datetime, lease: timedelta, limit: int) -> tuple[str, list[int]]:
    claim = uuid.uuid4().hex
    row_ids = list(
        session.scalars(
            select(MailMessage.id)
            .where(MailMessage.status == MailStatus.PENDING, MailMessage.due_at <= now)
            .order_by(MailMessage.due_at, MailMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if row_ids:
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_(row_ids))
            .values(status=MailStatus.CLAIMED, claim=claim, claimed_until=now + lease)
        )
    return claim, sorted(row_ids)


def _release(session: Session, claim: str) -> None:
    session.execute(
        update(MailMessage)
        .where(MailMessage.claim == claim, MailMessage.status == MailStatus.CLAIMED)
        .values(status=MailStatus.PENDING, claim=None, claimed_until=None)
    )


def _prepare(
    builder: MailBuilder, row: MailMessage, skip_reason: str | None
) -> OutgoingMail | Outcome:
    """The row's message, or its outcome already when there is nothing to send."""
    if skip_reason is not None:
        return Outcome(MailStatus.SKIPPED, skip_reason)
    try:
        message = builder.build(row)
    except SQLAlchemyError:
        raise
    except Exception as error:  # a composing bug must not stop the rest of the batch
        log.exception("could not compose mail message %s", row.id)
        return Outcome(MailStatus.FAILED, f"could not compose: {type(error).__name__}: {error}")
    if message is None:
        return Outcome(MailStatus.SKIPPED, "nothing to send: its subject is gone")
    return message


def _outcome(result: SendResult) -> Outcome:
    if result.verdict is Verdict.SENT:
        return Outcome(MailStatus.SENT, result=result)
    if result.verdict is Verdict.REFUSED:
        return Outcome(MailStatus.SUPPRESSED, f"{result.code} {result.detail}", result)
    if result.verdict is Verdict.FAILED:
        return Outcome(MailStatus.FAILED, f"{result.code} {result.detail}", result)
    return Outcome(MailStatus.PENDING, f"{result.code or ''} {result.detail}".strip(), result)


def _mark_sending(session: Session, row_ids: list[int]) -> None:
    """The chunk about to go to the server; committed before its first message is sent."""
    if row_ids:
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_(row_ids))
            .values(status=MailStatus.SENDING)
            .execution_options(synchronize_session=False)  # the rows in hand are not read again
        )


def _record(
    session: Session,
    finished: list[tuple[MailMessage, Outcome]],
    now: datetime,
    counts: Counter[str],
) -> None:
    """Write what became of each row, one statement for the rows that fared alike (usually the
    whole chunk: sent); count the outcomes."""
    alike: dict[Change, list[int]] = defaultdict(list)
    for row, outcome in finished:
        counts[outcome.status] += 1
        alike[_change(row, outcome, now)].append(row.id)
        if outcome.status is MailStatus.SUPPRESSED:
            suppress(session, row.organizer_id, row.recipient, "bounced", outcome.detail)
    for change, row_ids in alike.items():
        values: dict[str, object] = {
            "status": change.status,
            "claim": None,
            "claimed_until": None,
            "last_error": change.last_error,
            "attempts": MailMessage.attempts + change.attempted,
        }
        if change.due_at is not None:
            values["due_at"] = change.due_at
        if change.sent_at is not None:
            values["sent_at"] = change.sent_at
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_(row_ids))
            .values(values)
            .execution_options(synchronize_session=False)
        )


class Change(NamedTuple):
    """A row's new values; `due_at` and `sent_at` stay as they are when None."""

    status: MailStatus
    last_error: str | None
    attempted: int  # 1 when the message went to the server, whatever it answered
    due_at: datetime | None
    sent_at: datetime | None


def _change(row: MailMessage, outcome: Outcome, now: datetime) -> Change:
    attempted = 1 if outcome.result is not None else 0
    status, due_at = outcome.status, None
    if status is MailStatus.PENDING:
        if RETRIES.exhausted(row.attempts + attempted):
            status = MailStatus.FAILED
        else:
            due_at = now + RETRIES.delay_after(row.attempts + attempted)
    sent_at = now if status is MailStatus.SENT else None
    return Change(status, outcome.detail or None, attempted, due_at, sent_at)
