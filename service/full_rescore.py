"""Rescoring everything at once over several processes: after a model change, a settings change
or a restore, when every core should help.

`rescoring.rescore_all` rescores in the caller's transaction, on one core: scoring is Python,
so a single process cannot use a second core however the work is split. Here each group is
rescored (`rescoring.rescore_whole_group`: its gatherings, then its health and standings) in a
transaction of its own, by a pool of worker processes with a database connection each; the
gatherings in no group are one more such job. Groups share no rows, so the processes never
wait on each other's locks. The largest groups go first, so that the processes finish at
about the same time.

Each group is committed as soon as it is rescored: an error stops the run and leaves the
groups done so far rescored, and running it again finishes the job.
"""

from __future__ import annotations

import multiprocessing
import resource
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.db import make_engine
from service.models import Attendance, Gathering, Group, utcnow
from service.rescoring import RescoreCounts, rescore_whole_group

# The worker process's sessions, made once per process by `_start_worker`.
_sessions: sessionmaker[Session] | None = None


@dataclass(frozen=True)
class FullRescore:
    """What `rescore_everything` rescored, the most memory a worker process held and the CPU
    time they used (as `getrusage` counts them: the largest resident size of any process this
    one has started and waited for, and the time of all those it started during the run)."""

    counts: RescoreCounts
    processes: int
    worker_peak_kb: int
    worker_cpu_s: float


def rescore_everything(
    database_url: str,
    processes: int,
    organizer_id: int | None = None,
    now: datetime | None = None,
) -> FullRescore:
    """Rescore every gathering and group (of one organizer, when given), `processes` groups at
    a time, each in its own process and transaction; return once all are committed."""
    now = now or utcnow()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            jobs: list[int | None] = [*_groups_largest_first(session, organizer_id), None]
    finally:
        engine.dispose()
    # Worker processes start afresh ("spawn"): nothing of this process, its threads or its
    # connections is carried over into them.
    context = multiprocessing.get_context("spawn")
    counts = RescoreCounts(0, 0)
    with context.Pool(processes, initializer=_start_worker, initargs=(database_url,)) as pool:
        for done in pool.imap_unordered(
            _rescore_job, [(group_id, organizer_id, now) for group_id in jobs]
        ):
            counts += done
        pool.close()
        pool.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return FullRescore(counts, processes, after.ru_maxrss, cpu_s)


def _groups_largest_first(session: Session, organizer_id: int | None) -> list[int]:
    """The groups to rescore, by their attendance rows, most first."""
    rows = (
        select(Group.id)
        .outerjoin(Gathering, Gathering.group_id == Group.id)
        .outerjoin(Attendance, Attendance.gathering_id == Gathering.id)
        .group_by(Group.id)
        .order_by(func.count(Attendance.id).desc(), Group.id)
    )
    if organizer_id is not None:
        rows = rows.where(Group.organizer_id == organizer_id)
    return list(session.scalars(rows))


def _start_worker(database_url: str) -> None:
    global _sessions
    _sessions = sessionmaker(make_engine(database_url))


def _rescore_job(job: tuple[int | None, int | None, datetime]) -> RescoreCounts:
    """One group (None: the gatherings in no group), in a transaction of its own."""
    group_id, organizer_id, now = job
    assert _sessions is not None, "the worker process was not started by rescore_everything"
    with _sessions() as session:
        group = None if group_id is None else session.get(Group, group_id)
        if group_id is not None and group is None:
            return RescoreCounts(0, 0)  # deleted since the run began
        counts = rescore_whole_group(session, group, organizer_id, now)
        session.commit()
    return counts
