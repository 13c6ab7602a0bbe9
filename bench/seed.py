"""Seeding the scoring benchmark's database: two years of one organizer's groups, at scale.

The full-rescore target is stated for 1,000,000 attendance rows (50,000 people, 5,000
gatherings in 200 groups, with connections and outcomes in proportion), so that is what this
writes, the same rows every time (`SEED`): a fresh database migrated by
`service.migrate.upgrade`, an organizer and a `standard` integration made the way the CLI makes
them, then every other row generated here and streamed in with COPY, one connection per table.
Going through the webhooks or the ORM row by row would take hours and measure ingest, which
`bench/ingest.py` already does.

What the rows look like, so the scores they produce are the kind a real organizer sees:
- groups: a fifth referral chapters (business, plenary), three tenths business mixers (open,
  rotating tables or speed 1-to-1), half social (open or rotating tables); half have a venue;
- 25 gatherings per group, every four weeks or so over two years ending `ANCHOR`, each 2 h
  (90 min of open networking in mixers); mean size differs by group (about 40 to 500);
- attendees drawn from a pool of about 2.5× the group's mean size, with core members (a fifth)
  coming far more often than occasional ones, so retention, first-timers and standings vary;
- check-in from 15 min early to 45 min late, 90% check out 30 min to 2.5 h later; in groups
  that take registrations, everyone registers and 5% never come (those rows have no check-in);
- about 3 connections per attendee-gathering (1.5 pairs per attendee), 40% with someone met
  before in the group, 85% confirmed, a fifth of social groups' confirmed ones followed up;
- outcomes in business groups: about 0.1 per attendee-gathering, the rate varying by member.

    .venv/bin/python -m bench.seed [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from flask import Flask
from sqlalchemy import select

from bench.database import DEFAULT_POSTGRES, reset_database
from service import create_app
from service.accounts import create_organizer
from service.context import current_settings, secret_box
from service.db import engine_for, session_scope
from service.models import Integration
from service.platforms import create_integration

SEED = 20261130
DATABASE = "roomwise_scorebench"
# Shared with the processes `bench.scoring` starts: the integration's secrets are sealed with it.
SECRET_KEY = "roomwise-scorebench-secret-key-" + "s" * 32
# The last seeded gathering starts shortly before this; fixed, so every run writes the same rows.
ANCHOR = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
CREATED_AT = ANCHOR - timedelta(days=800)
# (format, structure, share of groups); referral chapters, mixers, then social groups.
KINDS = (
    ("business", "plenary", 0.20),
    ("business", "open", 0.15),
    ("business", "rotating_tables", 0.10),
    ("business", "speed_1to1", 0.05),
    ("social", "open", 0.35),
    ("social", "rotating_tables", 0.15),
)
VENUES = (
    {"floor_area_m2": 80, "ceiling_height_m": 2.7, "venue_type": "bar"},
    {"floor_area_m2": 150, "ceiling_height_m": 3.0, "reverberation_s": 0.8},
    {"floor_area_m2": 300, "ceiling_height_m": 4.0, "venue_type": "hard"},
    {"floor_area_m2": 600, "ceiling_height_m": 5.0, "venue_type": "hall"},
)
OUTCOME_KINDS = ("lead", "lead", "lead", "lead", "lead", "referral", "referral", "closed_business")
CONNECTION_SOURCES = ("mutual_tap", "scan")


@dataclass(frozen=True)
class Sizes:
    """How much to write; the defaults are the issue's."""

    people: int = 50_000
    groups: int = 200
    gatherings_per_group: int = 25
    attendance: int = 1_000_000
    pairs_per_attendee: float = 1.5  # each pair is a connection for both: M_i ≈ 3
    outcomes_per_attendance: float = 0.1  # business groups


@dataclass(frozen=True)
class Tenant:
    """The seeded organizer and how to send it signed `standard` webhooks."""

    organizer_id: int
    integration_id: int
    webhook_path: str
    signing_secret: str


@dataclass
class Counts:
    """Rows written per table."""

    tables: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, table: str, rows: int = 1) -> None:
        self.tables[table] += rows


@dataclass(frozen=True)
class SeedResult:
    database_url: str
    tenant: Tenant
    rows: dict[str, int]
    seconds: float


def bench_app(database_url: str, broker_url: str, var_dir: Path) -> Flask:
    """The service's app on the benchmark database, with the benchmark's secret key."""
    return create_app(
        {
            "database_url": database_url,
            "broker_url": broker_url,
            "secret_key": SECRET_KEY,
            "var_dir": var_dir,
        }
    )


def create_tenant(app: Flask) -> Tenant:
    with app.app_context(), session_scope() as session:
        organizer = create_organizer(
            session, "Scoring Benchmark", "scoring-bench@example.com", "benchmark password"
        )
        integration = create_integration(
            session, secret_box(), current_settings(), organizer.organizer_id, "standard"
        )
    if not integration.signing_secret:
        raise RuntimeError("the standard integration came without a signing secret")
    return Tenant(
        organizer.organizer_id,
        integration.integration_id,
        urlsplit(integration.webhook_url).path,
        integration.signing_secret,
    )


def find_tenant(app: Flask) -> Tenant:
    """The tenant of an already seeded database, its signing secret unsealed with SECRET_KEY."""
    with app.app_context(), session_scope() as session:
        integration = session.scalars(
            select(Integration).where(Integration.platform == "standard").order_by(Integration.id)
        ).first()
        if integration is None:
            raise RuntimeError(f"database {DATABASE} is not seeded: run without --reuse")
        secrets: list[str] = secret_box().open(integration.secrets_encrypted, [])
        return Tenant(
            integration.organizer_id,
            integration.id,
            f"/hooks/{integration.platform}/{integration.key}",
            secrets[0],
        )


class Copier:
    """One COPY per table, each on its own connection, so rows stream in as they are made
    (nothing waits in memory) whatever order the tables' rows are generated in.

    Foreign-key triggers are off for these sessions (`session_replication_role = replica`):
    the rows are generated consistent, and checking 5 million references one by one would
    take longer than writing them. Unique constraints still hold.
    """

    def __init__(self, stack: ExitStack, url: str, counts: Counts) -> None:
        self._stack = stack
        self._url = url
        self._counts = counts
        self._copies: dict[str, Any] = {}

    def open(self, table: str, columns: tuple[str, ...]) -> None:
        connection = self._stack.enter_context(psycopg.connect(self._url))
        connection.execute("SET session_replication_role = replica")
        cursor = self._stack.enter_context(connection.cursor())
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self._copies[table] = self._stack.enter_context(cursor.copy(statement))

    def write(self, table: str, row: tuple[Any, ...]) -> None:
        self._copies[table].write_row(row)
        self._counts.add(table)


@dataclass
class GroupPlan:
    id: int
    external_id: str
    name: str
    format: str
    structure: str
    settings: dict[str, Any]
    registers: bool
    mean_size: float
    pool: list[int]
    weights: list[float]
    outcome_rate: dict[int, float]


def plan_groups(rng: random.Random, sizes: Sizes) -> list[GroupPlan]:
    """Each group's kind, venue, mean size and member pool."""
    raw = [math.exp(rng.gauss(math.log(170), 0.55)) for _ in range(sizes.groups)]
    scale = sizes.attendance / (sizes.gatherings_per_group * sum(raw))
    means = [max(20.0, min(500.0, size * scale)) for size in raw]
    # Pools are consecutive slices of shuffled people, so everyone belongs to about two groups.
    order: list[int] = []
    pool_sizes = [min(sizes.people, math.ceil(2.5 * mean)) for mean in means]
    while len(order) < sum(pool_sizes):
        shuffled = list(range(1, sizes.people + 1))
        rng.shuffle(shuffled)
        order += shuffled
    kinds = [(fmt, structure) for fmt, structure, _ in KINDS]
    shares = [share for _, _, share in KINDS]
    plans, offset = [], 0
    for index, (mean, pool_size) in enumerate(zip(means, pool_sizes, strict=True)):
        fmt, structure = rng.choices(kinds, weights=shares)[0]
        settings: dict[str, Any] = {}
        if rng.random() < 0.5:
            settings["venue"] = dict(rng.choice(VENUES))
        if fmt == "business" and structure != "plenary":
            settings["open_minutes"] = 90
        pool = list(dict.fromkeys(order[offset : offset + pool_size]))
        offset += pool_size
        weights = [rng.choice((5.0, 2.0, 2.0, 0.5, 0.5)) for _ in pool]
        plans.append(
            GroupPlan(
                id=index + 1,
                external_id=f"grp-{index + 1:03d}",
                name=f"{'Chapter' if structure == 'plenary' else fmt.title()} {index + 1:03d}",
                format=fmt,
                structure=structure,
                settings=settings,
                registers=rng.random() < 0.6,
                mean_size=mean,
                pool=pool,
                weights=weights,
                outcome_rate={
                    person: sizes.outcomes_per_attendance * rng.choice((0.0, 0.5, 1.0, 1.0, 2.5))
                    for person in pool
                },
            )
        )
    return plans


def plan_sizes(rng: random.Random, groups: list[GroupPlan], sizes: Sizes) -> list[list[int]]:
    """Head counts per group and gathering, adding up to exactly `sizes.attendance`."""
    counts = [
        [
            min(len(group.pool), max(5, round(group.mean_size * rng.uniform(0.75, 1.25))))
            for _ in range(sizes.gatherings_per_group)
        ]
        for group in groups
    ]
    total = sum(map(sum, counts))
    while total != sizes.attendance:
        group = rng.randrange(len(groups))
        gathering = rng.randrange(sizes.gatherings_per_group)
        step = 1 if total < sizes.attendance else -1
        value = counts[group][gathering] + step
        if 5 <= value <= len(groups[group].pool):
            counts[group][gathering] = value
            total += step
    return counts


def seed(postgres_url: str, broker_url: str, var_dir: Path, sizes: Sizes = Sizes()) -> SeedResult:
    """Recreate, migrate and fill the benchmark database; the same rows for the same `sizes`."""
    started = time.perf_counter()
    url = reset_database(postgres_url, DATABASE)
    app = bench_app(url, broker_url, var_dir)
    try:
        tenant = create_tenant(app)
    finally:
        engine_for(app).dispose()
    counts = Counts()
    with ExitStack() as stack:
        copier = Copier(stack, url, counts)
        write_rows(copier, random.Random(SEED), tenant, sizes)
    finish(url)
    return SeedResult(url, tenant, dict(counts.tables), round(time.perf_counter() - started, 1))


def write_rows(copier: Copier, rng: random.Random, tenant: Tenant, sizes: Sizes) -> None:
    organizer = tenant.organizer_id
    for table, columns in TABLES.items():
        copier.open(table, columns)
    for person in range(1, sizes.people + 1):
        email = f"person{person}@example.com"
        copier.write(
            "person",
            (
                person,
                organizer,
                email,
                email,
                f"Person {person}",
                f"Company {person % 997}",
                CREATED_AT,
            ),
        )
        copier.write("identity", (person, person, tenant.integration_id, f"p-{person}"))
    groups = plan_groups(rng, sizes)
    head_counts = plan_sizes(rng, groups, sizes)
    ids = Ids()
    for group, counts in zip(groups, head_counts, strict=True):
        copier.write(
            "networking_group",
            (
                group.id,
                organizer,
                tenant.integration_id,
                group.external_id,
                group.name,
                group.format,
                group.structure,
                json.dumps(group.settings),
                CREATED_AT,
            ),
        )
        write_group(copier, rng, tenant, group, counts, ids)


@dataclass
class Ids:
    """The next id of each table whose ids the seed assigns itself."""

    gathering: int = 0
    attendance: int = 0
    event: int = 0
    connection: int = 0
    outcome: int = 0

    def next(self, table: str) -> int:
        value: int = getattr(self, table) + 1
        setattr(self, table, value)
        return value


def write_group(
    copier: Copier,
    rng: random.Random,
    tenant: Tenant,
    group: GroupPlan,
    head_counts: list[int],
    ids: Ids,
) -> None:
    """A group's gatherings, attendance, events, connections and outcomes, oldest first."""
    organizer = tenant.organizer_id
    every = timedelta(days=28)
    first = ANCHOR - every * (len(head_counts) - 1) - timedelta(days=rng.randrange(28))
    met: dict[int, list[int]] = defaultdict(list)
    business = group.format == "business"
    for index, head_count in enumerate(head_counts):
        gathering = ids.next("gathering")
        starts = first + every * index + timedelta(minutes=15 * rng.randrange(-4, 5))
        ends = starts + timedelta(hours=2)
        copier.write(
            "gathering",
            (
                gathering,
                organizer,
                group.id,
                tenant.integration_id,
                f"{group.external_id}-{index + 1:02d}",
                f"{group.name}, {starts:%d %b %Y}",
                starts,
                ends,
                "{}",
                CREATED_AT,
            ),
        )
        chosen = heapq.nlargest(
            head_count,
            zip(group.pool, group.weights, strict=True),
            key=lambda member: rng.random() ** (1 / member[1]),
        )
        present = []
        for person, _ in sorted(chosen):
            attendance = ids.next("attendance")
            registered = starts - timedelta(hours=rng.uniform(24, 24 * 14))
            no_show = group.registers and rng.random() < 0.05
            checked_in = None if no_show else starts + timedelta(minutes=rng.uniform(-15, 45))
            checked_out = None
            if checked_in is not None and rng.random() < 0.9:
                checked_out = checked_in + timedelta(minutes=rng.uniform(30, 150))
            copier.write(
                "attendance",
                (
                    attendance,
                    gathering,
                    person,
                    registered if group.registers else None,
                    checked_in,
                    checked_out,
                    "standard",
                    checked_out or checked_in or registered,
                ),
            )
            for kind, at in (
                ("registered", registered if group.registers else None),
                ("checked_in", checked_in),
                ("checked_out", checked_out),
            ):
                if at is not None:
                    copier.write("attendance_event", (ids.next("event"), attendance, kind, at))
            if checked_in is not None:
                present.append(person)
        write_connections(copier, rng, organizer, group, gathering, starts, present, met, ids)
        if business:
            write_outcomes(copier, rng, organizer, group, gathering, starts, present, ids)


def write_connections(
    copier: Copier,
    rng: random.Random,
    organizer: int,
    group: GroupPlan,
    gathering: int,
    starts: datetime,
    present: list[int],
    met: dict[int, list[int]],
    ids: Ids,
) -> None:
    """About 1.5 pairs per attendee, 40% of them re-meetings where the person has met someone
    here before; `met` carries who has met whom through the group's history."""
    if len(present) < 2:
        return
    here = set(present)
    pairs: set[tuple[int, int]] = set()
    for _ in range(round(len(present) * 1.5)):
        person = rng.choice(present)
        known = [
            other for other in rng.sample(met[person], min(3, len(met[person]))) if other in here
        ]
        other = known[0] if known and rng.random() < 0.4 else rng.choice(present)
        if other != person:
            pairs.add((min(person, other), max(person, other)))
    for low, high in sorted(pairs):
        met[low].append(high)
        met[high].append(low)
        confirmed = rng.random() < 0.85
        source = rng.choice(CONNECTION_SOURCES) if confirmed else "recap_answer"
        by_low = source == "mutual_tap" or not confirmed or rng.random() < 0.5
        by_high = source == "mutual_tap" or (confirmed and not by_low)
        followed_up = None
        if confirmed and group.format == "social" and rng.random() < 0.2:
            followed_up = starts + timedelta(days=rng.uniform(1, 20))
        copier.write(
            "connection",
            (
                ids.next("connection"),
                organizer,
                gathering,
                low,
                high,
                source,
                by_low,
                by_high,
                confirmed,
                starts + timedelta(minutes=rng.uniform(10, 110)),
                followed_up,
            ),
        )


def write_outcomes(
    copier: Copier,
    rng: random.Random,
    organizer: int,
    group: GroupPlan,
    gathering: int,
    starts: datetime,
    present: list[int],
    ids: Ids,
) -> None:
    """Leads, referrals and closed business, at each member's own rate (some get none)."""
    for person in present:
        if rng.random() >= group.outcome_rate[person]:
            continue
        outcome = ids.next("outcome")
        counterpart = rng.choice(present)
        value = round(rng.uniform(200, 20_000), 2) if rng.random() < 0.3 else None
        copier.write(
            "outcome",
            (
                outcome,
                organizer,
                person,
                group.id,
                gathering,
                counterpart if counterpart != person else None,
                rng.choice(OUTCOME_KINDS),
                value,
                "api",
                f"seed-{outcome}",
                starts + timedelta(days=rng.uniform(1, 30)),
                CREATED_AT,
            ),
        )


TABLES: dict[str, tuple[str, ...]] = {
    "person": ("id", "organizer_id", "email_normalized", "email", "name", "company", "created_at"),
    "identity": ("id", "person_id", "integration_id", "external_id"),
    "networking_group": (
        "id",
        "organizer_id",
        "integration_id",
        "external_id",
        "name",
        "format",
        "structure",
        "settings",
        "created_at",
    ),
    "gathering": (
        "id",
        "organizer_id",
        "group_id",
        "integration_id",
        "external_id",
        "name",
        "starts_at",
        "ends_at",
        "settings",
        "created_at",
    ),
    "attendance": (
        "id",
        "gathering_id",
        "person_id",
        "registered_at",
        "checked_in_at",
        "checked_out_at",
        "source",
        "updated_at",
    ),
    "attendance_event": ("id", "attendance_id", "kind", "occurred_at"),
    "connection": (
        "id",
        "organizer_id",
        "gathering_id",
        "person_low_id",
        "person_high_id",
        "source",
        "reported_by_low",
        "reported_by_high",
        "confirmed",
        "created_at",
        "followed_up_at",
    ),
    "outcome": (
        "id",
        "organizer_id",
        "person_id",
        "group_id",
        "gathering_id",
        "counterpart_id",
        "kind",
        "value",
        "source",
        "key",
        "reported_at",
        "created_at",
    ),
}


def finish(url: str) -> None:
    """Move each id sequence past the ids written, then VACUUM ANALYZE, so the planner knows
    the tables' sizes and the first reads do not pay for setting hint bits."""
    with psycopg.connect(url, autocommit=True) as connection:
        for table in TABLES:
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        connection.execute("VACUUM ANALYZE")


@contextmanager
def _timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"{label}: {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--var-dir", type=Path, default=Path("var/scorebench"))
    args = parser.parse_args(argv)
    with _timed("seeded"):
        result = seed(args.postgres, args.broker, args.var_dir.absolute())
    print(json.dumps(result.rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
