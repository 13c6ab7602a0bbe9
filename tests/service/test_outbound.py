"""Outbound webhooks against a real local receiver: signing, retries, 410, Retry-After,
redirects, timeouts, address refusals, idempotent emission, replay, the API and migration 0004.

Messages are sent by calling `service.outbound` and the beat task directly. The session's app
keeps the production default (private addresses refused); `local_app` allows them, as a
developer's machine would, so it can send to the test receiver on localhost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import inspect, select, update
from standardwebhooks import Webhook
from werkzeug import Request, Response

from service import migrate, outbound, rescoring
from service.context import secret_box
from service.db import make_engine, session_scope
from service.inbox import process
from service.models import (
    Base,
    MemberStandingSnapshot,
    OutboundEndpoint,
    OutboundEventType,
    OutboundMessage,
)
from service.openapi import OPENAPI_SPEC
from service.queue import DELIVER_DUE_WEBHOOKS
from tests.conftest import Tenant, running_app
from tests.service.test_api import documented
from tests.support import signed_headers, standard_body

ENDPOINTS = "/api/v1/endpoints"
ENDPOINT = "/api/v1/endpoints/{endpoint_id}"
MESSAGES = "/api/v1/endpoints/{endpoint_id}/messages"
ENABLE = "/api/v1/endpoints/{endpoint_id}/enable"
REPLAY = "/api/v1/messages/{message_id}/replay"
STANDING = OutboundEventType.MEMBER_STANDING_CHANGED
# A public address literal: registering it needs no DNS, and nothing is ever sent to it here.
PUBLIC_URL = "https://93.184.215.14/roomwise"
OUTBOUND_TABLES = {"outbound_endpoint", "outbound_message", "outbound_attempt"}


@pytest.fixture(scope="module")
def local_app(settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with running_app({**settings_overrides, "outbound_allow_private": True}) as flask_app:
        yield flask_app


@pytest.fixture()
def register(app: Flask) -> Iterator[Callable[..., tuple[int, str]]]:
    """Register endpoints as if their host were public; remove them (and their messages) after,
    so no later test's `deliver_due` finds them."""
    created: list[int] = []

    def make(tenant: Tenant, url: str, events: tuple[str, ...] = (STANDING,)) -> tuple[int, str]:
        with app.app_context(), session_scope() as session:
            new = outbound.register(
                session, secret_box(), tenant.organizer_id, url, events, allow_private=True
            )
            created.append(new.endpoint.id)
            return new.endpoint.id, new.secret

    yield make
    with app.app_context(), session_scope() as session:
        for endpoint_id in created:
            if (endpoint := session.get(OutboundEndpoint, endpoint_id)) is not None:
                session.delete(endpoint)


def emit(app: Flask, tenant: Tenant, key: str | None = None) -> str:
    key = key or f"test:{uuid.uuid4().hex}"
    with app.app_context(), session_scope() as session:
        outbound.emit(session, tenant.organizer_id, STANDING, key, {"person": {"id": 1}})
    return key


def send(app: Flask, now: datetime | None = None, *, allow_private: bool = True) -> None:
    with app.app_context(), session_scope() as session:
        outbound.deliver_due(
            session, secret_box(), now or datetime.now(UTC), 100, allow_private=allow_private
        )


def messages(app: Flask, endpoint_id: int) -> list[OutboundMessage]:
    with app.app_context(), session_scope() as session:
        return list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.endpoint_id == endpoint_id)
                .order_by(OutboundMessage.id)
            )
        )


def endpoint_row(app: Flask, endpoint_id: int) -> OutboundEndpoint:
    with app.app_context(), session_scope() as session:
        return session.get_one(OutboundEndpoint, endpoint_id)


def received(httpserver: HTTPServer) -> list[Request]:
    return [request for request, _ in httpserver.log]


def verified(request: Request, secret: str) -> Any:
    """The body, verified with the independent `standardwebhooks` package."""
    return Webhook(secret).verify(request.get_data(), dict(request.headers))


# --- sending -------------------------------------------------------------------------------


def test_a_delivered_webhook_verifies_with_a_standard_webhooks_library(
    app, register, tenant, httpserver
):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    endpoint_id, secret = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    send(app)

    [request] = received(httpserver)
    body = verified(request, secret)
    assert body["type"] == STANDING
    assert body["data"] == {"person": {"id": 1}}
    assert request.headers["content-type"] == "application/json"
    [message] = messages(app, endpoint_id)
    assert request.headers["webhook-id"] == message.webhook_id
    assert (message.status, message.attempts, message.last_status_code) == ("delivered", 1, 200)
    assert message.delivered_at is not None and message.next_attempt_at is None


def test_a_500_is_retried_after_a_backoff_with_the_same_webhook_id(
    app, register, tenant, httpserver
):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=500)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    endpoint_id, secret = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    now = datetime.now(UTC)

    send(app, now)
    [message] = messages(app, endpoint_id)
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "http_500")
    assert message.next_attempt_at is not None
    assert now + timedelta(seconds=4) <= message.next_attempt_at <= now + timedelta(seconds=6)

    send(app, now + timedelta(seconds=1))  # not due yet
    assert len(received(httpserver)) == 1
    send(app, now + timedelta(seconds=7))

    first, second = received(httpserver)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.webhook_id
    assert verified(first, secret) == verified(second, secret)
    [message] = messages(app, endpoint_id)
    assert (message.status, message.attempts) == ("delivered", 2)


def test_every_failure_follows_the_schedule_then_the_message_fails(
    app, register, tenant, httpserver
):
    httpserver.expect_request("/hook").respond_with_data("down", status=502)
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    at = datetime.now(UTC)
    jitter = outbound.RETRIES.jitter
    for delay in outbound.RETRIES.delays:
        send(app, at)
        [message] = messages(app, endpoint_id)
        assert message.status == "pending"
        assert message.next_attempt_at is not None
        waited = message.next_attempt_at - at
        assert delay * (1 - jitter) <= waited <= delay * (1 + jitter)
        at = message.next_attempt_at
    send(app, at)
    [message] = messages(app, endpoint_id)
    assert (message.status, message.attempts) == ("failed", len(outbound.RETRIES.delays) + 1)
    assert message.next_attempt_at is None


def test_410_disables_the_endpoint_and_its_waiting_messages(app, register, tenant, httpserver):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    emit(app, tenant)
    send(app)

    assert len(received(httpserver)) == 1
    assert [m.status for m in messages(app, endpoint_id)] == ["disabled", "disabled"]
    endpoint = endpoint_row(app, endpoint_id)
    assert not endpoint.enabled
    assert "410" in (endpoint.disabled_reason or "")
    assert emit(app, tenant) and len(messages(app, endpoint_id)) == 2  # nothing new is queued


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_next_due_time(app, register, tenant, httpserver, status):
    httpserver.expect_request("/hook").respond_with_data(
        "slow down", status=status, headers={"Retry-After": "120"}
    )
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    now = datetime.now(UTC)
    send(app, now)
    [message] = messages(app, endpoint_id)
    assert message.status == "pending"
    assert message.next_attempt_at == now + timedelta(seconds=120)


def test_a_redirect_is_a_failure_and_is_not_followed(app, register, tenant, httpserver):
    httpserver.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    send(app)

    assert [request.path for request in received(httpserver)] == ["/hook"]
    [message] = messages(app, endpoint_id)
    assert (message.status, message.last_status_code, message.last_error) == (
        "pending",
        302,
        "http_302",
    )


def test_a_timeout_is_a_failure(app, register, tenant, httpserver):
    def slow(_request: Request) -> Response:
        time.sleep(1)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    endpoint_id, secret = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    with app.app_context(), session_scope() as session:
        [message] = session.scalars(
            select(OutboundMessage).where(OutboundMessage.endpoint_id == endpoint_id)
        )
        result = outbound.attempt(message, secret, allow_private=True, timeout=0.2)
        now = datetime.now(UTC)
        assert outbound.record(session, message, result, now) == "pending"
    assert result.status_code is None
    assert result.error is not None and result.error.startswith("timeout")
    assert message.next_attempt_at is not None and message.next_attempt_at > now


def test_the_beat_task_sends_what_is_due(local_app, register, tenant, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))
    emit(local_app, tenant)
    assert local_app.extensions["celery"].tasks[DELIVER_DUE_WEBHOOKS]() == "1 delivered"
    assert [m.status for m in messages(local_app, endpoint_id)] == ["delivered"]
    assert local_app.extensions["celery"].tasks[DELIVER_DUE_WEBHOOKS]() == "nothing due"


# --- private addresses ---------------------------------------------------------------------


def test_a_name_that_now_resolves_to_loopback_is_refused_at_send_time(
    app, register, tenant, httpserver
):
    """As after DNS rebinding: the endpoint passed registration, its name now points inside."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    endpoint_id, _ = register(tenant, httpserver.url_for("/hook"))  # http://localhost:…
    emit(app, tenant)
    send(app, allow_private=False)

    assert received(httpserver) == []
    [message] = messages(app, endpoint_id)
    assert message.status == "pending"
    assert message.last_status_code is None
    assert (message.last_error or "").startswith("invalid_parameter: url must use https")


def test_the_connection_itself_is_checked(httpserver):
    """Even past the name check, a socket that reaches a private address sends nothing."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    with (
        outbound.http_session(allow_private=False) as http,
        pytest.raises(outbound.InvalidEndpoint) as refused,
    ):
        http.post(httpserver.url_for("/hook"), data=b"{}", timeout=5)
    assert refused.value.reason == "forbidden_address"
    assert received(httpserver) == []


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "10.1.2.3", "192.168.0.7", "[fd00::1]", "169.254.169.254",
     "224.0.0.1", "0.0.0.0", "240.0.0.1", "[::1]", "[::ffff:172.16.0.1]"],
)  # fmt: skip
def test_send_time_check_refuses_non_public_hosts(host):
    with pytest.raises(outbound.InvalidEndpoint) as refused:
        outbound.check_url(f"https://{host}/hook", allow_private=False)
    assert (refused.value.reason, refused.value.field) == ("forbidden_address", "url")


# --- emitting ------------------------------------------------------------------------------


def test_emitting_an_event_twice_queues_one_message(app, register, tenant):
    endpoint_id, _ = register(tenant, PUBLIC_URL)
    register(tenant, PUBLIC_URL, (OutboundEventType.GROUP_DIGEST,))  # not subscribed
    key = f"test:{uuid.uuid4().hex}"
    with app.app_context(), session_scope() as session:
        assert outbound.emit(session, tenant.organizer_id, STANDING, key, {}) == 1
    with app.app_context(), session_scope() as session:
        assert outbound.emit(session, tenant.organizer_id, STANDING, key, {"again": 1}) == 0
    [message] = messages(app, endpoint_id)
    assert message.payload["data"] == {}


def test_a_changed_standing_is_emitted_by_rescoring(app, client, register, tenant):
    for attendee, name in [("ada", "Ada Lovelace"), ("ben", "Ben Okafor")]:
        body = standard_body(
            attendee_id=attendee, email=f"{attendee}@example.com", name=name, gathering_id="st"
        )
        response = client.post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
        with app.app_context(), session_scope() as session:
            process(session, secret_box(), response.json["delivery"])
    [gathering] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    group_id = gathering["group"]["id"]
    endpoint_id, _ = register(tenant, PUBLIC_URL)

    def rescore() -> None:
        with app.app_context(), session_scope() as session:
            rescoring.rescore_gathering(session, gathering["id"])
            rescoring.rescore_group(session, group_id)

    rescore()
    assert messages(app, endpoint_id) == []  # a first standing is not a change
    with app.app_context(), session_scope() as session:
        previous = session.scalars(
            select(MemberStandingSnapshot.previous_standing).where(
                MemberStandingSnapshot.group_id == group_id
            )
        ).all()
        assert previous and set(previous) == {None}
    with app.app_context(), session_scope() as session:
        row = session.scalars(
            select(MemberStandingSnapshot)
            .where(MemberStandingSnapshot.group_id == group_id)
            .order_by(MemberStandingSnapshot.person_id)
            .limit(1)
        ).one()
        computed = row.standing
        earlier = "stay" if computed != "stay" else "time_to_move_on"
        session.execute(
            update(MemberStandingSnapshot)
            .where(
                MemberStandingSnapshot.group_id == group_id,
                MemberStandingSnapshot.person_id == row.person_id,
            )
            .values(standing=earlier)
        )
    rescore()
    rescore()  # unchanged now: nothing more

    [message] = messages(app, endpoint_id)
    data = message.payload["data"]
    assert message.event_key == f"standing:{group_id}:{data['person']['id']}:{data['changed_at']}"
    assert data["person"] == {"id": data["person"]["id"], "name": "Ada Lovelace"}
    assert data["group"] == {"id": group_id, "name": "Thursday Breakfast Club"}
    assert (data["old_standing"], data["standing"]) == (earlier, computed)
    assert data["reasons"] and data["label"]
    with app.app_context(), session_scope() as session:
        changed = session.get(MemberStandingSnapshot, (group_id, data["person"]["id"]))
        assert changed is not None
        assert (changed.previous_standing, changed.standing) == (earlier, computed)


# --- the API -------------------------------------------------------------------------------


def api(client: FlaskClient, tenant: Tenant, method: str, template: str, **kwargs: Any):
    ids = {k: kwargs.pop(k) for k in list(kwargs) if k.endswith("_id")}
    response = client.open(
        template.format(**ids), method=method.upper(), headers=tenant.auth, **kwargs
    )
    return documented(response, template, method)


def test_register_list_show_and_delete_an_endpoint(app, client, tenant):
    events = [OutboundEventType.GATHERING_SUMMARY, STANDING]
    created = api(client, tenant, "post", ENDPOINTS, json={"url": PUBLIC_URL, "events": events})
    assert created.status_code == 201, created.json
    assert created.json["secret"].startswith("whsec_")
    endpoint_id = created.json["id"]
    assert created.json["secret"] not in endpoint_row(app, endpoint_id).secret_encrypted

    listed = api(client, tenant, "get", ENDPOINTS).json["endpoints"]
    assert [e["id"] for e in listed] == [endpoint_id]
    shown = api(client, tenant, "get", ENDPOINT, endpoint_id=endpoint_id).json
    assert "secret" not in shown and shown["events"] == sorted(events)
    assert api(client, tenant, "delete", ENDPOINT, endpoint_id=endpoint_id).status_code == 200
    assert api(client, tenant, "get", ENDPOINT, endpoint_id=endpoint_id).status_code == 404


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "forbidden_address"),
        ("https://localhost/hook", "forbidden_address"),
        ("https://10.0.0.8/hook", "forbidden_address"),
        ("https://[::1]:8443/hook", "forbidden_address"),
        ("https://169.254.169.254/latest/meta-data", "forbidden_address"),
        ("https://[fe80::1]/hook", "forbidden_address"),
        ("http://93.184.215.14/hook", "invalid_parameter"),  # https only
        ("ftp://93.184.215.14/hook", "invalid_parameter"),
        ("https:///hook", "invalid_parameter"),
        ("https://93.184.215.14:99999/hook", "invalid_parameter"),
    ],
)
def test_registration_refuses_urls_it_must_not_send_to(client, tenant, url, reason):
    response = api(client, tenant, "post", ENDPOINTS, json={"url": url, "events": [STANDING]})
    assert response.status_code == 400
    assert (response.json["reason"], response.json["field"]) == (reason, "url")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "events": [STANDING], "secret": "mine"}, "secret"),
        ({"url": PUBLIC_URL, "events": ["member.joined"]}, "events"),
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": STANDING}, "events"),
        ({"url": PUBLIC_URL}, "events"),
        ({"url": ["https://a.example"], "events": [STANDING]}, "url"),
        ({"url": PUBLIC_URL + "/" + "x" * 2000, "events": [STANDING]}, "url"),
        ({"events": [STANDING]}, "url"),
    ],
)
def test_malformed_registrations_answer_400_naming_the_field(client, tenant, body, field):
    response = api(client, tenant, "post", ENDPOINTS, json=body)
    assert response.status_code == 400
    assert (response.json["reason"], response.json["field"]) == ("invalid_parameter", field)


def test_a_body_that_is_not_a_json_object_answers_400(client, tenant):
    for data in (b"{not json", b"[1, 2]"):
        response = api(
            client, tenant, "post", ENDPOINTS, data=data, content_type="application/json"
        )
        assert (response.status_code, response.json["reason"]) == (400, "malformed_json")


def test_replay_sends_again_with_the_same_webhook_id(app, client, register, tenant, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    endpoint_id, secret = register(tenant, httpserver.url_for("/hook"))
    emit(app, tenant)
    send(app)
    [message] = messages(app, endpoint_id)

    replayed = api(client, tenant, "post", REPLAY, message_id=message.id)
    assert replayed.status_code == 202
    assert (replayed.json["status"], replayed.json["webhook_id"]) == ("pending", message.webhook_id)
    send(app)

    first, second = received(httpserver)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.webhook_id
    verified(second, secret)
    [listed] = api(client, tenant, "get", MESSAGES, endpoint_id=endpoint_id).json["messages"]
    assert listed["status"] == "delivered"
    assert [a["status_code"] for a in listed["history"]] == [200, 200]


def test_replay_of_a_message_whose_endpoint_is_disabled_is_a_conflict(
    app, client, register, tenant
):
    endpoint_id, _ = register(tenant, PUBLIC_URL)
    emit(app, tenant)
    with app.app_context(), session_scope() as session:
        outbound.disable(session, session.get_one(OutboundEndpoint, endpoint_id), "test")
    [message] = messages(app, endpoint_id)
    response = api(client, tenant, "post", REPLAY, message_id=message.id)
    assert (response.status_code, response.json["reason"]) == (409, "conflict")


def test_a_disabled_endpoint_is_enabled_again_by_its_owner(app, client, register, tenant):
    endpoint_id, _ = register(tenant, PUBLIC_URL)
    emit(app, tenant)
    with app.app_context(), session_scope() as session:
        outbound.disable(session, session.get_one(OutboundEndpoint, endpoint_id), "410 Gone")

    response = api(client, tenant, "post", ENABLE, endpoint_id=endpoint_id)
    assert response.status_code == 200
    assert (response.json["enabled"], response.json["disabled_reason"]) == (True, None)
    assert api(client, tenant, "post", ENABLE, endpoint_id=endpoint_id).status_code == 200
    emit(app, tenant)
    # What was disabled meanwhile stays so (each can be replayed); new events are queued again.
    assert [m.status for m in messages(app, endpoint_id)] == ["disabled", "pending"]


def test_enabling_checks_the_address_again(app, client, register, tenant):
    endpoint_id, _ = register(tenant, "https://127.0.0.1:8443/hook")  # allowed when registered
    with app.app_context(), session_scope() as session:
        outbound.disable(session, session.get_one(OutboundEndpoint, endpoint_id), "410 Gone")

    response = api(client, tenant, "post", ENABLE, endpoint_id=endpoint_id)
    assert (response.status_code, response.json["reason"]) == (400, "forbidden_address")
    assert not endpoint_row(app, endpoint_id).enabled


def test_another_organizers_endpoints_and_messages_are_not_found(
    app, client, register, make_tenant
):
    owner, other = make_tenant(), make_tenant()
    endpoint_id, _ = register(owner, PUBLIC_URL)
    emit(app, owner)
    [message] = messages(app, endpoint_id)

    assert api(client, other, "get", ENDPOINTS).json["endpoints"] == []
    for method, template, ids in [
        ("get", ENDPOINT, {"endpoint_id": endpoint_id}),
        ("delete", ENDPOINT, {"endpoint_id": endpoint_id}),
        ("get", MESSAGES, {"endpoint_id": endpoint_id}),
        ("post", REPLAY, {"message_id": message.id}),
        ("post", ENABLE, {"endpoint_id": endpoint_id}),
    ]:
        response = api(client, other, method, template, **ids)
        assert (response.status_code, response.json["reason"]) == (404, "not_found"), template
    assert api(client, owner, "get", MESSAGES, endpoint_id=endpoint_id).status_code == 200


def test_every_event_type_is_described_as_a_webhook():
    assert set(OPENAPI_SPEC["webhooks"]) == {event.value for event in OutboundEventType}


# --- migration 0004 ------------------------------------------------------------------------


def test_migration_0004_matches_the_models_and_goes_down_and_up(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'outbound.sqlite'}"
    migrate.upgrade(url)
    engine = make_engine(url)

    def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or name in OUTBOUND_TABLES

    def drift() -> list[Any]:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": ours}
            )
            return list(compare_metadata(context, Base.metadata))

    try:
        assert drift() == []
        migrate.downgrade(url, "0003")
        assert not set(inspect(engine).get_table_names()) & OUTBOUND_TABLES
        migrate.upgrade(url)
        assert set(inspect(engine).get_table_names()) >= OUTBOUND_TABLES
        assert drift() == []
    finally:
        engine.dispose()
