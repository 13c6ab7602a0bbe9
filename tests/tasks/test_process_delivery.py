"""End to end through a real Celery worker: webhook in, attendance out through the API."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from service.db import engine_for, session_scope
from service.delivery_writer import delivery_writer_for
from service.models import Delivery, DeliveryStatus
from service.queue import PROCESS_DELIVERY, SWEEP_DELIVERIES
from tests.conftest import Tenant, running_app
from tests.service.ingest_helpers import (
    Concurrent,
    check_in,
    held,
    keep_signing_keys,
    post_from_thread,
)
from tests.support import signed_headers, standard_body, wait_for, wait_until_a_lock_is_awaited

pytestmark = pytest.mark.worker

START = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def send(client: FlaskClient, tenant: Tenant, body: bytes) -> int:
    response = client.post(
        tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
    )
    assert response.status_code == 202, response.json
    return response.json["delivery"]


def delivery_status(client: FlaskClient, tenant: Tenant, delivery_id: int) -> str:
    return client.get(f"/api/v1/deliveries/{delivery_id}", headers=tenant.auth).json["status"]


def wait_processed(client: FlaskClient, tenant: Tenant, *delivery_ids: int) -> None:
    for delivery_id in delivery_ids:
        wait_for(lambda d=delivery_id: delivery_status(client, tenant, d) == "processed")


def only_gathering(client: FlaskClient, tenant: Tenant) -> dict:
    [summary] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    return client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json


def test_signed_check_in_reaches_the_api(celery_worker, client, tenant):
    delivery_id = send(client, tenant, standard_body(occurred_at=START + timedelta(minutes=3)))
    wait_processed(client, tenant, delivery_id)

    gathering = only_gathering(client, tenant)
    assert gathering["name"] == "Breakfast, 26 Nov"
    assert gathering["group"]["name"] == "Thursday Breakfast Club"
    assert gathering["checked_in"] == 1
    [row] = gathering["attendance"]
    assert row["person"]["name"] == "Ada Lovelace"
    assert row["checked_in_at"] == "2026-11-26T07:33:00Z"
    assert row["checked_out_at"] is None
    assert "process_delivery" in celery_worker.log()


def test_check_out_arriving_before_check_in_converges(celery_worker, client, tenant):
    out_id = send(
        client,
        tenant,
        standard_body("attendee.checked_out", occurred_at=START + timedelta(hours=2)),
    )
    wait_processed(client, tenant, out_id)
    before = only_gathering(client, tenant)
    assert before["checked_in"] == 0

    in_id = send(client, tenant, standard_body("attendee.checked_in", occurred_at=START))
    wait_processed(client, tenant, in_id)

    [row] = only_gathering(client, tenant)["attendance"]
    assert row["checked_in_at"] == "2026-11-26T07:30:00Z"
    assert row["checked_out_at"] == "2026-11-26T09:30:00Z"
    assert row["status"] == "checked_out"


def test_revert_removes_the_check_in(celery_worker, client, tenant):
    ids = [
        send(client, tenant, standard_body("attendee.checked_in", occurred_at=START)),
        send(
            client,
            tenant,
            standard_body("attendee.checkin_reverted", occurred_at=START + timedelta(minutes=1)),
        ),
    ]
    wait_processed(client, tenant, *ids)
    gathering = only_gathering(client, tenant)
    assert gathering["checked_in"] == 0
    assert gathering["attendance"][0]["status"] == "reverted"


def test_same_email_on_two_attendee_ids_is_one_person(celery_worker, client, tenant):
    ids = [
        send(
            client,
            tenant,
            standard_body(attendee_id="a-1", email="Grace@Example.com", occurred_at=START),
        ),
        send(
            client,
            tenant,
            standard_body(
                attendee_id="a-2",
                email=" grace@example.com",
                gathering_id="g-next",
                occurred_at=START,
            ),
        ),
    ]
    wait_processed(client, tenant, *ids)
    gatherings = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    people = {
        client.get(f"/api/v1/gatherings/{g['id']}", headers=tenant.auth).json["attendance"][0][
            "person"
        ]["id"]
        for g in gatherings
    }
    assert len(gatherings) == 2
    assert len(people) == 1


def _visit_bodies() -> list[bytes]:
    """Check-ins, re-entries, check-outs and a revert for five people at one gathering."""
    bodies = []
    for n in range(5):
        attendee = {"attendee_id": f"p{n}", "email": f"p{n}@example.com", "name": f"Person {n}"}
        arrive = START + timedelta(minutes=5 * n)
        bodies.append(
            standard_body("attendee.registered", occurred_at=START - timedelta(days=3), **attendee)
        )
        bodies.append(standard_body("attendee.checked_in", occurred_at=arrive, **attendee))
        bodies.append(
            standard_body(
                "attendee.checked_out", occurred_at=arrive + timedelta(minutes=40), **attendee
            )
        )
        if n % 2:
            bodies.append(
                standard_body(
                    "attendee.checked_in", occurred_at=arrive + timedelta(minutes=50), **attendee
                )
            )
        if n == 4:
            bodies.append(
                standard_body(
                    "attendee.checkin_reverted",
                    occurred_at=arrive + timedelta(minutes=55),
                    **attendee,
                )
            )
    return bodies


def _state(client: FlaskClient, tenant: Tenant) -> list[tuple]:
    gathering = only_gathering(client, tenant)
    return sorted(
        (
            row["person"]["email"],
            row["status"],
            row["checked_in_at"],
            row["checked_out_at"],
            row["registered_at"],
        )
        for row in gathering["attendance"]
    )


def test_deliveries_in_shuffled_order_converge(celery_worker, client, make_tenant):
    in_order, shuffled = make_tenant(), make_tenant()
    bodies = _visit_bodies()
    mixed = bodies[:]
    random.Random(7).shuffle(mixed)

    ids_a = [send(client, in_order, body) for body in bodies]
    ids_b = [send(client, shuffled, body) for body in reversed(mixed)]
    wait_processed(client, in_order, *ids_a)
    wait_processed(client, shuffled, *ids_b)

    state = _state(client, in_order)
    assert state == _state(client, shuffled)
    by_email = {row[0]: row for row in state}
    assert by_email["p1@example.com"][1] == "checked_in"  # came back after leaving
    assert by_email["p2@example.com"][1] == "checked_out"
    assert by_email["p4@example.com"][1] == "reverted"


def test_broker_down_at_post_time_loses_nothing(
    celery_worker, app, client, tenant, settings_overrides
):
    dead_broker = {**settings_overrides, "broker_url": "redis://127.0.0.1:1/0"}
    body = standard_body(occurred_at=START)
    with running_app(dead_broker) as cut_off:
        response = cut_off.test_client().post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
    assert response.status_code == 202
    delivery_id = response.json["delivery"]
    assert delivery_status(client, tenant, delivery_id) == "received"

    # Earlier tests leave deliveries waiting on purpose (some for platforms that cannot be
    # reached, which the worker would retry for minutes): the sweep is about this one.
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.RECEIVED, Delivery.id != delivery_id)
            .values(status=DeliveryStatus.FAILED, reason="set aside by the broker outage test")
        )

    # The broker is back: the periodic sweep re-enqueues what nobody picked up, once it is
    # older than SWEEP_AFTER_SECONDS.
    sweep = app.extensions["celery"].tasks[SWEEP_DELIVERIES]

    def swept_and_processed() -> bool:
        sweep()
        return delivery_status(client, tenant, delivery_id) == "processed"

    wait_for(swept_and_processed, timeout=120, interval=1.0)
    assert only_gathering(client, tenant)["checked_in"] == 1


def test_processing_the_same_delivery_twice_changes_nothing(celery_worker, app, client, tenant):
    delivery_id = send(client, tenant, standard_body(occurred_at=START))
    wait_processed(client, tenant, delivery_id)
    first = _state(client, tenant)

    process = app.extensions["celery"].tasks[PROCESS_DELIVERY]
    assert process(delivery_id) == "already_done"

    replay = client.post(f"/api/v1/deliveries/{delivery_id}/replay", headers=tenant.auth)
    assert replay.status_code == 202
    wait_processed(client, tenant, delivery_id)
    assert _state(client, tenant) == first


def test_requests_stored_together_are_answered_and_processed_each_as_alone(
    celery_worker, app, client, tenant
):
    """Requests that wait for one batch get the answers they would get alone, and each
    accepted delivery reaches the worker through its own task."""
    writer = delivery_writer_for(app)
    first, new, twice = (f"msg_{uuid.uuid4().hex}" for _ in range(3))
    calls = Concurrent()
    keep_signing_keys(app, tenant)

    with held(app, tenant, first):
        calls.start(post_from_thread(app, tenant, check_in(1), first))
        wait_until_a_lock_is_awaited(engine_for(app))
        calls.start(post_from_thread(app, tenant, check_in(2), new))
        calls.start(post_from_thread(app, tenant, check_in(3), twice))
        calls.start(post_from_thread(app, tenant, check_in(3), twice))
        wait_for(lambda: writer.queued() == 3)
    answers = calls.results()

    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 202, 202, 202]
    assert [body for status, body, _ in answers if status == 200] == [{"status": "duplicate"}]
    accepted = [body["delivery"] for status, body, _ in answers if status == 202]
    assert all(body["status"] == "accepted" for status, body, _ in answers if status == 202)
    assert len(set(accepted)) == 3
    wait_processed(client, tenant, *accepted)
