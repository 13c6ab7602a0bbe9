"""Keeping scores current: which gatherings are stale, and recomputing them from the database.

A change (a check-in, a connection, an outcome) marks its gathering stale with a due time a
moment ahead (`mark_stale`); beat's `rescore_due` claims due gatherings (`claim_due`) and
rescores each (`rescore_gathering`), which marks its group stale with a due time of its own,
further ahead (`GROUP_DEBOUNCE`); due groups (`claim_due_groups`) then get their health and
every member's standing recomputed (`rescore_group`). A gathering's score thus follows a
check-in within about a second, while a busy group's standings, which read its whole history,
are recomputed once per group debounce. `rescore_all` rescores everything at once, reading
each group's rows in a few queries instead of several per gathering. This module turns rows
into the plain inputs of `service.scoring` and its results into snapshots; the scoring itself
stays pure.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, or_, select, text
from sqlalchemy import Connection as SqlConnection
from sqlalchemy.orm import InstrumentedAttribute, Session

from service import outbound
from service.group_settings import (
    MAIL_FIELDS,
    apply_group_changes,
    effective_settings,
    group_fields,
    json_ready,
    validate_changes,
)
from service.models import (
    Attendance,
    Connection,
    Gathering,
    GatheringScoreSnapshot,
    Group,
    GroupHealthSnapshot,
    GroupRescoreJob,
    MemberStandingSnapshot,
    Outcome,
    RescoreJob,
    utcnow,
)
from service.scoring.advice import GatheringFacts, live_alerts, organizer_actions
from service.scoring.attendee import AttendeeFigures, score_attendees
from service.scoring.explain import MODEL_VERSION
from service.scoring.health import GatheringRecord, group_health, measure_health
from service.scoring.settings import GroupFormat, ScoringSettings
from service.scoring.size import acoustic_capacity, recommended_band, size_score
from service.scoring.standing import (
    GroupRecord,
    Member,
    StandingNumbers,
    familiar_faces,
    member_standing,
)
from service.upsert import insert_ignoring_conflict, upsert_many, upsert_many_copied

# How long a change waits for others to join it before its gathering is rescored.
DEBOUNCE = timedelta(seconds=0.5)
# How long a rescored gathering's group waits before its health and standings follow: they
# read the group's whole history, so a group with a gathering in progress is recomputed once
# per this interval, not after every check-in.
GROUP_DEBOUNCE = timedelta(seconds=5)
DEFAULT_HOURS = 2.0
# The outcome kinds that count as business received (SCORING.md §4: leads and referrals).
BUSINESS_OUTCOMES = ("lead", "referral", "closed_business")


def mark_stale(session: Session, gathering_ids: Iterable[int], now: datetime | None = None) -> None:
    """Ask for these gatherings to be rescored soon; an earlier request keeps its due time."""
    due = (now or utcnow()) + DEBOUNCE
    for gathering_id in set(gathering_ids):
        insert_ignoring_conflict(
            session, RescoreJob, {"gathering_id": gathering_id, "due_at": due}, ["gathering_id"]
        )


def change_group_settings(session: Session, group: Group, payload: Mapping[str, Any]) -> None:
    """Check and store a group's new settings (`None` resets one to its default) and commit;
    new scoring settings change every score of the group, so all its gatherings are rescored.

    Raises `SettingsError` naming the first bad setting, before anything is changed.
    """
    changes = validate_changes(payload, group_fields())
    apply_group_changes(group, changes)
    if set(changes) - MAIL_FIELDS:
        gathering_ids = session.scalars(select(Gathering.id).where(Gathering.group_id == group.id))
        mark_stale(session, gathering_ids)
    session.commit()


def mark_group_due(session: Session, group_id: int, now: datetime | None = None) -> None:
    """Ask for a group's health and standings to be recomputed after `GROUP_DEBOUNCE`; an
    earlier request keeps its due time."""
    due = (now or utcnow()) + GROUP_DEBOUNCE
    insert_ignoring_conflict(
        session, GroupRescoreJob, {"group_id": group_id, "due_at": due}, ["group_id"]
    )


def mark_group_stale(session: Session, group_id: int, gathering_id: int | None = None) -> None:
    """Ask for a group's scores to follow a change: through the gathering it concerns, else
    the group's latest gathering (rescoring any gathering rescores its group)."""
    if gathering_id is None:
        gathering_id = session.scalar(
            select(Gathering.id)
            .where(Gathering.group_id == group_id)
            .order_by(Gathering.starts_at.desc().nulls_last(), Gathering.id.desc())
            .limit(1)
        )
    if gathering_id is not None:
        mark_stale(session, [gathering_id])


# The gatherings whose attendance a delivery's events touched, marked stale in one statement.
# Written as text so that it is compiled once; PostgreSQL and SQLite both accept it as it is.
MARK_DELIVERY_STALE = text(
    """
    INSERT INTO rescore_job (gathering_id, due_at)
    SELECT DISTINCT attendance.gathering_id, :due_at
    FROM attendance JOIN attendance_event ON attendance_event.attendance_id = attendance.id
    WHERE attendance_event.delivery_id = :delivery_id
    ON CONFLICT (gathering_id) DO NOTHING
    """
).bindparams(bindparam("due_at", type_=RescoreJob.__table__.c.due_at.type))


def mark_delivery_stale(session: Session, delivery_id: int) -> None:
    """Mark stale, as `mark_stale` does, the gatherings whose attendance a delivery touched."""
    params = {"due_at": utcnow() + DEBOUNCE, "delivery_id": delivery_id}
    session.execute(MARK_DELIVERY_STALE, params)


def claim_due(session: Session, now: datetime | None = None, limit: int = 50) -> list[int]:
    """Take up to `limit` due gatherings off the list, in the caller's transaction.

    `SKIP LOCKED` lets several beats or workers claim at once without taking the same one; a
    change that marks a gathering while it is being rescored waits for this transaction, then
    marks it again, so no change is ever missed.
    """
    return _claim(session, RescoreJob.gathering_id, RescoreJob.due_at, now, limit)


def claim_due_groups(session: Session, now: datetime | None = None, limit: int = 1) -> list[int]:
    """Take up to `limit` due groups off the list, as `claim_due` takes gatherings."""
    return _claim(session, GroupRescoreJob.group_id, GroupRescoreJob.due_at, now, limit)


def _claim(
    session: Session,
    key: InstrumentedAttribute[int],
    due_at: InstrumentedAttribute[datetime],
    now: datetime | None,
    limit: int,
) -> list[int]:
    ids = list(
        session.scalars(
            select(key)
            .where(due_at <= (now or utcnow()))
            .order_by(due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(delete(key.class_).where(key.in_(ids)))
    return ids


class Visit(NamedTuple):
    person_id: int
    checked_in_at: datetime
    checked_out_at: datetime | None


def peak_concurrency(visits: Iterable[Visit]) -> int:
    """N_peak: the most people inside at once; without check-outs, everyone stays to the end."""
    changes = []
    for visit in visits:
        changes.append((visit.checked_in_at, 1))
        if visit.checked_out_at is not None and visit.checked_out_at > visit.checked_in_at:
            changes.append((visit.checked_out_at, -1))
    changes.sort()  # by time, a departure before an arrival at the same moment
    inside = peak = 0
    for _, change in changes:
        inside += change
        peak = max(peak, inside)
    return peak


def open_hours(gathering: Gathering, settings: ScoringSettings) -> float:
    """H: the open-networking time set for the group or gathering, else the scheduled time."""
    if settings.open_minutes is not None:
        return settings.open_minutes / 60
    if gathering.starts_at and gathering.ends_at and gathering.ends_at > gathering.starts_at:
        return (gathering.ends_at - gathering.starts_at).total_seconds() / 3600
    return DEFAULT_HOURS


def rescore_gathering(session: Session, gathering_id: int) -> GatheringScoreSnapshot | None:
    """Recompute a gathering's size score, attendee figures and actions; store the snapshot,
    and mark its group due for its health and standings."""
    gathering = session.get(Gathering, gathering_id)
    if gathering is None:
        return None
    if gathering.group_id is not None:
        mark_group_due(session, gathering.group_id)
    value, data = _gathering_score(gathering, _gathering_rows(session, gathering))
    snapshot = session.get(GatheringScoreSnapshot, gathering.id)
    if snapshot is None:
        snapshot = GatheringScoreSnapshot(gathering_id=gathering.id)
        session.add(snapshot)
    snapshot.model_version = MODEL_VERSION
    snapshot.value = value
    snapshot.data = data
    snapshot.computed_at = utcnow()
    return snapshot


@dataclass(frozen=True)
class RescoreCounts:
    """What `rescore_all` rescored."""

    gatherings: int
    groups: int

    def __add__(self, other: RescoreCounts) -> RescoreCounts:
        return RescoreCounts(self.gatherings + other.gatherings, self.groups + other.groups)


def rescore_all(
    session: Session, organizer_id: int | None = None, now: datetime | None = None
) -> RescoreCounts:
    """Rescore every gathering, then every group (of one organizer, when given), in the
    caller's transaction: after a model change, a settings change or a restore.

    `rescore_gathering` asks the database five questions per gathering, two of them about the
    group's whole history, which suits the one gathering a check-in touched but makes a full
    rescore read each group's history once per gathering. This path reads each group's
    attendance and connections once, in a few set-based queries (`_group_rows`), scores every
    gathering with the same code as the per-gathering path and writes the group's snapshots in
    one statement; the group's health and standings are then computed from the scores just
    made, by the same code as `rescore_group`, without reading them back. Each group is
    written before the next is read, so memory is bounded by the largest group, not by the
    organizer. `service.full_rescore` runs the same per group, over several processes.
    """
    now = now or utcnow()
    query = select(Group).order_by(Group.id)
    if organizer_id is not None:
        query = query.where(Group.organizer_id == organizer_id)
    counts = RescoreCounts(0, 0)
    for group in [*session.scalars(query), None]:
        counts += rescore_whole_group(session, group, organizer_id, now)
    return counts


def rescore_whole_group(
    session: Session, group: Group | None, organizer_id: int | None, now: datetime
) -> RescoreCounts:
    """Rescore a group's gatherings, then its health and standings, as `rescore_all` does
    (`group` None: the gatherings in no group, of one organizer when given)."""
    held = []
    snapshots = []
    for gathering, rows in _group_rows(session, group, organizer_id):
        value, data = _gathering_score(gathering, rows)
        snapshots.append(
            {
                "gathering_id": gathering.id,
                "model_version": MODEL_VERSION,
                "value": value,
                "data": data,
                "computed_at": utcnow(),
            }
        )
        present = {str(visit.person_id) for visit in rows.visits}
        follow_ups = [followed for _, _, confirmed, followed in rows.connections if confirmed]
        held.append((gathering, present, data, follow_ups))
    upsert_many(session, GatheringScoreSnapshot, snapshots, ["gathering_id"])
    if group is None:
        return RescoreCounts(len(snapshots), 0)
    outcome_counts = _outcome_counts(session, group)
    history = [
        _held(gathering, present, data, outcome_counts.get(gathering.id, 0), follow_ups)
        for gathering, present, data, follow_ups in held
        if present
    ]
    _store_group_scores(session, group, history, now)
    return RescoreCounts(len(snapshots), 1)


def rescore_group(session: Session, group_id: int, now: datetime | None = None) -> None:
    """Recompute a group's health and every member's standing from its gatherings' snapshots."""
    group = session.get(Group, group_id)
    if group is None:
        return
    _store_group_scores(session, group, _group_history(session, group), now or utcnow())


def _store_group_scores(
    session: Session, group: Group, history: list[_Held], now: datetime
) -> None:
    """Write a group's health and its members' standings, computed from its history."""
    if not history:
        return
    settings = effective_settings(group)
    records = [item.record for item in history]
    health = group_health(measure_health(records, settings, now), settings)
    snapshot = session.get(GroupHealthSnapshot, group.id) or GroupHealthSnapshot(group_id=group.id)
    snapshot.model_version = MODEL_VERSION
    snapshot.value = None if health.value is None else round(health.value, 1)
    snapshot.data = {
        "summary": health.summary,
        "factors": [json_ready(factor) for factor in health.factors],
        "weights": dict(health.weights),
    }
    snapshot.computed_at = now
    session.add(snapshot)
    _rescore_members(session, group, settings, history, now)


def health_history(
    session: Session, group_id: int, until: datetime, last: int
) -> list[tuple[datetime, float | None]]:
    """The group's health as of each of its last `last` gatherings held before `until`, oldest
    first: the §3 score over the window ending at that gathering, from today's records.

    Only the latest health is stored (`GroupHealthSnapshot`), so a trend is recomputed: each
    point is what the model says now about the gatherings up to that date, outcomes and
    follow-ups reported since included, not the value an earlier digest showed.
    """
    group = session.get(Group, group_id)
    if group is None:
        return []
    settings = effective_settings(group)
    records = [item.record for item in _group_history(session, group)]
    held = [record for record in records if record.starts_at < until]
    return [
        (
            record.starts_at,
            group_health(measure_health(held, settings, record.starts_at), settings).value,
        )
        for record in held[-last:]
    ]


def live_view(session: Session, gathering: Gathering) -> dict[str, Any]:
    """While a gathering runs: how many are inside now, the peak, the band, and alerts."""
    settings = effective_settings(gathering.group, gathering)
    visits = _visits(session, gathering.id)
    inside = sum(1 for visit in visits if visit.checked_out_at is None)
    peak = peak_concurrency(visits)
    band = recommended_band(settings, open_hours(gathering, settings), head_count=len(visits))
    n_ac = acoustic_capacity(settings)
    return {
        "head_count_now": inside,
        "checked_in": len(visits),
        "peak": peak,
        "recommended_band": json_ready(band),
        "acoustic_capacity": n_ac,
        "alerts": [json_ready(alert) for alert in live_alerts(len(visits), peak, band, n_ac)],
    }


@dataclass(frozen=True)
class GatheringRows:
    """What a gathering's score reads from the database, however it was read.

    `rescore_gathering` reads one gathering's rows (`_gathering_rows`); `rescore_all` reads a
    whole group's at once and splits them (`_group_rows`). Both hand them to
    `_gathering_score`, so the two paths cannot score differently. `earlier_pairs` and
    `returning` need only cover this gathering's own connections and attendees: they answer
    "met before in this group?" and "been to this group before?" for them.
    """

    visits: tuple[Visit, ...]  # checked-in attendance, reverted check-ins excluded, by person
    # (low, high, confirmed, followed up) logged here
    connections: tuple[tuple[int, int, bool, bool], ...]
    earlier_pairs: frozenset[tuple[int, int]]  # confirmed at an earlier gathering of the group
    returning: frozenset[int]  # attendees checked in at an earlier gathering of the group
    registered: int  # attendance rows with a registration


def _gathering_score(gathering: Gathering, rows: GatheringRows) -> tuple[int, dict[str, Any]]:
    """A gathering's size score and its snapshot's data, from its rows: the one place both
    paths share."""
    settings = effective_settings(gathering.group, gathering)
    visits = rows.visits
    head_count = len(visits)
    hours = open_hours(gathering, settings)
    peak = min(peak_concurrency(visits), head_count) or head_count
    size = size_score(head_count, settings, n_peak=peak, hours=hours)
    band = recommended_band(settings, hours, head_count=head_count)
    met, new = _connection_counts(rows)
    inputs: list[tuple[float | None, int | None, int | None]]
    if met is None or new is None:
        inputs = [(_dwell(visit), None, None) for visit in visits]
    else:
        inputs = [
            (_dwell(visit), met.get(visit.person_id, 0), new.get(visit.person_id, 0))
            for visit in visits
        ]
    logged = met is not None
    attendees = dict(
        zip(
            [visit.person_id for visit in visits],
            score_attendees(head_count, settings, hours, inputs),
            strict=True,
        )
    )
    first_timers = [visit.person_id for visit in visits if visit.person_id not in rows.returning]
    facts = GatheringFacts(
        head_count=head_count,
        hours=hours,
        peak=peak,
        attendees=tuple(attendees.values()),
        first_timers=tuple(attendees[p] for p in first_timers if p in attendees),
        show_up_rate=min(1.0, head_count / rows.registered) if rows.registered else None,
    )
    actions = organizer_actions(facts, settings) if head_count >= 2 else []
    data = {
        "sentence": size.sentence,
        "head_count": head_count,
        "peak": peak,
        "hours": round(hours, 3),
        "factors": [json_ready(factor) for factor in size.factors],
        "band": json_ready(band),
        "acoustic_capacity": acoustic_capacity(settings),
        "actions": [json_ready(action) for action in actions],
        "connections_logged": logged,
        "first_timers": sorted(first_timers),
        "attendees": _attendees_json(attendees),
    }
    return size.value, data


def _gathering_rows(session: Session, gathering: Gathering) -> GatheringRows:
    """One gathering's rows, each question asked of the database for this gathering alone."""
    visits = _visits(session, gathering.id)
    connections = tuple(
        session.execute(
            select(
                Connection.person_low_id,
                Connection.person_high_id,
                Connection.confirmed,
                Connection.followed_up_at.is_not(None),
            )
            .where(Connection.gathering_id == gathering.id)
            .order_by(Connection.person_low_id, Connection.person_high_id)
        ).tuples()
    )
    present = {visit.person_id for visit in visits}
    counted = {
        person
        for low, high, confirmed, _ in connections
        if confirmed and low in present and high in present
        for person in (low, high)
    }
    registered = session.scalar(
        select(func.count()).where(
            Attendance.gathering_id == gathering.id, Attendance.registered_at.is_not(None)
        )
    )
    return GatheringRows(
        visits=tuple(visits),
        connections=connections,
        earlier_pairs=frozenset(_earlier_pairs(session, gathering, counted)),
        returning=frozenset(_returning(session, gathering, present)),
        registered=registered or 0,
    )


def _group_rows(
    session: Session, group: Group | None, organizer_id: int | None
) -> Iterator[tuple[Gathering, GatheringRows]]:
    """Every gathering of a group with its rows, from three queries for the whole group
    (`group` None: the gatherings in no group, each on its own).

    Gatherings are walked in start order, carrying who has been and which pairs have met so
    far; gatherings starting at the same moment see only what came strictly before them, and
    one without a start time sees nothing, exactly as `_gathering_rows`' queries do.
    """
    in_group = Gathering.group_id == group.id if group is not None else Gathering.group_id.is_(None)
    if organizer_id is not None:
        in_group = and_(in_group, Gathering.organizer_id == organizer_id)
    gatherings = session.scalars(
        select(Gathering)
        .where(in_group)
        .order_by(Gathering.starts_at.asc().nulls_first(), Gathering.id)
    ).all()
    core = session.connection()
    # On PostgreSQL the times are read as naive UTC (see `_rows`); elsewhere as aware UTC.
    utc = _naive_utc if core.dialect.name == "postgresql" else _as_is
    visits: dict[int, list[Visit]] = defaultdict(list)
    registered: Counter[int] = Counter()
    for gathering_id, person_id, checked_in, checked_out, has_registered in _rows(
        core,
        select(
            Attendance.gathering_id,
            Attendance.person_id,
            utc(Attendance.checked_in_at),
            utc(Attendance.checked_out_at),
            Attendance.registered_at.is_not(None),
        )
        .join(Gathering, Gathering.id == Attendance.gathering_id)
        .where(in_group)
        .order_by(Attendance.gathering_id, Attendance.person_id),
    ):
        if has_registered:
            registered[gathering_id] += 1
        if checked_in is not None:
            visits[gathering_id].append(Visit(person_id, checked_in, checked_out))
    connections: dict[int, list[tuple[int, int, bool, bool]]] = defaultdict(list)
    for gathering_id, low, high, confirmed, followed_up in _rows(
        core,
        select(
            Connection.gathering_id,
            Connection.person_low_id,
            Connection.person_high_id,
            Connection.confirmed,
            Connection.followed_up_at.is_not(None),
        )
        .join(Gathering, Gathering.id == Connection.gathering_id)
        .where(in_group)
        .order_by(Connection.gathering_id, Connection.person_low_id, Connection.person_high_id),
    ):
        connections[gathering_id].append((low, high, confirmed, followed_up))

    seen_people: set[int] = set()
    seen_pairs: set[tuple[int, int]] = set()
    for starts_at, same_start in groupby(gatherings, key=lambda gathering: gathering.starts_at):
        batch = list(same_start)
        for gathering in batch:
            here = connections.get(gathering.id, [])
            yield (
                gathering,
                GatheringRows(
                    visits=tuple(visits.get(gathering.id, ())),
                    connections=tuple(here),
                    earlier_pairs=frozenset(
                        (low, high) for low, high, _, _ in here if (low, high) in seen_pairs
                    ),
                    returning=frozenset(
                        visit.person_id
                        for visit in visits.get(gathering.id, ())
                        if visit.person_id in seen_people
                    ),
                    registered=registered[gathering.id],
                ),
            )
        if group is None or starts_at is None:
            continue
        for gathering in batch:
            seen_people.update(visit.person_id for visit in visits.pop(gathering.id, ()))
            seen_pairs.update(
                (low, high)
                for low, high, confirmed, _ in connections.pop(gathering.id, ())
                if confirmed
            )


def _rows(connection: SqlConnection, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of a Core query, as plain tuples.

    On PostgreSQL they come straight from psycopg, in its binary format and without
    SQLAlchemy's result processing: for a group's hundreds of thousands of rows those cost
    several times the reading itself. Column types are therefore not applied: timestamps are
    read through `_naive_utc`, not as the models' aware UTC datetimes.
    """
    if connection.dialect.name != "postgresql":
        return [tuple(row) for row in connection.execute(statement)]
    compiled = statement.compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.cursor(binary=True) as cursor:
        return list(cursor.execute(str(compiled), compiled.params).fetchall())


def _naive_utc(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    """A timestamp column as a naive UTC timestamp, computed by PostgreSQL: differences and
    order between two of them are those of the aware values, whatever the session's time
    zone."""
    return func.timezone("UTC", column)


def _as_is(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    return column.expression


@dataclass(frozen=True)
class _Held:
    """One gathering of a group, as the group's scores need it."""

    record: GatheringRecord
    head_count: int
    connections: Mapping[str, int]  # person → M, when connections were logged
    re_meetings: Mapping[str, int]  # person → R


def _group_history(session: Session, group: Group) -> list[_Held]:
    """The group's gatherings that someone attended, in start order, from their snapshots."""
    gatherings = session.scalars(
        select(Gathering)
        .where(Gathering.group_id == group.id)
        .order_by(Gathering.starts_at.asc().nulls_first(), Gathering.id)
    ).all()
    ids = [g.id for g in gatherings]
    present: dict[int, set[str]] = defaultdict(set)
    for gathering_id, person_id in session.execute(
        select(Attendance.gathering_id, Attendance.person_id).where(
            Attendance.gathering_id.in_(ids), Attendance.checked_in_at.is_not(None)
        )
    ).tuples():
        present[gathering_id].add(str(person_id))
    data = dict(
        session.execute(
            select(GatheringScoreSnapshot.gathering_id, GatheringScoreSnapshot.data).where(
                GatheringScoreSnapshot.gathering_id.in_(ids)
            )
        )
        .tuples()
        .all()
    )
    outcome_counts = _outcome_counts(session, group)
    follow_ups = _follow_ups(session, ids)
    return [
        _held(
            gathering,
            present[gathering.id],
            data.get(gathering.id),
            outcome_counts.get(gathering.id, 0),
            follow_ups.get(gathering.id, ()),
        )
        for gathering in gatherings
        if present[gathering.id]
    ]


def _held(
    gathering: Gathering,
    present: set[str],
    data: Mapping[str, Any] | None,
    outcomes: int,
    follow_ups: Iterable[bool],
) -> _Held:
    """One attended gathering of a group: who came, its snapshot's `data` (None: not scored
    yet), its business outcomes and, per confirmed connection, whether it was followed up."""
    attendees = data["attendees"] if data is not None else {}
    logged = data is not None and data["connections_logged"]
    return _Held(
        record=GatheringRecord(
            id=str(gathering.id),
            starts_at=gathering.starts_at or gathering.created_at,
            present=frozenset(present),
            utilization={
                person: figures["utilization"]
                for person, figures in attendees.items()
                if figures["utilization"] is not None
            },
            novelty={
                person: figures["novelty"]
                for person, figures in attendees.items()
                if figures["novelty"] is not None
            },
            outcomes=outcomes,
            follow_ups=tuple(follow_ups),
        ),
        head_count=len(present),
        connections={p: f["connections"] for p, f in attendees.items()} if logged else {},
        re_meetings={p: f["re_meetings"] for p, f in attendees.items()} if logged else {},
    )


def _outcome_counts(session: Session, group: Group) -> Counter[int | None]:
    """Business outcomes reported in the group, per gathering (None: at no gathering)."""
    return Counter(
        session.scalars(
            select(Outcome.gathering_id).where(
                Outcome.group_id == group.id, Outcome.kind.in_(BUSINESS_OUTCOMES)
            )
        )
    )


def _rescore_members(
    session: Session,
    group: Group,
    settings: ScoringSettings,
    history: list[_Held],
    now: datetime,
) -> None:
    business = settings.format is GroupFormat.BUSINESS
    outcomes = Counter(
        str(person_id)
        for person_id in session.scalars(
            select(Outcome.person_id).where(
                Outcome.group_id == group.id, Outcome.kind.in_(BUSINESS_OUTCOMES)
            )
        )
    )
    attendance = [item.record.present for item in history]
    # Each member's record, gathered in one walk over the history, oldest first.
    attended: Counter[str] = Counter()
    first: dict[str, int] = {}
    met: dict[str, list[int]] = defaultdict(list)
    utilizations: dict[str, list[float]] = defaultdict(list)
    re_met: Counter[str] = Counter()
    for index, item in enumerate(history):
        for person in item.record.present:
            attended[person] += 1
            first.setdefault(person, index)
        for person, count in item.connections.items():
            met[person].append(count)
        for person, value in item.record.utilization.items():
            utilizations[person].append(value)
        re_met.update(item.re_meetings)
    members = sorted(attended)
    # a_i: gatherings attended ÷ gatherings held since the member's first.
    rates = {m: attended[m] / (len(history) - first[m]) for m in members}
    logged_any = any(item.connections for item in history)
    past_ramp = [m for m in members if attended[m] > settings.ramp_gatherings]
    exposure = sum(attended[m] for m in past_ramp)
    typical_head_count = round(statistics.median(item.head_count for item in history))
    if not business and typical_head_count < 2:
        return  # a social group of one has nobody to meet again: no standing to give
    record = GroupRecord(
        outcomes_reported=sum(outcomes.values()),
        outcome_rate=(sum(outcomes[m] for m in past_ramp) / exposure) if exposure else None,
        head_count=typical_head_count,
        others_attendance=statistics.median(rates.values()),
    )
    # Only the standing, when it last changed and from what are read; the rest is overwritten.
    existing = {
        person_id: (standing, changed_at, previous)
        for person_id, standing, changed_at, previous in session.execute(
            select(
                MemberStandingSnapshot.person_id,
                MemberStandingSnapshot.standing,
                MemberStandingSnapshot.changed_at,
                MemberStandingSnapshot.previous_standing,
            ).where(MemberStandingSnapshot.group_id == group.id)
        ).tuples()
    }
    rows = []
    changes = []
    for member in members:
        # Counts: their sum over their number is the exact mean statistics.mean gives, at once.
        mean_connections = (
            sum(met[member]) / len(met[member]) if met[member] and logged_any else None
        )
        standing = member_standing(
            Member(
                attended=attended[member],
                attendance_rate=rates[member],
                outcomes=outcomes[member] if business else re_met[member],
                utilization=_mean(utilizations[member]) if utilizations[member] else None,
                mean_connections=mean_connections,
                # Co-presence stands in only for a social member without logged connections
                # (`Member`); counting it walks every gathering the member attended.
                familiar_faces=familiar_faces(member, attendance, settings.co_presence_gatherings)
                if not business and mean_connections is None
                else None,
            ),
            record,
            settings,
        )
        person_id = int(member)
        before, changed_at, previous = existing.get(person_id, (None, now, None))
        if before is not None and before != standing.standing.value:
            changed_at, previous = now, before
        row = {
            "group_id": group.id,
            "person_id": person_id,
            "model_version": MODEL_VERSION,
            "standing": standing.standing.value,
            "previous_standing": previous,
            "estimated": standing.estimated,
            "data": {
                "label": standing.label,
                "rule": standing.rule.value,
                "numbers": _numbers_json(standing.numbers),
                "sentences": list(standing.sentences),
                "attended": attended[member],
                "attendance_rate": round(rates[member], 3),
            },
            "computed_at": now,
            "changed_at": changed_at,
        }
        rows.append(row)
        if before is not None and before != row["standing"]:
            changes.append((row, before))
    upsert_many_copied(session, MemberStandingSnapshot, rows, ["group_id", "person_id"])
    for row, before in changes:
        outbound.emit_standing_changed(session, group, MemberStandingSnapshot(**row), before)


def _mean(values: list[float]) -> float:
    """`statistics.mean` of floats, to the bit, without its fractions: the exact sum (each
    float is an integer over a power of two) over the count, rounded once, by int division."""
    numerator, denominator = 0, 1
    for value in values:
        top, bottom = value.as_integer_ratio()
        if bottom > denominator:
            numerator, denominator = numerator * (bottom // denominator), bottom
        numerator += top * (denominator // bottom)
    return numerator / (denominator * len(values))


# A standing's numbers are plain ints, floats and None, which `json_ready` leaves as they are.
NUMBER_FIELDS = tuple(field.name for field in fields(StandingNumbers))


def _numbers_json(numbers: StandingNumbers) -> dict[str, Any]:
    """A standing's numbers as `json_ready` gives them, without walking each value."""
    return {name: getattr(numbers, name) for name in NUMBER_FIELDS}


def _visits(session: Session, gathering_id: int) -> list[Visit]:
    rows = session.execute(
        select(Attendance.person_id, Attendance.checked_in_at, Attendance.checked_out_at)
        .where(Attendance.gathering_id == gathering_id, Attendance.checked_in_at.is_not(None))
        .order_by(Attendance.person_id)
    ).all()
    return [Visit(person, checked_in, checked_out) for person, checked_in, checked_out in rows]


def _dwell(visit: Visit) -> float | None:
    if visit.checked_out_at is None or visit.checked_out_at <= visit.checked_in_at:
        return None
    return (visit.checked_out_at - visit.checked_in_at).total_seconds() / 3600


def _connection_counts(rows: GatheringRows) -> tuple[dict[int, int] | None, dict[int, int] | None]:
    """Per person: confirmed connections here between people both checked in (M), and those with
    people not met before in the group (M_new). (None, None) when no connection is logged."""
    if not rows.connections:
        return None, None
    present = {visit.person_id for visit in rows.visits}
    met: Counter[int] = Counter()
    new: Counter[int] = Counter()
    for low, high, confirmed, _ in rows.connections:
        if not (confirmed and low in present and high in present):
            continue
        for person in (low, high):
            met[person] += 1
            if (low, high) not in rows.earlier_pairs:
                new[person] += 1
    return dict(met), dict(new)


def _earlier_pairs(
    session: Session, gathering: Gathering, people: set[int]
) -> set[tuple[int, int]]:
    """Confirmed pairs among `people` from the group's earlier gatherings."""
    if gathering.group_id is None or gathering.starts_at is None or not people:
        return set()
    rows = session.execute(
        select(Connection.person_low_id, Connection.person_high_id)
        .join(Gathering, Gathering.id == Connection.gathering_id)
        .where(
            Gathering.group_id == gathering.group_id,
            Gathering.starts_at < gathering.starts_at,
            Connection.confirmed.is_(True),
            or_(Connection.person_low_id.in_(people), Connection.person_high_id.in_(people)),
        )
    ).all()
    return {(low, high) for low, high in rows}


def _returning(session: Session, gathering: Gathering, people: set[int]) -> set[int]:
    """Those of `people` checked in at an earlier gathering of the group (the rest are
    first-timers; everyone is at a gathering with no group or no start time)."""
    if gathering.group_id is None or gathering.starts_at is None or not people:
        return set()
    return set(
        session.scalars(
            select(Attendance.person_id)
            .join(Gathering, Gathering.id == Attendance.gathering_id)
            .where(
                Gathering.group_id == gathering.group_id,
                Gathering.starts_at < gathering.starts_at,
                Attendance.checked_in_at.is_not(None),
                Attendance.person_id.in_(people),
            )
        )
    )


def _follow_ups(session: Session, gathering_ids: list[int]) -> dict[int, list[bool]]:
    """Per gathering, for each confirmed connection: followed up (at any time so far)?"""
    flags: dict[int, list[bool]] = defaultdict(list)
    for gathering_id, followed_up_at in session.execute(
        select(Connection.gathering_id, Connection.followed_up_at).where(
            Connection.gathering_id.in_(gathering_ids), Connection.confirmed.is_(True)
        )
    ):
        flags[gathering_id].append(followed_up_at is not None)
    return flags


def _attendees_json(attendees: Mapping[int, AttendeeFigures]) -> dict[str, dict[str, Any]]:
    """Each attendee's figures as stored, by person; attendees with the same figures (the same
    object, from `score_attendees`) share one mapping."""
    made: dict[int, dict[str, Any]] = {}
    stored = {}
    for person, figures in attendees.items():
        plain = made.get(id(figures))
        if plain is None:
            plain = made[id(figures)] = {
                "capacity": round(figures.capacity, 2),
                "connections": figures.connections,
                "new_connections": figures.new_connections,
                "re_meetings": figures.re_meetings,
                "utilization": figures.utilization,
                "novelty": figures.novelty,
                "coverage": figures.coverage,
                "sentence": figures.sentence,
            }
        stored[str(person)] = plain
    return stored
