"""Platforms end to end through a real Celery worker: pretix (fetched from a local stand-in for
its API) and Tito (signed), into one organizer's attendance as the API shows it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from integrations.tito import TitoAdapter
from service.context import current_settings, secret_box
from service.db import session_scope
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.support import wait_for

pytestmark = pytest.mark.worker

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PRETIX_TOKEN = "pretix-end-to-end-token"
SUMMIT = "/api/v1/organizers/acme/events/summit-2026/"
TITO_SECRET = "tito-security-token-e2e"


def fixture(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


def connect(app: Flask, tenant: Tenant, platform: str, **options: object) -> str:
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            platform,
            register=False,
            **options,
        )
    return created.webhook_url.removeprefix("http://roomwise.test")


def serve_pretix(httpserver: HTTPServer) -> None:
    auth = {"Authorization": f"Token {PRETIX_TOKEN}"}
    for path, name in (
        (f"{SUMMIT}orderpositions/23442/", "orderposition.json"),
        (SUMMIT, "event.json"),
        (f"{SUMMIT}orders/ABC12/", "order.json"),
    ):
        httpserver.expect_request(path, method="GET", headers=auth).respond_with_data(
            fixture("pretix", name), content_type="application/json"
        )


def post(client: FlaskClient, path: str, body: bytes, headers: dict[str, str]) -> int:
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 202, response.json
    return int(response.json["delivery"])


def post_tito(client: FlaskClient, path: str, name: str) -> int:
    body = fixture("tito", f"{name}.json")
    return post(client, path, body, TitoAdapter().sign(body, TITO_SECRET, name))


def wait_processed(client: FlaskClient, tenant: Tenant, *delivery_ids: int) -> None:
    def processed(delivery_id: int) -> bool:
        answer = client.get(f"/api/v1/deliveries/{delivery_id}", headers=tenant.auth).json
        assert answer["status"] != "failed", answer
        return bool(answer["status"] == "processed")

    for delivery_id in delivery_ids:
        wait_for(lambda d=delivery_id: processed(d), timeout=60)


def attendance_by_gathering(client: FlaskClient, tenant: Tenant) -> dict[str, dict]:
    gatherings = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    rows = {}
    for summary in gatherings:
        detail = client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json
        [row] = detail["attendance"]
        rows[detail["name"]] = row
    return rows


@pytest.fixture()
def connected(app: Flask, tenant: Tenant, httpserver: HTTPServer) -> tuple[str, str]:
    serve_pretix(httpserver)
    pretix = connect(
        app,
        tenant,
        "pretix",
        platform_settings={"api_url": httpserver.url_for("/api/v1/"), "organizer": "acme"},
        credentials={"api_token": PRETIX_TOKEN},
    )
    tito = connect(app, tenant, "tito", signing_secret=TITO_SECRET)
    return pretix, tito


def test_one_person_across_pretix_and_tito_with_dwell_from_entry_and_exit(
    celery_worker, client, tenant, connected
):
    pretix, tito = connected
    ids = [
        post(client, pretix, fixture("pretix", "checkin_entry.json"), {}),
        post(client, pretix, fixture("pretix", "checkin_exit.json"), {}),
        post_tito(client, tito, "checkin.created"),
    ]
    wait_processed(client, tenant, *ids)

    rows = attendance_by_gathering(client, tenant)
    summit = rows["Networking Summit 2026"]
    breakfast = rows["Harbourside Breakfast, 26 Nov"]
    assert summit["person"]["id"] == breakfast["person"]["id"]
    assert summit["checked_in_at"] == "2026-11-26T08:05:12Z"
    assert summit["checked_out_at"] == "2026-11-26T11:40:00Z"
    assert summit["status"] == "checked_out"
    assert breakfast["status"] == "checked_in"


def test_a_deleted_tito_check_in_is_reverted_whatever_the_order(
    celery_worker, client, make_tenant, app
):
    in_order, reversed_order = make_tenant(), make_tenant()
    paths = {
        tenant.organizer_id: connect(app, tenant, "tito", signing_secret=TITO_SECRET)
        for tenant in (in_order, reversed_order)
    }
    sequence = ["checkin.created", "checkin.deleted"]
    ids_a = [post_tito(client, paths[in_order.organizer_id], name) for name in sequence]
    ids_b = [
        post_tito(client, paths[reversed_order.organizer_id], name) for name in reversed(sequence)
    ]
    wait_processed(client, in_order, *ids_a)
    wait_processed(client, reversed_order, *ids_b)

    for tenant in (in_order, reversed_order):
        [row] = attendance_by_gathering(client, tenant).values()
        assert row["status"] == "reverted"
        assert row["checked_in_at"] is None


def test_pretix_and_tito_deliveries_in_shuffled_order_converge(
    celery_worker, client, make_tenant, app, httpserver
):
    serve_pretix(httpserver)
    states = []
    for seed in (1, 2):
        tenant = make_tenant()
        pretix = connect(
            app,
            tenant,
            "pretix",
            platform_settings={"api_url": httpserver.url_for("/api/v1/"), "organizer": "acme"},
            credentials={"api_token": PRETIX_TOKEN},
        )
        tito = connect(app, tenant, "tito", signing_secret=TITO_SECRET)
        sends = [
            lambda p=pretix: post(client, p, fixture("pretix", "checkin_entry.json"), {}),
            lambda p=pretix: post(client, p, fixture("pretix", "checkin_exit.json"), {}),
            lambda t=tito: post_tito(client, t, "checkin.created"),
            lambda t=tito: post_tito(client, t, "checkin.deleted"),
        ]
        random.Random(seed).shuffle(sends)
        wait_processed(client, tenant, *[send() for send in sends])
        states.append(
            sorted(
                (name, row["status"], row["checked_in_at"], row["checked_out_at"])
                for name, row in attendance_by_gathering(client, tenant).items()
            )
        )
    assert states[0] == states[1]
