"""Mail: planning what is due after gatherings and each week, and sending the ledger's due rows."""

from __future__ import annotations

from collections import Counter

from celery import Task, shared_task

from service.context import current_settings
from service.db import session_scope
from service.mail import planning, sending
from service.queue import PLAN_DIGESTS, PLAN_SUMMARIES, SEND_DUE_MAIL


@shared_task(name=PLAN_SUMMARIES)
def plan_summaries() -> str:
    """Queue summaries, recaps and `gathering.summary` webhooks for gatherings just ended."""
    with session_scope() as session:
        planned = planning.plan_due_summaries(session, current_settings())
    return f"{planned} gatherings planned"


@shared_task(name=PLAN_DIGESTS)
def plan_digests() -> str:
    """Queue the weekly digests and `group.digest` webhooks whose time has come."""
    with session_scope() as session:
        planned = planning.plan_weekly_digests(session, current_settings())
    return f"{planned} organizers planned"


@shared_task(name=SEND_DUE_MAIL, bind=True)
def send_due_mail(self: Task) -> str:
    """Send one batch of due mail over one connection. A temporary refusal waits on its row's
    due time, so the task itself never retries; running it twice sends nothing twice.

    When the batch is full, another of this task is queued, on the queue this one came from,
    before sending: after a large gathering the worker's processes send batches side by side,
    without waiting for the beat."""
    queue = (self.request.delivery_info or {}).get("routing_key")

    def queue_another() -> None:
        self.apply_async(queue=queue)

    with session_scope() as session:
        outcomes: Counter[str] = sending.send_due(
            session, current_settings(), more_due=queue_another
        )
    if not outcomes:
        return "nothing due"
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
