"""Storing webhook deliveries together: one statement, one commit and one broker push for all
the requests of a process that are ready to store at the same moment.

Each delivery costs PostgreSQL a statement and a commit (a WAL flush, since the 2xx waits for
durability), and the broker a round trip; both cost about as much for many rows as for one
(BENCHMARKS.md). So a request thread does not store its own delivery: it joins the process's
queue, and whichever thread finds no batch being stored stores everything queued — its own
delivery and those that queued meanwhile. Once they are committed it passes the storing on to
a thread that queued meanwhile, pushes the batch's tasks, and wakes each of the batch's
threads with its own outcome. Nobody waits for a batch to fill: a lone request is stored at
once, and a batch is simply what queued up during the previous one's statement. A broker that
is slow to answer (an outage's connect timeout) holds up only its own batch's answers.

The order DESIGN.md fixes holds for every delivery: stored and committed, then its task pushed
to the broker, then its request is answered. A row the database refuses fails alone: the
batch is stored again one row at a time, and only the refused row's request sees the error.
A broker that cannot take the tasks is logged and leaves the rows `received` for the sweeper.

Under gunicorn's gevent workers `threading` is patched, so the "threads" here are the
greenlets serving requests, and waiting on PostgreSQL or Redis lets the others run; under
threaded servers (the development server, gthread) they are threads. The code is the same.

Nothing here is shared between processes, and no thread is started: a gunicorn worker forked
with an idle writer has only an empty queue and an unlocked lock.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import Engine

from service.db import ingest_engine_for
from service.ingest_sql import UNAVAILABLE, ingest_statements
from service.models import DeliveryStatus
from service.queue import PROCESS_DELIVERY, PUBLISH_KEY, Publish, enqueue_each

WRITER_KEY = "roomwise.delivery_writer"


@dataclass(eq=False)
class _Waiting:
    """One request's delivery in the queue, and what became of it."""

    row: Mapping[str, Any]
    woken: threading.Event = field(default_factory=threading.Event)
    settled: bool = False
    delivery_id: int | None = None
    error: BaseException | None = None
    # Woken without an outcome: the thread is to store the next batch itself.
    leads: bool = False

    def settle(self, delivery_id: int | None, error: BaseException | None = None) -> None:
        self.delivery_id = delivery_id
        self.error = error
        self.settled = True

    def outcome(self) -> int | None:
        if self.error is not None:
            raise self.error
        return self.delivery_id


class DeliveryWriter:
    """Stores deliveries on `engine` and enqueues the received ones, many at a time.

    Without `publish`, deliveries are stored but not enqueued, for callers that process them
    themselves.
    """

    def __init__(self, engine: Engine, publish: Publish | None) -> None:
        self.engine = engine
        self._publish = publish
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._storing = False

    def store(self, row: Mapping[str, Any]) -> int | None:
        """Store one delivery (`STORE_DELIVERY`'s parameters) and, once it is committed,
        enqueue it if it is `received`; its id, or None when nothing was stored.

        Raises what storing this row raised (SQLAlchemy's `DBAPIError` family), as
        `IngestStatements.store_delivery` would.
        """
        waiting = _Waiting(row)
        with self._lock:
            self._queue.append(waiting)
            leads = not self._storing
            self._storing = True
        if not leads:
            waiting.woken.wait()
            leads = waiting.leads
        if leads:
            self._store_queued()
        return waiting.outcome()

    def queued(self) -> int:
        """How many deliveries wait for the batch being stored to be committed."""
        with self._lock:
            return len(self._queue)

    def _store_queued(self) -> None:
        """Store everything queued, hand the storing on, enqueue, and wake the batch's threads.

        The next batch is stored while this one's tasks are pushed to the broker: a batch
        holds up the next one only for its statement.
        """
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            try:
                self._store(batch)
            finally:
                self._pass_on()
            self._enqueue_received(batch)
        except BaseException as err:
            # Only an interrupt gets here; no thread may wait for an outcome forever.
            for waiting in batch:
                if not waiting.settled:
                    waiting.settle(None, err)
            raise
        finally:
            for waiting in batch:
                waiting.woken.set()

    def _pass_on(self) -> None:
        """Wake the first thread that queued meanwhile to store the next batch, if any."""
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._storing = successor is not None
            if successor is not None:
                successor.leads = True
        if successor is not None:
            successor.woken.set()

    def _store(self, batch: list[_Waiting]) -> None:
        try:
            with ingest_statements(self.engine) as statements:
                ids = statements.store_deliveries([waiting.row for waiting in batch])
        except UNAVAILABLE as err:
            # The database cannot store now: not one of the rows is stored.
            for waiting in batch:
                waiting.settle(None, _own_copy(err) if len(batch) > 1 else err)
        except Exception:
            # One row may be to blame (a value the database refuses): each is tried alone.
            for waiting in batch:
                self._store_alone(waiting)
        else:
            for waiting, delivery_id in zip(batch, ids, strict=True):
                waiting.settle(delivery_id)

    def _enqueue_received(self, batch: list[_Waiting]) -> None:
        received = [
            waiting.delivery_id
            for waiting in batch
            if waiting.delivery_id is not None and waiting.row["status"] == DeliveryStatus.RECEIVED
        ]
        if received and self._publish is not None:
            enqueue_each(
                self._publish, PROCESS_DELIVERY, [[delivery_id] for delivery_id in received]
            )

    def _store_alone(self, waiting: _Waiting) -> None:
        try:
            with ingest_statements(self.engine) as statements:
                waiting.settle(statements.store_delivery(waiting.row))
        except Exception as err:
            waiting.settle(None, err)


def _own_copy(err: BaseException) -> BaseException:
    """`err` for one of several threads to raise: raising one exception object in several
    threads would splice their tracebacks together. The copy names `err` as its cause."""
    try:
        copied = copy.copy(err)
    except Exception:  # an exception type that cannot be rebuilt from its arguments
        return err
    copied.__cause__ = err
    return copied


def init_app(app: Flask) -> None:
    """Give the app its writer: the ingest engine, and the app's broker for accepted ones."""
    app.extensions[WRITER_KEY] = DeliveryWriter(ingest_engine_for(app), app.extensions[PUBLISH_KEY])


def delivery_writer_for(app: Flask) -> DeliveryWriter:
    writer: DeliveryWriter = app.extensions[WRITER_KEY]
    return writer
