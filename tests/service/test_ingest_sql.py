"""Ingest's statements give the same answers on every database, and errors as SQLAlchemy's."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, OperationalError, StatementError

from service.db import engine_for, ingest_engine_for, session_scope
from service.ingest_sql import ingest_statements
from service.models import Delivery, utcnow
from tests.service.ingest_helpers import delivery, sealed_secrets


def test_lookup_store_duplicate_and_find(app, tenant):
    key = tenant.webhook_path.rsplit("/", 1)[1]
    sealed = sealed_secrets(app, tenant)
    external_id = f"msg_{uuid.uuid4().hex}"

    with ingest_statements(ingest_engine_for(app)) as statements:
        assert statements.find_integration("standard", key) == (tenant.integration_id, sealed)
        assert statements.find_integration("pretix", key) is None
        assert not statements.delivery_exists(tenant.integration_id, external_id)
        delivery_id = statements.store_delivery(delivery(tenant, sealed, external_id))
        assert isinstance(delivery_id, int)
        assert statements.store_delivery(delivery(tenant, sealed, external_id)) is None
        assert statements.delivery_exists(tenant.integration_id, external_id)

    with app.app_context(), session_scope() as session:
        stored = session.get_one(Delivery, delivery_id)
        assert stored.headers == {"webhook-id": external_id}
        assert stored.body == b'{"type": "attendee.checked_in"}'
        assert stored.received_at.tzinfo is not None


def test_a_transactional_engine_commits_when_the_block_ends(app, tenant):
    row = delivery(tenant, sealed_secrets(app, tenant), f"msg_{uuid.uuid4().hex}")
    with ingest_statements(engine_for(app)) as statements:
        statements.store_delivery(row)
    with app.app_context(), session_scope() as session:
        assert session.scalar(select(Delivery.id).where(Delivery.external_id == row["external_id"]))


def test_nothing_is_stored_under_secrets_that_changed(app, tenant):
    external_id = f"msg_{uuid.uuid4().hex}"
    with ingest_statements(ingest_engine_for(app)) as statements:
        assert statements.store_delivery(delivery(tenant, "other-sealed", external_id)) is None
        assert not statements.delivery_exists(tenant.integration_id, external_id)


def test_naive_received_at_is_refused_as_before(app, tenant):
    row = delivery(tenant, sealed_secrets(app, tenant), f"msg_{uuid.uuid4().hex}")
    row["received_at"] = utcnow().replace(tzinfo=None)
    # SQLAlchemy wraps the type's refusal in a StatementError; the driver's path does not.
    refused = (ValueError, StatementError)
    with pytest.raises(refused, match="naive"), ingest_statements(ingest_engine_for(app)) as s:
        s.store_delivery(row)


def postgresql_only(database_url: str) -> None:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("runs on the driver's cursor only on PostgreSQL")


def test_a_stored_delivery_is_committed_as_its_statement_returns(app, tenant, database_url):
    postgresql_only(database_url)
    external_id = f"msg_{uuid.uuid4().hex}"
    with (
        pytest.raises(RuntimeError),
        ingest_statements(ingest_engine_for(app)) as statements,
    ):
        statements.store_delivery(delivery(tenant, sealed_secrets(app, tenant), external_id))
        raise RuntimeError("the request fails after storing")
    with app.app_context(), session_scope() as session:
        assert session.scalar(select(Delivery.id).where(Delivery.external_id == external_id))


def test_driver_errors_arrive_as_sqlalchemy_errors(app, tenant, database_url):
    postgresql_only(database_url)
    row = delivery(tenant, sealed_secrets(app, tenant), "msg_with_\x00_nul")
    with pytest.raises(DataError) as raised, ingest_statements(ingest_engine_for(app)) as s:
        s.store_delivery(row)
    assert not raised.value.connection_invalidated


def test_a_lost_connection_is_reported_invalidated_and_replaced(app, tenant, database_url):
    postgresql_only(database_url)
    key = tenant.webhook_path.rsplit("/", 1)[1]
    engine = ingest_engine_for(app)
    engine.dispose()
    with engine.connect() as pooled:
        pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()

    with pytest.raises(OperationalError) as raised, ingest_statements(engine) as statements:
        statements.find_integration("standard", key)
    assert raised.value.connection_invalidated

    with ingest_statements(engine) as statements:
        assert statements.find_integration("standard", key) == (
            tenant.integration_id,
            sealed_secrets(app, tenant),
        )


def test_a_database_that_cannot_be_reached_is_an_operational_error(settings_overrides):
    from tests.conftest import running_app

    dead = {**settings_overrides, "database_url": "postgresql://nobody@127.0.0.1:1/none"}
    with (
        running_app(dead) as broken,
        pytest.raises(OperationalError),
        ingest_statements(ingest_engine_for(broken)) as statements,
    ):
        statements.find_integration("standard", "any-key")


def test_many_rows_in_one_statement_answer_row_by_row(app, tenant):
    sealed = sealed_secrets(app, tenant)
    stored_before = f"msg_{uuid.uuid4().hex}"
    new, twice = f"msg_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}"
    with ingest_statements(ingest_engine_for(app)) as statements:
        earlier = statements.store_delivery(delivery(tenant, sealed, stored_before))
        # A NULL among the column's values, and an only row with no reason, store as NULL.
        first_of_twice = {**delivery(tenant, sealed, twice), "body": b'{"n": 1}', "reason": None}
        ids = statements.store_deliveries(
            [
                delivery(tenant, sealed, new),
                delivery(tenant, sealed, stored_before),
                first_of_twice,
                {**delivery(tenant, sealed, twice), "body": b'{"n": 2}'},
                delivery(tenant, "other-sealed", f"msg_{uuid.uuid4().hex}"),
            ]
        )

    assert isinstance(earlier, int)
    assert isinstance(ids[0], int) and isinstance(ids[2], int)
    assert ids[1:] == [None, ids[2], None, None]
    with app.app_context(), session_scope() as session:
        stored = session.get_one(Delivery, ids[2])
        assert stored.body == b'{"n": 1}'
        assert stored.headers == {"webhook-id": twice}
        assert stored.received_at.tzinfo is not None
        assert stored.reason is None
        assert session.get_one(Delivery, ids[0]).external_id == new
        assert session.get_one(Delivery, ids[0]).reason == "ignored"
    unicode_id = f"msg_zoë_{uuid.uuid4().hex}"
    body = '{"name": "Zoë Ñúñez 🎉"}'.encode()
    with ingest_statements(ingest_engine_for(app)) as statements:
        [alone] = statements.store_deliveries(
            [{**delivery(tenant, sealed, unicode_id), "reason": None, "body": body}]
        )
    with app.app_context(), session_scope() as session:
        assert alone is not None
        stored = session.get_one(Delivery, alone)
        assert (stored.reason, stored.body, stored.external_id) == (None, body, unicode_id)
        assert stored.headers == {"webhook-id": unicode_id}
