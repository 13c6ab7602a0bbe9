"""Webhook ingest benchmark: acknowledged deliveries per second, next to a bare Flask endpoint.

`POST /hooks/standard/<key>` verifies a Standard Webhooks signature, commits the delivery to
PostgreSQL and pushes a task to Redis before it answers 202, so it must stay well inside the
sender's timeout under load. Measuring it next to a Flask endpoint that only reads the body,
served by the same gunicorn settings and driven by the same client, shows what that work costs
on top of the HTTP stack; the target is at least half the bare endpoint's rate.

One run, on 127.0.0.1 only:

1. recreates the `roomwise_bench` database, migrates it, and creates an organizer with a
   `standard` integration; empties the benchmark's Redis database;
2. serves `bench.bare_app:app` with `gunicorn -c gunicorn.conf.py` and drives it with wrk
   (`bench/replay.lua`) replaying signed deliveries;
3. serves `service:create_app()` the same way and drives it with the same client and
   concurrency, every request a distinct delivery signed just before the run;
4. checks that every 202 names a stored delivery and every stored delivery was queued, prints
   a table and writes `bench/results/ingest-<timestamp>.json`.

Every process it starts is stopped on exit, Ctrl-C and SIGTERM included.

    .venv/bin/python -m bench.ingest [--duration 15] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.database import DEFAULT_POSTGRES, flush_broker, reset_database
from bench.errors import BenchmarkError
from bench.machine import (
    CLOCK_TICKS,
    FOREIGN_LOAD_WARNING,
    CpuSnapshot,
    Process,
    cores_by_group,
    cpu_snapshot,
    machine_busy_fraction,
)
from bench.processes import free_port, started, stop_on_signals, stop_process, wait_until_ready
from bench.provenance import machine_description, revision
from integrations.signatures import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from service import create_app
from service.accounts import create_organizer
from service.context import current_settings, secret_box
from service.db import engine_for, session_scope
from service.platforms import create_integration
from tests.support import standard_body

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
REPLAY_SCRIPT = Path(__file__).resolve().parent / "replay.lua"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

BENCH_DATABASE = "roomwise_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
SECRET_KEY = "roomwise-bench-secret-key-" + "k" * 32
INGEST_APP = "service:create_app()"
BARE_APP = "bench.bare_app:app"
TARGET_RATIO = 0.5

# Signed timestamps are accepted for WEBHOOK_TOLERANCE_SECONDS (300 s by default); deliveries
# are signed just before the run, so warm-up plus run must end well inside that window.
MAX_DURATION_S = 240
MAX_WARMUP_S = 30
BARE_POOL_SIZE = 4096
REQUEST_TIMEOUT_S = 10
START_TIMEOUT_S = 30
LOAD_TIMEOUT_S = 120
# Programs the benchmark runs or talks to; CPU used by anything else disturbs the figures.
STACK_PROGRAMS = frozenset({"gunicorn", "postgres", "redis-server", "wrk", "bench"})


@dataclass(frozen=True)
class Config:
    duration_s: int
    warmup_s: int
    connections: int
    client_threads: int
    reconnect_every: int
    workers: int | None
    worker_class: str | None
    worker_connections: int | None
    gunicorn_threads: int | None
    headroom: float
    postgres_url: str
    broker_url: str
    results_dir: Path


@dataclass(frozen=True)
class Tenant:
    webhook_path: str
    signing_secret: str


@dataclass(frozen=True)
class Measurement:
    """One wrk run against one endpoint, as `bench/replay.lua` reported it."""

    target: str
    duration_s: float
    sent: int
    responses: int
    accepted: int
    other_statuses: dict[str, int]
    socket_errors: dict[str, int]
    exhausted: bool
    latency_ms: dict[str, float]
    cpu_cores: dict[str, float]
    client_cpu_s: float

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s

    @property
    def non_202(self) -> int:
        return self.responses - self.accepted

    @property
    def in_flight_at_stop(self) -> int:
        return self.sent - self.responses

    @property
    def foreign_cores(self) -> float:
        """Cores kept busy by programs outside the benchmark's stack during the run."""
        return round(
            sum(
                cores
                for program, cores in self.cpu_cores.items()
                if program not in STACK_PROGRAMS and program != "machine_busy_fraction"
            ),
            2,
        )

    @property
    def valid(self) -> bool:
        return self.non_202 == 0 and not self.exhausted and not any(self.socket_errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "accepted_per_s": round(self.accepted_per_s, 1),
            "non_202": self.non_202,
            "in_flight_at_stop": self.in_flight_at_stop,
            "foreign_cores": self.foreign_cores,
            "client_requests_per_cpu_s": round(self.responses / self.client_cpu_s)
            if self.client_cpu_s
            else None,
        }


@dataclass(frozen=True)
class DrainCheck:
    """What the measured ingest run left in PostgreSQL and Redis, against its 202s."""

    accepted: int
    acknowledged_ids: int
    acknowledged_stored: int
    stored: int
    queued: int
    in_flight_at_stop: int

    @property
    def stored_unacknowledged(self) -> int:
        return self.stored - self.accepted

    @property
    def ok(self) -> bool:
        return (
            self.acknowledged_ids == self.accepted
            and self.acknowledged_stored == self.accepted
            and 0 <= self.stored_unacknowledged <= self.in_flight_at_stop
            and self.queued == self.stored
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "stored_unacknowledged": self.stored_unacknowledged, "ok": self.ok}


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--client-threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=100,
        help="requests per client connection before it is replaced (0: never)",
    )
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS for both servers")
    parser.add_argument(
        "--worker-class", help="GUNICORN_WORKER_CLASS for both servers (gevent, gthread)"
    )
    parser.add_argument(
        "--worker-connections",
        type=int,
        help="GUNICORN_WORKER_CONNECTIONS for both servers (gevent)",
    )
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS for both servers (gthread)")
    parser.add_argument(
        "--headroom",
        type=float,
        default=1.5,
        help="signed deliveries to generate, as a multiple of the bare endpoint's rate",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help=f"PostgreSQL server; the benchmark only ever uses database {BENCH_DATABASE!r}",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER),
        help="Redis database for the queue; it is emptied before and after the run",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be 1 to {MAX_DURATION_S} seconds")
    if not 0 <= args.warmup <= MAX_WARMUP_S:
        parser.error(f"--warmup must be 0 to {MAX_WARMUP_S} seconds")
    if args.client_threads < 1 or args.connections < args.client_threads:
        parser.error("--connections must be at least --client-threads, which must be ≥ 1")
    if args.reconnect_every < 0:
        parser.error("--reconnect-every must be 0 or more")
    if args.headroom < 1:
        parser.error("--headroom must be at least 1")
    if not args.broker.startswith("redis://"):
        parser.error("--broker must be a redis:// URL")
    return Config(
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        client_threads=args.client_threads,
        reconnect_every=args.reconnect_every,
        workers=args.workers,
        worker_class=args.worker_class,
        worker_connections=args.worker_connections,
        gunicorn_threads=args.threads,
        headroom=args.headroom,
        postgres_url=args.postgres,
        broker_url=args.broker,
        results_dir=args.results_dir,
    )


def require_wrk() -> str:
    """wrk's version line; stop with install instructions when it is missing."""
    if shutil.which("wrk") is None:
        raise BenchmarkError(
            "wrk is not installed. On Debian/Ubuntu: `sudo apt-get install -y wrk`; "
            "on macOS: `brew install wrk`; or build it from https://github.com/wg/wrk"
        )
    output = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (output.stdout or output.stderr).splitlines()[0].strip()


def create_tenant(database_url: str, broker_url: str, var_dir: Path) -> Tenant:
    """An organizer with a `standard` integration, made the way the CLI makes one."""
    app = create_app(
        {
            "database_url": database_url,
            "broker_url": broker_url,
            "secret_key": SECRET_KEY,
            "var_dir": var_dir,
        }
    )
    try:
        with app.app_context(), session_scope() as session:
            organizer = create_organizer(
                session, "Benchmark Organizer", "bench@example.com", "benchmark password"
            )
            integration = create_integration(
                session, secret_box(), current_settings(), organizer.organizer_id, "standard"
            )
    finally:
        engine_for(app).dispose()
    if not integration.signing_secret:
        raise BenchmarkError("the standard integration came without a signing secret")
    return Tenant(urlsplit(integration.webhook_url).path, integration.signing_secret)


def queued_messages(broker_url: str) -> int:
    """Messages waiting in the broker database, over every queue list Celery created."""
    with redis.Redis.from_url(broker_url) as client:
        return sum(
            int(client.llen(key)) for key in client.scan_iter() if client.type(key) == b"list"
        )


def write_deliveries(path: Path, secret: str, count: int, id_prefix: str) -> None:
    """`count` distinct check-ins, signed now, one per line in `bench/replay.lua`'s format."""
    now = datetime.now(UTC)
    with path.open("w") as out:
        for n in range(count):
            body = standard_body(
                attendee_id=f"att-{n}", email=f"member-{n}@example.com", name=f"Member {n}"
            )
            headers = signed_headers(secret, f"{id_prefix}_{n}", body, now)
            fields = (headers[ID_HEADER], headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
            out.write("\t".join((*fields, body.decode())) + "\n")


def server_env(config: Config, database_url: str, var_dir: Path) -> dict[str, str]:
    """The environment both gunicorn servers get: identical apart from the app they load."""
    env = dict(os.environ)
    env.update(
        ROOMWISE_ENV="production",
        DATABASE_URL=database_url,
        BROKER_URL=config.broker_url,
        SECRET_KEY=SECRET_KEY,
        VAR_DIR=str(var_dir),
        GUNICORN_ACCESS_LOG="",
        PYTHONPATH=str(ROOT),
    )
    settings = {
        "GUNICORN_WORKERS": config.workers,
        "GUNICORN_WORKER_CLASS": config.worker_class,
        "GUNICORN_WORKER_CONNECTIONS": config.worker_connections,
        "GUNICORN_THREADS": config.gunicorn_threads,
    }
    env.update({name: str(value) for name, value in settings.items() if value is not None})
    return env


def gunicorn_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings `gunicorn.conf.py` resolves to under `env`, for the report."""
    with mock.patch.dict(os.environ, env, clear=True):
        settings = runpy.run_path(str(GUNICORN_CONF))
    names = (
        "workers",
        "worker_class",
        "worker_connections",
        "threads",
        "keepalive",
        "timeout",
        "accesslog",
    )
    return {name: settings.get(name) for name in names}


@contextmanager
def gunicorn(
    app_spec: str, env: Mapping[str, str], workdir: Path, name: str
) -> Iterator[tuple[str, int]]:
    """Serve `app_spec` on a free local port, logging to `workdir/<name>.log`; yield its base
    URL and the master's pid."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app_spec]
    with started(name, argv, {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, workdir) as process:
        wait_until_ready(port, "/healthz", process, workdir / f"{name}.log", START_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}", process.pid


def cpu_cores(
    before: CpuSnapshot, after: CpuSnapshot, seconds: float, server_pid: int
) -> dict[str, float]:
    """Average cores each program kept busy between the snapshots (gunicorn = master+workers)."""

    def program(pid: int, process: Process) -> str:
        if server_pid in (pid, process.parent):
            return "gunicorn"
        return "bench" if pid == os.getpid() else process.name

    cores = cores_by_group(before, after, program, seconds=seconds, floor=0.01)
    return {**cores, "machine_busy_fraction": round(machine_busy_fraction(before, after), 3)}


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_until_loaded(process: subprocess.Popen[bytes], client_threads: int) -> None:
    """wrk starts its threads only once each has loaded its share of the requests file."""
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        with suppress(OSError):
            if len(os.listdir(f"/proc/{process.pid}/task")) > client_threads:
                return
        time.sleep(0.01)


def run_wrk(
    config: Config,
    target: str,
    url: str,
    server_pid: int,
    requests_file: Path,
    mode: str,
    duration_s: int,
    workdir: Path,
) -> tuple[Measurement, list[int]]:
    """Drive `url` with wrk for `duration_s`; return the measurement and the 202s' delivery ids."""
    report_path = workdir / f"wrk-{target}-{mode}-{duration_s}s.json"
    report_path.unlink(missing_ok=True)
    command = [
        "wrk",
        f"--threads={config.client_threads}",
        f"--connections={config.connections}",
        f"--duration={duration_s}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        f"--script={REPLAY_SCRIPT}",
        url,
        "--",
        str(requests_file),
        mode,
        str(config.client_threads),
        str(config.reconnect_every),
    ]
    cpu_before_start = children_cpu_s()
    with (workdir / "wrk.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, "BENCH_WRK_REPORT": str(report_path)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_loaded(process, config.client_threads)
            before = cpu_snapshot(BENCH_DATABASE)
            process.wait(timeout=duration_s + LOAD_TIMEOUT_S)
        finally:
            stop_process(process)
    after = cpu_snapshot(BENCH_DATABASE)
    if process.returncode != 0 or not report_path.exists():
        tail = (workdir / "wrk.log").read_text(errors="replace")[-2000:]
        raise BenchmarkError(f"wrk exited with status {process.returncode}:\n{tail}")
    report = json.loads(report_path.read_text())
    duration = report["duration_us"] / 1e6
    loading = before.processes.get(process.pid)
    loading_s = (loading.ticks if loading else 0) / CLOCK_TICKS
    latency = {name: round(value / 1000, 2) for name, value in report["latency_us"].items()}
    client_cpu_s = children_cpu_s() - cpu_before_start - loading_s
    cores = cpu_cores(before, after, duration, server_pid)
    cores["wrk"] = round(client_cpu_s / duration, 2)
    measurement = Measurement(
        target=target,
        duration_s=round(duration, 3),
        sent=report["sent"],
        responses=report["responses"],
        accepted=report["accepted"],
        other_statuses=report["other_statuses"],
        socket_errors={name: n for name, n in report["errors"].items() if name != "status"},
        exhausted=report["exhausted"],
        latency_ms=latency,
        cpu_cores=cores,
        client_cpu_s=round(client_cpu_s, 2),
    )
    return measurement, [int(delivery_id) for delivery_id in report["acknowledged"]]


def stored_deliveries(engine: Engine) -> int:
    """Deliveries in the bench database, once the count has stopped moving."""
    count = -1
    for _ in range(50):
        with engine.connect() as connection:
            current = int(connection.execute(text("SELECT count(*) FROM delivery")).scalar_one())
        if current == count:
            return current
        count = current
        time.sleep(0.2)
    return count


def count_stored(engine: Engine, delivery_ids: list[int]) -> int:
    statement = text("SELECT count(*) FROM delivery WHERE id = ANY(:ids)")
    with engine.connect() as connection:
        return int(connection.execute(statement, {"ids": delivery_ids}).scalar_one())


def deliveries_needed(bare_rate: float, seconds: int, config: Config) -> int:
    return math.ceil(bare_rate * seconds * config.headroom) + 4 * config.connections


def run_benchmark(config: Config, workdir: Path) -> tuple[Measurement, Measurement, DrainCheck]:
    var_dir = workdir / "var"
    database_url = reset_database(config.postgres_url, BENCH_DATABASE)
    tenant = create_tenant(database_url, config.broker_url, var_dir)
    flush_broker(config.broker_url)
    env = server_env(config, database_url, var_dir)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    pool = workdir / "bare-pool.tsv"
    write_deliveries(pool, tenant.signing_secret, BARE_POOL_SIZE, f"msg_pool_{run_id}")
    with gunicorn(BARE_APP, env, workdir, "gunicorn-bare") as (base_url, pid):
        url = base_url + tenant.webhook_path
        if config.warmup_s:
            run_wrk(config, "bare", url, pid, pool, "cycle", config.warmup_s, workdir)
        bare, _ = run_wrk(config, "bare", url, pid, pool, "cycle", config.duration_s, workdir)
    print(f"bare endpoint: {bare.accepted_per_s:.0f} accepted/s", flush=True)

    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    try:
        with gunicorn(INGEST_APP, env, workdir, "gunicorn-ingest") as (base_url, pid):
            url = base_url + tenant.webhook_path
            if config.warmup_s:
                warmup = workdir / "ingest-warmup.tsv"
                count = deliveries_needed(bare.accepted_per_s, config.warmup_s, config)
                write_deliveries(warmup, tenant.signing_secret, count, f"msg_warm_{run_id}")
                run_wrk(config, "ingest", url, pid, warmup, "once", config.warmup_s, workdir)
            stored_before = stored_deliveries(engine)
            queued_before = queued_messages(config.broker_url)
            deliveries = workdir / "ingest.tsv"
            count = deliveries_needed(bare.accepted_per_s, config.duration_s, config)
            print(f"signing {count} distinct deliveries for the ingest run", flush=True)
            write_deliveries(deliveries, tenant.signing_secret, count, f"msg_run_{run_id}")
            ingest, acknowledged = run_wrk(
                config, "ingest", url, pid, deliveries, "once", config.duration_s, workdir
            )
            stored = stored_deliveries(engine) - stored_before
            queued = queued_messages(config.broker_url) - queued_before
        drain = DrainCheck(
            accepted=ingest.accepted,
            acknowledged_ids=len(set(acknowledged)),
            acknowledged_stored=count_stored(engine, acknowledged) if acknowledged else 0,
            stored=stored,
            queued=queued,
            in_flight_at_stop=ingest.in_flight_at_stop,
        )
    finally:
        engine.dispose()
        flush_broker(config.broker_url)
    return bare, ingest, drain


def print_report(bare: Measurement, ingest: Measurement, drain: DrainCheck) -> None:
    ratio = ingest.accepted_per_s / bare.accepted_per_s
    header = f"{'endpoint':<10}{'accepted/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-202':>9}"
    print()
    print(header + f"{'errors':>8}")
    for run in (bare, ingest):
        errors = sum(run.socket_errors.values())
        print(
            f"{run.target:<10}{run.accepted_per_s:>12.1f}{run.latency_ms['p50']:>9.2f}"
            f"{run.latency_ms['p99']:>9.2f}{run.non_202:>9}{errors:>8}"
        )
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\ningest / bare = {ratio:.2f} (target ≥ {TARGET_RATIO}: {verdict})")
    for run in (bare, ingest):
        print(f"cores busy during {run.target}: {run.cpu_cores}")
    print(
        f"drain check: {drain.acknowledged_stored}/{drain.accepted} acknowledged deliveries "
        f"stored; {drain.stored} stored in all, {drain.stored_unacknowledged} of them answered "
        f"after wrk stopped reading ({drain.in_flight_at_stop} requests were unanswered then); "
        f"{drain.queued} queued: " + ("ok" if drain.ok else "FAILED")
    )
    for run in (bare, ingest):
        if run.foreign_cores >= FOREIGN_LOAD_WARNING:
            print(
                f"warning: other programs kept {run.foreign_cores} cores busy during the "
                f"{run.target} run; rerun on a quiet machine"
            )
    if ingest.exhausted:
        print("ingest ran out of distinct deliveries: rerun with a larger --headroom")


def write_result(
    config: Config,
    wrk_version: str,
    env: Mapping[str, str],
    started: datetime,
    runs: tuple[Measurement, Measurement, DrainCheck],
) -> Path:
    bare, ingest, drain = runs
    ratio = ingest.accepted_per_s / bare.accepted_per_s
    result = {
        "benchmark": "webhook ingest",
        "started_at": started.isoformat(),
        "command": " ".join(["python -m bench.ingest", *sys.argv[1:]]),
        "revision": revision(),
        "machine": machine_description(),
        "gunicorn": gunicorn_settings(env),
        "client": {
            "tool": wrk_version,
            "script": "bench/replay.lua",
            "threads": config.client_threads,
            "connections": config.connections,
            "reconnect_every": config.reconnect_every,
            "timeout_s": REQUEST_TIMEOUT_S,
        },
        "duration_s": config.duration_s,
        "warmup_s": config.warmup_s,
        "bare": bare.as_json(),
        "ingest": ingest.as_json(),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "drain_check": drain.as_json(),
        "valid": bare.valid and ingest.valid and drain.ok,
        "undisturbed": max(bare.foreign_cores, ingest.foreign_cores) < FOREIGN_LOAD_WARNING,
    }
    config.results_dir.mkdir(parents=True, exist_ok=True)
    path = config.results_dir / f"ingest-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    stop_on_signals()
    started = datetime.now(UTC)
    try:
        wrk_version = require_wrk()
        with tempfile.TemporaryDirectory(prefix="roomwise-bench-") as tmp:
            workdir = Path(tmp)
            runs = run_benchmark(config, workdir)
            env = server_env(config, "", workdir / "var")
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started is stopped", file=sys.stderr)
        return 130
    except BenchmarkError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    print_report(*runs)
    path = write_result(config, wrk_version, env, started, runs)
    print(f"result: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    bare, ingest, drain = runs
    return 0 if bare.valid and ingest.valid and drain.ok else 1


if __name__ == "__main__":
    sys.exit(main())
