"""The statements webhook ingest runs, and the cheapest correct way to run them on each database.

A webhook request runs at most three statements: look up an integration's signing secrets,
store the delivery, and look for an earlier copy of it. Deliveries that arrive together are
stored together (`service.delivery_writer`): one statement for all of them. On PostgreSQL
(psycopg) they run
straight on the cursor of a pooled connection, as compiled once from the SQLAlchemy constructs
below: SQLAlchemy's execution and result layers around one statement cost about as much CPU as
the statement itself (BENCHMARKS.md). Other databases (SQLite) run them through SQLAlchemy in
one transaction. Either way a database error reaches the caller as SQLAlchemy's `DBAPIError`
family, with `connection_invalidated` set when the connection was lost, so callers handle one
kind of error whatever ran the statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Dialect, Engine, bindparam, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from service.models import Delivery, Integration

# The errors that mean the database cannot store a delivery now, whatever the delivery: it is
# not acknowledged (503), and the platform's retry brings it back.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)

FIND_INTEGRATION = select(Integration.id, Integration.secrets_encrypted).where(
    Integration.key == bindparam("key"), Integration.platform == bindparam("platform")
)

# One statement stores a delivery, only while its integration still has the secrets it was
# verified with, and only once per (integration, delivery id). Written as text so that it is
# compiled once and cached (SQLAlchemy's dialect `insert … on_conflict_do_nothing` constructs
# are compiled anew on every execution); PostgreSQL and SQLite both accept it as it is.
STORE_DELIVERY = (
    text(
        """
    INSERT INTO delivery
        (integration_id, external_id, event_type, headers, body, status, reason, attempts,
         received_at)
    SELECT id, :external_id, :event_type, :headers, :body, :status, :reason, 0, :received_at
    FROM integration
    WHERE id = :integration_id AND secrets_encrypted = :secrets_encrypted
    ON CONFLICT (integration_id, external_id) DO NOTHING
    RETURNING id
    """
    )
    .bindparams(
        bindparam("headers", type_=Delivery.__table__.c.headers.type),
        bindparam("body", type_=Delivery.__table__.c.body.type),
        bindparam("received_at", type_=Delivery.__table__.c.received_at.type),
    )
    .columns(Delivery.__table__.c.id)
)

# `STORE_DELIVERY` for many deliveries in one statement, on PostgreSQL: one execution and one
# commit for all of them. Each column comes as one array, so the statement's text is the same
# for any number of deliveries: psycopg converts it once and the server prepares it once. The
# arrays go in binary (`%b`): psycopg writes a text array element by element in Python, which
# cost five times as much CPU for a batch's bodies (BENCHMARKS.md). A row
# whose integration's secrets changed, or whose delivery id is already stored, is left out as
# `STORE_DELIVERY` leaves it; of several rows with one delivery id, the first is stored.
STORED_COLUMNS = {
    "integration_id": "integer",
    "secrets_encrypted": "text",
    "external_id": "text",
    "event_type": "text",
    "headers": "json",
    "body": "bytea",
    "status": "text",
    "reason": "text",
    "received_at": "timestamptz",
}
STORE_DELIVERIES_POSTGRESQL = """
    INSERT INTO delivery
        (integration_id, external_id, event_type, headers, body, status, reason, attempts,
         received_at)
    SELECT integration.id, given.external_id, given.event_type, given.headers, given.body,
        given.status, given.reason, 0, given.received_at
    FROM unnest({arrays}) WITH ORDINALITY AS given(
        integration_id, secrets_encrypted, external_id, event_type, headers, body, status,
        reason, received_at, position
    )
    JOIN integration
        ON integration.id = given.integration_id
        AND integration.secrets_encrypted = given.secrets_encrypted
    ORDER BY given.position
    ON CONFLICT (integration_id, external_id) DO NOTHING
    RETURNING id, integration_id, external_id
""".format(arrays=", ".join(f"%b::{type_}[]" for type_ in STORED_COLUMNS.values()))

FIND_DELIVERY = select(Delivery.id).where(
    Delivery.integration_id == bindparam("integration_id"),
    Delivery.external_id == bindparam("external_id"),
)


class IngestStatements(Protocol):
    """The statements of one webhook request, on one connection."""

    def find_integration(self, platform: str, key: str) -> tuple[int, str] | None:
        """The integration's id and stored (sealed) secrets, or None when there is none."""

    def store_delivery(self, params: Mapping[str, Any]) -> int | None:
        """Run `STORE_DELIVERY`; the new delivery's id, or None when nothing was stored."""

    def store_deliveries(self, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
        """`store_delivery` for each row, at once: each row's new id, or None where nothing
        was stored. A row whose delivery id an earlier row has is not stored."""

    def delivery_exists(self, integration_id: int, external_id: str) -> bool:
        """Whether the integration already has a delivery with this id."""


@contextmanager
def ingest_statements(engine: Engine) -> Iterator[IngestStatements]:
    """The statements on one of `engine`'s connections, committed by the end of the block.

    The ingest engine's PostgreSQL connections are in autocommit mode (`service.db`), so a
    stored delivery is committed when its statement returns; elsewhere the statements share a
    transaction that is committed when the block ends.
    """
    if engine.dialect.driver != "psycopg":
        with engine.begin() as connection:
            yield _SqlAlchemyStatements(connection)
        return
    compiled = _compiled_for(engine.dialect)
    try:
        pooled = engine.raw_connection()
    except psycopg.Error as err:
        raise _wrapped(err, engine.dialect, lost=False) from err
    driver_connection: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
    try:
        with driver_connection.cursor() as cursor:
            yield _PsycopgStatements(cursor, compiled)
        if not driver_connection.autocommit:
            # Only on an engine other than the ingest engine: nothing may wait for the pool's
            # rollback on return.
            driver_connection.commit()
    except psycopg.Error as err:
        dbapi_connection = pooled.dbapi_connection
        lost = engine.dialect.is_disconnect(err, dbapi_connection, None)  # type: ignore[arg-type]
        if lost:
            pooled.invalidate(err)
        raise _wrapped(err, engine.dialect, lost) from err
    finally:
        pooled.close()


def _wrapped(err: psycopg.Error, dialect: Dialect, lost: bool) -> BaseException:
    """The SQLAlchemy exception SQLAlchemy itself would have raised for `err`."""
    return DBAPIError.instance(
        None, None, err, psycopg.Error, connection_invalidated=lost, dialect=dialect
    )


class _SqlAlchemyStatements:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def find_integration(self, platform: str, key: str) -> tuple[int, str] | None:
        row = self._connection.execute(FIND_INTEGRATION, {"key": key, "platform": platform})
        found = row.first()
        return None if found is None else (found[0], found[1])

    def store_delivery(self, params: Mapping[str, Any]) -> int | None:
        delivery_id: int | None = self._connection.execute(STORE_DELIVERY, params).scalar()
        return delivery_id

    def store_deliveries(self, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
        return [self.store_delivery(row) for row in rows]

    def delivery_exists(self, integration_id: int, external_id: str) -> bool:
        params = {"integration_id": integration_id, "external_id": external_id}
        return self._connection.execute(FIND_DELIVERY, params).first() is not None


@dataclass(frozen=True)
class _DriverStatement:
    """A statement compiled for the driver, with the bind processors of its typed parameters."""

    sql: str
    processors: Mapping[str, Callable[[Any], Any]]

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        bound = dict(values)
        for name, process in self.processors.items():
            bound[name] = process(bound[name])
        return bound


@dataclass(frozen=True)
class _Compiled:
    find_integration: _DriverStatement
    store_delivery: _DriverStatement
    find_delivery: _DriverStatement


@functools.cache
def _compiled_for(dialect: Dialect) -> _Compiled:
    return _Compiled(
        find_integration=_compile(FIND_INTEGRATION, dialect),
        store_delivery=_compile(STORE_DELIVERY, dialect),
        find_delivery=_compile(FIND_DELIVERY, dialect),
    )


def _compile(statement: ClauseElement, dialect: Dialect) -> _DriverStatement:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    processors = {}
    for name, bind in compiled.binds.items():
        process = bind.type.bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return _DriverStatement(str(compiled), processors)


class _PsycopgStatements:
    def __init__(self, cursor: psycopg.Cursor[Any], compiled: _Compiled) -> None:
        self._cursor = cursor
        self._compiled = compiled

    def _first(self, statement: _DriverStatement, values: Mapping[str, Any]) -> Any:
        # Prepared on the server from the first use: each connection runs these again and again.
        self._cursor.execute(statement.sql, statement.params(values), prepare=True)
        return self._cursor.fetchone()

    def find_integration(self, platform: str, key: str) -> tuple[int, str] | None:
        row = self._first(self._compiled.find_integration, {"key": key, "platform": platform})
        return None if row is None else (row[0], row[1])

    def store_delivery(self, params: Mapping[str, Any]) -> int | None:
        row = self._first(self._compiled.store_delivery, params)
        return None if row is None else int(row[0])

    def store_deliveries(self, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
        statement = self._compiled.store_delivery
        bound = [statement.params(row) for row in rows]
        columns = [[values[name] for values in bound] for name in STORED_COLUMNS]
        self._cursor.execute(STORE_DELIVERIES_POSTGRESQL, columns, prepare=True)
        stored = {
            (integration_id, external_id): id_
            for id_, integration_id, external_id in self._cursor.fetchall()
        }
        # The first row with a delivery id is the stored one; any later one is a duplicate.
        return [
            stored.pop((values["integration_id"], values["external_id"]), None) for values in bound
        ]

    def delivery_exists(self, integration_id: int, external_id: str) -> bool:
        params = {"integration_id": integration_id, "external_id": external_id}
        return self._first(self._compiled.find_delivery, params) is not None
