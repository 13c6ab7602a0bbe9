"""What an organizer reads about their groups and gatherings, as plain dicts.

The JSON API returns these dicts as they are and the admin pages render them, so both show the
same figures from the same queries. Every function takes the organizer's id or an object the
caller has already checked belongs to them. Filters arrive validated by the caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import rescoring, serializers
from service.errors import ApiError
from service.models import (
    Attendance,
    Delivery,
    Gathering,
    GatheringScoreSnapshot,
    Group,
    GroupHealthSnapshot,
    Integration,
    MailMessage,
    MemberStandingSnapshot,
    Person,
)


def groups(session: Session, organizer_id: int) -> list[dict[str, Any]]:
    """The organizer's groups by name, each with its health and number of gatherings."""
    counts = (
        select(Gathering.group_id, func.count().label("gatherings"))
        .group_by(Gathering.group_id)
        .subquery()
    )
    rows = session.execute(
        select(Group, func.coalesce(counts.c.gatherings, 0))
        .outerjoin(counts, counts.c.group_id == Group.id)
        .where(Group.organizer_id == organizer_id)
        .order_by(Group.name, Group.id)
    ).all()
    health = {
        row.group_id: row
        for row in session.scalars(
            select(GroupHealthSnapshot).where(
                GroupHealthSnapshot.group_id.in_([group.id for group, _ in rows])
            )
        )
    }
    return [serializers.group(group, count, health.get(group.id)) for group, count in rows]


def group(session: Session, row: Group) -> dict[str, Any]:
    """One group with its health and number of gatherings."""
    count = session.scalar(select(func.count()).where(Gathering.group_id == row.id)) or 0
    return serializers.group(row, count, session.get(GroupHealthSnapshot, row.id))


def gatherings(
    session: Session, organizer_id: int, limit: int, offset: int, group_id: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the organizer's gatherings, latest first, with their check-in counts; and
    whether more follow."""
    checked_in = (
        select(Attendance.gathering_id, func.count().label("checked_in"))
        .where(Attendance.checked_in_at.is_not(None))
        .group_by(Attendance.gathering_id)
        .subquery()
    )
    query = (
        select(Gathering, func.coalesce(checked_in.c.checked_in, 0))
        .outerjoin(checked_in, checked_in.c.gathering_id == Gathering.id)
        .where(Gathering.organizer_id == organizer_id)
        .order_by(Gathering.starts_at.desc().nulls_last(), Gathering.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if group_id is not None:
        query = query.where(Gathering.group_id == group_id)
    rows = session.execute(query).all()
    items = [serializers.gathering(row, count) for row, count in rows[:limit]]
    return items, len(rows) > limit


def gathering(session: Session, row: Gathering) -> dict[str, Any]:
    """One gathering with its size score explained, its live view and its attendance."""
    attendance = session.scalars(
        select(Attendance)
        .where(Attendance.gathering_id == row.id)
        .order_by(Attendance.checked_in_at, Attendance.id)
    ).all()
    checked_in = sum(1 for each in attendance if each.checked_in_at is not None)
    snapshot = session.get(GatheringScoreSnapshot, row.id)
    figures = snapshot.data["attendees"] if snapshot else {}
    return {
        **serializers.gathering(row, checked_in),
        "score": serializers.score(snapshot),
        "live": rescoring.live_view(session, row),
        "attendance": [
            serializers.attendance(each, figures.get(str(each.person_id))) for each in attendance
        ],
    }


def members(session: Session, row: Group) -> list[dict[str, Any]]:
    """Every member of the group by name, with their standing and the reasons for it."""
    rows = session.execute(
        select(MemberStandingSnapshot, Person)
        .join(Person, Person.id == MemberStandingSnapshot.person_id)
        .where(MemberStandingSnapshot.group_id == row.id)
        .order_by(Person.name, Person.id)
    ).all()
    return [serializers.member(person, standing) for standing, person in rows]


def deliveries(
    session: Session,
    organizer_id: int,
    limit: int,
    offset: int,
    status: str | None = None,
    integration_id: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the organizer's webhook deliveries, newest first; and whether more follow."""
    query = (
        select(Delivery, Integration.platform)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Integration.organizer_id == organizer_id)
        .order_by(Delivery.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if integration_id is not None:
        query = query.where(Delivery.integration_id == integration_id)
    rows = session.execute(query).all()
    items = [serializers.delivery(row, platform) for row, platform in rows[:limit]]
    return items, len(rows) > limit


def owned_delivery(session: Session, organizer_id: int, delivery_id: int) -> tuple[Delivery, str]:
    """The organizer's delivery with this id and its platform; 404 for anyone else's."""
    row = session.execute(
        select(Delivery, Integration.platform)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Delivery.id == delivery_id, Integration.organizer_id == organizer_id)
    ).one_or_none()
    if row is None:
        raise ApiError("not_found", f"no delivery with id {delivery_id}")
    return row[0], row[1]


def mail_messages(
    session: Session,
    organizer_id: int,
    limit: int,
    offset: int,
    status: str | None = None,
    kind: str | None = None,
) -> tuple[list[MailMessage], bool]:
    """A page of the organizer's mail ledger, newest first (the rows: the admin page also
    needs each one's Message-ID); and whether more follow."""
    query = (
        select(MailMessage)
        .where(MailMessage.organizer_id == organizer_id)
        .order_by(MailMessage.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if status is not None:
        query = query.where(MailMessage.status == status)
    if kind is not None:
        query = query.where(MailMessage.kind == kind)
    rows = session.scalars(query).all()
    return list(rows[:limit]), len(rows) > limit
