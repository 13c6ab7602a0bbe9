"""Celery wiring: the Celery app as a Flask extension, and enqueueing tasks by name.

The service never imports `tasks` (imports flow integrations ← service ← tasks), so it sends
tasks by their registered names. Enqueue failures are logged, not raised: a delivery already
committed to the inbox is picked up by the sweeper once the broker is back.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from celery import Celery, Task
from flask import Flask, current_app
from kombu.entity import Queue

from service import embedded_broker
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

# Rescoring has a queue of its own, so that a gathering's score never waits behind a backlog
# of deliveries, and a deployment can give it a worker of its own (`-Q scoring`). A worker
# started without `-Q` consumes both queues.
DEFAULT_QUEUE = "celery"
SCORING_QUEUE = "scoring"


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
        "task_queues": [_queue(DEFAULT_QUEUE), _queue(SCORING_QUEUE)],
        "task_routes": {RESCORE_DUE: {"queue": SCORING_QUEUE}},
        # A web request must not hang on a dead broker: fail fast, the sweeper catches up.
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0.1},
        "beat_schedule_filename": str(settings.beat_schedule_path),
        "timezone": "UTC",
        "enable_utc": True,
    }
    if settings.broker_url.startswith(("redis://", "rediss://")):
        conf["broker_transport_options"] = {"socket_connect_timeout": 2, "socket_timeout": 10}
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


def enqueue(task_name: str, *args: Any) -> bool:
    """Send a task by name; return False (and log) when the broker cannot take it now."""
    celery: Celery = current_app.extensions["celery"]
    try:
        celery.send_task(task_name, args=list(args))
    except Exception:  # the broker's client raises many types (socket, kombu, redis)
        log.warning(
            "could not enqueue %s%r; the sweeper will retry", task_name, args, exc_info=True
        )
        return False
    return True
