"""Reading what the emails and the summary webhooks say, from the database, in a few bulk queries.

Each loader returns the plain inputs of `service.mail.compose`; the email builder
(`service.mail.build`) and the outbound payloads (`summary_payload`, `digest_payloads` there)
both start here, so an organizer's email and their webhook can never disagree. Loaders read
whole sets at once (a gathering's attendance with its people, its connections, its group's
standings), so a batch of recaps costs the same few queries as one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.mail.charts import HealthPoint, Stay
from service.mail.compose import (
    DigestInput,
    GatheringInfo,
    GroupWeekInput,
    HealthInput,
    HeldGathering,
    PersonCard,
    ScoreInput,
    StandingInput,
    SummaryInput,
    UpcomingGathering,
    actions_of,
)
from service.models import (
    Attendance,
    Connection,
    Gathering,
    GatheringScoreSnapshot,
    Group,
    GroupHealthSnapshot,
    GroupLeave,
    MemberStandingSnapshot,
    Organizer,
    Person,
    utcnow,
)
from service.rescoring import health_history

# How far back the weekly digest looks for a group's gatherings, and how many it keeps: enough
# for "regulars going quiet" (6 earlier + 2 recent), the show-up rate and the health chart.
DIGEST_LOOKBACK = timedelta(days=400)
DIGEST_GATHERINGS = 8


@dataclass(frozen=True)
class GatheringBundle:
    """One gathering with everything its summary and its attendees' recaps share: loaded once
    per batch, however many recaps it serves.

    `attendees` are the people checked in (reverted check-ins excluded); `connections` maps
    each to the others they have a confirmed connection with, both checked in.
    """

    info: GatheringInfo
    organizer_id: int
    score: ScoreInput | None
    attendees: Mapping[int, PersonCard]
    stays: Mapping[int, Stay]
    registered: int
    connections: Mapping[int, tuple[int, ...]]
    standings: Mapping[int, StandingInput]
    left: frozenset[int]
    summarized_at: datetime | None


def gathering_bundle(
    session: Session, gathering_id: int, members: Collection[int] | None = None
) -> GatheringBundle | None:
    """A gathering, its score, attendance, connections and its group's standings, in six
    queries whatever its size; None when the gathering no longer exists.

    With `members`, the bundle holds what their recaps need and no more: their attendance, their
    confirmed connections and those people's names, their standings; `stays` and `registered`
    cover only the people it holds. A batch of recaps of a large gathering reads a fraction of
    the rows the whole gathering has."""
    gathering = session.get(Gathering, gathering_id)
    if gathering is None:
        return None
    organizer = session.get(Organizer, gathering.organizer_id)
    group = gathering.group
    info = GatheringInfo(
        id=gathering.id,
        name=gathering.name,
        starts_at=gathering.starts_at,
        ends_at=gathering.ends_at,
        group_id=group.id if group else None,
        group_name=group.name if group else None,
        organizer_name=organizer.name if organizer else "",
        timezone=organizer.timezone if organizer else "UTC",
    )
    pairs_query = select(Connection.person_low_id, Connection.person_high_id).where(
        Connection.gathering_id == gathering.id, Connection.confirmed.is_(True)
    )
    people_query = (
        select(
            Person.id,
            Person.name,
            Person.company,
            Attendance.checked_in_at,
            Attendance.checked_out_at,
            Attendance.registered_at.is_not(None),
        )
        .join(Attendance, Attendance.person_id == Person.id)
        .where(Attendance.gathering_id == gathering.id)
    )
    if members is not None:
        pairs_query = pairs_query.where(
            or_(Connection.person_low_id.in_(members), Connection.person_high_id.in_(members))
        )
    pairs = session.execute(pairs_query).all()
    if members is not None:
        people_query = people_query.where(
            Person.id.in_({*members, *(p for pair in pairs for p in pair)})
        )
    attendees: dict[int, PersonCard] = {}
    stays: dict[int, Stay] = {}
    registered = 0
    for person_id, name, company, checked_in, checked_out, has_registered in session.execute(
        people_query
    ):
        registered += bool(has_registered)
        if checked_in is not None:
            attendees[person_id] = PersonCard(person_id, name, company)
            stays[person_id] = Stay(checked_in, checked_out)
    connections: dict[int, list[int]] = defaultdict(list)
    for low, high in pairs:
        if low in attendees and high in attendees:
            connections[low].append(high)
            connections[high].append(low)
    return GatheringBundle(
        info=info,
        organizer_id=gathering.organizer_id,
        score=_score(session.get(GatheringScoreSnapshot, gathering.id)),
        attendees=attendees,
        stays=stays,
        registered=registered,
        connections={person: tuple(others) for person, others in connections.items()},
        standings=standings(session, group.id, members) if group else {},
        left=left_group(session, group.id) if group else frozenset(),
        summarized_at=gathering.summarized_at,
    )


def standings(
    session: Session, group_id: int, members: Collection[int] | None = None
) -> dict[int, StandingInput]:
    """Every member's latest standing in a group (or only `members`'), with their name, by
    person id.

    Columns rather than snapshot objects: a large group has thousands of members, and the
    objects would cost about twice the time and stay in the session's identity map."""
    snapshot = MemberStandingSnapshot
    query = (
        select(
            snapshot.person_id,
            snapshot.standing,
            snapshot.data,
            snapshot.changed_at,
            snapshot.previous_standing,
            Person.name,
            Person.company,
        )
        .join(Person, Person.id == snapshot.person_id)
        .where(snapshot.group_id == group_id)
    )
    if members is not None:
        query = query.where(snapshot.person_id.in_(members))
    rows = session.execute(query)
    return {
        person_id: StandingInput(
            person=PersonCard(person_id, name, company),
            standing=standing,
            label=data["label"],
            sentences=tuple(data["sentences"]),
            changed_at=changed_at,
            attended=data.get("attended", 0),
            previous=previous,
        )
        for person_id, standing, data, changed_at, previous, name, company in rows.tuples()
    }


def left_group(session: Session, group_id: int) -> frozenset[int]:
    """Who said "this group is not for me"."""
    return frozenset(
        session.scalars(select(GroupLeave.person_id).where(GroupLeave.group_id == group_id))
    )


def summary_input(
    session: Session, gathering_id: int, now: datetime | None = None
) -> tuple[GatheringBundle, SummaryInput] | None:
    """The organizer summary's inputs (with the bundle they came from).

    Standing changes and "not for me" answers are counted over a window that runs from the
    group's previous gathering being summarized to this one being summarized (`summarized_at`,
    else its end or start, and `now` while this one is not summarized yet), so consecutive
    summaries split the timeline between them and never count a change twice. A first standing
    is not a change: only members whose standing moved from another one count.
    """
    bundle = gathering_bundle(session, gathering_id)
    if bundle is None:
        return None
    info = bundle.info
    previous = _previous_gathering(session, info)
    since = (previous.summarized_at or previous.ends_at or previous.starts_at) if previous else None
    until = bundle.summarized_at or now or utcnow()
    changes = tuple(
        standing
        for standing in bundle.standings.values()
        if (since is None or standing.changed_at > since)
        and standing.changed_at <= until
        and standing.previous is not None
    )
    leaves = 0
    if info.group_id is not None:
        query = select(func.count()).where(
            GroupLeave.group_id == info.group_id, GroupLeave.left_at <= until
        )
        if since is not None:
            query = query.where(GroupLeave.left_at > since)
        leaves = session.scalar(query) or 0
    return bundle, SummaryInput(
        gathering=info,
        score=bundle.score,
        stays=tuple(bundle.stays[person] for person in sorted(bundle.stays)),
        registered=bundle.registered,
        first_gathering=previous is None,
        standing_changes=changes if previous else (),
        leaves=leaves,
    )


def _previous_gathering(session: Session, info: GatheringInfo) -> Gathering | None:
    """The group's latest gathering that started before this one."""
    if info.group_id is None or info.starts_at is None:
        return None
    return session.scalar(
        select(Gathering)
        .where(
            Gathering.group_id == info.group_id,
            Gathering.id != info.id,
            Gathering.starts_at < info.starts_at,
        )
        .order_by(Gathering.starts_at.desc(), Gathering.id.desc())
        .limit(1)
    )


def digest_input(
    session: Session, organizer_id: int, period_start: datetime, period_end: datetime
) -> DigestInput | None:
    """The weekly digest's inputs: every group of the organizer with a gathering in the
    DIGEST_LOOKBACK before `period_end` or one scheduled after it; None when the organizer is
    gone. Groups are read together: a handful of queries for the whole organizer, plus the
    health history of each group."""
    organizer = session.get(Organizer, organizer_id)
    if organizer is None:
        return None
    groups = session.scalars(
        select(Group).where(Group.organizer_id == organizer_id).order_by(Group.name, Group.id)
    ).all()
    group_ids = [group.id for group in groups]
    held = _held_gatherings(session, group_ids, period_end)
    upcoming = _upcoming_gatherings(session, group_ids, period_end)
    present_ids = {p for items in held.values() for g in items for p in g.present}
    people = _people(session, present_ids)
    health_rows = {
        row.group_id: row
        for row in session.scalars(
            select(GroupHealthSnapshot).where(GroupHealthSnapshot.group_id.in_(group_ids))
        )
    }
    leaves: dict[int, set[int]] = defaultdict(set)
    for group_id, person_id in session.execute(
        select(GroupLeave.group_id, GroupLeave.person_id).where(GroupLeave.group_id.in_(group_ids))
    ):
        leaves[group_id].add(person_id)
    tz = ZoneInfo(organizer.timezone)
    weeks = []
    for group in groups:
        gatherings = held.get(group.id, [])
        if not gatherings and group.id not in upcoming:
            continue
        in_group = {p for g in gatherings for p in g.present}
        weeks.append(
            GroupWeekInput(
                group_id=group.id,
                name=group.name,
                health=_health(session, health_rows.get(group.id), group.id, period_end, tz),
                gatherings=tuple(gatherings),
                next_gathering=upcoming.get(group.id),
                people={p: people[p] for p in in_group if p in people},
                left=frozenset(leaves.get(group.id, ())),
            )
        )
    return DigestInput(
        organizer_name=organizer.name,
        timezone=organizer.timezone,
        period_start=period_start,
        period_end=period_end,
        groups=tuple(weeks),
    )


def _held_gatherings(
    session: Session, group_ids: list[int], period_end: datetime
) -> dict[int, list[HeldGathering]]:
    """Each group's last DIGEST_GATHERINGS gatherings before `period_end`, oldest first."""
    rows = session.execute(
        select(Gathering.id, Gathering.group_id, Gathering.name, Gathering.starts_at)
        .where(
            Gathering.group_id.in_(group_ids),
            Gathering.starts_at < period_end,
            Gathering.starts_at >= period_end - DIGEST_LOOKBACK,
        )
        .order_by(Gathering.starts_at, Gathering.id)
    ).all()
    by_group: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
    for gathering_id, group_id, name, starts_at in rows:
        by_group[group_id].append((gathering_id, name, starts_at))
    kept = {
        gathering: (group_id, name, starts_at)
        for group_id, items in by_group.items()
        for gathering, name, starts_at in items[-DIGEST_GATHERINGS:]
    }
    present: dict[int, set[int]] = defaultdict(set)
    registered: dict[int, int] = defaultdict(int)
    registered_present: dict[int, int] = defaultdict(int)
    for gathering_id, person_id, checked_in, has_registered in session.execute(
        select(
            Attendance.gathering_id,
            Attendance.person_id,
            Attendance.checked_in_at.is_not(None),
            Attendance.registered_at.is_not(None),
        ).where(Attendance.gathering_id.in_(list(kept)))
    ):
        if checked_in:
            present[gathering_id].add(person_id)
        if has_registered:
            registered[gathering_id] += 1
            registered_present[gathering_id] += bool(checked_in)
    scores = {
        row.gathering_id: row
        for row in session.scalars(
            select(GatheringScoreSnapshot).where(
                GatheringScoreSnapshot.gathering_id.in_(list(kept))
            )
        )
    }
    held: dict[int, list[HeldGathering]] = defaultdict(list)
    for gathering_id, (group_id, name, starts_at) in kept.items():
        score = scores.get(gathering_id)
        held[group_id].append(
            HeldGathering(
                id=gathering_id,
                name=name,
                starts_at=starts_at,
                present=frozenset(present[gathering_id]),
                registered=registered[gathering_id],
                registered_present=registered_present[gathering_id],
                score=score.value if score else None,
                actions=actions_of(score.data) if score else (),
            )
        )
    return held


def _upcoming_gatherings(
    session: Session, group_ids: list[int], period_end: datetime
) -> dict[int, UpcomingGathering]:
    """Each group's first gathering starting at or after `period_end`, with its registrations."""
    first = (
        select(Gathering.group_id, func.min(Gathering.starts_at).label("starts_at"))
        .where(Gathering.group_id.in_(group_ids), Gathering.starts_at >= period_end)
        .group_by(Gathering.group_id)
        .subquery()
    )
    registered = (
        select(func.count())
        .where(Attendance.gathering_id == Gathering.id, Attendance.registered_at.is_not(None))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Gathering.group_id, Gathering.id, Gathering.name, Gathering.starts_at, registered)
        .join(
            first,
            (first.c.group_id == Gathering.group_id) & (first.c.starts_at == Gathering.starts_at),
        )
        .order_by(Gathering.id)
    )
    upcoming: dict[int, UpcomingGathering] = {}
    for group_id, gathering_id, name, starts_at, count in rows:
        upcoming.setdefault(group_id, UpcomingGathering(gathering_id, name, starts_at, count))
    return upcoming


def _people(session: Session, ids: Iterable[int]) -> dict[int, PersonCard]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {
        person_id: PersonCard(person_id, name, company)
        for person_id, name, company in session.execute(
            select(Person.id, Person.name, Person.company).where(Person.id.in_(wanted))
        )
    }


def _health(
    session: Session,
    row: GroupHealthSnapshot | None,
    group_id: int,
    period_end: datetime,
    tz: tzinfo,
) -> HealthInput | None:
    if row is None:
        return None
    trend = next(
        (
            f["sentence"]
            for f in row.data["factors"]
            if f["name"] == "trend" and f["value"] is not None
        ),
        None,
    )
    history = tuple(
        HealthPoint(starts_at.astimezone(tz).date(), value)
        for starts_at, value in health_history(session, group_id, period_end, DIGEST_GATHERINGS)
        if value is not None
    )
    return HealthInput(row.value, row.data["summary"], trend, history)


def _score(row: GatheringScoreSnapshot | None) -> ScoreInput | None:
    return ScoreInput(row.value, row.data) if row else None
