"""Database engine and sessions, shared by the web app, the CLI and the workers.

The web app gets one session per request (closed at teardown); tasks and commands open their
own with `session_scope()`. Webhook ingest uses its own engine (`ingest_engine_for`), tuned for
one statement per request. Nothing here keeps state beyond the engines' connection pools.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service import json_codec

EXTENSION_KEY = "roomwise.sessionmaker"
INGEST_ENGINE_KEY = "roomwise.ingest_engine"
# Per web process: the batch being stored takes one connection, and the requests that need a
# statement of their own at the same moment (a secrets lookup, a duplicate check) take the rest.
INGEST_POOL_SIZE = 16
# How every engine writes JSON columns.
JSON_CODEC = {"json_serializer": json_codec.dumps}


def make_engine(database_url: str) -> Engine:
    """Create the engine with the per-backend settings that keep concurrent writers safe."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **JSON_CODEC)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, **JSON_CODEC)


def make_ingest_engine(database_url: str, engine: Engine) -> Engine:
    """The engine that stores webhook deliveries, one statement each.

    On PostgreSQL its connections are in autocommit mode, so a delivery costs one round trip
    (no BEGIN and COMMIT around its INSERT), and are not pinged before use: a connection the
    server dropped fails its first statement instead, and `service.inbox.receive` tries once
    more on a new one. On SQLite, where a write takes the file's lock, it is `engine` itself.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    # Connections are opened as concurrent requests need them, and every one is kept: a pool
    # that closed its spare connections would reopen one on most requests under load.
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=INGEST_POOL_SIZE,
        max_overflow=10,
        **JSON_CODEC,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a worker writes; busy_timeout waits instead of failing.
    # The driver's own transaction handling is switched off so `_sqlite_begin_immediate` decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock when a transaction starts, so concurrent writers queue up on
    # busy_timeout instead of failing with "database is locked" when they upgrade a read.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app: Flask, database_url: str) -> None:
    engine = make_engine(database_url)
    app.extensions[EXTENSION_KEY] = sessionmaker(engine, expire_on_commit=False)
    app.extensions[INGEST_ENGINE_KEY] = make_ingest_engine(database_url, engine)
    app.teardown_appcontext(_close_request_session)


def sessionmaker_for(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions[EXTENSION_KEY]
    return factory


def engine_for(app: Flask) -> Engine:
    bind = sessionmaker_for(app).kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def ingest_engine_for(app: Flask) -> Engine:
    engine: Engine = app.extensions[INGEST_ENGINE_KEY]
    return engine


def dispose_engines(app: Flask) -> None:
    """Close every pooled connection of the app's engines."""
    engine_for(app).dispose()
    ingest_engine_for(app).dispose()


def request_session() -> Session:
    """The session for the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = sessionmaker_for(current_app)()
    session: Session = g.db_session
    return session


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error, for tasks and commands."""
    session = sessionmaker_for(app or current_app)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
