"""Integrations through the API: status an operator can act on, and the organizer's settings."""

from __future__ import annotations

from sqlalchemy import select

from service.context import secret_box
from service.db import session_scope
from service.inbox import process
from service.models import Delivery, Integration
from tests.support import signed_headers, standard_body


def integration_json(client, tenant):
    response = client.get(f"/api/v1/integrations/{tenant.integration_id}", headers=tenant.auth)
    assert response.status_code == 200
    return response.json


def process_all(app, tenant):
    with app.app_context(), session_scope() as session:
        ids = session.scalars(
            select(Delivery.id).where(Delivery.integration_id == tenant.integration_id)
        ).all()
    for delivery_id in ids:
        with app.app_context(), session_scope() as session:
            process(session, secret_box(), delivery_id)


def test_status_shows_last_delivery_and_counts_but_never_secrets(client, tenant):
    fresh = integration_json(client, tenant)
    assert fresh["last_delivery_at"] is None
    assert fresh["deliveries"] == {}

    body = standard_body()
    client.post(tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body))
    ignored = standard_body("attendee.waved")
    client.post(
        tenant.webhook_path, data=ignored, headers=signed_headers(tenant.signing_secret, ignored)
    )

    status = integration_json(client, tenant)
    assert status["platform"] == "standard"
    assert status["webhook_url"].endswith(tenant.webhook_path)
    assert status["last_delivery_at"] is not None
    assert status["deliveries"] == {"received": 1, "ignored": 1}
    assert status["credentials_invalid"] is False
    text = str(status)
    assert tenant.signing_secret not in text and "whsec_" not in text


def test_list_shows_only_the_organizers_integrations(client, tenant, make_tenant):
    other = make_tenant()
    listed = client.get("/api/v1/integrations", headers=tenant.auth).json["integrations"]
    assert [row["id"] for row in listed] == [tenant.integration_id]
    assert (
        client.get(f"/api/v1/integrations/{other.integration_id}", headers=tenant.auth).status_code
        == 404
    )
    patched = client.patch(
        f"/api/v1/integrations/{other.integration_id}",
        json={"group_rules": []},
        headers=tenant.auth,
    )
    assert patched.status_code == 404


def test_group_rules_map_gatherings_without_a_platform_group(app, client, tenant):
    rules = [
        {"prefix": "Breakfast", "group": "Harbourside Breakfast"},
        {"prefix": "Mixer", "group": "Friday Mixer"},
    ]
    response = client.patch(
        f"/api/v1/integrations/{tenant.integration_id}",
        json={"group_rules": rules},
        headers=tenant.auth,
    )
    assert response.status_code == 200
    assert response.json["settings"]["group_rules"] == rules

    for gathering_id in ("b-1", "b-2"):
        body = standard_body(gathering_id=gathering_id, group=None)
        client.post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
    process_all(app, tenant)

    gatherings = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    groups = {(g["group"] or {}).get("name") for g in gatherings}
    assert groups == {"Harbourside Breakfast"}
    assert len({g["group"]["id"] for g in gatherings}) == 1


def test_platform_group_wins_over_a_rule(app, client, tenant):
    client.patch(
        f"/api/v1/integrations/{tenant.integration_id}",
        json={"group_rules": [{"prefix": "breakfast", "group": "Rule Group"}]},
        headers=tenant.auth,
    )
    body = standard_body()
    client.post(tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body))
    process_all(app, tenant)
    [gathering] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    assert gathering["group"]["name"] == "Thursday Breakfast Club"


def test_invalid_rules_are_refused_naming_the_field(client, tenant):
    for bad in (
        {"group_rules": "Breakfast"},
        {"group_rules": [{"prefix": "", "group": "X"}]},
        {"group_rules": [{"prefix": "A"}]},
        {"group_rules": [{"prefix": "A\u0000", "group": "B"}]},
        {"group_rules": [{"prefix": "A", "group": "B"}] * 101},
    ):
        response = client.patch(
            f"/api/v1/integrations/{tenant.integration_id}", json=bad, headers=tenant.auth
        )
        assert response.status_code == 400, bad
        assert response.json["reason"] == "invalid_parameter"
        assert "group_rules" in response.json["detail"]


def test_unknown_fields_and_non_json_bodies_are_refused(client, tenant):
    path = f"/api/v1/integrations/{tenant.integration_id}"
    unknown = client.patch(path, json={"platform": "pretix"}, headers=tenant.auth)
    assert (unknown.status_code, unknown.json["reason"]) == (400, "invalid_parameter")
    not_json = client.patch(path, data=b"group_rules=1", headers=tenant.auth)
    assert (not_json.status_code, not_json.json["reason"]) == (400, "malformed_json")


def test_new_credentials_clear_the_invalid_flag_and_stay_secret(app, client, tenant):
    from service.models import utcnow

    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        integration.credentials_invalid_at = utcnow()
        integration.last_error = "platform_credentials_invalid: GET … answered 401"
    assert integration_json(client, tenant)["credentials_invalid"] is True

    response = client.patch(
        f"/api/v1/integrations/{tenant.integration_id}",
        json={"api_token": "new-token-value"},
        headers=tenant.auth,
    )
    assert response.status_code == 200
    assert response.json["credentials_invalid"] is False
    assert response.json["has_credentials"] is True
    assert "new-token-value" not in response.get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        stored = session.get_one(Integration, tenant.integration_id).credentials_encrypted
    assert "new-token-value" not in stored
