"""The Celery worker `bench.scoring` times a full rescore in.

It is the service's own worker app (`tasks.worker`, the same settings and task classes) with one
task more, `bench.full_rescore`, which runs a full rescore as `flask --app service rescore-all`
does (`service.full_rescore.rescore_everything`: group by group over a pool of processes) and
reports how long it took until every group was committed; with one process or `profile`, it runs
`service.rescoring.rescore_all` in one transaction instead. The task exists only here: the
service has no endpoint or task that rescores everything (the command line does), and the
benchmark must not add one. Results go to the broker's Redis database, so the benchmark can
wait for this one answer.

    celery -A bench.scoring_worker worker --pool=solo
"""

from __future__ import annotations

import cProfile
import io
import pstats
import resource
import time
from typing import Any

from bench.scoring import FULL_RESCORE
from service import full_rescore as parallel
from service import rescoring
from service.context import current_settings
from service.db import session_scope
from tasks.worker import celery

PROFILE_LINES = 30

celery.conf.result_backend = celery.conf.broker_url


@celery.task(name=FULL_RESCORE, ignore_result=False)
def full_rescore(profile: bool = False, processes: int = 2) -> dict[str, Any]:
    """Rescore every gathering and group over `processes` processes; with one, or with
    `profile` (under cProfile, slower: the timings then only show where the time goes), in
    this process and one transaction."""
    if processes > 1 and not profile:
        started = time.perf_counter()
        done = parallel.rescore_everything(current_settings().database_url, processes)
        seconds = round(time.perf_counter() - started, 2)
        return {
            "gatherings": done.counts.gatherings,
            "groups": done.counts.groups,
            "processes": processes,
            "total_s": seconds,
            "process_peak_mb": round(done.worker_peak_kb / 1024, 1),
            "processes_cpu_s": round(done.worker_cpu_s, 1),
        }
    profiler = cProfile.Profile() if profile else None
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    with session_scope() as session:
        if profiler is not None:
            profiler.enable()
        counts = rescoring.rescore_all(session)
        if profiler is not None:
            profiler.disable()
        scored = time.perf_counter()
    committed = time.perf_counter()
    used = resource.getrusage(resource.RUSAGE_SELF)
    result: dict[str, Any] = {
        "gatherings": counts.gatherings,
        "groups": counts.groups,
        "processes": 1,
        "rescore_s": round(scored - started, 2),
        "commit_s": round(committed - scored, 2),
        "total_s": round(committed - started, 2),
        "processes_cpu_s": round(used.ru_utime + used.ru_stime - cpu_before, 1),
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_LINES)
        result["profile"] = out.getvalue()
    return result
