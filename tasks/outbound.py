"""Sending the outbound webhooks that are due, as beat finds them."""

from __future__ import annotations

from celery import shared_task

from service import outbound
from service.context import current_settings, secret_box
from service.db import session_scope
from service.queue import DELIVER_DUE_WEBHOOKS

# Enough to clear a busy moment in one run; the next beat tick takes the rest.
MAX_PER_RUN = 50


@shared_task(name=DELIVER_DUE_WEBHOOKS)
def deliver_due_webhooks() -> str:
    """Claim, send and record due messages; a failed send is retried by its row's due time,
    so the task itself never retries."""
    with session_scope() as session:
        outcomes = outbound.deliver_due(
            session,
            secret_box(),
            limit=MAX_PER_RUN,
            allow_private=current_settings().outbound_allow_private,
        )
    if not outcomes:
        return "nothing due"
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
