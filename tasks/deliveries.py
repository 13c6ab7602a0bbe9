"""Processing stored webhook deliveries, and sweeping up those whose enqueue was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from sqlalchemy.exc import InterfaceError, OperationalError

from integrations.http import PlatformUnavailable
from service import inbox
from service.context import current_settings, secret_box
from service.db import session_scope
from service.queue import PROCESS_DELIVERY, SWEEP_DELIVERIES, enqueue

log = logging.getLogger(__name__)

# Errors worth retrying: the database or the platform's API is down, not a bug in the data.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    PlatformUnavailable,
)
MAX_RETRIES = 8
# Longer waits than this go through the normal backoff instead (countdowns must stay short).
MAX_RETRY_AFTER = 300


@shared_task(
    bind=True,
    name=PROCESS_DELIVERY,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def process_delivery(self: Task, delivery_id: int) -> str:
    """Apply one delivery's events; safe to run any number of times for the same id."""
    try:
        with session_scope() as session:
            outcome = inbox.process(session, secret_box(), delivery_id)
    except TRANSIENT_ERRORS as err:
        if self.request.retries < MAX_RETRIES:
            _note_retry(delivery_id, err)
            retry_after = getattr(err, "retry_after", None)
            if retry_after:  # the platform said when; a short countdown is safe with Redis
                raise self.retry(exc=err, countdown=min(retry_after, MAX_RETRY_AFTER)) from err
            raise
        reason = f"gave up after {MAX_RETRIES} retries: {err}"
    except Exception as err:
        # A bug or bad data, not an outage: retrying will not help. Record it for replay.
        log.exception("delivery %s failed", delivery_id)
        reason = f"{type(err).__name__}: {err}"
    else:
        return outcome.value
    with session_scope() as session:
        inbox.record_failure(session, delivery_id, reason)
    return "failed"


def _note_retry(delivery_id: int, err: Exception) -> None:
    try:
        with session_scope() as session:
            inbox.note_retry(session, delivery_id, f"{type(err).__name__}: {err}")
    except TRANSIENT_ERRORS:
        log.warning("could not record the retry of delivery %s", delivery_id, exc_info=True)


@shared_task(name=SWEEP_DELIVERIES)
def sweep_received_deliveries() -> str:
    """Enqueue deliveries still waiting after SWEEP_AFTER_SECONDS: nothing stored is lost."""
    older_than = timedelta(seconds=current_settings().sweep_after_seconds)
    with session_scope() as session:
        stuck = inbox.stuck_deliveries(session, older_than)
    for delivery_id in stuck:
        enqueue(PROCESS_DELIVERY, delivery_id)
    if stuck:
        log.info("re-enqueued %d stuck deliveries", len(stuck))
    return f"re-enqueued {len(stuck)}"
