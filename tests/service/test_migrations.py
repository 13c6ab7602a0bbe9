"""The connections-and-outcomes migration: it matches the models, enforces the rules the models
state, and runs down to the initial schema and up again. It runs on its own SQLite file, so
the suite's database is never downgraded under other tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from service import migrate
from service.db import engine_for, make_engine
from service.models import Base

TABLES = {"connection", "outcome"}


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def drift(engine: Engine) -> list[Any]:
    """How the migrated `connection` and `outcome` tables differ from the models."""

    def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or name in TABLES

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": ours}
        )
        return list(compare_metadata(context, Base.metadata))


@pytest.fixture()
def engine(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_down_to_the_initial_schema_and_up_again(engine):
    url = str(engine.url)
    assert table_names(engine) >= TABLES
    assert drift(engine) == []

    migrate.downgrade(url, "0001")
    assert not table_names(engine) & TABLES
    assert "person" in table_names(engine)

    migrate.upgrade(url)
    assert table_names(engine) >= TABLES
    assert drift(engine) == []


def test_the_database_enforces_pair_order_and_non_negative_values(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organizer (id, name, email, timezone, created_at) "
                "VALUES (1, 'O', 'o@example.com', 'UTC', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO person (id, organizer_id, name, company, created_at) "
                "VALUES (1, 1, 'A', '', CURRENT_TIMESTAMP), (2, 1, 'B', '', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO gathering (id, organizer_id, name, settings, created_at) "
                "VALUES (1, 1, 'G', '{}', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO networking_group "
                "(id, organizer_id, name, format, structure, settings, created_at) "
                "VALUES (1, 1, 'Grp', 'social', 'open', '{}', CURRENT_TIMESTAMP)"
            )
        )

    connection_row = (
        "INSERT INTO connection (organizer_id, gathering_id, person_low_id, person_high_id, "
        "source, reported_by_low, reported_by_high, confirmed, created_at) "
        "VALUES (1, 1, :low, :high, 'api', 0, 0, 1, CURRENT_TIMESTAMP)"
    )
    outcome_row = (
        "INSERT INTO outcome (organizer_id, person_id, group_id, kind, value, source, key, "
        "reported_at, created_at) VALUES (1, 1, 1, 'lead', :value, 'api', :key, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        connection.execute(text(connection_row), {"low": 1, "high": 2})
        connection.execute(text(outcome_row), {"value": 0, "key": "k-1"})
        connection.execute(text(outcome_row), {"value": None, "key": None})
        connection.execute(text(outcome_row), {"value": None, "key": None})

    for statement, values in [
        (connection_row, {"low": 2, "high": 1}),  # the pair must be stored ordered
        (connection_row, {"low": 1, "high": 2}),  # and once per gathering
        (outcome_row, {"value": -1, "key": None}),
        (outcome_row, {"value": 5, "key": "k-1"}),  # a key is used once per organizer
    ]:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(statement), values)


def test_a_gathering_scores_json_is_compressed_with_lz4_where_postgresql_has_it(app):
    engine = engine_for(app)
    if engine.dialect.name != "postgresql":
        pytest.skip("compression methods are PostgreSQL's")
    with engine.connect() as connection:
        available = text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if not connection.scalar(available):
            pytest.skip("this PostgreSQL was built without lz4")
        method = connection.scalar(
            text(
                "SELECT attcompression FROM pg_attribute "
                "WHERE attrelid = 'gathering_score'::regclass AND attname = 'data'"
            )
        )
    assert method == "l"
