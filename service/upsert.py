"""Race-safe get-or-create on natural keys, for PostgreSQL and SQLite alike.

`INSERT … ON CONFLICT DO NOTHING` followed by a `SELECT` lets two workers create the same person
or gathering at once without either failing: the database's unique constraint decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import Base

ModelT = TypeVar("ModelT", bound=Base)
ROWS_PER_STATEMENT = 1000


def insert_ignoring_conflict(
    session: Session, model: type[Base], values: Mapping[str, Any], conflict_columns: list[str]
) -> int | None:
    """Insert a row; return its primary key (the first column of it, for a composite key), or
    None when a row with the same natural key exists."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*inspect(model).primary_key)
    )
    inserted: int | None = session.execute(statement).scalar_one_or_none()
    return inserted


def insert_many_ignoring_conflict(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: list[str],
) -> int:
    """Insert many rows in one statement, skipping those whose natural key exists; return how
    many were inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    # In chunks: SQLite takes at most 32,766 bound parameters per statement.
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        statement = (
            insert(model)
            .values([dict(row) for row in rows[start : start + ROWS_PER_STATEMENT]])
            .on_conflict_do_nothing(index_elements=conflict_columns)
            .returning(*inspect(model).primary_key)
        )
        inserted += len(session.execute(statement).all())
    return inserted


def get_or_create(
    session: Session,
    model: type[ModelT],
    natural_key: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> tuple[ModelT, bool]:
    """Return the row with `natural_key`, created with `defaults` if absent; True if new."""
    created = insert_ignoring_conflict(
        session, model, {**natural_key, **(defaults or {})}, list(natural_key)
    )
    criteria = [getattr(model, column) == value for column, value in natural_key.items()]
    row = session.scalars(select(model).where(*criteria)).one()
    return row, created is not None


def upsert_many(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: list[str],
) -> None:
    """Insert rows, overwriting the other columns of those whose natural key exists, in one
    executemany: for writing many snapshots without an ORM object each."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model)
    statement = statement.on_conflict_do_update(
        index_elements=conflict_columns,
        set_={name: statement.excluded[name] for name in rows[0] if name not in conflict_columns},
    )
    session.execute(statement, [dict(row) for row in rows])
