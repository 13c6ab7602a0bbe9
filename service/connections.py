"""Connections between attendees and the outcomes members report: recording them safely.

Both arrive from several places (the JSON API, the `standard` webhook, recap answers) and any
report may be retried, so recording is idempotent: a connection is one row per gathering and
unordered pair, and an outcome with a key is stored once per organizer.

Which connections count (SCORING.md §2, M_i):
- A connection is **confirmed** when both people reported it, or when a report came from a
  source that does not rest on one attendee's word: `scan` (one side's device read the other's
  badge, in person) and `api` (the organizer's own system vouches for it). A `mutual_tap` is a
  report by both sides at once. `recap_answer` and `platform` are one person's word and wait
  for the other side's report.
- It **counts** only while both people are checked in to the gathering (`select_connections`).
  The API refuses a connection between people who have not checked in, since its caller can
  fix and retry; a webhook's connection may arrive before the check-ins it names, so it is
  stored at once and starts counting when they land (and stops if a check-in is reverted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Mapped, Session, aliased

from integrations.base import (
    ConnectionSource,
    MalformedPayload,
    OutcomeKind,
    parse_amount,
    parse_choice,
)
from integrations.fields import MAX_ID_LENGTH, storable
from service.models import (
    Attendance,
    Connection,
    Gathering,
    Group,
    Outcome,
    OutcomeSource,
    Person,
    utcnow,
)
from service.rescoring import mark_group_stale, mark_stale
from service.upsert import get_or_create

RowT = TypeVar("RowT")
ParsedT = TypeVar("ParsedT")

TRUSTED_SOURCES = frozenset({ConnectionSource.SCAN, ConnectionSource.API})
# Weakest to strongest. A connection keeps the strongest source that reported it, so reports
# arriving in any order leave the same row.
SOURCE_STRENGTH = (
    ConnectionSource.RECAP_ANSWER,
    ConnectionSource.PLATFORM,
    ConnectionSource.API,
    ConnectionSource.SCAN,
    ConnectionSource.MUTUAL_TAP,
)


class InvalidReport(Exception):
    """A connection or outcome that cannot be recorded; `field` names the input at fault, and
    `detail` says what is wrong in a sentence that names it too.

    `reason` is `not_found` when the field names nothing that belongs to the organizer (the API
    answers 404, as for another organizer's object), and `invalid_parameter` otherwise.
    """

    def __init__(self, field: str, detail: str, reason: str = "invalid_parameter") -> None:
        self.field = field
        self.detail = detail
        self.reason = reason
        super().__init__(detail)


@dataclass(frozen=True)
class Recorded(Generic[RowT]):
    """A stored row; `created` if this report made it, `changed` if it altered anything."""

    row: RowT
    created: bool
    changed: bool


def record_connection(
    session: Session,
    organizer_id: int,
    gathering: Gathering,
    person_a: Person,
    person_b: Person,
    source: str = ConnectionSource.API,
    reported_by: Person | None = None,
    *,
    require_attendance: bool = True,
) -> Recorded[Connection]:
    """Record that two people connected at a gathering, in either order, any number of times.

    `reported_by` (one of the two) is the side that reported it; the other side's report
    confirms it. With `require_attendance` both must be checked in, else `InvalidReport`.
    """
    check_owner(gathering, organizer_id, "gathering")
    for person in (person_a, person_b):
        check_owner(person, organizer_id, "people")
    if person_a.id == person_b.id:
        raise InvalidReport("people", "people must be two different people")
    if reported_by is not None and reported_by.id not in (person_a.id, person_b.id):
        raise InvalidReport("reported_by", "reported_by must be one of the two people")
    reported_source = checked("source", lambda: parse_choice(source, ConnectionSource, "source"))
    if require_attendance:
        require_checked_in(session, gathering, (person_a, person_b))

    low, high = sorted((person_a.id, person_b.id))
    connection, created = get_or_create(
        session,
        Connection,
        {"gathering_id": gathering.id, "person_low_id": low, "person_high_id": high},
        {"organizer_id": organizer_id, "source": reported_source},
    )
    # Lock the row and reload it, so two reports applied at once both leave their mark.
    session.execute(select(Connection.id).where(Connection.id == connection.id).with_for_update())
    session.refresh(connection)
    before = connection_state(connection)
    both_sides = reported_source is ConnectionSource.MUTUAL_TAP
    reporter = reported_by.id if reported_by is not None else None
    connection.source = max(connection.source, reported_source, key=SOURCE_STRENGTH.index)
    connection.reported_by_low = connection.reported_by_low or both_sides or reporter == low
    connection.reported_by_high = connection.reported_by_high or both_sides or reporter == high
    connection.confirmed = is_confirmed(
        ConnectionSource(connection.source), connection.reported_by_low, connection.reported_by_high
    )
    changed = created or connection_state(connection) != before
    if changed:
        mark_stale(session, [gathering.id])
    return Recorded(connection, created, changed)


def is_confirmed(strongest_source: ConnectionSource, by_low: bool, by_high: bool) -> bool:
    """Both sides reported it, or a trusted source did (see the module docstring)."""
    return (by_low and by_high) or strongest_source in TRUSTED_SOURCES


def connection_state(connection: Connection) -> tuple[str, bool, bool, bool]:
    return (
        connection.source,
        connection.reported_by_low,
        connection.reported_by_high,
        connection.confirmed,
    )


def require_checked_in(session: Session, gathering: Gathering, people: Iterable[Person]) -> None:
    """Refuse unless every one of `people` is checked in (not reverted) to the gathering."""
    people = list(people)
    present = set(
        session.scalars(
            select(Attendance.person_id).where(
                Attendance.gathering_id == gathering.id,
                Attendance.person_id.in_([person.id for person in people]),
                Attendance.checked_in_at.is_not(None),
            )
        )
    )
    for person in people:
        if person.id not in present:
            who = f"person {person.id}" + (f" ({person.email})" if person.email else "")
            raise InvalidReport(
                "people", f"people must have checked in to gathering {gathering.id}; {who} has not"
            )


def select_connections(organizer_id: int) -> Select[tuple[Connection, bool]]:
    """The organizer's connections, each with whether both people are checked in.

    Only those with both checked in count; filter, order and page the query as needed.
    """
    low_in, high_in = aliased(Attendance), aliased(Attendance)

    def checked_in(attendance: type[Attendance], person_id: Mapped[int]) -> ColumnElement[bool]:
        return and_(
            attendance.gathering_id == Connection.gathering_id,
            attendance.person_id == person_id,
            attendance.checked_in_at.is_not(None),
        )

    both = and_(low_in.id.is_not(None), high_in.id.is_not(None)).label("both_checked_in")
    return (
        select(Connection, both)
        .outerjoin(low_in, checked_in(low_in, Connection.person_low_id))
        .outerjoin(high_in, checked_in(high_in, Connection.person_high_id))
        .where(Connection.organizer_id == organizer_id)
    )


def record_outcome(
    session: Session,
    organizer_id: int,
    person: Person,
    group: Group,
    kind: str,
    *,
    value: Decimal | float | str | None = None,
    gathering: Gathering | None = None,
    counterpart: Person | None = None,
    key: str | None = None,
    source: OutcomeSource = OutcomeSource.API,
    reported_at: datetime | None = None,
) -> Recorded[Outcome]:
    """Record a lead, referral or closed deal that `person` received in `group`.

    `counterpart` is whom it came from; `gathering`, if given, must be one of the group's. A
    `key` the organizer used before names the outcome already stored, which is returned as it
    is: the first report wins, and a retry is never counted twice.
    """
    check_owner(person, organizer_id, "person")
    check_owner(group, organizer_id, "group")
    outcome_kind = checked("kind", lambda: parse_choice(kind, OutcomeKind, "kind"))
    amount = None if value is None else checked("value", lambda: parse_amount(value, "value"))
    if gathering is not None:
        check_owner(gathering, organizer_id, "gathering")
        if gathering.group_id != group.id:
            raise InvalidReport(
                "gathering", f"gathering must be one of group {group.id}'s; {gathering.id} is not"
            )
    if counterpart is not None:
        check_owner(counterpart, organizer_id, "counterpart")
        if counterpart.id == person.id:
            raise InvalidReport("counterpart", "counterpart must be someone other than person")
    if key is not None and (
        not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LENGTH or not storable(key)
    ):
        raise InvalidReport("key", f"key must be text of 1 to {MAX_ID_LENGTH} characters")

    values = {
        "organizer_id": organizer_id,
        "person_id": person.id,
        "group_id": group.id,
        "gathering_id": gathering.id if gathering is not None else None,
        "counterpart_id": counterpart.id if counterpart is not None else None,
        "kind": outcome_kind,
        "value": amount,
        "source": source,
        "key": key,
        "reported_at": reported_at or utcnow(),
    }
    if key is None:
        outcome = Outcome(**values)
        session.add(outcome)
        session.flush()
        created = True
    else:
        outcome, created = get_or_create(
            session, Outcome, {"organizer_id": organizer_id, "key": key}, values
        )
    if created:
        mark_group_stale(session, group.id, gathering.id if gathering is not None else None)
    return Recorded(outcome, created, created)


def check_owner(row: Gathering | Group | Person, organizer_id: int, field: str) -> None:
    """Refuse another organizer's object exactly as one that does not exist."""
    if row.organizer_id != organizer_id:
        what = type(row).__name__.lower()
        raise InvalidReport(field, f"{field}: no {what} with id {row.id}", "not_found")


def checked(field: str, parse: Callable[[], ParsedT]) -> ParsedT:
    """Run a shared field parser, reporting its complaint against `field`."""
    try:
        return parse()
    except MalformedPayload as err:
        raise InvalidReport(field, err.detail) from err
