"""Rescoring stale gatherings, then their groups, as beat finds them due."""

from __future__ import annotations

from celery import shared_task

from service import rescoring
from service.db import session_scope
from service.models import Gathering
from service.queue import RESCORE_DUE

# Enough to clear a busy minute in one run; the next beat tick takes the rest.
MAX_PER_RUN = 200


@shared_task(name=RESCORE_DUE)
def rescore_due() -> str:
    """Rescore each due gathering in its own transaction, then each touched group once."""
    groups: set[int] = set()
    rescored = 0
    while rescored < MAX_PER_RUN:
        with session_scope() as session:
            claimed = rescoring.claim_due(session, limit=1)
            if not claimed:
                break
            rescoring.rescore_gathering(session, claimed[0])
            gathering = session.get(Gathering, claimed[0])
            if gathering is not None and gathering.group_id is not None:
                groups.add(gathering.group_id)
        rescored += 1
    for group_id in sorted(groups):
        with session_scope() as session:
            rescoring.rescore_group(session, group_id)
    return f"rescored {rescored} gatherings, {len(groups)} groups"
