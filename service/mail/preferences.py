"""Who gets which mail and when: an organizer's mail settings, suppressions, recap switches.

An organizer stores only what they changed (`Organizer.mail_settings`); `preferences_of` lays
that over the defaults. Opt-outs are read again just before each message goes out, so an
unsubscribe or a "this group is not for me" is honoured immediately, even for mail already
planned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.attendance import normalize_email
from service.models import (
    Gathering,
    Group,
    GroupLeave,
    MailKind,
    MailMessage,
    Organizer,
    Suppression,
)
from service.upsert import insert_ignoring_conflict

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_DIGEST_WEEKDAY = "monday"
DEFAULT_DIGEST_TIME = time(8, 0)
DEFAULT_SUMMARY_GRACE_MINUTES = 120
MAX_SUMMARY_GRACE_MINUTES = 7 * 24 * 60
MAX_RECIPIENTS = 20
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


class PreferenceError(ValueError):
    """A mail setting is wrong; `field` names it."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(f"{field}: {detail}")


@dataclass(frozen=True)
class MailPreferences:
    """An organizer's mail settings with the defaults filled in."""

    summary_recipients: tuple[str, ...]
    digest_weekday: str
    digest_time: time
    summary_grace_minutes: int
    timezone: ZoneInfo

    def as_json(self) -> dict[str, Any]:
        return {
            "summary_recipients": list(self.summary_recipients),
            "digest_weekday": self.digest_weekday,
            "digest_time": self.digest_time.strftime("%H:%M"),
            "summary_grace_minutes": self.summary_grace_minutes,
            "timezone": self.timezone.key,
        }


def preferences_of(organizer: Organizer) -> MailPreferences:
    """The organizer's settings over the defaults: summaries and digests go to the organizer's
    own address, on Mondays at 08:00 in their time zone, two hours after a gathering ends."""
    stored = organizer.mail_settings or {}
    hour, minute = (int(part) for part in stored.get("digest_time", "08:00").split(":"))
    return MailPreferences(
        summary_recipients=tuple(stored.get("summary_recipients") or [organizer.email]),
        digest_weekday=stored.get("digest_weekday", DEFAULT_DIGEST_WEEKDAY),
        digest_time=time(hour, minute),
        summary_grace_minutes=int(
            stored.get("summary_grace_minutes", DEFAULT_SUMMARY_GRACE_MINUTES)
        ),
        timezone=_zone(organizer.timezone),
    )


def update_preferences(organizer: Organizer, changes: Mapping[str, Any]) -> None:
    """Validate `changes` (every field named on error) and store them; `null` resets a field."""
    stored = dict(organizer.mail_settings or {})
    timezone = organizer.timezone
    for field, value in changes.items():
        if field == "timezone":
            timezone = "UTC" if value is None else _valid_timezone(value)
        elif field not in _VALIDATORS:
            raise PreferenceError(field, "unknown setting")
        elif value is None:
            stored.pop(field, None)
        else:
            stored[field] = _VALIDATORS[field](value)
    organizer.mail_settings = stored
    organizer.timezone = timezone


def _recipients(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_RECIPIENTS:
        raise PreferenceError(
            "summary_recipients", f"must be a list of 1 to {MAX_RECIPIENTS} email addresses"
        )
    cleaned: list[str] = []
    for address in value:
        if not isinstance(address, str) or len(address) > 320 or not _EMAIL.match(address):
            raise PreferenceError("summary_recipients", f"{address!r} is not an email address")
        if address.strip().lower() not in (seen.lower() for seen in cleaned):
            cleaned.append(address.strip())
    return cleaned


def _weekday(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in WEEKDAYS:
        raise PreferenceError("digest_weekday", f"must be one of {', '.join(WEEKDAYS)}")
    return value.lower()


def _time_of_day(value: Any) -> str:
    if not isinstance(value, str) or not _TIME.match(value):
        raise PreferenceError("digest_time", "must be a 24-hour time such as 08:00")
    return value


def _grace(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_SUMMARY_GRACE_MINUTES
    ):
        raise PreferenceError(
            "summary_grace_minutes", f"must be a whole number from 0 to {MAX_SUMMARY_GRACE_MINUTES}"
        )
    return value


def _valid_timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise PreferenceError("timezone", "must be an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(value).key
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise PreferenceError("timezone", f"unknown time zone {value!r}") from error


_VALIDATORS = {
    "summary_recipients": _recipients,
    "digest_weekday": _weekday,
    "digest_time": _time_of_day,
    "summary_grace_minutes": _grace,
}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- suppressions ------------------------------------------------------------------------------


def mailbox(email: str) -> str:
    """An address as the ledger and suppressions keep it: trimmed and lower-cased."""
    return normalize_email(email) or ""


def suppress(
    session: Session, organizer_id: int, email: str, reason: str, detail: str | None = None
) -> bool:
    """Stop the organizer's mail to `email`; True if it was not suppressed already."""
    values = {
        "organizer_id": organizer_id,
        "email_normalized": mailbox(email),
        "reason": reason,
        "detail": detail,
    }
    key = ["organizer_id", "email_normalized"]
    return insert_ignoring_conflict(session, Suppression, values, key) is not None


def unsuppress(session: Session, organizer_id: int, email: str) -> bool:
    """Let the organizer's mail reach `email` again; True if it was suppressed."""
    result = session.execute(
        delete(Suppression).where(
            Suppression.organizer_id == organizer_id,
            Suppression.email_normalized == mailbox(email),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def is_suppressed(session: Session, organizer_id: int, email: str) -> bool:
    return session.get(Suppression, (organizer_id, mailbox(email))) is not None


def reasons_not_to_send(session: Session, rows: Sequence[MailMessage]) -> dict[int, str]:
    """Why planned messages must not go out any more, read just before sending; by row id.

    One query per kind of opt-out for the whole batch: suppressed addresses, groups whose
    recaps are switched off, and members who left a group.
    """
    reasons: dict[int, str] = {}
    by_organizer: dict[int, list[MailMessage]] = {}
    for row in rows:
        by_organizer.setdefault(row.organizer_id, []).append(row)
    for organizer_id, organizer_rows in by_organizer.items():
        suppressed = suppressed_among(
            session, organizer_id, [row.recipient for row in organizer_rows]
        )
        for row in organizer_rows:
            if mailbox(row.recipient) in suppressed:
                reasons[row.id] = "the address is suppressed (unsubscribed, bounced or by hand)"
    recaps = [r for r in rows if r.kind == MailKind.ATTENDEE_RECAP and r.id not in reasons]
    gathering_ids = {row.context.get("gathering_id") for row in recaps}
    group_of = dict(
        session.execute(
            select(Gathering.id, Gathering.group_id).where(Gathering.id.in_(gathering_ids))
        )
        .tuples()
        .all()
    )
    group_ids = {group_id for group_id in group_of.values() if group_id is not None}
    switched_off = set(
        session.scalars(
            select(Group.id).where(Group.id.in_(group_ids), Group.attendee_recaps.is_(False))
        )
    )
    left = set(
        session.execute(
            select(GroupLeave.group_id, GroupLeave.person_id).where(
                GroupLeave.group_id.in_(group_ids),
                GroupLeave.person_id.in_({row.person_id for row in recaps}),
            )
        ).tuples()
    )
    for row in recaps:
        group_id = group_of.get(int(row.context.get("gathering_id") or 0))
        if group_id in switched_off:
            reasons[row.id] = "attendee recaps are switched off for the group"
        elif (group_id, row.person_id) in left:
            reasons[row.id] = "the attendee left the group"
    return reasons


def suppressed_among(session: Session, organizer_id: int, emails: list[str]) -> set[str]:
    """The normalized addresses among `emails` that the organizer's mail must skip."""
    normalized = [mailbox(email) for email in emails]
    return set(
        session.scalars(
            select(Suppression.email_normalized).where(
                Suppression.organizer_id == organizer_id,
                Suppression.email_normalized.in_(normalized),
            )
        )
    )
