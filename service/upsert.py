"""Race-safe get-or-create on natural keys, for PostgreSQL and SQLite alike.

`INSERT … ON CONFLICT DO NOTHING` lets two workers create the same person or gathering at once
without either failing: the database's unique constraint decides.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Row, Select, Table, TextualSelect, bindparam, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import Base

ModelT = TypeVar("ModelT", bound=Base)


def insert_ignoring_conflict(
    session: Session, model: type[Base], values: Mapping[str, Any], conflict_columns: list[str]
) -> int | None:
    """Insert a row, with the model's Python-side defaults for the columns not given; return
    its primary key (the first column of it, for a composite key), or None when a row with the
    same natural key exists."""
    table = model.__table__
    assert isinstance(table, Table)
    row = _with_defaults(table, values)
    statement = _insert_ignoring_conflict(table, tuple(row), tuple(conflict_columns))
    inserted: int | None = session.execute(statement, row).scalar_one_or_none()
    return inserted


def _with_defaults(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` and the defaults of the table's other columns, as a Core insert would add them."""
    row = dict(values)
    for column in table.columns:
        default = column.default
        if column.key in row or default is None:
            continue
        if default.is_scalar:
            row[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            row[column.key] = default.arg(None)  # type: ignore[attr-defined]
    return row


@functools.cache
def _insert_ignoring_conflict(
    table: Table, columns: tuple[str, ...], conflict_columns: tuple[str, ...]
) -> TextualSelect:
    # Written as text so that it is compiled once and cached: SQLAlchemy compiles its dialect
    # `insert … on_conflict_do_nothing` constructs anew on every execution. PostgreSQL and
    # SQLite both accept it as it is.
    key = table.primary_key.columns[0]
    names = ", ".join(f'"{table.c[column].name}"' for column in columns)
    params = ", ".join(f":{column}" for column in columns)
    conflict = ", ".join(f'"{column}"' for column in conflict_columns)
    return (
        text(
            f'INSERT INTO "{table.name}" ({names}) VALUES ({params}) '
            f'ON CONFLICT ({conflict}) DO NOTHING RETURNING "{key.name}"'
        )
        .bindparams(*(bindparam(column, type_=table.c[column].type) for column in columns))
        .columns(key)
    )


def insert_many_ignoring_conflict(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: list[str],
) -> int:
    """Insert many rows, skipping those whose natural key exists; return how many were
    inserted. One executemany, which SQLAlchemy sends as a few multi-row INSERTs."""
    if not rows:
        return 0
    statement = (
        _dialect_insert(session)(model)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*inspect(model).primary_key)
    )
    return len(session.execute(statement, [dict(row) for row in rows]).all())


def get_or_create(
    session: Session,
    model: type[ModelT],
    natural_key: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> tuple[ModelT, bool]:
    """Return the row with `natural_key`, created with `defaults` if absent; True if new.

    Looked up first, as the row is there far more often than not: one statement then, three
    when it has to be created.
    """
    row, created = _found_or_created(
        session, _lookup(model, tuple(natural_key)), model, natural_key, defaults
    )
    found: ModelT = row[0]
    return found, created


def get_or_create_columns(
    session: Session,
    model: type[Base],
    natural_key: Mapping[str, Any],
    defaults: Mapping[str, Any],
    columns: tuple[str, ...],
) -> tuple[Row[Any], bool]:
    """`get_or_create` reading only `columns`, without an ORM object: for a wide row of which
    a hot path needs an id and a name."""
    lookup = _lookup(model, tuple(natural_key), columns)
    return _found_or_created(session, lookup, model, natural_key, defaults)


def _found_or_created(
    session: Session,
    lookup: Select[Any],
    model: type[Base],
    natural_key: Mapping[str, Any],
    defaults: Mapping[str, Any] | None,
) -> tuple[Row[Any], bool]:
    found = session.execute(lookup, natural_key).one_or_none()
    if found is not None:
        return found, False
    created = insert_ignoring_conflict(
        session, model, {**natural_key, **(defaults or {})}, list(natural_key)
    )
    return session.execute(lookup, natural_key).one(), created is not None


@functools.cache
def _lookup(
    model: type[Base], key_columns: tuple[str, ...], columns: tuple[str, ...] | None = None
) -> Select[Any]:
    """The row (or some of its columns) by its natural key, as one statement object per model,
    key and columns: building the criteria anew for every lookup cost more CPU than running
    the query."""
    statement = (
        select(model) if columns is None else select(*(model.__table__.c[c] for c in columns))
    )
    return statement.where(*(getattr(model, c) == bindparam(c) for c in key_columns))


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
    statement = _dialect_insert(session)(model)
    statement = statement.on_conflict_do_update(
        index_elements=conflict_columns,
        set_={name: statement.excluded[name] for name in rows[0] if name not in conflict_columns},
    )
    session.execute(statement, [dict(row) for row in rows])


def upsert_many_copied(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: list[str],
) -> None:
    """`upsert_many` for many small rows. On PostgreSQL the rows are streamed with COPY into a
    temporary table and merged with one INSERT … ON CONFLICT: an executemany costs a statement
    per row on both sides, which for a group's thousands of standings is most of the time it
    takes to write them. Each value goes through its column type's bind processing, as in
    `upsert_many`. Elsewhere this is `upsert_many`."""
    connection = session.connection()
    if not rows or connection.dialect.name != "postgresql":
        upsert_many(session, model, rows, conflict_columns)
        return
    table = model.__table__
    assert isinstance(table, Table)
    keys = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]
    names = ", ".join(f'"{table.c[key].name}"' for key in keys)
    conflict = ", ".join(f'"{table.c[key].name}"' for key in conflict_columns)
    updates = ", ".join(
        f'"{table.c[key].name}" = excluded."{table.c[key].name}"'
        for key in keys
        if key not in conflict_columns
    )
    staging = f"staged_{table.name}"
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with driver.cursor() as cursor:
        cursor.execute(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}") ON COMMIT DROP'
        )
        with cursor.copy(f'COPY "{staging}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[key] if process is None else process(row[key])
                        for key, process in zip(keys, processors, strict=True)
                    ]
                )
        cursor.execute(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{staging}" '
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        )
        cursor.execute(f'DELETE FROM "{staging}"')


def _dialect_insert(session: Session) -> Any:
    """The INSERT construct with ON CONFLICT for the session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
