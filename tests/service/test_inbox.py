"""Applying a stored delivery, as the worker does, and what it costs the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import event

from service import inbox
from service.context import current_settings, keyring, secret_box
from service.db import engine_for, ingest_engine_for, session_scope
from service.delivery_writer import DeliveryWriter
from tests.conftest import Tenant
from tests.support import signed_headers, standard_body

START = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def store(app: Flask, tenant: Tenant, body: bytes) -> int:
    """Store a delivery without enqueueing it, so that no worker applies it first."""
    platform, key = tenant.webhook_path.split("/")[-2:]
    with app.app_context():
        result = inbox.receive(
            DeliveryWriter(ingest_engine_for(app), publish=None),
            keyring(),
            platform,
            key,
            body,
            signed_headers(tenant.signing_secret, body),
            current_settings().webhook_tolerance_seconds,
        )
    assert result.delivery_id is not None
    return result.delivery_id


def process(app: Flask, delivery_id: int) -> None:
    with app.app_context(), session_scope() as session:
        assert inbox.process(session, secret_box(), delivery_id) == "processed"


@contextmanager
def counted_statements(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):  # SQLite's transactions begin with a statement
            statements.append(statement)

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_check_in_costs_few_statements(app, tenant):
    """The common delivery, a known person's check-in at a known gathering, reads what it
    needs once and writes each row once: the delivery, the attendance already folded over its
    one event, the event, and the gathering's rescoring request."""
    for attendee, gathering in [("att-1", "g-one"), ("att-2", "g-two")]:
        body = standard_body(
            attendee_id=attendee, email=f"{attendee}@example.com", gathering_id=gathering
        )
        process(app, store(app, tenant, body))
    check_in = store(
        app,
        tenant,
        standard_body(attendee_id="att-1", email="att-1@example.com", gathering_id="g-two"),
    )
    check_out = store(
        app,
        tenant,
        standard_body(
            "attendee.checked_out",
            attendee_id="att-1",
            email="att-1@example.com",
            gathering_id="g-two",
            occurred_at=START.replace(hour=9),
        ),
    )

    with counted_statements(app) as statements:
        process(app, check_in)
    assert len(statements) == 8, statements

    # A later event for the same attendance folds over the stored ones, under the row's lock.
    with counted_statements(app) as statements:
        process(app, check_out)
    assert len(statements) == 11, statements
