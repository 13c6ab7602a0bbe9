"""Scoring benchmark: a full rescore next to a bare SQL aggregate, and rescore latency under load.

The targets, on 1,000,000 attendance rows (50,000 people, 5,000 gatherings in 200 groups,
connections and outcomes in proportion; see `bench/seed.py`):
- a full rescore of every gathering and group in under 60 s,
- at most 3× a bare SQL aggregate over the same rows, measured in the same run,
- worker memory under 500 MB,
- under a steady 100 check-ins/s, a check-in's gathering score updated within 2 s at p95.

One run, on 127.0.0.1 only, against database `roomwise_scorebench` and Redis database 13:

1. seeds the database (`bench/seed.py`), or with `--reuse` keeps a seeded one, removes what
   an earlier run's load test added to it and vacuums it;
2. times the SQL aggregate: per gathering the head count, registrations, mean dwell, peak
   concurrency, confirmed connections between people both present, new pairs, first-timers
   and follow-ups, and per group member attendance and outcomes: the figures the scores are
   computed from, without the scoring or the snapshots;
3. starts `celery -A bench.scoring_worker worker --pool=solo` (the service's worker app plus one
   task that rescores everything as `flask --app service rescore-all` does:
   `service.full_rescore.rescore_everything`, group by group over `--rescore-processes`
   processes), times the full rescore in it until every group is committed and reads the peak
   resident memory of its largest process and of all of them at once; then runs the SQL
   aggregate again, and the faster of the two runs is the baseline, so the ratio never flatters
   the rescore;
4. starts the production stack as `docker-compose.yml` runs it: gunicorn with
   `gunicorn.conf.py`, `celery -A tasks.worker worker -Q celery --pool=threads --concurrency=4`, the
   scorer `celery -A tasks.worker worker -Q scoring --pool=solo` (one process) and
   `celery -A tasks.worker beat`, and sends signed
   `standard` check-ins at a steady rate to new gatherings of existing groups, each person once;
   for a sample it measures from the 202 to the first snapshot of the gathering that lists the
   attendee (so its head count includes them), by the snapshot's `computed_at` and by when a
   reader polling every 100 ms first saw it;
5. prints a table and writes `bench/results/scoring-<timestamp>.json`, with the logs of the
   processes it started in `bench/results/scoring-<timestamp>-logs/`.

Every process it starts is stopped on exit, Ctrl-C and SIGTERM included.

    .venv/bin/python -m bench.scoring [--reuse] [--rate 100] [--duration 40] [--profile]
        [--rescore-processes 2] [--worker-pool threads|prefork] [--worker-concurrency 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout

from bench import seed
from bench.database import DEFAULT_POSTGRES, database_url, flush_broker
from bench.errors import BenchmarkError
from bench.machine import (
    Process,
    cores_by_group,
    cpu_snapshot,
    descendants,
    process_table,
    status_kb,
)
from bench.processes import free_port, started, stop_on_signals, tail, wait_until_ready
from bench.provenance import cpu_model
from integrations.signatures import signed_headers
from service import migrate
from service.db import engine_for
from service.queue import DEFAULT_QUEUE, SCORING_QUEUE

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
TARGETS = {"full_rescore_s": 60.0, "ratio": 3.0, "worker_peak_mb": 500.0, "latency_p95_s": 2.0}
BENCH_WORKER = "bench.scoring_worker"
# The task `bench.scoring_worker` adds to the service's worker.
FULL_RESCORE = "bench.full_rescore"
SERVICE_WORKER = "tasks.worker"
START_TIMEOUT_S = 60
RESCORE_TIMEOUT_S = 1800
POLL_S = 0.1
# Check-ins carry the gathering's name and group as a platform sends them; these mark the load
# test's gatherings, so a later `--reuse` run can remove them.
LIVE_PREFIX = "live-"
MAX_DURATION_S = 300


@dataclass(frozen=True)
class Config:
    reuse: bool
    postgres_url: str
    broker_url: str
    rate: float
    duration_s: int
    live_gatherings: int
    sample_every: int
    drain_s: int
    senders: int
    worker_pool: str
    worker_concurrency: int
    rescore_processes: int
    profile: bool
    results_dir: Path


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scoring", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="Redis database (emptied)")
    parser.add_argument("--rate", type=float, default=100.0, help="check-ins per second")
    parser.add_argument("--duration", type=int, default=40, help="seconds of steady load")
    parser.add_argument(
        "--live-gatherings", type=int, default=10, help="gatherings the check-ins go to"
    )
    parser.add_argument(
        "--sample-every", type=int, default=5, help="follow every n-th check-in's latency"
    )
    parser.add_argument(
        "--drain", type=int, default=60, help="seconds to wait for the last samples"
    )
    parser.add_argument("--senders", type=int, default=16, help="concurrent HTTP connections")
    parser.add_argument(
        "--worker-pool",
        choices=("prefork", "threads"),
        default="threads",
        help="pool of the worker that processes deliveries",
    )
    parser.add_argument(
        "--worker-concurrency", type=int, default=4, help="its processes or threads"
    )
    parser.add_argument(
        "--rescore-processes",
        type=int,
        default=2,
        help="processes of the full rescore (as `flask --app service rescore-all --processes`)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the full rescore in one process under cProfile (slower)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1 to {MAX_DURATION_S} seconds")
    if args.rate <= 0 or args.live_gatherings < 1 or args.sample_every < 1 or args.senders < 1:
        parser.error("--rate, --live-gatherings, --sample-every and --senders must be positive")
    if args.rescore_processes < 1:
        parser.error("--rescore-processes must be positive")
    if not args.broker.startswith("redis://127.0.0.1"):
        parser.error("--broker must be a redis://127.0.0.1 URL")
    return Config(
        reuse=args.reuse,
        postgres_url=args.postgres,
        broker_url=args.broker,
        rate=args.rate,
        duration_s=args.duration,
        live_gatherings=args.live_gatherings,
        sample_every=args.sample_every,
        drain_s=args.drain,
        senders=args.senders,
        worker_pool=args.worker_pool,
        worker_concurrency=args.worker_concurrency,
        rescore_processes=args.rescore_processes,
        profile=args.profile,
        results_dir=args.results_dir,
    )


# --- processes -------------------------------------------------------------------------------


def service_env(database_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    """The environment every process of the stack gets, as a deployment would set it."""
    env = dict(os.environ)
    env.update(
        ROOMWISE_ENV="production",
        DATABASE_URL=database_url,
        BROKER_URL=broker_url,
        SECRET_KEY=seed.SECRET_KEY,
        VAR_DIR=str(var_dir),
        PUBLIC_BASE_URL="http://127.0.0.1",
        GUNICORN_ACCESS_LOG="",
        PYTHONPATH=str(ROOT),
    )
    return env


def celery_argv(app: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", app, *args]


def wait_for_log(process: subprocess.Popen[bytes], log_path: Path, marker: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if marker in log_path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise BenchmarkError(f"{log_path.stem} did not start:\n{tail(log_path)}")


# --- memory and CPU, from /proc ---------------------------------------------------------------


class CpuMeter:
    """Average cores used during a phase: by this benchmark's processes, by PostgreSQL and
    Redis, and by anything else on the machine (which disturbs the figures; it is reported)."""

    def __init__(self) -> None:
        self._before = cpu_snapshot()

    def cores(self) -> dict[str, float]:
        after = cpu_snapshot()
        mine = descendants(os.getpid(), after.processes)

        def group(pid: int, process: Process) -> str:
            if pid == os.getpid():
                return "benchmark client"
            if pid in mine:
                return "service (web, workers, beat)"
            if process.name.startswith("postgres"):
                return "postgres"
            if process.name.startswith("redis"):
                return "redis"
            return "other programs"

        return dict(sorted(cores_by_group(self._before, after, group).items()))


class RssSampler(threading.Thread):
    """The largest resident memory some process trees reached at once, sampled twice a
    second."""

    def __init__(self, *roots: int) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            table = process_table()
            tree = set().union(*(descendants(root, table) for root in self.roots))
            self.peak_kb = max(
                self.peak_kb, sum(table[pid].resident_kb for pid in tree if pid in table)
            )

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kb


# --- the database -----------------------------------------------------------------------------


def prepare_database(config: Config, var_dir: Path) -> tuple[str, seed.Tenant, float | None]:
    """Seed afresh, or reuse the seeded database (migrated to the latest schema) without the
    load test's leftovers."""
    if not config.reuse:
        result = seed.seed(config.postgres_url, config.broker_url, var_dir)
        return result.database_url, result.tenant, result.seconds
    url = database_url(config.postgres_url, seed.DATABASE)
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DELETE FROM gathering WHERE external_id LIKE %s", (f"{LIVE_PREFIX}%",))
        connection.execute("DELETE FROM delivery")
        connection.execute("DELETE FROM rescore_job")
        connection.execute("DELETE FROM group_rescore_job")
        # Every run rewrites every snapshot and standing: without this, each run would measure
        # its rescore against the dead rows of all the runs before it.
        connection.execute("VACUUM ANALYZE")
    app = seed.bench_app(url, config.broker_url, var_dir)
    try:
        return url, seed.find_tenant(app), None
    finally:
        engine_for(app).dispose()


def row_counts(url: str) -> dict[str, int]:
    tables = ("person", "networking_group", "gathering", "attendance", "attendance_event")
    tables += ("connection", "outcome")
    with psycopg.connect(url) as connection:
        counts = {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        counts["attendance_checked_in"] = connection.execute(
            "SELECT count(*) FROM attendance WHERE checked_in_at IS NOT NULL"
        ).fetchone()[0]
        counts["connection_confirmed"] = connection.execute(
            "SELECT count(*) FROM connection WHERE confirmed"
        ).fetchone()[0]
    return counts


# The figures the scores are computed from, in plain SQL: what the rescore must at least read
# and aggregate, without scoring, explaining or storing anything.
BASELINE_QUERIES = {
    "per gathering: head count, registrations, dwell, peak": """
        WITH present AS (
            SELECT gathering_id, checked_in_at, checked_out_at
            FROM attendance WHERE checked_in_at IS NOT NULL
        ), changes AS (
            SELECT gathering_id, checked_in_at AS at, 1 AS step FROM present
            UNION ALL
            SELECT gathering_id, checked_out_at, -1 FROM present
            WHERE checked_out_at > checked_in_at
        ), inside AS (
            SELECT gathering_id, sum(step) OVER (
                PARTITION BY gathering_id ORDER BY at, step ROWS UNBOUNDED PRECEDING
            ) AS inside
            FROM changes
        )
        SELECT a.gathering_id, a.head_count, a.registered, a.dwell_h, p.peak
        FROM (
            SELECT gathering_id,
                   count(*) FILTER (WHERE checked_in_at IS NOT NULL) AS head_count,
                   count(*) FILTER (WHERE registered_at IS NOT NULL) AS registered,
                   avg(extract(epoch FROM checked_out_at - checked_in_at) / 3600)
                       FILTER (WHERE checked_out_at > checked_in_at) AS dwell_h
            FROM attendance GROUP BY gathering_id
        ) a
        LEFT JOIN (SELECT gathering_id, max(inside) AS peak FROM inside GROUP BY gathering_id) p
            USING (gathering_id)
    """,
    "per gathering: connections between people present, new pairs": """
        WITH pairs AS (
            SELECT c.gathering_id, c.person_low_id, c.person_high_id,
                   g.starts_at = min(g.starts_at) OVER (
                       PARTITION BY g.group_id, c.person_low_id, c.person_high_id
                   ) AS new_pair
            FROM connection c JOIN gathering g ON g.id = c.gathering_id
            WHERE c.confirmed
        )
        SELECT p.gathering_id, count(*) AS connections,
               count(*) FILTER (WHERE p.new_pair) AS new_pairs
        FROM pairs p
        JOIN attendance low ON low.gathering_id = p.gathering_id
            AND low.person_id = p.person_low_id AND low.checked_in_at IS NOT NULL
        JOIN attendance high ON high.gathering_id = p.gathering_id
            AND high.person_id = p.person_high_id AND high.checked_in_at IS NOT NULL
        GROUP BY p.gathering_id
    """,
    "per gathering: first-timers": """
        WITH visits AS (
            SELECT g.group_id, g.id AS gathering_id, g.starts_at, a.person_id
            FROM attendance a JOIN gathering g ON g.id = a.gathering_id
            WHERE a.checked_in_at IS NOT NULL
        ), first_seen AS (
            SELECT group_id, person_id, min(starts_at) AS first_at
            FROM visits GROUP BY group_id, person_id
        )
        SELECT v.gathering_id, count(*) FILTER (WHERE v.starts_at = f.first_at) AS first_timers
        FROM visits v JOIN first_seen f USING (group_id, person_id)
        GROUP BY v.gathering_id
    """,
    "per gathering: confirmed connections followed up": """
        SELECT gathering_id, count(*) AS confirmed, count(followed_up_at) AS followed_up
        FROM connection WHERE confirmed GROUP BY gathering_id
    """,
    "per group member: attendances and outcomes": """
        SELECT v.group_id, v.person_id, count(*) AS attended, max(o.outcomes) AS outcomes
        FROM (
            SELECT g.group_id, a.person_id
            FROM attendance a JOIN gathering g ON g.id = a.gathering_id
            WHERE a.checked_in_at IS NOT NULL
        ) v
        LEFT JOIN (
            SELECT group_id, person_id, count(*) AS outcomes FROM outcome
            WHERE kind IN ('lead', 'referral', 'closed_business')
            GROUP BY group_id, person_id
        ) o USING (group_id, person_id)
        GROUP BY v.group_id, v.person_id
    """,
}


def sql_aggregate(url: str) -> dict[str, Any]:
    """Run every baseline query and fetch its rows; the time is the wall time of all of them."""
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        for name, sql in BASELINE_QUERIES.items():
            began = time.perf_counter()
            rows[name] = len(connection.execute(sql).fetchall())
            seconds[name] = round(time.perf_counter() - began, 2)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "query_s": seconds,
        "rows": rows,
    }


def snapshot_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("gathering_score", "group_health", "member_standing")
        }


# --- 3. the full rescore ---------------------------------------------------------------------


def full_rescore(config: Config, env: Mapping[str, str], workdir: Path) -> dict[str, Any]:
    """Time a full rescore in a Celery worker (solo pool: the task runs in the worker process
    itself, which starts the rescore's own processes) and read the memory it took: the largest
    single process (the worker's VmHWM, or its busiest rescore process) and every process of
    the worker at once (sampled)."""
    argv = celery_argv(
        BENCH_WORKER,
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"scorebench-{os.getpid()}@%h",
    )
    client = Celery("scorebench", broker=config.broker_url, backend=config.broker_url)
    try:
        with started("rescore-worker", argv, env, workdir) as worker:
            wait_for_log(worker, workdir / "rescore-worker.log", " ready.")
            idle_kb = status_kb(worker.pid, "VmRSS")
            memory = RssSampler(worker.pid)
            memory.start()
            meter = CpuMeter()
            began = time.perf_counter()
            answer = client.send_task(
                FULL_RESCORE,
                kwargs={"profile": config.profile, "processes": config.rescore_processes},
            )
            result = await_result(answer, worker, began + RESCORE_TIMEOUT_S)
            round_trip = time.perf_counter() - began
            peak_kb = status_kb(worker.pid, "VmHWM")
            cores = meter.cores()
            together_kb = memory.stop()
    finally:
        client.close()
    largest_mb = max(round(peak_kb / 1024, 1), result.get("process_peak_mb", 0.0))
    return {
        **result,
        "round_trip_s": round(round_trip, 2),
        "worker_idle_mb": round(idle_kb / 1024, 1),
        "worker_process_peak_mb": round(peak_kb / 1024, 1),
        "worker_peak_mb": largest_mb,
        "all_processes_at_once_mb": round(together_kb / 1024, 1),
        "cpu_cores": cores,
        "profiled": config.profile,
    }


def await_result(answer: Any, worker: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    """The task's result; fail at once if the worker dies, rather than at the deadline."""
    while time.perf_counter() < deadline:
        try:
            result: dict[str, Any] = answer.get(timeout=5)
            return result
        except ResultTimeout:
            if worker.poll() is not None:
                raise BenchmarkError("the rescore worker exited before answering") from None
    raise BenchmarkError(f"the full rescore took over {RESCORE_TIMEOUT_S} s")


# --- 4. latency under a steady stream of check-ins --------------------------------------------


@dataclass(frozen=True)
class LiveGathering:
    key: str
    group_external_id: str
    group_name: str
    starts_at: datetime


@dataclass(frozen=True)
class CheckIn:
    gathering: LiveGathering
    person_id: int
    sampled: bool

    def body(self, now: datetime) -> bytes:
        gathering = self.gathering
        return json.dumps(
            {
                "type": "attendee.checked_in",
                "timestamp": now.isoformat(),
                "data": {
                    "gathering": {
                        "id": gathering.key,
                        "name": f"Live {gathering.group_name}",
                        "starts_at": gathering.starts_at.isoformat(),
                        "ends_at": (gathering.starts_at + timedelta(hours=2)).isoformat(),
                        "group": {"id": gathering.group_external_id, "name": gathering.group_name},
                    },
                    "attendee": {
                        "id": f"p-{self.person_id}",
                        "email": f"person{self.person_id}@example.com",
                        "name": f"Person {self.person_id}",
                    },
                    "occurred_at": now.isoformat(),
                },
            }
        ).encode()


def plan_check_ins(url: str, config: Config, run_id: str) -> list[CheckIn]:
    """Check-ins for new gatherings of randomly chosen groups, from each group's own members
    (so first-timers and returning members mix as they would), shuffled together."""
    total = round(config.rate * config.duration_s)
    per_gathering = -(-total // config.live_gatherings)
    with psycopg.connect(url) as connection:
        pools = connection.execute(
            """
            SELECT ng.external_id, ng.name, array_agg(DISTINCT a.person_id ORDER BY a.person_id)
            FROM networking_group ng
            JOIN gathering g ON g.group_id = ng.id
            JOIN attendance a ON a.gathering_id = g.id
            GROUP BY ng.id ORDER BY ng.id
            """
        ).fetchall()
    rng = random.Random(seed.SEED)
    eligible = [row for row in pools if len(row[2]) >= per_gathering]
    if len(eligible) < config.live_gatherings:
        raise BenchmarkError(
            f"only {len(eligible)} groups have {per_gathering} members for "
            f"{config.live_gatherings} live gatherings: lower --rate × --duration"
        )
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    check_ins = []
    for external_id, name, members in rng.sample(eligible, config.live_gatherings):
        gathering = LiveGathering(f"{LIVE_PREFIX}{external_id}-{run_id}", external_id, name, starts)
        check_ins += [
            CheckIn(gathering, person, False) for person in rng.sample(members, per_gathering)
        ]
    rng.shuffle(check_ins)
    return [
        CheckIn(c.gathering, c.person_id, index % config.sample_every == 0)
        for index, c in enumerate(check_ins[:total])
    ]


@dataclass
class Sample:
    """One followed check-in: when its 202 arrived, and when its gathering's score showed it."""

    gathering_key: str
    person_id: int
    answered_at: float  # epoch seconds
    delivery_id: int | None = None
    processed_at: float | None = None  # when the worker applied the delivery
    computed_at: float | None = None
    seen_at: float | None = None


class Observer(threading.Thread):
    """Polls the live gatherings' snapshots every POLL_S and notes, for each followed check-in,
    the first snapshot that lists its attendee.

    Each poll reads only `computed_at`; a snapshot's attendee keys are read (in one statement
    with its `computed_at`, so both come from the same version) only when it changed or a
    followed check-in was just answered, which keeps the reader's own load small.
    """

    def __init__(self, url: str, keys: set[str]) -> None:
        super().__init__(daemon=True)
        self._url = url
        self._keys = sorted(keys)
        self._lock = threading.Lock()
        self._pending: dict[str, list[Sample]] = {key: [] for key in keys}
        self._fresh: set[str] = set()
        self.samples: list[Sample] = []
        self._done = threading.Event()
        self.error: BaseException | None = None

    def expect(self, sample: Sample) -> None:
        with self._lock:
            self._pending[sample.gathering_key].append(sample)
            self._fresh.add(sample.gathering_key)
            self.samples.append(sample)

    def waiting(self) -> int:
        with self._lock:
            return sum(len(samples) for samples in self._pending.values())

    def stop(self) -> None:
        self._done.set()
        self.join()
        if self.error is not None:
            raise BenchmarkError(f"the snapshot reader failed: {self.error!r}")

    def run(self) -> None:
        try:
            with psycopg.connect(self._url, autocommit=True) as connection:
                self._poll(connection)
        except BaseException as err:  # reported by stop(), in the main thread
            self.error = err

    def _poll(self, connection: psycopg.Connection[Any]) -> None:
        ids: dict[str, int] = {}
        last: dict[int, datetime] = {}
        while not self._done.wait(POLL_S):
            if len(ids) < len(self._keys):
                ids.update(
                    (key, gid)
                    for gid, key in connection.execute(
                        "SELECT id, external_id FROM gathering WHERE external_id = ANY(%s)",
                        (self._keys,),
                    )
                )
            changed = set()
            for gid, computed in connection.execute(
                "SELECT gathering_id, computed_at FROM gathering_score "
                "WHERE gathering_id = ANY(%s)",
                (list(ids.values()),),
            ):
                if last.get(gid) != computed:
                    last[gid] = computed
                    changed.add(gid)
            with self._lock:
                fresh, self._fresh = self._fresh, set()
                due = {
                    key: [s.person_id for s in samples]
                    for key, samples in self._pending.items()
                    if samples and key in ids and (ids[key] in changed or key in fresh)
                }
            for key, people in due.items():
                self._check(connection, key, ids[key], people)

    def _check(
        self, connection: psycopg.Connection[Any], key: str, gathering_id: int, people: list[int]
    ) -> None:
        row = connection.execute(
            "SELECT computed_at, ARRAY(SELECT k FROM json_object_keys(data -> 'attendees') k "
            "WHERE k = ANY(%s)) FROM gathering_score WHERE gathering_id = %s",
            ([str(p) for p in people], gathering_id),
        ).fetchone()
        if row is None:
            return
        seen = time.time()
        computed_at, listed = row[0].timestamp(), {int(k) for k in row[1]}
        with self._lock:
            waiting = []
            for sample in self._pending[key]:
                if sample.person_id in listed:
                    sample.computed_at, sample.seen_at = computed_at, seen
                else:
                    waiting.append(sample)
            self._pending[key] = waiting


@dataclass
class SendLog:
    """What the senders saw: statuses, errors, and each POST's time to its answer."""

    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    post_s: list[float] = field(default_factory=list)
    behind_s: float = 0.0  # the most a request started after its scheduled time
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, status: str | None, error: str | None, post_s: float, behind_s: float) -> None:
        with self.lock:
            if status is not None:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.post_s.append(post_s)
            if error is not None:
                self.errors[error] = self.errors.get(error, 0) + 1
            self.behind_s = max(self.behind_s, behind_s)


def send_steadily(
    port: int,
    tenant: seed.Tenant,
    check_ins: list[CheckIn],
    config: Config,
    observer: Observer,
) -> tuple[SendLog, float]:
    """Send the check-ins open-loop at `config.rate`, on `config.senders` keep-alive
    connections: each is due at its slot whether or not earlier ones were answered."""
    work: queue.Queue[tuple[CheckIn, float] | None] = queue.Queue()
    log = SendLog()

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while (item := work.get()) is not None:
                check_in, due = item
                now = datetime.now(UTC)
                body = check_in.body(now)
                headers = signed_headers(tenant.signing_secret, f"msg_{os.urandom(12).hex()}", body)
                began = time.monotonic()
                try:
                    connection.request(
                        "POST",
                        tenant.webhook_path,
                        body=body,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                    response = connection.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as err:
                    connection.close()
                    log.note(None, type(err).__name__, 0.0, began - due)
                    continue
                answered = time.time()
                log.note(str(response.status), None, time.monotonic() - began, began - due)
                if response.status == 202 and check_in.sampled:
                    observer.expect(
                        Sample(
                            check_in.gathering.key,
                            check_in.person_id,
                            answered_at=answered,
                            delivery_id=json.loads(answer).get("delivery"),
                        )
                    )
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(config.senders)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    try:
        for index, check_in in enumerate(check_ins):
            due = began + index / config.rate
            time.sleep(max(0.0, due - time.monotonic()))
            work.put((check_in, due))
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
    return log, time.monotonic() - began


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def latency_test(
    config: Config, env: Mapping[str, str], url: str, tenant: seed.Tenant, workdir: Path
) -> dict[str, Any]:
    """Steady check-ins through the production stack; rescore latency for a sample of them."""
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    check_ins = plan_check_ins(url, config, run_id)
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]

    def worker_argv(queue: str, *pool: str) -> list[str]:
        return celery_argv(
            SERVICE_WORKER,
            "worker",
            "--queues",
            queue,
            "--loglevel=INFO",
            *pool,
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"scorebench-{queue}-{os.getpid()}@%h",
        )

    with ExitStack() as stack:
        web = stack.enter_context(
            started(
                "web",
                [*gunicorn, "service:create_app()"],
                {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
                workdir,
            )
        )
        worker = stack.enter_context(
            started(
                "worker",
                worker_argv(
                    DEFAULT_QUEUE,
                    f"--pool={config.worker_pool}",
                    f"--concurrency={config.worker_concurrency}",
                ),
                env,
                workdir,
            )
        )
        scorer = stack.enter_context(
            started("scorer", worker_argv(SCORING_QUEUE, "--pool=solo"), env, workdir)
        )
        beat = stack.enter_context(
            started("beat", celery_argv(SERVICE_WORKER, "beat", "--loglevel=INFO"), env, workdir)
        )
        wait_until_ready(port, "/readyz", web, workdir / "web.log", START_TIMEOUT_S)
        wait_for_log(worker, workdir / "worker.log", " ready.")
        wait_for_log(scorer, workdir / "scorer.log", " ready.")
        wait_for_log(beat, workdir / "beat.log", "beat: Starting")
        memory = RssSampler(worker.pid, scorer.pid)
        memory.start()
        observer = Observer(url, {c.gathering.key for c in check_ins})
        observer.start()
        meter = CpuMeter()
        log, sent_s = send_steadily(port, tenant, check_ins, config, observer)
        cores = meter.cores()
        drain_began = time.monotonic()
        while observer.waiting() and time.monotonic() < drain_began + config.drain_s:
            time.sleep(0.5)
        drained_s = time.monotonic() - drain_began
        observer.stop()
        peak_tree_kb = memory.stop()
        table = process_table()
        pool = descendants(worker.pid, table) | descendants(scorer.pid, table)
        peaks_kb = {pid: status_kb(pid, "VmHWM") for pid in pool if pid in table}
        unprocessed = pending_deliveries(url)
    samples = observer.samples
    note_processed(url, samples)
    computed = [s.computed_at - s.answered_at for s in samples if s.computed_at is not None]
    # The scoring path alone: from the worker applying the delivery to the snapshot showing it.
    scored = [
        s.computed_at - s.processed_at
        for s in samples
        if s.computed_at is not None and s.processed_at is not None
    ]
    # The delivery path alone: from the 202 to the worker applying the delivery.
    processed = [s.processed_at - s.answered_at for s in samples if s.processed_at is not None]
    seen = [s.seen_at - s.answered_at for s in samples if s.seen_at is not None]
    accepted = log.statuses.get("202", 0)
    return {
        "rate_target": config.rate,
        "worker": f"{config.worker_pool} × {config.worker_concurrency}",
        "duration_s": config.duration_s,
        "live_gatherings": config.live_gatherings,
        "check_ins_planned": len(check_ins),
        "sent_s": round(sent_s, 1),
        "accepted": accepted,
        "accepted_per_s": round(accepted / sent_s, 1),
        "statuses": log.statuses,
        "errors": log.errors,
        "post_latency_s": percentiles(log.post_s),
        "sender_behind_max_s": round(log.behind_s, 3),
        "samples": len(samples),
        "samples_not_updated": len(samples) - len(computed),
        "drain_s": config.drain_s,
        "drained_s": round(drained_s, 1),
        "latency_by_computed_at_s": percentiles(computed),
        "latency_seen_by_reader_s": percentiles(seen),
        "latency_202_to_processed_s": percentiles(processed),
        "latency_processed_to_computed_at_s": percentiles(scored),
        "p95_counting_not_updated_s": p95_with_misses(computed, len(samples)),
        "deliveries_unprocessed_after_drain": unprocessed,
        "worker_tasks": task_summary(workdir / "worker.log", workdir / "scorer.log"),
        "worker_peak_mb": {
            "largest_process": round(max(peaks_kb.values()) / 1024, 1),
            "both_workers_at_once": round(peak_tree_kb / 1024, 1),
        },
        "cpu_cores": cores,
    }


TASK_DONE = re.compile(
    r"Task (?P<task>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[\d.]+)s: (?P<result>.*)"
)
RESCORED = re.compile(r"rescored (?P<gatherings>\d+) gatherings, (?P<groups>\d+) groups")


def task_summary(*log_paths: Path) -> dict[str, Any]:
    """From the workers' logs: how many deliveries they processed and how long each took, and
    what each `rescore_due` run did and how long it took, which is what bounds the latency."""
    durations: dict[str, list[float]] = {}
    rescored = {"gatherings": 0, "groups": 0}
    lines = [line for path in log_paths for line in path.read_text(errors="replace").splitlines()]
    for line in lines:
        done = TASK_DONE.search(line)
        if done is None:
            continue
        durations.setdefault(done["task"], []).append(float(done["seconds"]))
        counts = RESCORED.search(done["result"])
        if counts is not None:
            rescored["gatherings"] += int(counts["gatherings"])
            rescored["groups"] += int(counts["groups"])
    return {
        task.rsplit(".", 1)[-1]: {"runs": len(seconds), "seconds": percentiles(seconds)}
        for task, seconds in sorted(durations.items())
    } | {"rescored_by_rescore_due": rescored}


def p95_with_misses(latencies: Sequence[float], samples: int) -> float | None:
    """p95 over every sample, a sample whose score never showed it counting as infinitely late
    (None when more than 5% never showed)."""
    if not samples:
        return None
    index = int(0.95 * samples)
    ordered = sorted(latencies)
    return round(ordered[index], 3) if index < len(ordered) else None


def note_processed(url: str, samples: list[Sample]) -> None:
    """When the worker applied each sampled delivery (`delivery.processed_at`)."""
    ids = [s.delivery_id for s in samples if s.delivery_id is not None]
    with psycopg.connect(url) as connection:
        processed = dict(
            connection.execute(
                "SELECT id, processed_at FROM delivery WHERE id = ANY(%s) AND processed_at "
                "IS NOT NULL",
                (ids,),
            ).fetchall()
        )
    for sample in samples:
        if sample.delivery_id in processed:
            sample.processed_at = processed[sample.delivery_id].timestamp()


def pending_deliveries(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM delivery WHERE status = 'received'")
        return int(row.fetchone()[0])


# --- the run ---------------------------------------------------------------------------------


def machine(url: str) -> dict[str, Any]:
    model = cpu_model() or platform.processor()
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": postgres_version(url),
    }


def postgres_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        settings = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('server_version', 'shared_buffers', 'work_mem')"
            ).fetchall()
        )
    return (
        f"{settings['server_version']} (shared_buffers {int(settings['shared_buffers']) // 128} MB,"
        f" work_mem {int(settings['work_mem']) // 1024} MB)"
    )


def verdicts(rescore: dict[str, Any], ratio: float, latency: dict[str, Any]) -> dict[str, Any]:
    p95 = latency["p95_counting_not_updated_s"]
    peaks = [rescore["worker_peak_mb"], latency["worker_peak_mb"]["both_workers_at_once"]]
    return {
        "full_rescore_s": rescore["total_s"] < TARGETS["full_rescore_s"],
        "ratio": ratio <= TARGETS["ratio"],
        "worker_peak_mb": max(peaks) < TARGETS["worker_peak_mb"],
        "latency_p95_s": p95 is not None and p95 <= TARGETS["latency_p95_s"],
    }


def print_report(result: dict[str, Any]) -> None:
    rescore, latency, met = result["full_rescore"], result["latency"], result["targets_met"]
    by_computed = latency["latency_by_computed_at_s"] or {}
    seen = latency["latency_seen_by_reader_s"] or {}
    processed = latency["latency_202_to_processed_s"] or {}
    scored = latency["latency_processed_to_computed_at_s"] or {}
    mark = {True: "met", False: "MISSED"}
    print()
    print(f"{'figure':44} {'measured':>14} {'target':>10}  verdict")
    rows: list[tuple[str, str, str, bool | None]] = [
        ("full rescore (s)", f"{rescore['total_s']:.1f}", "< 60", met["full_rescore_s"]),
        ("SQL aggregate, same rows (s)", f"{result['sql_aggregate_s']:.1f}", "", None),
        ("full rescore, CPU of its processes (s)", f"{rescore['processes_cpu_s']:.1f}", "", None),
        ("ratio rescore / aggregate", f"{result['ratio']:.1f}", "≤ 3", met["ratio"]),
        (
            f"peak memory, full rescore, largest of {rescore['processes']} (MB)",
            f"{rescore['worker_peak_mb']:.0f}",
            "< 500",
            met["worker_peak_mb"],
        ),
        (
            "peak memory, full rescore, all at once (MB)",
            f"{rescore['all_processes_at_once_mb']:.0f}",
            "",
            None,
        ),
        (
            "peak worker memory under load (MB)",
            f"{latency['worker_peak_mb']['both_workers_at_once']:.0f}",
            "< 500",
            None,
        ),
        (
            f"check-ins accepted per s (target {latency['rate_target']:g})",
            f"{latency['accepted_per_s']:.1f}",
            "",
            None,
        ),
        (
            "rescore latency p50 / p95 (s), computed_at",
            f"{by_computed.get('p50', float('nan')):.2f} / "
            f"{by_computed.get('p95', float('nan')):.2f}",
            "p95 ≤ 2",
            met["latency_p95_s"],
        ),
        (
            "rescore latency p50 / p95 (s), seen",
            f"{seen.get('p50', float('nan')):.2f} / {seen.get('p95', float('nan')):.2f}",
            "",
            None,
        ),
        (
            "  of which 202 → delivery processed",
            f"{processed.get('p50', float('nan')):.2f} / {processed.get('p95', float('nan')):.2f}",
            "",
            None,
        ),
        (
            "  of which processed → score computed",
            f"{scored.get('p50', float('nan')):.2f} / {scored.get('p95', float('nan')):.2f}",
            "",
            None,
        ),
    ]
    for label, value, target, verdict in rows:
        print(f"{label:44} {value:>14} {target:>10}  {'' if verdict is None else mark[verdict]}")
    missing = latency["samples_not_updated"]
    print(f"\nsamples: {latency['samples']}, never shown within the drain: {missing}")


def run(config: Config, workdir: Path) -> dict[str, Any]:
    flush_broker(config.broker_url)
    url, tenant, seed_s = prepare_database(config, workdir)
    counts = row_counts(url)
    env = service_env(url, config.broker_url, workdir)
    print(f"database ready{f' (seeded in {seed_s:.0f} s)' if seed_s else ''}: {counts}")
    first = sql_aggregate(url)
    print(f"SQL aggregate: {first['seconds']:.1f} s")
    rescore = full_rescore(config, env, workdir)
    print(f"full rescore: {rescore['total_s']:.1f} s, peak {rescore['worker_peak_mb']:.0f} MB")
    written = snapshot_counts(url)
    second = sql_aggregate(url)
    print(f"SQL aggregate again: {second['seconds']:.1f} s")
    baseline = min(first["seconds"], second["seconds"])
    ratio = rescore["total_s"] / baseline
    flush_broker(config.broker_url)
    latency = latency_test(config, env, url, tenant, workdir)
    return {
        "benchmark": "scoring",
        "command": "python -m bench.scoring " + " ".join(sys.argv[1:]),
        "machine": machine(url),
        "data": {"seeded_s": seed_s, "rows": counts, "seed": seed.SEED},
        "sql_aggregate_runs": [first, second],
        "sql_aggregate_s": baseline,
        "full_rescore": rescore,
        "snapshots_written": written,
        "ratio": round(ratio, 2),
        "latency": latency,
        "targets": TARGETS,
        "targets_met": verdicts(rescore, ratio, latency),
    }


def keep_logs(workdir: Path, destination: Path) -> None:
    """Keep the processes' logs next to the result, for a look at what bounded a figure."""
    logs = sorted(workdir.glob("*.log"))
    if logs:
        destination.mkdir(parents=True, exist_ok=True)
        for log in logs:
            shutil.copy2(log, destination / log.name)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    stop_on_signals()
    started_at = datetime.now(UTC)
    name = f"scoring-{started_at:%Y%m%dT%H%M%SZ}"
    try:
        with tempfile.TemporaryDirectory(prefix="scorebench-") as tmp:
            try:
                result = run(config, Path(tmp))
            finally:
                flush_broker(config.broker_url)
                keep_logs(Path(tmp), config.results_dir / f"{name}-logs")
    except BenchmarkError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    result["started_at"] = started_at.isoformat()
    print_report(result)
    config.results_dir.mkdir(parents=True, exist_ok=True)
    path = config.results_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
