"""Storing deliveries below the webhook view, and making webhook requests arrive together.

To make requests arrive together, a test holds a write lock on the delivery table (`held`: an
uncommitted copy of one delivery on PostgreSQL, a write transaction on SQLite): the request
storing that delivery waits on it while writing its batch, the next requests queue up behind
it, and releasing the lock lets them all be written as the next batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Connection

from service.db import engine_for, session_scope
from service.ingest_sql import STORE_DELIVERY
from service.models import DeliveryStatus, Integration, utcnow
from tests.conftest import Tenant
from tests.support import signed_headers, standard_body


def sealed_secrets(app, tenant: Tenant) -> str:
    with app.app_context(), session_scope() as session:
        return session.get_one(Integration, tenant.integration_id).secrets_encrypted


def delivery(tenant: Tenant, sealed: str, external_id: str) -> dict[str, object]:
    # Stored as ignored, so that no later test's sweep picks it up.
    return {
        "integration_id": tenant.integration_id,
        "secrets_encrypted": sealed,
        "external_id": external_id,
        "event_type": "attendee.checked_in",
        "headers": {"webhook-id": external_id},
        "body": b'{"type": "attendee.checked_in"}',
        "status": DeliveryStatus.IGNORED,
        "reason": "ignored",
        "received_at": utcnow(),
    }


class Concurrent:
    """Calls run on threads of their own; each result (or exception) is kept for the test."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._outcomes: list[Any] = []

    def start(self, call: Callable[[], Any]) -> int:
        index = len(self._outcomes)
        self._outcomes.append(None)

        def run() -> None:
            try:
                self._outcomes[index] = call()
            except Exception as err:
                self._outcomes[index] = err

        thread = threading.Thread(target=run)
        self._threads.append(thread)
        thread.start()
        return index

    def done(self, index: int) -> bool:
        return not self._threads[index].is_alive()

    def results(self) -> list[Any]:
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self._threads)
        return self._outcomes


@contextmanager
def held(app: Flask, tenant: Tenant, external_id: str) -> Iterator[Connection]:
    """An uncommitted copy of delivery `external_id`, rolled back when the block ends."""
    with engine_for(app).connect() as connection:
        connection.execute(
            STORE_DELIVERY, delivery(tenant, sealed_secrets(app, tenant), external_id)
        )
        try:
            yield connection
        finally:
            connection.rollback()


def post_from_thread(app: Flask, tenant: Tenant, body: bytes, msg_id: str) -> Callable[[], Any]:
    headers = signed_headers(tenant.signing_secret, body, msg_id=msg_id)

    def post() -> Any:
        response = app.test_client().post(tenant.webhook_path, data=body, headers=headers)
        return response.status_code, response.json, response.headers.get("Retry-After")

    return post


def check_in(n: int) -> bytes:
    return standard_body(attendee_id=f"att-{n}", email=f"member-{n}@example.com")


def keep_signing_keys(app: Flask, tenant: Tenant) -> None:
    """Have `app` read the tenant's secrets now, so that no request waits to read them later
    (on SQLite, reading waits for the held write lock too)."""
    body = standard_body(event_type="attendee.badge_printed")
    response = app.test_client().post(
        tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
    )
    assert response.json["status"] == "ignored"
