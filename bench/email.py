"""Email benchmark: attendee recaps rendered and sent per second, next to a bare smtplib loop.

After a gathering every attendee gets a recap, so one large gathering means thousands of emails
at once. Each recap is loaded, composed, rendered (text and HTML), signed (five links) and
turned into a MIME message, then sent over the batch's one SMTP connection, a chunk of rows at a
time, each chunk committed as `sending` before it goes out (`service.mail.sending`: never sent
twice). Measuring it next
to `smtplib` sending small prebuilt messages over one connection to the same server shows what
that work costs on top of SMTP itself; the target is at least half the bare loop's rate.

One run, on 127.0.0.1 only:

1. recreates the `roomwise_mailbench` database, migrates it, creates an organizer, one business
   group with a few earlier gatherings, and one gathering that ended a few hours ago with
   10,000 people checked in (names, companies, emails, check-in and check-out times, about
   three connections each, mostly confirmed), streamed in with COPY (`bench.seed.Copier`);
2. computes the real scores (`service.rescoring.rescore_all`) and plans the gathering's mail
   (`service.mail.planning.plan_due_summaries`): the organizer summary and one recap each;
3. starts `bench.smtp_sink` (aiosmtpd, in its own process) on a free port; sends the
   organizer summary alone (not measured), then calls `service.mail.sending.send_due` batch
   after batch, as the `send_due_mail` task does, until nothing is due: the measured run;
4. sends the same number of small prebuilt messages with `smtplib.SMTP.sendmail` over one
   connection to the same sink: the baseline;
5. puts the recaps back to `pending` and sends them again with timers around the builder, the
   template rendering, the MIME assembly, the SMTP exchange and the commits, to show where the
   time goes (with `--profile`, once more under cProfile);
6. prints a table and writes `bench/results/email-<timestamp>.json`.

Every process it starts is stopped on exit, Ctrl-C and SIGTERM included.

    .venv/bin/python -m bench.email [--recaps 10000] [--batch-size 200] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from flask import Flask
from redis import Redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bench.database import DEFAULT_POSTGRES, reset_database
from bench.errors import BenchmarkError
from bench.machine import (
    FOREIGN_LOAD_WARNING,
    Process,
    cores_by_group,
    cpu_snapshot,
    descendants,
    machine_busy_fraction,
)
from bench.processes import free_port, started, stop_on_signals, stop_process, tail
from bench.provenance import machine_description, revision
from bench.scoring import celery_argv, wait_for_log
from bench.seed import TABLES, Copier, Counts, finish
from service import create_app, rescoring
from service.accounts import create_organizer
from service.config import Settings
from service.context import current_settings
from service.db import engine_for, session_scope
from service.mail import build, planning, render, sending
from service.models import MailKind, MailMessage, MailStatus
from service.queue import OUTBOUND_QUEUE, SEND_DUE_MAIL

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATABASE = "roomwise_mailbench"
SECRET_KEY = "roomwise-mailbench-secret-key-" + "m" * 32
MAIL_FROM = "Roomwise <recaps@roomwise.example.com>"
PUBLIC_BASE_URL = "https://roomwise.example.com"
TARGET_RATIO = 0.5
# The sender worker's processes, as docker-compose.yml runs it (`--concurrency=2`).
SENDER_PROCESSES = 2
WORKER_RUN_TIMEOUT_S = 600
SEED = 20261201

FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma",
    "Viktor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Bruno", "Carmen", "Dmitri", "Emeka",
    "Freya", "Gustavo", "Hana", "Ivan", "Jana", "Kai", "Leila", "Marek", "Noor", "Olga",
    "Pablo", "Rania", "Samuel", "Tara", "Ulrich", "Vera", "William", "Yara", "Zainab",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Haddad",
    "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "O'Brien", "Petrov",
    "Quinn", "Rossi", "Schmidt", "Tanaka", "Umarov", "Varga", "Walsh", "Xu", "Yilmaz",
    "Zimmermann", "Andersson", "Bianchi", "Chen", "Novak", "Müller", "Okafor", "Silva",
    "Kim", "Larsen", "Mendes", "Ng", "Patel", "Richter", "Sato",
)  # fmt: skip
COMPANIES = (
    "Northwind Analytics", "Brightline Legal", "Copperleaf Design", "Harbor & Finch",
    "Juniper Health", "Keystone Logistics", "Lumen Energy", "Meridian Capital", "Nimbus Cloud",
    "Orchard Foods", "Pinecrest Realty", "Quarry Robotics", "Redwood Insurance", "Saltmarsh Media",
    "Tidewater Consulting", "Umbra Security", "Vantage Recruiting", "Willow Architects",
    "Yellowfin Travel", "Zephyr Mobility", "", "", "",
)  # fmt: skip
# Tables written here, and their columns (`bench.seed.TABLES` plus the person's listing flag).
COLUMNS: dict[str, tuple[str, ...]] = {
    "person": (*TABLES["person"], "listed"),
    "networking_group": TABLES["networking_group"],
    "gathering": TABLES["gathering"],
    "attendance": TABLES["attendance"],
    "attendance_event": TABLES["attendance_event"],
    "connection": TABLES["connection"],
    "outcome": TABLES["outcome"],
}


@dataclass(frozen=True)
class Config:
    recaps: int
    earlier_gatherings: int
    batch_size: int
    send_chunk: int | None
    broker_url: str
    baseline_messages: int
    baseline_body: int
    breakdown: bool
    profile: bool
    postgres_url: str
    results_dir: Path


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.email", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--recaps", type=int, default=10_000, help="attendees checked in")
    parser.add_argument(
        "--earlier-gatherings",
        type=int,
        default=3,
        help="earlier gatherings of the group, so standings have a history",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="rows per send_due call (the service's default MAIL_BATCH_SIZE: 1000)",
    )
    parser.add_argument(
        "--send-chunk",
        type=int,
        help="rows marked `sending` per commit (MAIL_SEND_CHUNK; default: the service's default)",
    )
    parser.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/12",
        help="Redis database for the sender worker's run (emptied first)",
    )
    parser.add_argument(
        "--baseline-messages", type=int, help="messages the bare loop sends (default: --recaps)"
    )
    parser.add_argument(
        "--baseline-body", type=int, default=300, help="bytes of body per baseline message"
    )
    parser.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the second, timed run that shows where the time goes",
    )
    parser.add_argument(
        "--profile", action="store_true", help="send the recaps once more under cProfile"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help=f"PostgreSQL server; the benchmark only ever uses database {DATABASE!r}",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.recaps < 2:
        parser.error("--recaps must be at least 2")
    if args.earlier_gatherings < 0:
        parser.error("--earlier-gatherings must be 0 or more")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.send_chunk is not None and args.send_chunk < 1:
        parser.error("--send-chunk must be at least 1")
    if args.baseline_body < 0:
        parser.error("--baseline-body must be 0 or more")
    return Config(
        recaps=args.recaps,
        earlier_gatherings=args.earlier_gatherings,
        batch_size=args.batch_size,
        send_chunk=args.send_chunk,
        broker_url=args.broker,
        baseline_messages=args.baseline_messages or args.recaps,
        baseline_body=args.baseline_body,
        breakdown=not args.no_breakdown,
        profile=args.profile,
        postgres_url=args.postgres,
        results_dir=args.results_dir,
    )


# --- the database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The planned gathering: its ids, what was written and how long each step took."""

    organizer_id: int
    gathering_id: int
    rows: dict[str, int]
    planned: dict[str, int]
    seconds: dict[str, float]


def bench_app(database_url: str, var_dir: Path, broker_url: str | None = None) -> Flask:
    return create_app(
        {
            "database_url": database_url,
            **({"broker_url": broker_url} if broker_url else {}),
            "secret_key": SECRET_KEY,
            "var_dir": var_dir,
            "mail_from": MAIL_FROM,
            "public_base_url": PUBLIC_BASE_URL,
            "log_level": "WARNING",
        }
    )


def prepare(config: Config, app: Flask, database_url: str, now: datetime) -> Prepared:
    """Write the group and its gatherings, score them and plan the latest one's mail."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with app.app_context(), session_scope() as session:
        organizer = create_organizer(
            session, "Harbour City Business Network", "organizer@example.com", "benchmark password"
        )
    counts = Counts()
    latest_starts = now - timedelta(hours=5)
    with ExitStack() as stack:
        copier = Copier(stack, database_url, counts)
        write_rows(copier, random.Random(SEED), config, organizer.organizer_id, latest_starts)
    finish(database_url)
    gathering_id = config.earlier_gatherings + 1
    seconds["write_rows"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    with app.app_context(), session_scope() as session:
        rescoring.rescore_all(session, organizer.organizer_id, now=now)
    seconds["rescore_all"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    with app.app_context(), session_scope() as session:
        # Planning waits while a gathering's rescore is pending; these scores are current.
        rescoring.claim_due(session, now=now + timedelta(days=1), limit=10_000)
    with app.app_context(), session_scope() as session:
        gatherings = planning.plan_due_summaries(session, current_settings(), now=now)
    seconds["plan"] = round(time.perf_counter() - started, 2)
    if gatherings != 1:
        raise BenchmarkError(f"planning queued {gatherings} gatherings instead of 1")
    with app.app_context(), session_scope() as session:
        planned = {
            str(kind): count
            for kind, count in session.execute(
                select(MailMessage.kind, func.count()).group_by(MailMessage.kind)
            )
        }
    if planned.get(MailKind.ATTENDEE_RECAP) != config.recaps:
        raise BenchmarkError(f"planned {planned}, expected {config.recaps} recaps")
    return Prepared(organizer.organizer_id, gathering_id, dict(counts.tables), planned, seconds)


def ascii_part(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def write_rows(
    copier: Copier, rng: random.Random, config: Config, organizer: int, latest_starts: datetime
) -> None:
    """Everyone attends the latest gathering; a core fifth came to most earlier ones, the rest
    now and then or never (first-timers); about 1.5 pairs per attendee met at each, 90% of the
    pairs confirmed; a lead or referral now and then."""
    for table, columns in COLUMNS.items():
        copier.open(table, columns)
    people = range(1, config.recaps + 1)
    created = latest_starts - timedelta(days=400)
    for person in people:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{ascii_part(first)}.{ascii_part(last)}.{person}@example.com"
        row = (person, organizer, email, email, f"{first} {last}", rng.choice(COMPANIES))
        copier.write("person", (*row, created, rng.random() < 0.3))
    copier.write(
        "networking_group",
        (
            1,
            organizer,
            None,
            None,
            "Harbour City Founders & Funders",
            "business",
            "open",
            json.dumps({"open_minutes": 120}),
            created,
        ),
    )
    turnout = {person: rng.choice((0.85, 0.5, 0.2, 0.2, 0.0)) for person in people}
    ids: Counter[str] = Counter()
    total = config.earlier_gatherings + 1
    for index in range(total):
        gathering = index + 1
        starts = latest_starts - timedelta(days=28 * (total - 1 - index))
        ends = starts + timedelta(hours=2, minutes=30)
        name = f"Founders & Funders, {starts:%B %Y}"
        copier.write(
            "gathering",
            (gathering, organizer, 1, None, None, name, starts, ends, "{}", created),
        )
        latest = gathering == total
        present = [person for person in people if latest or rng.random() < turnout[person]]
        for person in present:
            ids["attendance"] += 1
            registered = starts - timedelta(hours=rng.uniform(24, 24 * 14))
            checked_in = starts + timedelta(minutes=rng.uniform(-15, 60))
            checked_out = None
            if rng.random() < 0.9:
                checked_out = checked_in + timedelta(minutes=rng.uniform(30, 150))
            attendance = (ids["attendance"], gathering, person, registered, checked_in)
            copier.write(
                "attendance",
                (*attendance, checked_out, "standard", checked_out or checked_in),
            )
            for kind, at in (
                ("registered", registered),
                ("checked_in", checked_in),
                ("checked_out", checked_out),
            ):
                if at is not None:
                    ids["event"] += 1
                    copier.write("attendance_event", (ids["event"], ids["attendance"], kind, at))
        write_connections(copier, rng, organizer, gathering, starts, present, ids)
        if not latest:
            write_outcomes(copier, rng, organizer, gathering, starts, present, ids)


def write_outcomes(
    copier: Copier,
    rng: random.Random,
    organizer: int,
    gathering: int,
    starts: datetime,
    present: list[int],
    ids: Counter[str],
) -> None:
    """A lead or referral reported by about one attendee in twelve, a few days later."""
    for person in present:
        if rng.random() >= 0.08:
            continue
        ids["outcome"] += 1
        counterpart = rng.choice(present)
        reported = starts + timedelta(days=rng.uniform(1, 20))
        copier.write(
            "outcome",
            (
                ids["outcome"],
                organizer,
                person,
                1,
                gathering,
                counterpart if counterpart != person else None,
                rng.choice(("lead", "lead", "referral")),
                None,
                "api",
                f"bench-{ids['outcome']}",
                reported,
                reported,
            ),
        )


def write_connections(
    copier: Copier,
    rng: random.Random,
    organizer: int,
    gathering: int,
    starts: datetime,
    present: list[int],
    ids: Counter[str],
) -> None:
    pairs: set[tuple[int, int]] = set()
    for _ in range(round(len(present) * 1.5)):
        one, other = rng.sample(present, 2)
        pairs.add((min(one, other), max(one, other)))
    for low, high in sorted(pairs):
        ids["connection"] += 1
        confirmed = rng.random() < 0.9
        source = rng.choice(("mutual_tap", "scan")) if confirmed else "recap_answer"
        copier.write(
            "connection",
            (
                ids["connection"],
                organizer,
                gathering,
                low,
                high,
                source,
                True,
                source == "mutual_tap",
                confirmed,
                starts + timedelta(minutes=rng.uniform(10, 140)),
                None,
            ),
        )


def reset_recaps(app: Flask) -> int:
    """Put every recap back to `pending`, due now, for another timed run."""
    with app.app_context(), session_scope() as session:
        result = session.execute(
            update(MailMessage)
            .where(MailMessage.kind == MailKind.ATTENDEE_RECAP)
            .values(
                status=MailStatus.PENDING,
                due_at=datetime.now(UTC) - timedelta(seconds=1),
                claim=None,
                claimed_until=None,
                attempts=0,
                last_error=None,
                sent_at=None,
            )
        )
        count: int = result.rowcount  # type: ignore[attr-defined]
    with psycopg.connect(database_url_of(app), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE mail_message")
    return count


def database_url_of(app: Flask) -> str:
    url = engine_for(app).url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def statuses(app: Flask) -> dict[str, int]:
    with app.app_context(), session_scope() as session:
        return {
            f"{kind}:{status}": count
            for kind, status, count in session.execute(
                select(MailMessage.kind, MailMessage.status, func.count()).group_by(
                    MailMessage.kind, MailMessage.status
                )
            )
        }


# --- the SMTP sink -----------------------------------------------------------------------------


class Sink:
    """`bench.smtp_sink` in its own process; `totals()` asks it for its counts so far."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self._out = self.process.stdout
        if self._out.readline().strip() != "ready":
            self.stop()
            raise BenchmarkError(f"the SMTP sink did not start: see {log_path}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def totals(self) -> dict[str, int]:
        self.process.send_signal(signal.SIGUSR1)
        line = self._out.readline()
        if not line:
            raise BenchmarkError("the SMTP sink stopped")
        totals: dict[str, int] = json.loads(line)
        return totals

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after}


# --- CPU ---------------------------------------------------------------------------------------


class CpuMeter:
    """Average cores used during a phase by the sender (this process), the sink, PostgreSQL
    for this database, and everything else (which disturbs the figures, and is reported)."""

    def __init__(self, sink_pid: int, sender_root: int | None = None) -> None:
        """`sender_root`: a sender worker whose processes count as the sender, besides this."""
        self._sink_pid = sink_pid
        self._sender_root = sender_root
        self._senders = {os.getpid()}
        self._before = cpu_snapshot(DATABASE)

    def _group(self, pid: int, process: Process) -> str:
        if pid in self._senders:
            return "sender"
        if pid == self._sink_pid:
            return "smtp sink"
        return process.name

    def cores(self) -> dict[str, float]:
        after = cpu_snapshot(DATABASE)
        if self._sender_root is not None:
            self._senders |= descendants(self._sender_root, after.processes)
        cores = cores_by_group(self._before, after, self._group, floor=0.01)
        # Programs that started and ended within the phase (a test run's subprocesses) are in
        # no snapshot; the machine's busy time counts them.
        busy_cores = machine_busy_fraction(self._before, after) * (os.cpu_count() or 1)
        cores["machine"] = round(busy_cores, 2)
        return cores


def foreign_cores(cores: dict[str, float]) -> float:
    """Cores kept busy by anything but the sender, the sink and this database's PostgreSQL."""
    mine = sum(cores.get(group, 0.0) for group in ("sender", "smtp sink", "postgres"))
    return round(max(0.0, cores.get("machine", 0.0) - mine), 2)


# --- the runs ----------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured sending run."""

    name: str
    messages: int
    seconds: float
    sink: dict[str, int]
    cpu_cores: dict[str, float]
    batches: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def mean_bytes(self) -> float:
        return self.sink["bytes"] / self.sink["messages"] if self.sink["messages"] else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "messages_per_s": round(self.per_second, 1),
            "mean_message_bytes": round(self.mean_bytes),
            "foreign_cores": foreign_cores(self.cpu_cores),
        }


def send_until_done(app: Flask, settings: Settings, batch_size: int) -> tuple[int, Counter[str]]:
    """Call `send_due` as the `send_due_mail` task does (a session per batch) until nothing is
    due; return the number of batches and the outcomes."""
    batches = 0
    outcomes: Counter[str] = Counter()
    while True:
        with app.app_context(), session_scope() as session:
            sent = sending.send_due(session, settings, limit=batch_size)
        if not sent:
            return batches, outcomes
        batches += 1
        outcomes.update(sent)


def roomwise_run(
    name: str, app: Flask, settings: Settings, sink: Sink, batch_size: int, expected: int
) -> Run:
    before = sink.totals()
    meter = CpuMeter(sink.pid)
    started = time.perf_counter()
    batches, outcomes = send_until_done(app, settings, batch_size)
    seconds = time.perf_counter() - started
    cores = meter.cores()
    received = difference(sink.totals(), before)
    if outcomes.get(MailStatus.SENT, 0) != expected or received["messages"] != expected:
        raise BenchmarkError(
            f"{name}: expected {expected} recaps sent, got outcomes {dict(outcomes)} and "
            f"{received['messages']} messages at the sink"
        )
    return Run(
        name=name,
        messages=expected,
        seconds=round(seconds, 3),
        sink=received,
        cpu_cores=cores,
        batches=batches,
        outcomes={str(status): count for status, count in outcomes.items()},
    )


def worker_run(app: Flask, config: Config, sink: Sink, database_url: str, workdir: Path) -> Run:
    """The recaps sent as the deployment sends them: the `sender` worker of docker-compose.yml
    (`-Q outbound`, prefork × SENDER_PROCESSES) on Redis, started by one `send_due_mail` task.
    Each task that claims a full batch queues the next, so its processes send side by side;
    timed from that task to the last recap marked sent."""
    reset_recaps(app)
    broker = Redis.from_url(config.broker_url)
    broker.flushdb()
    env = {
        **os.environ,
        "ROOMWISE_ENV": "production",
        "DATABASE_URL": database_url,
        "BROKER_URL": config.broker_url,
        "SMTP_URL": sink.url,
        "SECRET_KEY": SECRET_KEY,
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "VAR_DIR": str(workdir / "var"),
        "MAIL_BATCH_SIZE": str(config.batch_size),
        "PYTHONPATH": str(ROOT),
    }
    if config.send_chunk is not None:
        env["MAIL_SEND_CHUNK"] = str(config.send_chunk)
    argv = celery_argv(
        "tasks.worker",
        "worker",
        "--queues",
        OUTBOUND_QUEUE,
        f"--concurrency={SENDER_PROCESSES}",
        "--loglevel=INFO",
        "--without-mingle",
        "--without-gossip",
        "--hostname",
        f"mailbench-{os.getpid()}@%h",
    )
    with started("sender", argv, env, workdir) as worker:
        wait_for_log(worker, workdir / "sender.log", " ready.")
        before = sink.totals()
        meter = CpuMeter(sink.pid, sender_root=worker.pid)
        started_at = time.perf_counter()
        app.extensions["celery"].send_task(SEND_DUE_MAIL, queue=OUTBOUND_QUEUE)
        deadline = started_at + WORKER_RUN_TIMEOUT_S
        while (sent := recaps_sent(app)) < config.recaps:
            if time.perf_counter() > deadline or worker.poll() is not None:
                raise BenchmarkError(
                    f"the sender worker sent {sent} of {config.recaps} recaps:\n"
                    f"{tail(workdir / 'sender.log')}"
                )
            time.sleep(0.02)
        seconds = time.perf_counter() - started_at
        cores = meter.cores()
    received = difference(sink.totals(), before)
    if received["messages"] != config.recaps:
        raise BenchmarkError(f"the sink received {received['messages']} of {config.recaps}")
    name = f"roomwise sender worker ×{SENDER_PROCESSES}"
    return Run(name, config.recaps, round(seconds, 3), received, cores, outcomes={"sent": sent})


def recaps_sent(app: Flask) -> int:
    with app.app_context(), session_scope() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(MailMessage)
                .where(
                    MailMessage.kind == MailKind.ATTENDEE_RECAP,
                    MailMessage.status == MailStatus.SENT,
                )
            )
            or 0
        )


def baseline_messages(count: int, body_bytes: int) -> list[tuple[str, bytes]]:
    """Small plain-text messages with the usual headers, built before the clock starts."""
    line = "The quick brown fox jumps over the lazy dog. " * 2
    body = (line * (body_bytes // len(line) + 1))[:body_bytes]
    now = format_datetime(datetime.now(UTC))
    messages = []
    for n in range(count):
        recipient = f"member{n}@example.com"
        text_ = (
            f"From: {MAIL_FROM}\r\nTo: {recipient}\r\nSubject: Message {n}\r\nDate: {now}\r\n"
            f"Message-ID: {make_msgid(domain='roomwise.example.com')}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"{body}\r\n"
        )
        messages.append((recipient, text_.encode("ascii")))
    return messages


def baseline_run(sink: Sink, count: int, body_bytes: int) -> Run:
    messages = baseline_messages(count, body_bytes)
    envelope_from = "recaps@roomwise.example.com"
    before = sink.totals()
    meter = CpuMeter(sink.pid)
    started = time.perf_counter()
    connection = smtplib.SMTP("127.0.0.1", sink.port, timeout=30)
    try:
        for recipient, data in messages:
            connection.sendmail(envelope_from, [recipient], data)
    finally:
        connection.quit()
    seconds = time.perf_counter() - started
    cores = meter.cores()
    received = difference(sink.totals(), before)
    if received["messages"] != count:
        raise BenchmarkError(f"baseline: the sink received {received['messages']} of {count}")
    return Run("smtplib loop", count, round(seconds, 3), received, cores, batches=1)


# --- where the time goes -----------------------------------------------------------------------


class PhaseTimer:
    """Wall time and calls per wrapped function, wrappers installed with `mock.patch`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return timed

    @contextmanager
    def installed(self) -> Iterator[None]:
        targets: list[tuple[Any, str, str]] = [
            (build.MailBuilder, "build", "build"),
            (build, "gathering_bundle", "load the gathering bundle"),
            (render, "render", "render templates"),
            (render, "message", "assemble MIME"),
            (smtplib.SMTP, "sendmail", "SMTP exchange"),
            (Session, "commit", "commit"),
        ]
        with ExitStack() as stack:
            for owner, attribute, label in targets:
                original = getattr(owner, attribute)
                stack.enter_context(mock.patch.object(owner, attribute, self.wrap(label, original)))
            yield

    def phases(self, wall: float, messages: int) -> dict[str, dict[str, float]]:
        """Share of the run's wall time and milliseconds per message, nested parts
        subtracted from their parents."""
        s = self.seconds
        parts = {
            "build: load the gathering bundle": s["load the gathering bundle"],
            "build: render templates (Jinja2)": s["render templates"],
            "build: write the message (service.mail.mime)": s["assemble MIME"],
            "build: the rest (compose, sign links)": s["build"]
            - s["load the gathering bundle"]
            - s["render templates"]
            - s["assemble MIME"],
            "send: SMTP exchange (smtplib sendmail)": s["SMTP exchange"],
            "commit: a chunk's marks, then its outcomes": s["commit"],
            "claim, load rows, opt-outs, record, loop": wall
            - s["build"]
            - s["SMTP exchange"]
            - s["commit"],
        }
        return {
            label: {
                "share": round(seconds / wall, 3),
                "ms_per_message": round(seconds * 1000 / messages, 3),
            }
            for label, seconds in parts.items()
        }


def timed_run(
    app: Flask, settings: Settings, sink: Sink, config: Config
) -> tuple[Run, dict[str, int]]:
    reset_recaps(app)
    timer = PhaseTimer()
    with timer.installed():
        run = roomwise_run("roomwise, timed", app, settings, sink, config.batch_size, config.recaps)
    run.phases = timer.phases(run.seconds, run.messages)
    calls = {
        "commits": timer.calls["commit"],
        "gathering bundle loads": timer.calls["load the gathering bundle"],
    }
    return run, calls


def profiled_run(
    app: Flask, settings: Settings, sink: Sink, config: Config, path: Path
) -> tuple[Run, str]:
    reset_recaps(app)
    profile = cProfile.Profile()
    profile.enable()
    try:
        run = roomwise_run(
            "roomwise, cProfile", app, settings, sink, config.batch_size, config.recaps
        )
    finally:
        profile.disable()
    profile.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    return run, out.getvalue()


# --- the report --------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    roomwise, bare, deployed = result["roomwise"], result["baseline"], result["deployed"]
    print()
    print(f"{'run':<30}{'messages':>10}{'seconds':>10}{'msg/s':>10}{'mean bytes':>12}{'conns':>7}")
    for run in (roomwise, deployed, bare):
        print(
            f"{run['name']:<30}{run['messages']:>10}{run['seconds']:>10.2f}"
            f"{run['messages_per_s']:>10.1f}{run['mean_message_bytes']:>12}"
            f"{run['sink']['connections']:>7}"
        )
    verdict = "met" if result["target_met"] else "NOT met"
    print(f"\none sender (send_due in a loop) / smtplib = {result['ratio']:.3f}")
    print(
        f"sender worker as deployed / smtplib = {result['deployed_ratio']:.3f} "
        f"(target ≥ {TARGET_RATIO}: {verdict})"
    )
    print(
        f"batch size {result['batch_size']}, chunks of {result['send_chunk']}: "
        f"{roomwise['batches']} batches"
    )
    for run in (roomwise, deployed, bare):
        print(f"cores busy during {run['name']}: {run['cpu_cores']}")
    timed = result.get("timed")
    if timed:
        print(f"\nwhere the time goes ({timed['name']}, {timed['messages_per_s']:.1f} msg/s):")
        for label, phase in timed["phases"].items():
            print(f"  {label:<46}{phase['share']:>7.1%}{phase['ms_per_message']:>9.3f} ms/msg")
        print(f"  calls: {result['timed_calls']}")
    for run in (roomwise, deployed, bare, timed):
        if run and run["foreign_cores"] >= FOREIGN_LOAD_WARNING:
            print(
                f"warning: other programs kept {run['foreign_cores']} cores busy during "
                f"'{run['name']}'; rerun on a quiet machine"
            )


def run_benchmark(config: Config, workdir: Path) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    database_url = reset_database(config.postgres_url, DATABASE)
    app = bench_app(database_url, workdir / "var", config.broker_url)
    try:
        print(f"writing {config.recaps} attendees and scoring them", flush=True)
        prepared = prepare(config, app, database_url, datetime.now(UTC))
        print(f"prepared: {prepared.rows}, planned {prepared.planned}, {prepared.seconds}")
        sink = Sink(workdir / "sink.log")
        try:
            with app.app_context():
                settings = replace(current_settings(), smtp_url=sink.url)
            if config.send_chunk is not None:
                settings = replace(settings, mail_send_chunk=config.send_chunk)
            # The organizer summary (with its arrivals chart) goes first and alone.
            with app.app_context(), session_scope() as session:
                summary = sending.send_due(session, settings, limit=1)
            if summary.get(MailStatus.SENT) != 1:
                raise BenchmarkError(f"the organizer summary was not sent: {dict(summary)}")
            print("sending the recaps", flush=True)
            roomwise = roomwise_run(
                "roomwise send_due", app, settings, sink, config.batch_size, config.recaps
            )
            print(f"roomwise: {roomwise.per_second:.1f} messages/s", flush=True)
            bare = baseline_run(sink, config.baseline_messages, config.baseline_body)
            print(f"smtplib loop: {bare.per_second:.1f} messages/s", flush=True)
            print("sending the recaps again with the sender worker", flush=True)
            deployed = worker_run(app, config, sink, database_url, workdir)
            print(f"{deployed.name}: {deployed.per_second:.1f} messages/s", flush=True)
            final = statuses(app)
            result: dict[str, Any] = {
                "benchmark": "email",
                "started_at": started_at.isoformat(),
                "command": " ".join(["python -m bench.email", *sys.argv[1:]]),
                "revision": revision(),
                "machine": machine_description(),
                "postgres": postgres_version(database_url),
                "data": asdict(prepared),
                "batch_size": config.batch_size,
                "send_chunk": settings.mail_send_chunk,
                "roomwise": roomwise.as_json(),
                "baseline": bare.as_json(),
                "deployed": deployed.as_json(),
                "ratio": round(roomwise.per_second / bare.per_second, 3),
                "deployed_ratio": round(deployed.per_second / bare.per_second, 3),
                "target_ratio": TARGET_RATIO,
                "target_met": deployed.per_second / bare.per_second >= TARGET_RATIO,
                "ledger_after_run": final,
            }
            if config.breakdown:
                print("sending the recaps again, timed by phase", flush=True)
                timed, calls = timed_run(app, settings, sink, config)
                result["timed"] = timed.as_json()
                result["timed_calls"] = calls
            if config.profile:
                config.results_dir.mkdir(parents=True, exist_ok=True)
                path = config.results_dir / f"email-{started_at:%Y%m%dT%H%M%SZ}.prof"
                print("sending the recaps again under cProfile", flush=True)
                profiled, top = profiled_run(app, settings, sink, config, path)
                result["profiled"] = profiled.as_json()
                result["profile_file"] = str(path)
                print(top)
        finally:
            sink.stop()
    finally:
        engine_for(app).dispose()
    return result


def postgres_version(database_url: str) -> str:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        commit = connection.execute("SHOW synchronous_commit").fetchone()
    return f"{row[0] if row else '?'} (synchronous_commit {commit[0] if commit else '?'})"


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    stop_on_signals()
    try:
        with tempfile.TemporaryDirectory(prefix="roomwise-mailbench-") as tmp:
            result = run_benchmark(config, Path(tmp))
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started is stopped", file=sys.stderr)
        return 130
    except BenchmarkError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    for run in ("roomwise", "deployed", "baseline", "timed"):
        if run in result:
            result[run]["undisturbed"] = result[run]["foreign_cores"] < FOREIGN_LOAD_WARNING
    print_report(result)
    config.results_dir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.fromisoformat(result["started_at"])
    path = config.results_dir / f"email-{started_at:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"result: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
