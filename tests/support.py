"""Helpers for tests: building `standard` payloads, signing them independently, waiting."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from standardwebhooks import Webhook

GROUP = {"id": "grp-breakfast", "name": "Thursday Breakfast Club"}


def standard_body(
    event_type: str = "attendee.checked_in",
    *,
    attendee_id: str = "att-1",
    email: str | None = "ada@example.com",
    name: str = "Ada Lovelace",
    gathering_id: str = "g-2026-11-26",
    occurred_at: datetime | None = None,
    group: dict[str, str] | None = GROUP,
) -> bytes:
    """A body in Roomwise's `standard` format."""
    starts = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    occurred = occurred_at or starts + timedelta(minutes=5)
    gathering: dict[str, Any] = {
        "id": gathering_id,
        "name": "Breakfast, 26 Nov",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
    }
    if group is not None:
        gathering["group"] = group
    attendee: dict[str, Any] = {"id": attendee_id, "name": name, "company": "Analytical Engines"}
    if email is not None:
        attendee["email"] = email
    return json.dumps(
        {
            "type": event_type,
            "timestamp": occurred.isoformat(),
            "data": {
                "gathering": gathering,
                "attendee": attendee,
                "occurred_at": occurred.isoformat(),
            },
        }
    ).encode()


def signed_headers(
    secret: str, body: bytes, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Sign with the `standardwebhooks` package: an implementation independent of ours."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def wait_for(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.1) -> Any:
    """Poll until `predicate` returns something truthy; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_until_a_lock_is_awaited(engine: Engine, timeout: float = 30) -> None:
    """Return once another connection waits for a row lock (PostgreSQL), or after a moment.

    Each look is its own transaction: PostgreSQL shows one transaction the same snapshot of
    `pg_stat_activity` throughout. SQLite takes its write lock when a transaction begins, so
    there the second writer waits before reading anything and there is nothing to observe.
    """
    if engine.dialect.name != "postgresql":
        time.sleep(0.3)
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    def someone_waits() -> bool:
        with engine.connect() as connection:
            return bool(connection.execute(query).scalar())

    wait_for(someone_waits, timeout=timeout, interval=0.05)
