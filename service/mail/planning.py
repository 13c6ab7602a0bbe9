"""Deciding what is due: summaries and recaps after a gathering, digests once a week.

Planning writes ledger rows (`MailMessage`) and outbound webhook messages; sending is
`service.mail.sending`'s job. Every row is keyed by kind × recipient × subject, so planning the
same gathering or week twice (a retried task, two overlapping beats) adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from service import outbound
from service.config import Settings
from service.mail.build import digest_payloads, summary_payload
from service.mail.preferences import WEEKDAYS, MailPreferences, mailbox, preferences_of
from service.models import (
    Attendance,
    Gathering,
    Group,
    GroupLeave,
    MailKind,
    MailMessage,
    MailStatus,
    Organizer,
    OutboundEventType,
    Person,
    RescoreJob,
    utcnow,
)
from service.rescoring import DEFAULT_HOURS
from service.upsert import insert_many_ignoring_conflict

# Gatherings that ended longer ago than this never get a summary: history imported later, or a
# gathering whose planning was missed during a long outage, is not news any more.
SUMMARY_MAX_AGE = timedelta(days=2)
# A weekly digest more than this late (beat was down) is skipped; next week's comes on time.
DIGEST_MAX_DELAY = timedelta(days=1)
DIGEST_PERIOD = timedelta(days=7)
# A gathering the platform gave no end time is taken to last this long (SCORING.md's default).
ASSUMED_LENGTH = timedelta(hours=DEFAULT_HOURS)
LEDGER_KEY = ["organizer_id", "kind", "recipient", "subject_key"]


@dataclass(frozen=True)
class Recipient:
    email: str
    person_id: int | None = None


def plan_due_summaries(
    session: Session, settings: Settings, now: datetime | None = None, limit: int = 20
) -> int:
    """Queue the organizer summary, the attendee recaps and the `gathering.summary` webhook of
    every gathering that ended at least its organizer's grace period ago; return how many
    gatherings were planned.

    A gathering whose scores are still being recomputed waits for the next run, so nobody gets
    a recap built on a half-counted room.
    """
    now = now or utcnow()
    gathering_ids = list(
        session.scalars(
            select(Gathering.id)
            .where(
                Gathering.summarized_at.is_(None),
                or_(
                    Gathering.ends_at.between(now - SUMMARY_MAX_AGE, now),
                    and_(
                        Gathering.ends_at.is_(None),
                        Gathering.starts_at.between(
                            now - SUMMARY_MAX_AGE - ASSUMED_LENGTH, now - ASSUMED_LENGTH
                        ),
                    ),
                ),
                ~exists().where(RescoreJob.gathering_id == Gathering.id),
            )
            .order_by(Gathering.ends_at, Gathering.starts_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Gathering)
        )
    )
    planned = 0
    for gathering_id in gathering_ids:
        gathering = session.get(Gathering, gathering_id)
        organizer = session.get(Organizer, gathering.organizer_id) if gathering else None
        if gathering is None or organizer is None:
            continue
        preferences = preferences_of(organizer)
        if end_of(gathering) + timedelta(minutes=preferences.summary_grace_minutes) > now:
            continue
        _plan_gathering(session, settings, gathering, preferences)
        gathering.summarized_at = now
        planned += 1
    return planned


def end_of(gathering: Gathering) -> datetime:
    """When a gathering ended: as the platform said, else its start plus the usual length."""
    if gathering.ends_at is not None:
        return gathering.ends_at
    assert gathering.starts_at is not None  # the planning query selects only these
    return gathering.starts_at + ASSUMED_LENGTH


def _plan_gathering(
    session: Session, settings: Settings, gathering: Gathering, preferences: MailPreferences
) -> None:
    subject_key = f"gathering:{gathering.id}"
    context = {"gathering_id": gathering.id}
    organizer_recipients = [Recipient(email) for email in preferences.summary_recipients]
    ledger = Ledger(session, settings, gathering.organizer_id, subject_key, context)
    ledger.add(MailKind.GATHERING_SUMMARY, organizer_recipients)
    ledger.add(MailKind.ATTENDEE_RECAP, _recap_recipients(session, gathering))
    payload = summary_payload(session, gathering.id)
    if payload is not None:
        outbound.emit(
            session,
            gathering.organizer_id,
            OutboundEventType.GATHERING_SUMMARY,
            f"summary:{gathering.id}",
            payload,
        )


def _recap_recipients(session: Session, gathering: Gathering) -> list[Recipient]:
    """Everyone who checked in and has an address, unless the organizer switched recaps off for
    the group or the person left it. Suppressed addresses are skipped when sending."""
    group = session.get(Group, gathering.group_id) if gathering.group_id else None
    if group is not None and not group.attendee_recaps:
        return []
    query = (
        select(Person.email, Person.id)
        .join(Attendance, Attendance.person_id == Person.id)
        .where(
            Attendance.gathering_id == gathering.id,
            Attendance.checked_in_at.is_not(None),
            Person.email.is_not(None),
        )
        .order_by(Person.id)
    )
    if group is not None:
        query = query.where(
            ~exists().where(GroupLeave.group_id == group.id, GroupLeave.person_id == Person.id)
        )
    return [Recipient(email, person_id) for email, person_id in session.execute(query) if email]


def plan_weekly_digests(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue each organizer's weekly digest and their groups' `group.digest` webhooks once the
    week's digest time has passed in the organizer's time zone; return how many organizers."""
    now = now or utcnow()
    planned = 0
    for organizer in session.scalars(select(Organizer).order_by(Organizer.id)):
        preferences = preferences_of(organizer)
        period_end = latest_digest_time(preferences, now)
        if now - period_end > DIGEST_MAX_DELAY:
            continue
        period_start = period_end - DIGEST_PERIOD
        local_start = period_start.astimezone(preferences.timezone).date()
        subject_key = f"week:{local_start.isoformat()}"
        if _already_planned(session, organizer.id, subject_key):
            continue
        if not session.scalar(select(exists().where(Group.organizer_id == organizer.id))):
            continue
        context = {"period_start": period_start.isoformat(), "period_end": period_end.isoformat()}
        Ledger(session, settings, organizer.id, subject_key, context).add(
            MailKind.WEEKLY_DIGEST, [Recipient(e) for e in preferences.summary_recipients]
        )
        for group_id, data in digest_payloads(session, organizer.id, period_start, period_end):
            outbound.emit(
                session,
                organizer.id,
                OutboundEventType.GROUP_DIGEST,
                f"digest:{group_id}:{period_start.isoformat()}",
                data,
                occurred_at=period_end,
            )
        planned += 1
    return planned


def latest_digest_time(preferences: MailPreferences, now: datetime) -> datetime:
    """The most recent digest moment (weekday and time of day, in the organizer's zone) at or
    before `now`, in UTC."""
    zone = preferences.timezone
    local_now = now.astimezone(zone)
    days_back = (local_now.weekday() - WEEKDAYS.index(preferences.digest_weekday)) % 7
    day = local_now.date() - timedelta(days=days_back)
    moment = datetime.combine(day, preferences.digest_time, tzinfo=zone)
    if moment > local_now:
        moment = datetime.combine(day - timedelta(days=7), preferences.digest_time, tzinfo=zone)
    return moment.astimezone(now.tzinfo)


def _already_planned(session: Session, organizer_id: int, subject_key: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    MailMessage.organizer_id == organizer_id,
                    MailMessage.kind == MailKind.WEEKLY_DIGEST,
                    MailMessage.subject_key == subject_key,
                )
            )
        )
    )


@dataclass(frozen=True)
class Ledger:
    """Adds rows about one subject (a gathering or a week) of one organizer to the ledger."""

    session: Session
    settings: Settings
    organizer_id: int
    subject_key: str
    context: dict[str, Any]

    def add(self, kind: MailKind, recipients: Sequence[Recipient]) -> int:
        """One row per recipient, unless it is there already; return how many were new."""
        domain = self.settings.sender_address.rpartition("@")[2]
        now = utcnow()
        rows = [
            {
                "organizer_id": self.organizer_id,
                "kind": kind.value,
                "recipient": mailbox(recipient.email),
                "subject_key": self.subject_key,
                "person_id": recipient.person_id,
                "context": self.context,
                # Fixed now, so a retry after a temporary refusal carries the same Message-ID.
                "message_id": f"<{uuid.uuid4().hex}@{domain}>",
                "status": MailStatus.PENDING.value,
                "due_at": now,
                "attempts": 0,
                "created_at": now,
            }
            for recipient in recipients
        ]
        return insert_many_ignoring_conflict(self.session, MailMessage, rows, LEDGER_KEY)
