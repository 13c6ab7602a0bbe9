"""Delivery benchmark: what applying one stored check-in costs, next to the bare SQL it needs.

`process_delivery` applies each webhook delivery in its own transaction (`service.inbox.process`),
and under a steady stream of check-ins the worker's time per delivery decides how far the
scores lag behind the room (BENCHMARKS.md, "Scoring"). This runs that function in-process,
without Celery or HTTP, on deliveries shaped as the scoring benchmark sends them: a check-in
of a person who came before, to one of ten new gatherings of an existing group.

One run, on 127.0.0.1 only:

1. recreates the `roomwise_deliverybench` database, migrates it, and creates an organizer with
   a `standard` integration; stores and applies one check-in per person to an earlier
   gathering, so people and their identities exist;
2. stores one check-in per person to the new gatherings, then applies each in its own
   transaction as the bare SQL a check-in needs at the least, straight on psycopg with
   prepared statements: lock and read the delivery, insert the attendance and its event, mark
   the delivery processed (the rows are then deleted and the deliveries put back);
3. applies each with `service.inbox.process`, counting its statements;
4. prints, for both, the time per delivery (mean, p50, p95), the benchmark process's CPU per
   delivery and the statements per delivery, with the machine and commit measured.

    .venv/bin/python -m bench.delivery [--deliveries 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import event

from bench.database import DEFAULT_POSTGRES, reset_database
from bench.provenance import machine_description, revision
from service import create_app, inbox
from service.accounts import create_organizer
from service.context import current_settings, keyring, secret_box
from service.db import engine_for, ingest_engine_for, session_scope
from service.delivery_writer import DeliveryWriter
from service.platforms import create_integration
from tests.support import signed_headers

DATABASE = "roomwise_deliverybench"
LIVE_GATHERINGS = 10
STARTS = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)

# The least a check-in to a new attendance needs, in one transaction per delivery.
BARE_STATEMENTS = (
    ("SELECT body FROM delivery WHERE id = %(delivery)s FOR UPDATE", False),
    (
        "INSERT INTO attendance (gathering_id, person_id, source, checked_in_at, updated_at) "
        "VALUES (%(gathering)s, %(person)s, 'standard', %(at)s, now()) RETURNING id",
        True,
    ),
    (
        "INSERT INTO attendance_event (attendance_id, kind, occurred_at, delivery_id) "
        "VALUES (%(attendance)s, 'checked_in', %(at)s, %(delivery)s)",
        False,
    ),
    (
        "UPDATE delivery SET status = 'processed', attempts = attempts + 1, "
        "processed_at = now() WHERE id = %(delivery)s",
        False,
    ),
)


@dataclass(frozen=True)
class Timing:
    deliveries: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float
    statements: float


def check_in(person: int, gathering: str) -> bytes:
    """A `standard` check-in as `bench.scoring` sends it."""
    return json.dumps(
        {
            "type": "attendee.checked_in",
            "timestamp": STARTS.isoformat(),
            "data": {
                "gathering": {
                    "id": gathering,
                    "name": f"Live {gathering}",
                    "starts_at": STARTS.isoformat(),
                    "ends_at": (STARTS + timedelta(hours=2)).isoformat(),
                    "group": {"id": "group-1", "name": "Thursday Breakfast Club"},
                },
                "attendee": {
                    "id": f"p-{person}",
                    "email": f"person{person}@example.com",
                    "name": f"Person {person}",
                },
                "occurred_at": (STARTS + timedelta(seconds=person)).isoformat(),
            },
        }
    ).encode()


def timed(deliveries: Sequence[int], apply: Callable[[int], int]) -> Timing:
    """Apply each delivery; `apply` returns how many statements it ran."""
    seconds: list[float] = []
    statements = 0
    cpu = time.process_time()
    for delivery_id in deliveries:
        start = time.perf_counter()
        statements += apply(delivery_id)
        seconds.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    count = len(deliveries)
    quantiles = statistics.quantiles(seconds, n=20)
    return Timing(
        deliveries=count,
        mean_ms=round(statistics.fmean(seconds) * 1000, 2),
        p50_ms=round(statistics.median(seconds) * 1000, 2),
        p95_ms=round(quantiles[-1] * 1000, 2),
        cpu_ms=round(cpu / count * 1000, 2),
        statements=round(statements / count, 1),
    )


def bare(url: str, deliveries: Sequence[tuple[int, int, int, datetime]]) -> Timing:
    """The bare SQL of each delivery; its rows are removed afterwards."""
    plan = {delivery: (gathering, person, at) for delivery, gathering, person, at in deliveries}
    with psycopg.connect(url) as connection:

        def apply(delivery: int) -> int:
            gathering, person, at = plan[delivery]
            params: dict[str, object] = {
                "delivery": delivery,
                "gathering": gathering,
                "person": person,
                "at": at,
            }
            with connection.transaction(), connection.cursor() as cursor:
                for sql, returns_attendance in BARE_STATEMENTS:
                    cursor.execute(sql, params, prepare=True)
                    if returns_attendance:
                        row = cursor.fetchone()
                        assert row is not None
                        params["attendance"] = row[0]
            return len(BARE_STATEMENTS)

        timing = timed(list(plan), apply)
        with connection.transaction():
            connection.execute(
                "DELETE FROM attendance WHERE gathering_id = ANY(%s)",
                [sorted({gathering for gathering, _, _ in plan.values()})],
            )
            connection.execute(
                "UPDATE delivery SET status = 'received', attempts = 0, processed_at = NULL "
                "WHERE id = ANY(%s)",
                [list(plan)],
            )
    return timing


def service(app: Flask, deliveries: Sequence[int]) -> Timing:
    counted = [0]

    def count(*_args: object) -> None:
        counted[0] += 1

    def apply(delivery_id: int) -> int:
        counted[0] = 0
        with session_scope() as session:
            outcome = inbox.process(session, secret_box(), delivery_id)
        assert outcome is inbox.ProcessOutcome.PROCESSED, outcome
        return counted[0]

    engine = engine_for(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        return timed(deliveries, apply)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def run(postgres_url: str, people: int) -> dict[str, object]:
    url = reset_database(postgres_url, DATABASE)
    with tempfile.TemporaryDirectory() as var_dir:
        app = create_app(
            {
                "var_dir": Path(var_dir),
                "database_url": url,
                "secret_key": "delivery-benchmark-" + "x" * 32,
                "public_base_url": "http://roomwise.bench",
            }
        )
        with app.app_context():
            with session_scope() as session:
                organizer = create_organizer(session, "Bench", "bench@example.com", "correct horse")
                integration = create_integration(
                    session, secret_box(), current_settings(), organizer.organizer_id, "standard"
                )
            key = integration.webhook_url.rsplit("/", 1)[1]
            secret = integration.signing_secret
            assert secret is not None

            # Stored as the endpoint stores them, but not queued: this script applies them.
            writer = DeliveryWriter(ingest_engine_for(app), publish=None)

            def store(body: bytes) -> int:
                headers = signed_headers(secret, body)
                result = inbox.receive(writer, keyring(), "standard", key, body, headers, 300)
                assert result.delivery_id is not None
                return result.delivery_id

            # Everyone came before; each live gathering has begun with one other person.
            earlier = [check_in(person, "earlier") for person in range(people)]
            opened = [check_in(people + n, f"live-{n}") for n in range(LIVE_GATHERINGS)]
            for body in earlier + opened:
                with session_scope() as session:
                    inbox.process(session, secret_box(), store(body))
            live = [store(check_in(p, f"live-{p % LIVE_GATHERINGS}")) for p in range(people)]
            bare_timing = bare(url, rows_of(url, live))
            service_timing = service(app, live)
            engine_for(app).dispose()
            ingest_engine_for(app).dispose()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": revision(),
        "machine": machine_description(),
        "bare_sql": asdict(bare_timing),
        "service": asdict(service_timing),
    }


def rows_of(url: str, deliveries: Sequence[int]) -> list[tuple[int, int, int, datetime]]:
    """Each delivery's gathering and person, as the service finds them, and its time."""
    with psycopg.connect(url) as connection:
        gatherings: dict[str, int] = dict(
            connection.execute("SELECT external_id, id FROM gathering").fetchall()
        )
        people: dict[str, int] = dict(
            connection.execute("SELECT external_id, person_id FROM identity").fetchall()
        )
        bodies = connection.execute(
            "SELECT id, body FROM delivery WHERE id = ANY(%s) ORDER BY id", [list(deliveries)]
        ).fetchall()
    rows = []
    for delivery_id, body in bodies:
        data = json.loads(body)["data"]
        rows.append(
            (
                delivery_id,
                gatherings[data["gathering"]["id"]],
                people[data["attendee"]["id"]],
                datetime.fromisoformat(data["occurred_at"]),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    result = run(args.postgres, args.deliveries)
    print(json.dumps(result, indent=2))
    bare_sql, measured = result["bare_sql"], result["service"]
    assert isinstance(bare_sql, dict) and isinstance(measured, dict)
    print()
    print("| per delivery | mean | p50 | p95 | CPU (this process) | statements |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, timing in (("bare SQL", bare_sql), ("service.inbox.process", measured)):
        print(
            f"| {name} | {timing['mean_ms']} ms | {timing['p50_ms']} ms | "
            f"{timing['p95_ms']} ms | {timing['cpu_ms']} ms | {timing['statements']} |"
        )


if __name__ == "__main__":
    main()
