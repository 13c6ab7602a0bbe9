"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, polled promptly.

kombu's virtual transports poll once a second when a queue looks empty, and with late acks
and a prefetch of one that caps a worker at about one task per process per second. kombu's
SQLAlchemy transport also forwards every transport option to `create_engine`, so the usual
`polling_interval` option cannot be passed; this subclass sets it instead.
"""

from __future__ import annotations

from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport

SCHEME_PREFIX = "sqla+"
TRANSPORT_PATH = "service.embedded_broker:Transport"


class Transport(SQLAlchemyTransport):
    polling_interval = 0.05
