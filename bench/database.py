"""The benchmarks' own databases: each run starts from an empty PostgreSQL database of its own,
migrated to the latest schema, and an empty Redis database, and touches nothing else on the
servers."""

from __future__ import annotations

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import migrate

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_url(postgres_url: str, database: str) -> str:
    """The URL of `database` on the server `postgres_url` names, for the service."""
    url = make_url(postgres_url).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def reset_database(postgres_url: str, database: str) -> str:
    """Drop and recreate `database`, migrate it, and return its URL."""
    server = make_url(postgres_url).set(drivername="postgresql+psycopg", database="postgres")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    url = database_url(postgres_url, database)
    migrate.upgrade(url)
    return url


def flush_broker(broker_url: str) -> None:
    """Empty the Redis database the run's queue lives in."""
    with redis.Redis.from_url(broker_url) as client:
        client.flushdb()
