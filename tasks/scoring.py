"""Rescoring stale gatherings, and their groups, as beat finds them due."""

from __future__ import annotations

from celery import shared_task

from service import rescoring
from service.db import session_scope
from service.queue import RESCORE_DUE

# Enough to clear a busy minute in one run; the next beat tick takes the rest.
MAX_PER_RUN = 200


@shared_task(name=RESCORE_DUE)
def rescore_due() -> str:
    """Rescore each due gathering in its own transaction; when none is due, one due group.

    Gatherings come first and a group is taken one at a time, so a check-in's score never
    waits behind more than one group's health and standings.
    """
    gatherings = groups = 0
    while gatherings + groups < MAX_PER_RUN:
        with session_scope() as session:
            if claimed := rescoring.claim_due(session, limit=1):
                rescoring.rescore_gathering(session, claimed[0])
                gatherings += 1
            elif claimed := rescoring.claim_due_groups(session, limit=1):
                rescoring.rescore_group(session, claimed[0])
                groups += 1
            else:
                break
    return f"rescored {gatherings} gatherings, {groups} groups"
