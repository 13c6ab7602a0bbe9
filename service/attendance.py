"""Applying normalized platform events to the domain: people, groups, gatherings, attendance.

Connections and outcomes are resolved here too (gathering, group, people) and recorded by
`service.connections`.

Every step is an upsert on a natural key, and attendance is a fold over the stored events, so
applying the same delivery twice changes nothing and any delivery order ends in the same state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, lazyload

from integrations.base import (
    AttendeeRef,
    ConnectionSource,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
)
from service.connections import InvalidReport, record_connection, record_outcome
from service.models import (
    Attendance,
    AttendanceEvent,
    AttendanceKind,
    Base,
    Delivery,
    Gathering,
    Group,
    Identity,
    Integration,
    OutcomeSource,
    Person,
)
from service.upsert import get_or_create, get_or_create_columns, insert_ignoring_conflict

# Events at the same instant apply in this order, so "in" and "out" in one second stay a visit.
FOLD_RANK = {
    AttendanceKind.REGISTERED: 0,
    AttendanceKind.CHECKED_IN: 1,
    AttendanceKind.CHECKED_OUT: 2,
    AttendanceKind.CHECKIN_REVERTED: 3,
}


@dataclass(frozen=True)
class AttendanceState:
    # Named as the attendance columns that hold it.
    registered_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    reverted_at: datetime | None = None


def fold_attendance(events: Iterable[tuple[AttendanceKind, datetime]]) -> AttendanceState:
    """The attendance that a set of events describes, whatever order they arrived in.

    The first check-in counts as arrival and the last check-out as departure; a re-entry after a
    check-out means the person is inside again. A revert undoes every check-in before it.
    """
    registered = checked_in = checked_out = reverted = None
    for kind, at in sorted(events, key=lambda event: (event[1], FOLD_RANK[event[0]])):
        if kind is AttendanceKind.REGISTERED:
            registered = registered or at
        elif kind is AttendanceKind.CHECKED_IN:
            checked_in = checked_in or at
            checked_out = None
            reverted = None
        elif kind is AttendanceKind.CHECKED_OUT:
            checked_out = at
        elif kind is AttendanceKind.CHECKIN_REVERTED:
            checked_in = checked_out = None
            reverted = at
    return AttendanceState(registered, checked_in, checked_out, reverted)


def normalize_email(email: str | None) -> str | None:
    """Lower-case and trim, so one person is one row whatever platform spelled their address."""
    if not email:
        return None
    normalized = email.strip().lower()
    return normalized or None


def apply_events(
    session: Session, integration: Integration, delivery: Delivery, events: list[NormalizedEvent]
) -> int:
    """Apply every event of a delivery; return how many changed something."""
    applied = 0
    for index, event in enumerate(events):
        if event.kind is EventKind.UNKNOWN:
            continue
        if event.kind in (EventKind.CONNECTION, EventKind.OUTCOME):
            # The delivery and the event's place in it key the outcome, so a replay is no retry.
            if apply_report(session, integration, event, f"delivery:{delivery.id}:{index}"):
                applied += 1
            continue
        if event.gathering is None or event.attendee is None or event.occurred_at is None:
            continue
        gathering = upsert_gathering(session, integration, event.gathering)
        person = resolve_person(session, integration, event.attendee)
        if record_attendance_event(
            session,
            gathering,
            person,
            AttendanceKind(event.kind.value),
            event.occurred_at,
            delivery,
            integration.platform,
        ):
            applied += 1
    return applied


def apply_report(
    session: Session, integration: Integration, event: NormalizedEvent, key: str
) -> bool:
    """Record a platform's connection or outcome event; True if it changed something.

    A connection is stored even when its check-ins have not arrived yet (they count once they
    do; see `service.connections`). A report the domain refuses, such as two platform ids that
    turn out to be one person connecting with themselves, fails the delivery with its reason.
    """
    if event.attendee is None or event.occurred_at is None:
        return False
    person = resolve_person(session, integration, event.attendee)
    counterpart = None
    if event.counterpart is not None:
        counterpart = resolve_person(session, integration, event.counterpart)
    gathering = None
    if event.gathering is not None:
        gathering = upsert_gathering(session, integration, event.gathering)
    try:
        if event.kind is EventKind.CONNECTION and gathering is not None and counterpart is not None:
            return record_connection(
                session,
                integration.organizer_id,
                gathering,
                person,
                counterpart,
                event.connection_source or ConnectionSource.PLATFORM,
                reported_by=person,
                require_attendance=False,
            ).changed
        if event.kind is EventKind.OUTCOME and event.outcome is not None:
            return record_outcome(
                session,
                integration.organizer_id,
                person,
                upsert_group(session, integration, event.outcome.group),
                event.outcome.kind,
                value=event.outcome.value,
                gathering=gathering,
                counterpart=counterpart,
                key=key,
                source=OutcomeSource.PLATFORM,
                reported_at=event.occurred_at,
            ).changed
    except InvalidReport as err:
        raise MalformedPayload("malformed_payload", str(err)) from err
    return False


def upsert_gathering(session: Session, integration: Integration, ref: GatheringRef) -> Gathering:
    """Find or create the gathering (and its group) by the platform's ids; refresh its details.

    The group is the platform's own series when it has one, else the organizer's first
    name-prefix rule that matches the gathering's name.
    """
    group_id = None
    group_ref = ref.group or group_by_rule(integration.settings.get("group_rules", []), ref.name)
    if group_ref is not None:
        group_id = upsert_group_id(session, integration, group_ref)
    gathering, _ = get_or_create(
        session,
        Gathering,
        {"integration_id": integration.id, "external_id": ref.external_id},
        {"organizer_id": integration.organizer_id, "name": ref.name, "group_id": group_id},
    )
    assign_changed(
        gathering,
        name=ref.name,
        group_id=group_id or gathering.group_id,
        starts_at=ref.starts_at or gathering.starts_at,
        ends_at=ref.ends_at or gathering.ends_at,
    )
    return gathering


def upsert_group(session: Session, integration: Integration, ref: GroupRef) -> Group:
    """Find or create a group by the platform's id; refresh its name."""
    return session.get_one(Group, upsert_group_id(session, integration, ref))


def upsert_group_id(session: Session, integration: Integration, ref: GroupRef) -> int:
    """`upsert_group`'s id, without loading the group's many settings: every check-in asks."""
    group, _ = get_or_create_columns(
        session,
        Group,
        {"integration_id": integration.id, "external_id": ref.external_id},
        {"organizer_id": integration.organizer_id, "name": ref.name},
        ("id", "name"),
    )
    if group.name != ref.name:
        session.execute(update(Group).where(Group.id == group.id).values(name=ref.name))
    group_id: int = group.id
    return group_id


def group_by_rule(rules: list[dict[str, str]], gathering_name: str) -> GroupRef | None:
    """The group named by the first rule whose prefix starts the gathering's name (any case)."""
    name = gathering_name.casefold()
    for rule in rules:
        if name.startswith(rule["prefix"].casefold()):
            return named_group(rule["group"])
    return None


def named_group(name: str) -> GroupRef:
    """The group an organizer names, by a rule or a file's column: one group per exact name.

    Its external id is a digest of the name, so any name up to the 300 characters a group name
    may have fits the 200-character id column.
    """
    digest = hashlib.sha256(name.encode()).hexdigest()[:40]
    return GroupRef(external_id=f"named:{digest}", name=name)


# Built once: constructing the statement cost more CPU than running it.
PERSON_BY_IDENTITY = (
    select(Person)
    .join(Identity, Identity.person_id == Person.id)
    .where(
        Identity.integration_id == bindparam("integration_id"),
        Identity.external_id == bindparam("external_id"),
    )
)


def resolve_person(session: Session, integration: Integration, ref: AttendeeRef) -> Person:
    """The one person behind a platform attendee: by identity first, then by normalized email."""
    person = session.scalars(
        PERSON_BY_IDENTITY,
        {"integration_id": integration.id, "external_id": ref.external_id},
    ).one_or_none()
    if person is None:
        email = normalize_email(ref.email)
        if email is not None:
            person, _ = get_or_create(
                session,
                Person,
                {"organizer_id": integration.organizer_id, "email_normalized": email},
                {"email": ref.email, "name": ref.name, "company": ref.company},
            )
        else:
            person = Person(
                organizer_id=integration.organizer_id, name=ref.name, company=ref.company
            )
            session.add(person)
            session.flush()
        insert_ignoring_conflict(
            session,
            Identity,
            {
                "person_id": person.id,
                "integration_id": integration.id,
                "external_id": ref.external_id,
            },
            ["integration_id", "external_id"],
        )
    assign_changed(person, name=person.name or ref.name, company=person.company or ref.company)
    return person


def assign_changed(row: Base, **values: Any) -> None:
    """Set the attributes whose value differs. Setting an attribute to the value it has still
    marks the row changed, and every later query in the transaction then flushes it first."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def record_attendance_event(
    session: Session,
    gathering: Gathering,
    person: Person,
    kind: AttendanceKind,
    occurred_at: datetime,
    delivery: Delivery | None,
    source: str,
) -> bool:
    """Store one event and recompute the attendance; False when the event was already known."""
    event = {
        "kind": kind.value,
        "occurred_at": occurred_at,
        "delivery_id": delivery.id if delivery else None,
    }
    event_key = ["attendance_id", "kind", "occurred_at"]
    # Most events are a person's first at a gathering: the attendance is created already
    # folded over its one event. No other worker sees the new row before this transaction
    # commits, and one creating it too waits for that, then takes the path below.
    state = fold_attendance([(kind, occurred_at)])
    created = insert_ignoring_conflict(
        session,
        Attendance,
        {"gathering_id": gathering.id, "person_id": person.id, "source": source, **asdict(state)},
        ["gathering_id", "person_id"],
    )
    if created is not None:
        insert_ignoring_conflict(
            session, AttendanceEvent, {"attendance_id": created, **event}, event_key
        )
        return True
    # Lock the attendance row so two workers folding events for it never overwrite each other,
    # and read it under the lock: a copy read before may predate another worker's commit, and
    # the ORM writes only the columns that differ from the copy it holds.
    attendance = session.scalars(
        select(Attendance)
        .where(Attendance.gathering_id == gathering.id, Attendance.person_id == person.id)
        .options(lazyload(Attendance.person))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    inserted = insert_ignoring_conflict(
        session, AttendanceEvent, {"attendance_id": attendance.id, **event}, event_key
    )
    if inserted is None:
        return False
    rows = session.execute(
        select(AttendanceEvent.kind, AttendanceEvent.occurred_at).where(
            AttendanceEvent.attendance_id == attendance.id
        )
    ).all()
    state = fold_attendance((AttendanceKind(kind), at) for kind, at in rows)
    for column, value in asdict(state).items():
        setattr(attendance, column, value)
    return True
