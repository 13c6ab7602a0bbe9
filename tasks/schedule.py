"""Every periodic job, in one place, with when and why it runs.

Far-future work is never a Celery countdown (the Redis broker redelivers long countdowns after
its visibility timeout); it is a database row with a due time that one of these jobs picks up.
"""

from __future__ import annotations

from typing import Any

from service.queue import (
    DELIVER_DUE_WEBHOOKS,
    PLAN_DIGESTS,
    PLAN_SUMMARIES,
    RESCORE_DUE,
    SEND_DUE_MAIL,
    SWEEP_DELIVERIES,
)

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Every minute: re-enqueue deliveries that were stored but never picked up, e.g. because
    # the broker was down when the webhook arrived. Processing is idempotent, so a delivery
    # that was merely slow is safe to send again.
    "sweep-received-deliveries": {"task": SWEEP_DELIVERIES, "schedule": 60.0},
    # Twice a second: rescore the gatherings whose changes are due (each change waits half a
    # second for others to join it, so a burst of check-ins costs one rescore, not hundreds),
    # and the groups due after them (health and member standings, five seconds after a
    # gathering of theirs). Due times are rows, not countdowns. A run takes everything due, so
    # a tick still queued when the next is sent has nothing left to do: it expires instead.
    "rescore-due": {
        "task": RESCORE_DUE,
        "schedule": 0.5,
        "options": {"expires": 0.5},
    },
    # Every two seconds: send the outbound webhooks that are due, new ones and retries alike.
    # A retry waits as a due time on its row (seconds to hours); several runs at once never
    # send the same message, because each claims its messages with SKIP LOCKED.
    "deliver-due-webhooks": {"task": DELIVER_DUE_WEBHOOKS, "schedule": 2.0},
    # Every minute: find gatherings that ended at least their organizer's grace period ago
    # (default two hours) and queue the organizer summary, every attendee's recap and the
    # `gathering.summary` webhook. Each is a ledger row unique per kind × recipient × gathering,
    # so a second run, or two beats at once, queue nothing twice.
    "plan-gathering-summaries": {"task": PLAN_SUMMARIES, "schedule": 60.0},
    # Every minute: queue each organizer's weekly digest (and `group.digest` webhooks) once
    # their digest time has passed in their own time zone (default Monday 08:00). Checking
    # often, not at a fixed hour, is what lets every organizer have their own time zone.
    "plan-weekly-digests": {"task": PLAN_DIGESTS, "schedule": 60.0},
    # Every five seconds: send a batch of due mail over one SMTP connection. Rows are claimed
    # with SKIP LOCKED before sending, so overlapping runs never send a message twice; retries
    # after a temporary refusal wait as due times on their rows.
    "send-due-mail": {"task": SEND_DUE_MAIL, "schedule": 5.0},
}
