"""Deliveries that arrive together are stored together, and each request keeps its own answer.

Requests are made to arrive together as `tests.service.ingest_helpers.held` describes; the
worker's side (each accepted delivery processed) is in `tests/tasks/test_process_delivery.py`.
"""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError

from service.db import engine_for, ingest_engine_for, session_scope
from service.delivery_writer import DeliveryWriter, delivery_writer_for
from service.models import Delivery, DeliveryStatus
from tests.conftest import running_app
from tests.service.ingest_helpers import (
    Concurrent,
    check_in,
    delivery,
    held,
    keep_signing_keys,
    post_from_thread,
    sealed_secrets,
)
from tests.support import wait_for, wait_until_a_lock_is_awaited


def postgresql(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def transaction_of(app: Flask, delivery_ids: list[int]) -> set[str]:
    """The PostgreSQL transactions that stored these deliveries."""
    statement = text("SELECT DISTINCT xmin::text FROM delivery WHERE id = ANY(:ids)")
    with engine_for(app).connect() as connection:
        return set(connection.execute(statement, {"ids": delivery_ids}).scalars())


def test_waiting_deliveries_are_stored_together_and_answered_one_by_one(app, tenant, database_url):
    writer = DeliveryWriter(ingest_engine_for(app), publish=None)
    sealed = sealed_secrets(app, tenant)
    first, new, twice = (f"msg_{uuid.uuid4().hex}" for _ in range(3))
    calls = Concurrent()

    with held(app, tenant, first):
        calls.start(lambda: writer.store(delivery(tenant, sealed, first)))
        wait_until_a_lock_is_awaited(engine_for(app))
        for external_id in (new, twice, twice):
            calls.start(lambda e=external_id: writer.store(delivery(tenant, sealed, e)))
        wait_for(lambda: writer.queued() == 3)
    stored_first, stored_new, *of_twice = calls.results()

    assert isinstance(stored_first, int)
    assert isinstance(stored_new, int)
    # Of two rows with one delivery id, one is stored and the other answered "not stored".
    [stored_twice] = [result for result in of_twice if result is not None]
    assert isinstance(stored_twice, int)
    assert None in of_twice
    assert writer.queued() == 0
    if postgresql(database_url):
        together = [stored_new, stored_twice]
        assert len(transaction_of(app, together)) == 1
        assert transaction_of(app, together) != transaction_of(app, [stored_first])


def test_a_row_the_database_refuses_fails_alone(app, tenant, database_url):
    if not postgresql(database_url):
        pytest.skip("SQLite stores text with NUL characters")
    writer = DeliveryWriter(ingest_engine_for(app), publish=None)
    sealed = sealed_secrets(app, tenant)
    first, good, refused, other = (f"msg_{uuid.uuid4().hex}" for _ in range(4))
    calls = Concurrent()

    with held(app, tenant, first):
        calls.start(lambda: writer.store(delivery(tenant, sealed, first)))
        wait_until_a_lock_is_awaited(engine_for(app))
        for external_id in (good, refused + "\x00", other):
            calls.start(lambda e=external_id: writer.store(delivery(tenant, sealed, e)))
        wait_for(lambda: writer.queued() == 3)
    _, stored_good, error, stored_other = calls.results()

    assert isinstance(error, DataError)
    assert not error.connection_invalidated
    assert isinstance(stored_good, int)
    assert isinstance(stored_other, int)
    with app.app_context(), session_scope() as session:
        assert session.get_one(Delivery, stored_good).external_id == good
        assert (
            session.scalar(select(Delivery.id).where(Delivery.external_id.startswith(refused)))
            is None
        )


def cancel_the_waiting_statement(app: Flask) -> None:
    """Cancel the statement that waits for the held lock, as an administrator could."""
    with engine_for(app).connect() as connection:
        cancelled = connection.execute(
            text(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalars()
        assert list(cancelled) == [True]


def test_a_batch_the_database_cannot_store_answers_503_to_each_request(app, tenant, database_url):
    if not postgresql(database_url):
        pytest.skip("cancelling a statement needs PostgreSQL")
    writer = delivery_writer_for(app)
    first, new = (f"msg_{uuid.uuid4().hex}" for _ in range(2))
    calls = Concurrent()
    keep_signing_keys(app, tenant)

    with held(app, tenant, first):
        alone = calls.start(post_from_thread(app, tenant, check_in(1), first))
        wait_until_a_lock_is_awaited(engine_for(app))
        # Queued behind it: the same delivery again (so that this batch waits too) and another.
        calls.start(post_from_thread(app, tenant, check_in(1), first))
        calls.start(post_from_thread(app, tenant, check_in(2), new))
        wait_for(lambda: writer.queued() == 2)
        cancel_the_waiting_statement(app)
        wait_for(lambda: calls.done(alone))
        wait_until_a_lock_is_awaited(engine_for(app))
        cancel_the_waiting_statement(app)
        answers = calls.results()

    for status, body, retry_after in answers:
        assert status == 503
        assert body["reason"] == "storage_unavailable"
        assert retry_after
    with app.app_context(), session_scope() as session:
        stored = select(Delivery.id).where(Delivery.external_id.in_([first, new]))
        assert session.scalars(stored).all() == []


def test_a_broker_outage_leaves_every_delivery_of_a_batch_received(app, tenant, settings_overrides):
    dead_broker = {**settings_overrides, "broker_url": "redis://127.0.0.1:1/0"}
    first, *others = (f"msg_{uuid.uuid4().hex}" for _ in range(3))
    calls = Concurrent()

    with running_app(dead_broker) as cut_off:
        writer = delivery_writer_for(cut_off)
        keep_signing_keys(cut_off, tenant)
        with held(app, tenant, first):
            calls.start(post_from_thread(cut_off, tenant, check_in(1), first))
            wait_until_a_lock_is_awaited(engine_for(app))
            for n, msg_id in enumerate(others, start=2):
                calls.start(post_from_thread(cut_off, tenant, check_in(n), msg_id))
            wait_for(lambda: writer.queued() == 2)
        answers = calls.results()

    assert [status for status, _, _ in answers] == [202, 202, 202]
    delivery_ids = [body["delivery"] for _, body, _ in answers]
    with app.app_context(), session_scope() as session:
        stored = session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))).all()
        assert sorted(row.external_id for row in stored) == sorted([first, *others])
        assert {row.status for row in stored} == {DeliveryStatus.RECEIVED}
        # Set aside, so that the sweep of a later test finds only its own deliveries.
        for row in stored:
            row.status = DeliveryStatus.FAILED
            row.reason = "set aside by the broker outage test"
