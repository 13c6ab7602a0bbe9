"""The webhook endpoint's answers: every status code DESIGN.md names, with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.db import session_scope
from service.models import Delivery, DeliveryStatus
from tests.conftest import Tenant, running_app
from tests.support import signed_headers, standard_body


def post(client: FlaskClient, tenant: Tenant, body: bytes, headers: dict[str, str]):
    return client.post(tenant.webhook_path, data=body, headers=headers)


def stored_deliveries(app, tenant: Tenant) -> list[Delivery]:
    with app.app_context(), session_scope() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.integration_id == tenant.integration_id)
            )
        )


def test_signed_check_in_is_stored_and_accepted(app, client, tenant):
    body = standard_body()
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))

    assert response.status_code == 202
    assert response.json["status"] == "accepted"
    [delivery] = stored_deliveries(app, tenant)
    assert response.json["delivery"] == delivery.id
    assert delivery.body == body
    assert delivery.event_type == "attendee.checked_in"


def test_same_delivery_id_twice_is_a_duplicate(app, client, tenant):
    body = standard_body()
    headers = signed_headers(tenant.signing_secret, body, msg_id="msg_dup")

    first = post(client, tenant, body, headers)
    second = post(client, tenant, body, headers)

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json == {"status": "duplicate"}
    assert len(stored_deliveries(app, tenant)) == 1


def test_tampered_body_is_rejected(app, client, tenant):
    body = standard_body()
    headers = signed_headers(tenant.signing_secret, body)
    tampered = body.replace(b"Ada Lovelace", b"Eve Intruder")

    response = post(client, tenant, tampered, headers)

    assert response.status_code == 401
    assert response.json["reason"] == "bad_signature"
    assert stored_deliveries(app, tenant) == []


def test_wrong_secret_is_rejected(client, tenant, make_tenant):
    other = make_tenant()
    body = standard_body()
    response = post(client, tenant, body, signed_headers(other.signing_secret, body))
    assert response.status_code == 401
    assert response.json["reason"] == "bad_signature"


def test_unsigned_request_is_rejected(client, tenant):
    response = post(client, tenant, standard_body(), {"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json["reason"] == "missing_signature"


def test_stale_timestamp_is_rejected_even_with_a_valid_signature(client, tenant):
    body = standard_body()
    old = datetime.now(UTC) - timedelta(minutes=6)
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body, at=old))
    assert response.status_code == 401
    assert response.json["reason"] == "stale_timestamp"


def test_future_timestamp_is_rejected(client, tenant):
    body = standard_body()
    ahead = datetime.now(UTC) + timedelta(minutes=6)
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body, at=ahead))
    assert response.status_code == 401
    assert response.json["reason"] == "future_timestamp"


def test_timestamp_inside_tolerance_is_accepted(client, tenant):
    body = standard_body()
    recent = datetime.now(UTC) - timedelta(minutes=4)
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body, at=recent))
    assert response.status_code == 202


def test_replayed_request_inside_the_window_is_not_applied_twice(app, client, tenant):
    body = standard_body()
    headers = signed_headers(tenant.signing_secret, body)
    post(client, tenant, body, headers)
    replay = post(client, tenant, body, headers)
    assert replay.json["status"] == "duplicate"
    assert len(stored_deliveries(app, tenant)) == 1


def test_malformed_json_with_a_valid_signature_is_400(client, tenant):
    body = b'{"type": "attendee.checked_in", "data": '
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 400
    assert response.json["reason"] == "malformed_json"


def test_json_that_is_not_an_object_is_400(client, tenant):
    body = b"[1, 2, 3]"
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 400
    assert response.json["reason"] == "malformed_payload"


def test_missing_attendee_is_400_naming_the_field(client, tenant):
    payload = json.loads(standard_body())
    del payload["data"]["attendee"]
    body = json.dumps(payload).encode()
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 400
    assert "data.attendee" in response.json["detail"]


def test_bad_timestamp_in_body_is_400(client, tenant):
    payload = json.loads(standard_body())
    payload["data"]["occurred_at"] = "last Tuesday"
    body = json.dumps(payload).encode()
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 400
    assert response.json["reason"] == "malformed_payload"


def test_nul_character_in_a_name_is_400_not_a_storage_error(client, tenant):
    body = standard_body(name="Ada\u0000Lovelace")
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 400
    assert response.json["reason"] == "malformed_payload"


def test_unknown_event_type_is_ignored_with_200(app, client, tenant):
    body = standard_body(event_type="attendee.badge_printed")
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))

    assert response.status_code == 200
    assert response.json["status"] == "ignored"
    assert response.json["reason"] == "ignored"
    [delivery] = stored_deliveries(app, tenant)
    assert delivery.status == DeliveryStatus.IGNORED


def test_oversized_body_is_413(app, client, tenant):
    body = b'{"type": "attendee.checked_in", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    assert response.status_code == 413
    assert response.json["reason"] == "payload_too_large"
    assert stored_deliveries(app, tenant) == []


def test_unknown_key_is_404(client, tenant):
    body = standard_body()
    response = client.post(
        "/hooks/standard/not-a-real-key",
        data=body,
        headers=signed_headers(tenant.signing_secret, body),
    )
    assert response.status_code == 404
    assert response.json["reason"] == "unknown_integration"


def test_unknown_platform_is_404(client, tenant):
    key = tenant.webhook_path.rsplit("/", 1)[1]
    response = client.post(f"/hooks/nosuchplatform/{key}", data=b"{}")
    assert response.status_code == 404
    assert response.json["reason"] == "unknown_integration"


def test_get_on_the_webhook_url_is_a_json_405(client, tenant):
    response = client.get(tenant.webhook_path)
    assert response.status_code == 405
    assert response.json["reason"] == "method_not_allowed"


def test_rotated_secret_keeps_the_old_one_valid_until_retired(app, client, tenant):
    from service.context import secret_box
    from service.models import Integration
    from service.platforms import retire_old_secrets, rotate_signing_secret

    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        new_secret = rotate_signing_secret(session, secret_box(), integration)

    for secret in (tenant.signing_secret, new_secret):
        body = standard_body(attendee_id=f"att-{secret[-6:]}")
        assert post(client, tenant, body, signed_headers(secret, body)).status_code == 202

    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        retire_old_secrets(session, secret_box(), integration)

    body = standard_body(attendee_id="att-after-retire")
    assert (
        post(client, tenant, body, signed_headers(tenant.signing_secret, body)).status_code == 401
    )
    assert post(client, tenant, body, signed_headers(new_secret, body)).status_code == 202


def test_database_down_answers_503_and_stores_nothing(settings_overrides, tenant):
    body = standard_body()
    dead_database = {**settings_overrides, "database_url": "postgresql://nobody@127.0.0.1:1/none"}
    with running_app(dead_database) as broken:
        response = broken.test_client().post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
    assert response.status_code == 503
    assert response.json["reason"] == "storage_unavailable"
    assert response.headers["Retry-After"]


def test_secrets_kept_from_an_earlier_request_never_accept_a_retired_one(app, client, tenant):
    from service.context import keyring, secret_box
    from service.models import Integration
    from service.platforms import retire_old_secrets, rotate_signing_secret

    key = tenant.webhook_path.rsplit("/", 1)[1]
    body = standard_body(attendee_id="att-before")
    assert (
        post(client, tenant, body, signed_headers(tenant.signing_secret, body)).status_code == 202
    )
    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        new_secret = rotate_signing_secret(session, secret_box(), integration)
        retire_old_secrets(session, secret_box(), integration)
    with app.app_context():
        kept = keyring().kept("standard", key)
    assert kept is not None and kept.secrets == (tenant.signing_secret,)

    body = standard_body(attendee_id="att-after")
    stale = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    fresh = post(client, tenant, body, signed_headers(new_secret, body))

    assert stale.status_code == 401
    assert stale.json["reason"] == "bad_signature"
    assert fresh.status_code == 202
    assert len(stored_deliveries(app, tenant)) == 2


def test_deleted_integration_is_404_even_where_its_secrets_were_kept(app, client, tenant):
    from sqlalchemy import delete

    from service.models import Integration

    body = standard_body(attendee_id="att-before")
    assert (
        post(client, tenant, body, signed_headers(tenant.signing_secret, body)).status_code == 202
    )
    with app.app_context(), session_scope() as session:
        session.execute(delete(Integration).where(Integration.id == tenant.integration_id))

    body = standard_body(attendee_id="att-after")
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))

    assert response.status_code == 404
    assert response.json["reason"] == "unknown_integration"
    assert stored_deliveries(app, tenant) == []


def test_connection_dropped_by_the_database_is_replaced_without_an_error(
    app, client, tenant, database_url
):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from service.db import ingest_engine_for

    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("dropping a server connection needs PostgreSQL")
    engine = ingest_engine_for(app)
    engine.dispose()
    body = standard_body(attendee_id="att-before")
    assert (
        post(client, tenant, body, signed_headers(tenant.signing_secret, body)).status_code == 202
    )
    assert engine.pool.checkedin() == 1
    with engine.connect() as pooled:
        pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar_one()
        admin = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()

    body = standard_body(attendee_id="att-after")
    response = post(client, tenant, body, signed_headers(tenant.signing_secret, body))

    assert response.status_code == 202
    assert len(stored_deliveries(app, tenant)) == 2


def test_answers_are_the_json_flask_gives(app, client, tenant):
    """Webhook POSTs are answered in front of Flask (`WebhookReceiver`), byte for byte as
    Flask's `jsonify` and error handlers answer."""
    from flask import jsonify

    body = standard_body()
    accepted = post(client, tenant, body, signed_headers(tenant.signing_secret, body))
    refused = post(client, tenant, body, {"content-type": "application/json"})
    with app.test_request_context():
        expected_accepted = jsonify(status="accepted", delivery=accepted.json["delivery"])
        expected_refused = jsonify(
            status="error",
            reason="missing_signature",
            detail="webhook-id, webhook-timestamp and webhook-signature headers are required",
        )

    for response, expected, status in [
        (accepted, expected_accepted, "202 ACCEPTED"),
        (refused, expected_refused, "401 UNAUTHORIZED"),
    ]:
        assert response.status == status
        assert response.data == expected.data
        assert response.headers["Content-Type"] == expected.headers["Content-Type"]
        assert response.headers["Content-Length"] == str(len(expected.data))


def test_answers_are_indented_as_flask_s_are_when_debugging(app, tenant):
    from flask import jsonify
    from werkzeug.test import Client

    from service.views.hooks import WebhookReceiver

    app.debug = True
    try:
        receiver = WebhookReceiver(app, app.wsgi_app)
        body = standard_body()
        headers = signed_headers(tenant.signing_secret, body)
        accepted = Client(receiver).post(tenant.webhook_path, data=body, headers=headers)
        with app.test_request_context():
            expected = jsonify(status="accepted", delivery=accepted.json["delivery"])
    finally:
        app.debug = False

    assert accepted.status == "202 ACCEPTED"
    assert accepted.data == expected.data
    assert b'\n  "status": "accepted"\n' in accepted.data


def test_other_paths_under_hooks_are_flask_s(client, tenant):
    response = client.post(tenant.webhook_path + "/more", data=b"{}")
    assert response.status_code == 404
    assert response.json["reason"] == "not_found"
    options = client.options(tenant.webhook_path)
    assert options.status_code == 200
    assert "POST" in options.headers["Allow"]
