"""The attendance fold and email normalization (pure and as properties), and the fold under
concurrent workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import AttendeeRef, GatheringRef
from service.attendance import (
    AttendanceState,
    fold_attendance,
    normalize_email,
    record_attendance_event,
    resolve_person,
    upsert_gathering,
)
from service.db import engine_for, session_scope, sessionmaker_for
from service.models import Attendance, AttendanceKind, Gathering, Integration, Person
from tests.support import wait_until_a_lock_is_awaited

REGISTERED = AttendanceKind.REGISTERED
IN = AttendanceKind.CHECKED_IN
OUT = AttendanceKind.CHECKED_OUT
REVERT = AttendanceKind.CHECKIN_REVERTED
START = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


# --- examples ----------------------------------------------------------------------------------


def test_no_events_is_an_empty_state():
    assert fold_attendance([]) == AttendanceState()


def test_a_visit():
    state = fold_attendance([(REGISTERED, at(-600)), (IN, at(5)), (OUT, at(90))])
    assert state == AttendanceState(
        registered_at=at(-600), checked_in_at=at(5), checked_out_at=at(90)
    )


def test_first_check_in_is_arrival_and_last_check_out_is_departure():
    state = fold_attendance([(IN, at(0)), (OUT, at(10)), (IN, at(20)), (OUT, at(30))])
    assert state.checked_in_at == at(0)
    assert state.checked_out_at == at(30)


def test_earliest_registration_counts():
    state = fold_attendance([(REGISTERED, at(-10)), (REGISTERED, at(-900))])
    assert state.registered_at == at(-900)


def test_check_out_before_its_check_in_arrives_converges():
    check_out_first = fold_attendance([(OUT, at(60))])
    assert check_out_first.checked_in_at is None
    both = fold_attendance([(OUT, at(60)), (IN, at(0))])
    assert both == fold_attendance([(IN, at(0)), (OUT, at(60))])
    assert both.checked_out_at == at(60)


def test_in_and_out_in_the_same_instant_stay_a_visit():
    state = fold_attendance([(OUT, at(0)), (IN, at(0))])
    assert state.checked_in_at == at(0)
    assert state.checked_out_at == at(0)


def test_revert_undoes_earlier_check_ins_only():
    reverted = fold_attendance([(IN, at(0)), (OUT, at(5)), (REVERT, at(10))])
    assert reverted == AttendanceState(reverted_at=at(10))
    back = fold_attendance([(IN, at(0)), (REVERT, at(10)), (IN, at(20))])
    assert back == AttendanceState(checked_in_at=at(20))


def test_revert_in_the_same_instant_as_the_check_in_wins():
    state = fold_attendance([(REVERT, at(0)), (IN, at(0))])
    assert state.checked_in_at is None
    assert state.reverted_at == at(0)


def test_revert_keeps_the_registration():
    state = fold_attendance([(REGISTERED, at(-60)), (IN, at(0)), (REVERT, at(1))])
    assert state.registered_at == at(-60)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM\n", "ada@example.com"),
        ("GRACE@EXAMPLE.COM", "grace@example.com"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_email(raw, normalized):
    assert normalize_email(raw) == normalized


# --- properties ----------------------------------------------------------------------------

# Times from a small range, so that events often share an instant (the tie-break matters).
instants = st.integers(min_value=0, max_value=30).map(at)
kinds = st.sampled_from(list(AttendanceKind))
events = st.lists(st.tuples(kinds, instants), max_size=12)


@given(events, st.randoms(use_true_random=False))
def test_delivery_order_does_not_matter(history, random):
    shuffled = history[:]
    random.shuffle(shuffled)
    assert fold_attendance(shuffled) == fold_attendance(history)


@given(events.filter(bool), st.data())
def test_a_duplicate_event_changes_nothing(history, data):
    duplicate = data.draw(st.sampled_from(history))
    position = data.draw(st.integers(min_value=0, max_value=len(history)))
    with_duplicate = [*history[:position], duplicate, *history[position:]]
    assert fold_attendance(with_duplicate) == fold_attendance(history)


@given(events, st.data())
def test_a_revert_after_every_check_in_leaves_no_check_in(history, data):
    reverts = [
        (REVERT, moment + timedelta(minutes=data.draw(st.integers(0, 10))))
        for kind, moment in history
        if kind is IN
    ]
    state = fold_attendance(history + reverts)
    assert state.checked_in_at is None
    if reverts:
        assert state.reverted_at is not None


@given(events, st.integers(min_value=1, max_value=60))
def test_re_entry_after_everything_else_means_inside(history, later):
    last = max((moment for _, moment in history), default=START)
    state = fold_attendance([*history, (IN, last + timedelta(minutes=later))])
    assert state.checked_out_at is None
    assert state.checked_in_at is not None
    assert state.reverted_at is None


@given(events)
def test_check_out_never_precedes_check_in(history):
    state = fold_attendance(history)
    if state.checked_in_at is not None and state.checked_out_at is not None:
        assert state.checked_out_at >= state.checked_in_at


# --- concurrent workers ------------------------------------------------------------------------


def test_concurrent_events_for_one_person_fold_over_all_of_them(app, tenant):
    """Two workers apply events for the same attendance at once; the later one must fold
    over the earlier one's committed event, not over the row it read before taking the lock."""
    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        gathering = upsert_gathering(session, integration, GatheringRef("g-race", "Race"))
        person = resolve_person(session, integration, AttendeeRef("p-race", "race@example.com"))
        record_attendance_event(session, gathering, person, IN, at(5), None, "standard")
        ids = (gathering.id, person.id)

    def record(session: Session, kind: AttendanceKind, moment: datetime) -> None:
        gathering = session.get_one(Gathering, ids[0])
        person = session.get_one(Person, ids[1])
        record_attendance_event(session, gathering, person, kind, moment, None, "standard")

    errors: list[BaseException] = []

    def second_worker() -> None:
        try:
            with app.app_context(), session_scope() as session:
                record(session, IN, at(55))  # re-entry, blocks on the first worker's lock
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    with app.app_context():
        first = sessionmaker_for(app)()
        try:
            record(first, OUT, at(45))  # holds the attendance row lock until commit
            worker = threading.Thread(target=second_worker)
            worker.start()
            wait_until_a_lock_is_awaited(engine_for(app))
            first.commit()
        finally:
            first.close()
        worker.join(timeout=30)
    assert not errors, errors

    with app.app_context(), session_scope() as session:
        row = session.scalars(select(Attendance).where(Attendance.gathering_id == ids[0])).one()
        assert (row.checked_in_at, row.checked_out_at) == (at(5), None)
