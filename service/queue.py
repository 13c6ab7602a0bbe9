"""Celery wiring: the Celery app as a Flask extension, and enqueueing tasks by name.

The service never imports `tasks` (imports flow integrations ← service ← tasks), so it sends
tasks by their registered names. Enqueue failures are logged, not raised: a delivery already
committed to the inbox is picked up by the sweeper once the broker is back.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import redis
from celery import Celery, Task
from flask import Flask, current_app
from kombu.entity import Queue
from redis.backoff import ConstantBackoff
from redis.retry import Retry

from service import embedded_broker, json_codec
from service.config import Settings

log = logging.getLogger(__name__)

TASK_MODULES = ["tasks.deliveries", "tasks.scoring", "tasks.outbound", "tasks.mail"]

PROCESS_DELIVERY = "tasks.deliveries.process_delivery"
SWEEP_DELIVERIES = "tasks.deliveries.sweep_received_deliveries"
RESCORE_DUE = "tasks.scoring.rescore_due"
DELIVER_DUE_WEBHOOKS = "tasks.outbound.deliver_due_webhooks"
PLAN_SUMMARIES = "tasks.mail.plan_summaries"
PLAN_DIGESTS = "tasks.mail.plan_digests"
SEND_DUE_MAIL = "tasks.mail.send_due_mail"

PUBLISH_KEY = "roomwise.publish"
# A web request must not hang on a dead broker: fail fast, the sweeper catches up.
BROKER_CONNECT_TIMEOUT_S = 2
BROKER_SOCKET_TIMEOUT_S = 10
PUBLISH_RETRY_INTERVAL_S = 0.1

# Sends one task by name per list of JSON arguments, in order; raises when the broker cannot
# take them.
Publish = Callable[[str, Sequence[list[Any]]], None]

# Rescoring has a queue of its own, so that a gathering's score never waits behind a backlog
# of deliveries, and a deployment can give it a worker of its own (`-Q scoring`). So has what
# goes out (mail and outbound webhooks): composing a digest or waiting on a slow SMTP server or
# receiver must not hold a process that should be applying check-ins (`-Q outbound`). A worker
# started without `-Q` consumes every queue.
DEFAULT_QUEUE = "celery"
SCORING_QUEUE = "scoring"
OUTBOUND_QUEUE = "outbound"
QUEUES = (DEFAULT_QUEUE, SCORING_QUEUE, OUTBOUND_QUEUE)


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    """Create the Celery app bound to `app`: every task runs inside an application context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    if settings.broker_url.startswith("sqla+sqlite:///"):
        _use_wal(Path(settings.broker_url.removeprefix("sqla+sqlite:///")))
    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery.conf.update(celery_settings(settings))
    app.extensions["celery"] = celery
    app.extensions[PUBLISH_KEY] = make_publish(celery, settings.broker_url)
    return celery


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Celery configuration; each choice is here for a reliability reason."""
    conf: dict[str, Any] = {
        "broker_url": settings.broker_url,
        # JSON only: tasks take ids, never pickled objects.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        # Ack after the task ran, and requeue when a worker dies mid-task: tasks are idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Take one message at a time so a slow task does not hoard others.
        "worker_prefetch_multiplier": 1,
        "task_default_queue": DEFAULT_QUEUE,
        "task_queues": [_queue(name) for name in QUEUES],
        "task_routes": {
            RESCORE_DUE: {"queue": SCORING_QUEUE},
            **{
                name: {"queue": OUTBOUND_QUEUE}
                for name in (DELIVER_DUE_WEBHOOKS, PLAN_SUMMARIES, PLAN_DIGESTS, SEND_DUE_MAIL)
            },
        },
        # A web request must not hang on a dead broker: fail fast, the sweeper catches up.
        "broker_connection_timeout": BROKER_CONNECT_TIMEOUT_S,
        "broker_connection_retry_on_startup": True,
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": PUBLISH_RETRY_INTERVAL_S,
        },
        "beat_schedule_filename": str(settings.beat_schedule_path),
        "timezone": "UTC",
        "enable_utc": True,
    }
    if settings.broker_url.startswith(("redis://", "rediss://")):
        conf["broker_transport_options"] = {
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_S,
            "socket_timeout": BROKER_SOCKET_TIMEOUT_S,
        }
    elif settings.broker_url.startswith(embedded_broker.SCHEME_PREFIX):
        conf["broker_url"] = settings.broker_url.removeprefix(embedded_broker.SCHEME_PREFIX)
        conf["broker_transport"] = embedded_broker.TRANSPORT_PATH
        # kombu hands these to SQLAlchemy's create_engine: wait on a busy file, don't fail.
        conf["broker_transport_options"] = {"connect_args": {"timeout": 30}}
    return conf


def _queue(name: str) -> Queue:
    queue: Queue = Queue(name)  # type: ignore[no-untyped-call]  # kombu is not annotated
    return queue


def _use_wal(path: Path) -> None:
    """Switch the embedded SQLite broker to WAL (it persists in the file) so that the worker's
    polling never blocks the web process's publishing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def make_publish(celery: Celery, broker_url: str) -> Publish:
    """The cheapest correct way to send tasks to this broker: one LPUSH on Redis."""
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisPublisher(celery, broker_url)

    def send_tasks(task_name: str, arguments: Sequence[list[Any]]) -> None:
        for args in arguments:
            celery.send_task(task_name, args=args)

    return send_tasks


class RedisPublisher:
    """Sends tasks to a Redis broker as the LPUSH that `send_task` ends in, one for them all.

    Celery still builds each task message (protocol 2, `as_task_v2`) and picks its queue; this
    only wraps it as kombu's Redis transport does (a JSON envelope with a base64 body and a
    delivery tag, addressed to the queue through the default exchange) and pushes it on a
    kept connection. `send_task` spends ten times as long on the same message, in
    producer pools, connection checks and signals, which made it a large part of a webhook's
    cost (BENCHMARKS.md). Several messages for one queue go in one LPUSH, which the worker
    pops in the order given. `tests/service/test_queue.py` holds the two to the same output.
    """

    def __init__(self, celery: Celery, broker_url: str) -> None:
        self._celery = celery
        self._pool = redis.ConnectionPool.from_url(
            broker_url,
            socket_connect_timeout=BROKER_CONNECT_TIMEOUT_S,
            socket_timeout=BROKER_SOCKET_TIMEOUT_S,
            retry=Retry(ConstantBackoff(PUBLISH_RETRY_INTERVAL_S), 1),
        )
        self._idle: list[redis.Connection] = []
        self._queue_by_task: dict[str, str | None] = {}

    def __call__(self, task_name: str, arguments: Sequence[list[Any]]) -> None:
        if task_name not in self._queue_by_task:
            self._queue_by_task[task_name] = self._plain_queue(task_name)
        queue = self._queue_by_task[task_name]
        if queue is None:
            for args in arguments:
                self._celery.send_task(task_name, args=args)
        elif arguments:
            self._lpush(queue, [self._message(queue, task_name, args) for args in arguments])

    def _message(self, queue: str, task_name: str, args: list[Any]) -> str:
        """The message kombu's Redis transport would push for this task."""
        task_id = str(uuid.uuid4())
        # Task arguments are ids (DESIGN.md), so their plain repr is Celery's safe one.
        message = self._celery.amqp.as_task_v2(
            task_id, task_name, args=args, argsrepr=repr(args), kwargsrepr="{}"
        )
        envelope = {
            "body": base64.b64encode(json.dumps(message.body).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": message.headers,
            "properties": {
                **message.properties,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        # Only the body's bytes must be kombu's own; the envelope is read back as JSON.
        return json_codec.dumps(envelope)

    def _lpush(self, queue: str, messages: list[str]) -> None:
        """LPUSH on an idle connection, retried once on a fresh socket if it fails."""
        # A plain list of idle connections instead of the pool's checkout: `pop` and `append`
        # need no lock of their own, which halves the cost of `Redis.lpush`. There are never
        # more connections than threads that published at the same moment; the pool only
        # supplies their settings.
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._pool.connection_class(**self._pool.connection_kwargs)

        def push() -> None:
            connection.send_command("LPUSH", queue, *messages)  # type: ignore[no-untyped-call]
            connection.read_response()

        try:
            connection.retry.call_with_retry(push, connection.disconnect)
        finally:
            self._idle.append(connection)

    def _plain_queue(self, task_name: str) -> str | None:
        """The queue a task goes to, or None when routing it takes more than naming a queue."""
        queue = self._celery.amqp.router.route({}, task_name)["queue"]
        if queue.exchange.type != "direct" or queue.routing_key != queue.name:
            return None
        name: str = queue.name
        return name


def enqueue(task_name: str, *args: Any) -> bool:
    """Send a task by name; return False (and log) when the broker cannot take it now."""
    return enqueue_each(current_app.extensions[PUBLISH_KEY], task_name, [list(args)])


def enqueue_each(publish: Publish, task_name: str, arguments: Sequence[list[Any]]) -> bool:
    """Send one task per list of arguments at once; False (and a log line) when the broker
    cannot take them now."""
    try:
        publish(task_name, arguments)
    except Exception:  # the broker's client raises many types (socket, kombu, redis)
        tasks = ", ".join(f"{task_name}{tuple(args)!r}" for args in arguments)
        log.warning("could not enqueue %s; the sweeper will retry", tasks, exc_info=True)
        return False
    return True
