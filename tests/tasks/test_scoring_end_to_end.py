"""Scoring end to end through a real Celery worker: check-ins in, scores and standings out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.queue import RESCORE_DUE
from tests.conftest import Tenant
from tests.support import signed_headers, standard_body, wait_for

pytestmark = pytest.mark.worker

START = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
MIXER = {"id": "grp-mixer", "name": "Harbourside Business Mixer"}


def send_all(client: FlaskClient, tenant: Tenant, bodies: list[bytes]) -> list[int]:
    ids = []
    for body in bodies:
        response = client.post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
        assert response.status_code == 202, response.json
        ids.append(response.json["delivery"])
    return ids


def wait_processed(client: FlaskClient, tenant: Tenant, ids: list[int]) -> None:
    def done() -> bool:
        statuses = {
            client.get(f"/api/v1/deliveries/{i}", headers=tenant.auth).json["status"]
            for i in ids[-5:]
        }
        return statuses == {"processed"}

    wait_for(done, timeout=120, interval=0.5)
    wait_for(
        lambda: (
            not client.get(
                "/api/v1/deliveries", query_string={"status": "received"}, headers=tenant.auth
            ).json["deliveries"]
        ),
        timeout=120,
        interval=0.5,
    )


def rescored(app: Flask, condition) -> object:
    """Ask the real worker to rescore what is due, until `condition()` holds."""
    celery = app.extensions["celery"]

    def attempt() -> object:
        celery.send_task(RESCORE_DUE)
        return condition()

    return wait_for(attempt, timeout=90, interval=1.0)


def only_gathering(client: FlaskClient, tenant: Tenant, name_part: str = "") -> dict:
    gatherings = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    [summary] = [g for g in gatherings if name_part in g["name"]]
    return client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json


def test_a_crowded_social_evening_scores_29_and_is_told_to_cap_or_split(
    celery_worker, app, client, tenant
):
    bodies = [
        standard_body(
            attendee_id=f"guest-{n}",
            email=f"guest{n}@example.com",
            name=f"Guest {n}",
            gathering_id="mixer-night",
            occurred_at=START + timedelta(minutes=n % 20),
        )
        for n in range(80)
    ]
    first = send_all(client, tenant, bodies[:1])
    wait_processed(client, tenant, first)
    group_id = only_gathering(client, tenant)["group"]["id"]
    settings = client.patch(
        f"/api/v1/groups/{group_id}",
        json={
            "format": "social",
            "structure": "open",
            "recurring": True,
            "open_minutes": 120,
            "venue": {"floor_area_m2": 150, "ceiling_height_m": 3, "reverberation_s": 0.8},
        },
        headers=tenant.auth,
    )
    assert settings.status_code == 200, settings.json

    wait_processed(client, tenant, send_all(client, tenant, bodies[1:]))
    gathering = rescored(
        app,
        lambda: (
            (g := only_gathering(client, tenant))["score"] and g["score"]["head_count"] == 80 and g
        ),
    )

    score = gathering["score"]
    assert score["value"] == 29
    assert score["model_version"] == 1
    assert round(score["acoustic_capacity"], 1) == 25.9
    assert {action["code"] for action in score["actions"]} >= {"cap_or_split"}
    assert all(factor["sentence"] for factor in score["factors"])
    live = gathering["live"]
    assert live["head_count_now"] == 80
    assert {alert["code"] for alert in live["alerts"]} >= {"above_acoustic_capacity"}
    figures = gathering["attendance"][0]["figures"]
    assert figures["capacity"] == 8
    assert figures["connections"] is None  # nobody logged a conversation yet


def test_an_outcome_changes_a_mixer_members_standing(celery_worker, app, client, tenant):
    member = {"attendee_id": "m-ada", "email": "ada@example.com", "name": "Ada Lovelace"}
    bodies = []
    for week in range(12):
        gathering = f"mixer-{week:02d}"
        at = START - timedelta(weeks=12 - week)
        bodies.append(standard_body(gathering_id=gathering, occurred_at=at, group=MIXER, **member))
        for other in ("ben", "cleo"):
            bodies.append(
                standard_body(
                    attendee_id=f"m-{other}",
                    email=f"{other}@example.com",
                    name=other.title(),
                    gathering_id=gathering,
                    occurred_at=at,
                    group=MIXER,
                )
            )
    first = send_all(client, tenant, bodies[:1])
    wait_processed(client, tenant, first)
    group_id = only_gathering(client, tenant)["group"]["id"]
    client.patch(
        f"/api/v1/groups/{group_id}",
        json={"format": "business", "structure": "open"},
        headers=tenant.auth,
    )
    wait_processed(client, tenant, send_all(client, tenant, bodies[1:]))
    # Someone else's referral shows the group records outcomes at all.
    other = client.post(
        "/api/v1/outcomes",
        json={"person": "ben@example.com", "group": group_id, "kind": "referral"},
        headers=tenant.auth,
    )
    assert other.status_code == 201, other.json

    def ada() -> dict | None:
        members = client.get(f"/api/v1/groups/{group_id}/members", headers=tenant.auth).json
        rows = [m for m in members["members"] if m["person"]["email"] == "ada@example.com"]
        return rows[0] if rows and rows[0]["attended"] == 12 else None

    before = rescored(app, ada)
    assert before["standing"] == "give_it_time"
    assert before["numbers"]["benchmark"] == pytest.approx(1.9, abs=0.01)

    reported = client.post(
        "/api/v1/outcomes",
        json={"person": "ada@example.com", "group": group_id, "kind": "lead"},
        headers=tenant.auth,
    )
    assert reported.status_code == 201, reported.json
    after = rescored(app, lambda: (row := ada()) and row["standing"] == "stay" and row)
    assert after["reasons"]
    person = client.get(f"/api/v1/people/{after['person']['id']}", headers=tenant.auth).json
    assert [g["standing"] for g in person["groups"]] == ["stay"]
    group = client.get(f"/api/v1/groups/{group_id}", headers=tenant.auth).json
    assert group["health"] is not None and group["health"]["explanation"]
