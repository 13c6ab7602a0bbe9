"""The `eventbrite` adapter: thin deliveries, resolved against a real local stand-in for its API.

Webhook bodies are byte-exact files under `tests/fixtures/eventbrite/`, shaped like captured
Eventbrite deliveries; API answers are files there too, served by a local HTTP server
(pytest-httpserver) that the integration's `api_url` points at. End-to-end tests post to the
webhook endpoint and then run `service.inbox.process`, the function the worker's task calls.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from integrations.base import (
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    IntegrationConfig,
    MalformedPayload,
    NormalizedEvent,
)
from integrations.eventbrite import EventbriteAdapter
from integrations.http import PlatformApi, PlatformAuthError, PlatformRejected, PlatformUnavailable
from service import inbox
from service.context import current_settings, secret_box
from service.db import session_scope
from service.models import Attendance, AttendanceEvent, Gathering, Integration
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.integrations.contract import AdapterContract
from tests.service.test_cli import run_cli
from tests.support import wait_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "eventbrite"
EVENTBRITE_API = "https://www.eventbriteapi.com/v3/"
TOKEN = "EB-PRIVATE-TOKEN-0123456789"
JSON = "application/json"
ATTENDEE_PATH = "/v3/events/880011223344/attendees/2233445566/"
EVENT_PATH = "/v3/events/880011223344/"
SERIES_PATH = "/v3/series/880011223300/"
ACTIONS = "barcode.checked_in,barcode.un_checked_in,attendee.updated"

BREAKFAST_SERIES = GroupRef(external_id="880011223300", name="Thursday Breakfast Club")
FOUNDERS_TABLE = GatheringRef(
    external_id="880011223344",
    name="Thursday Breakfast Club: Founders' table",
    starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
    ends_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    group=BREAKFAST_SERIES,
)
ZOE = AttendeeRef(
    external_id="2233445566",
    email="Zoe.Angstrom@Example.com",
    name="Zoë Ångström",
    company="Ørsted & Søn",
)
REGISTERED_AT = datetime(2026, 11, 19, 18, 4, 11, tzinfo=UTC)
CHECKED_IN_AT = datetime(2026, 11, 26, 7, 34, 51, tzinfo=UTC)
UNDONE_AT = datetime(2026, 11, 26, 7, 36, 20, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """A JSON fixture after `edit` changed it in place (for states no fixture shows)."""
    document = json.loads(fixture(name))
    edit(document)
    return json.dumps(document).encode()


def pointed_at(body: bytes, api_base: str) -> bytes:
    """A webhook body whose `api_url` is on `api_base` instead of Eventbrite's API."""
    return body.replace(EVENTBRITE_API.encode(), api_base.encode())


def eventbrite_headers(body: bytes) -> dict[str, str]:
    """The headers of a captured Eventbrite delivery. `X-Eventbrite-Delivery` is the webhook
    subscription's id there, the same on every delivery."""
    action = re.search(rb'"action": "([^"]*)"', body)
    return {
        "Accept": "text/plain",
        "Content-Type": JSON,
        "User-Agent": "Eventbrite Webhooks (Dilithium)",
        "X-Eventbrite-Delivery": "1806556",
        "X-Eventbrite-Event": action.group(1).decode() if action else "",
    }


def serve(
    httpserver: HTTPServer,
    attendee: bytes | None = None,
    event: bytes | None = None,
) -> None:
    """Answer for the attendee, its event and the event's series, as Eventbrite's API would."""
    answers = {
        ATTENDEE_PATH: attendee or fixture("api_attendee_checked_in.json"),
        EVENT_PATH: event or fixture("api_event.json"),
        SERIES_PATH: fixture("api_series.json"),
    }
    for path, answer in answers.items():
        httpserver.expect_request(path, method="GET").respond_with_data(answer, content_type=JSON)


def requested(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def api_for(httpserver: HTTPServer) -> PlatformApi:
    api = EventbriteAdapter().api(
        IntegrationConfig(
            settings={"api_url": httpserver.url_for("/v3/")}, credentials={"api_token": TOKEN}
        )
    )
    assert api is not None
    return api


def resolve(httpserver: HTTPServer, webhook: str) -> list[NormalizedEvent]:
    adapter = EventbriteAdapter()
    body = pointed_at(fixture(webhook), httpserver.url_for("/v3/"))
    return adapter.resolve(adapter.parse(body, {}), api_for(httpserver))


# --- the shared contract -----------------------------------------------------------------------


class TestEventbriteContract(AdapterContract):
    platform = "eventbrite"
    expected_kinds: ClassVar[list[EventKind]] = [EventKind.CHECKED_IN]

    def valid_body(self) -> bytes:
        return fixture("barcode_checked_in.json")

    def unknown_type_body(self) -> bytes:
        return fixture("test.json")

    def sign(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        return eventbrite_headers(body)

    def check_events(self, events: list[NormalizedEvent]) -> None:
        [event] = events
        assert event.platform_type == "barcode.checked_in"
        assert event.raw == json.loads(self.valid_body())
        # Thin: who, where and when come from the API, in `resolve`.
        assert (event.gathering, event.attendee, event.occurred_at) == (None, None, None)

    def integration_options(self) -> dict[str, Any]:
        # An API base that no fixture's api_url is under: if a worker ever picks these
        # deliveries up, it refuses them unfetched instead of calling the real Eventbrite.
        return {
            "platform_settings": {"api_url": "http://127.0.0.1:9/v3/"},
            "credentials": {"api_token": TOKEN},
        }

    def test_delivery_id_is_stable_across_retries(self) -> None:
        """Eventbrite's exception to the contract: it sends no delivery id, and checking someone
        in again after an undo repeats the first check-in byte for byte, so every request is
        its own delivery (see `EventbriteAdapter.delivery_id`)."""
        body, headers = self.request(self.valid_body())
        first = self.adapter.delivery_id(body, headers)
        second = self.adapter.delivery_id(body, headers)
        assert first != second
        assert first.partition("@")[0] == second.partition("@")[0]

    def test_endpoint_accepts_then_dedupes_a_valid_delivery(self, client, connected) -> None:
        """Eventbrite's exception to the contract, as above: a repeated request is accepted
        again. Processing it again changes nothing (`test_a_repeated_delivery_changes_nothing`)."""
        request = self.request(self.valid_body())
        first = self.post(client, connected, request)
        again = self.post(client, connected, request)
        assert (first.status_code, again.status_code) == (202, 202)
        assert first.json["delivery"] != again.json["delivery"]


# --- parsing -----------------------------------------------------------------------------------


KIND_BY_FIXTURE = {
    "barcode_checked_in.json": EventKind.CHECKED_IN,
    "barcode_un_checked_in.json": EventKind.CHECKIN_REVERTED,
    "attendee_updated.json": EventKind.REGISTERED,
    "attendee_checked_in.json": EventKind.CHECKED_IN,
    "attendee_checked_out.json": EventKind.CHECKED_OUT,
    "test.json": EventKind.UNKNOWN,
    "order_placed.json": EventKind.UNKNOWN,
}


def test_every_webhook_fixture_is_covered():
    webhooks = {path.name for path in FIXTURES.glob("*.json") if not path.name.startswith("api_")}
    assert webhooks == set(KIND_BY_FIXTURE)


@pytest.mark.parametrize(("name", "kind"), sorted(KIND_BY_FIXTURE.items()))
def test_each_action_announces_its_kind(name, kind):
    body = fixture(name)
    [event] = EventbriteAdapter().parse(body, eventbrite_headers(body))
    assert event.kind is kind
    assert event.platform_type == json.loads(body)["config"]["action"]
    assert event.raw == json.loads(body)


def test_ignored_actions_need_no_api_url():
    [event] = EventbriteAdapter().parse(b'{"config": {"action": "test"}}', {})
    assert (event.kind, event.platform_type) == (EventKind.UNKNOWN, "test")


def _with(path: str, value: object) -> bytes:
    """The check-in fixture with one field (dotted path) replaced, or removed for `...`."""
    payload = json.loads(fixture("barcode_checked_in.json"))
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"[]", "object"),
        (_with("config", ...), "config"),
        (_with("config", "barcode.checked_in"), "config"),
        (_with("config.action", ...), "config.action"),
        (_with("config.action", 7), "config.action"),
        (_with("config.action", ""), "config.action"),
        (_with("config.action", "barcode checked in"), "config.action"),
        (_with("config.action", "barcode.checked_in\u0000"), "config.action"),
        (_with("api_url", ...), "api_url"),
        (_with("api_url", 42), "api_url"),
        (_with("api_url", "events/880011223344/attendees/2233445566/"), "api_url"),
        (_with("api_url", "ftp://www.eventbriteapi.com/v3/"), "api_url"),
        (_with("api_url", "https://www.eventbriteapi.com/v3/ü/"), "api_url"),
        (_with("api_url", "https://www.eventbriteapi.com/v3/\n"), "api_url"),
    ],
)
def test_malformed_bodies_are_refused_naming_the_field(body, names):
    with pytest.raises(MalformedPayload) as raised:
        EventbriteAdapter().parse(body, {})
    assert raised.value.reason == "malformed_payload"
    assert names in raised.value.detail


# --- what is kept of a request -----------------------------------------------------------------


def test_delivery_id_is_the_body_hash_and_the_arrival_time():
    body = fixture("barcode_checked_in.json")
    at = datetime(2026, 11, 26, 7, 34, 52, 250000, tzinfo=UTC)
    delivery_id = EventbriteAdapter().delivery_id(body, eventbrite_headers(body), now=at)
    assert delivery_id.startswith("sha256:")
    assert delivery_id.endswith("@2026-11-26T07:34:52.250000Z")
    assert len(delivery_id) <= 200


def test_the_delivery_header_is_not_taken_for_a_delivery_id():
    """It names the subscription: two different deliveries carry the same value."""
    adapter = EventbriteAdapter()
    checked_in, undone = fixture("barcode_checked_in.json"), fixture("barcode_un_checked_in.json")
    assert (
        eventbrite_headers(checked_in)["X-Eventbrite-Delivery"]
        == (eventbrite_headers(undone)["X-Eventbrite-Delivery"])
    )
    assert "1806556" not in adapter.delivery_id(checked_in, eventbrite_headers(checked_in))


def test_only_harmless_headers_are_kept():
    body = fixture("barcode_checked_in.json")
    headers = {**eventbrite_headers(body), "Cookie": "session=1", "X-Forwarded-For": "52.202.1.10"}
    assert EventbriteAdapter().headers_to_keep(headers) == {
        "content-type": JSON,
        "user-agent": "Eventbrite Webhooks (Dilithium)",
        "x-eventbrite-delivery": "1806556",
        "x-eventbrite-event": "barcode.checked_in",
    }


# --- settings, the API client, registration ----------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "credentials", "problem"),
    [
        ({}, {}, "API token (api_token)"),
        ({"api_url": EVENTBRITE_API}, {"api_token": ""}, "API token (api_token)"),
        ({"api_url": "http://www.eventbriteapi.com/v3/"}, {"api_token": TOKEN}, "https"),
        ({"api_url": "www.eventbriteapi.com/v3/"}, {"api_token": TOKEN}, "https"),
        ({"api_url": 3}, {"api_token": TOKEN}, "https"),
        ({"organization": "123/../456"}, {"api_token": TOKEN}, "organization"),
        ({"event": 880011223344}, {"api_token": TOKEN}, "event"),
    ],
)
def test_settings_problems_are_named(settings, credentials, problem):
    config = IntegrationConfig(settings=settings, credentials=credentials)
    [message] = EventbriteAdapter().validate_settings(config)
    assert problem in message


@pytest.mark.parametrize(
    "api_url",
    [None, EVENTBRITE_API, "http://localhost:8080/v3/", "http://127.0.0.1:9/v3/"],
)
def test_acceptable_settings(api_url):
    settings = {"organization": "123", "event": "880011223344"}
    if api_url is not None:
        settings["api_url"] = api_url
    config = IntegrationConfig(settings=settings, credentials={"api_token": TOKEN})
    assert EventbriteAdapter().validate_settings(config) == []


def test_the_api_client_sends_the_token_to_the_default_base():
    adapter = EventbriteAdapter()
    api = adapter.api(IntegrationConfig(credentials={"api_token": TOKEN}))
    assert api is not None
    assert (api.base_url, api.headers) == (EVENTBRITE_API, {"Authorization": f"Bearer {TOKEN}"})
    assert adapter.api(IntegrationConfig(settings={"api_url": EVENTBRITE_API})) is None


def test_registration_for_one_event(httpserver):
    httpserver.expect_request("/v3/organizations/123/webhooks/", method="POST").respond_with_data(
        fixture("api_webhook.json"), content_type=JSON
    )
    registration = EventbriteAdapter().register_webhook(
        api_for(httpserver),
        "http://roomwise.test/hooks/eventbrite/key",
        IntegrationConfig(settings={"organization": "123", "event": "880011223344"}),
    )
    assert registration == {"webhook_id": "7654321"}
    [(request, _)] = httpserver.log
    assert request.get_json() == {
        "endpoint_url": "http://roomwise.test/hooks/eventbrite/key",
        "actions": ACTIONS,
        "event_id": "880011223344",
    }


def test_registration_needs_an_organization(httpserver):
    with pytest.raises(PlatformRejected, match="organization"):
        EventbriteAdapter().register_webhook(
            api_for(httpserver), "http://roomwise.test/x", IntegrationConfig()
        )
    assert httpserver.log == []


def test_a_registration_answer_without_an_id_is_refused(httpserver):
    httpserver.expect_request("/v3/organizations/123/webhooks/").respond_with_json({})
    with pytest.raises(PlatformRejected, match="without an id"):
        EventbriteAdapter().register_webhook(
            api_for(httpserver),
            "http://roomwise.test/x",
            IntegrationConfig(settings={"organization": "123"}),
        )


# --- resolving: what the API says now ----------------------------------------------------------

CHECKED_IN = fixture("api_attendee_checked_in.json")
UN_CHECKED_IN = fixture("api_attendee_un_checked_in.json")


@pytest.mark.parametrize(
    ("webhook", "attendee", "check_in"),
    [
        ("barcode_checked_in.json", CHECKED_IN, (EventKind.CHECKED_IN, CHECKED_IN_AT)),
        ("attendee_checked_in.json", CHECKED_IN, (EventKind.CHECKED_IN, CHECKED_IN_AT)),
        ("barcode_un_checked_in.json", UN_CHECKED_IN, (EventKind.CHECKIN_REVERTED, UNDONE_AT)),
        ("attendee_checked_out.json", UN_CHECKED_IN, (EventKind.CHECKED_OUT, UNDONE_AT)),
        ("attendee_updated.json", CHECKED_IN, (EventKind.CHECKED_IN, CHECKED_IN_AT)),
        ("attendee_updated.json", UN_CHECKED_IN, None),
        # The state wins over the announcement: it is newer. A check-in undone before the
        # fetch, and an undo followed by a new check-in.
        ("barcode_checked_in.json", UN_CHECKED_IN, (EventKind.CHECKIN_REVERTED, UNDONE_AT)),
        ("barcode_un_checked_in.json", CHECKED_IN, (EventKind.CHECKED_IN, CHECKED_IN_AT)),
    ],
)
def test_resolve_records_the_registration_and_the_current_check_in_state(
    httpserver, webhook, attendee, check_in
):
    serve(httpserver, attendee=attendee)

    events = resolve(httpserver, webhook)

    expected = [(EventKind.REGISTERED, REGISTERED_AT), *([check_in] if check_in else [])]
    assert [(event.kind, event.occurred_at) for event in events] == expected
    action = json.loads(fixture(webhook))["config"]["action"]
    for event in events:
        assert (event.platform_type, event.gathering, event.attendee) == (
            action,
            FOUNDERS_TABLE,
            ZOE,
        )
    assert requested(httpserver) == [ATTENDEE_PATH, EVENT_PATH, SERIES_PATH]
    assert all(
        request.headers["Authorization"] == f"Bearer {TOKEN}" for request, _ in httpserver.log
    )


def test_a_cancelled_ticket_records_no_registration(httpserver):
    serve(
        httpserver,
        attendee=edited("api_attendee_un_checked_in.json", lambda a: a.update(cancelled=True)),
    )
    assert resolve(httpserver, "attendee_updated.json") == []


def test_an_event_outside_a_series_has_no_group(httpserver):
    serve(httpserver, event=edited("api_event.json", lambda event: event.pop("series_id")))

    [_, check_in] = resolve(httpserver, "barcode_checked_in.json")

    assert check_in.gathering is not None
    assert check_in.gathering.group is None
    assert requested(httpserver) == [ATTENDEE_PATH, EVENT_PATH]


def test_attendee_text_is_cleaned_not_refused(httpserver):
    def scribble(attendee: dict[str, Any]) -> None:
        attendee["profile"].update(
            name=" Zoë\u0000 Ångström ", email="zoe at example", company="Ørsted \ud800"
        )

    serve(httpserver, attendee=edited("api_attendee_checked_in.json", scribble))

    [_, check_in] = resolve(httpserver, "barcode_checked_in.json")

    # NUL dropped, the lone surrogate (a JSON escape can carry one) replaced, no email guessed.
    assert check_in.attendee == AttendeeRef(
        external_id="2233445566", name="Zoë Ångström", company="Ørsted ?"
    )


def test_an_api_answer_without_what_is_needed_is_rejected(httpserver):
    serve(httpserver, attendee=edited("api_attendee_checked_in.json", lambda a: a.pop("event_id")))
    with pytest.raises(PlatformRejected, match=r"attendee\.event_id"):
        resolve(httpserver, "barcode_checked_in.json")


def test_ignored_events_need_no_api():
    events = EventbriteAdapter().parse(fixture("test.json"), {})
    assert EventbriteAdapter().resolve(events, None) == events


def test_without_a_token_nothing_can_be_resolved():
    adapter = EventbriteAdapter()
    events = adapter.parse(fixture("barcode_checked_in.json"), {})
    with pytest.raises(PlatformAuthError) as raised:
        adapter.resolve(events, None)
    assert raised.value.detail == "Eventbrite API token is missing"


@pytest.mark.parametrize(
    "api_url",
    [
        "http://127.0.0.1:{port}/v3/events/880011223344/attendees/2233445566/",
        "http://localhost.evil.example:{port}/v3/events/880011223344/attendees/2233445566/",
        "https://localhost:{port}/v3/events/880011223344/attendees/2233445566/",
        "http://localhost:{other_port}/v3/events/880011223344/attendees/2233445566/",
        "http://attacker@localhost:{port}/v3/events/880011223344/attendees/2233445566/",
        "http://localhost:{port}/v2/events/880011223344/attendees/2233445566/",
        "http://localhost:{port}/v3x/events/880011223344/attendees/2233445566/",
        "http://localhost:{port}/v3/../admin/",
        "http://localhost:{port}/v3/events/%2e%2e/%2e%2e/admin/",
        "http://localhost:{port}/v3/events/1/attendees/2/?next=http://evil.example/",
        "http://localhost:{port}/v3/",
    ],
)
def test_an_api_url_outside_the_configured_api_is_refused_unfetched(httpserver, api_url):
    url = api_url.format(port=httpserver.port, other_port=httpserver.port + 1)
    body = json.dumps({"config": {"action": "barcode.checked_in"}, "api_url": url}).encode()
    adapter = EventbriteAdapter()
    events = adapter.parse(body, {})

    with pytest.raises(PlatformRejected, match="not under the configured Eventbrite API"):
        adapter.resolve(events, api_for(httpserver))

    assert httpserver.log == []


def test_a_slow_api_is_unavailable_not_failed(httpserver):
    answered_late = threading.Event()

    def slow(request: Request) -> Response:
        answered_late.wait(timeout=5)
        return Response(CHECKED_IN, content_type=JSON)

    httpserver.expect_request(ATTENDEE_PATH).respond_with_handler(slow)
    api = PlatformApi(
        httpserver.url_for("/v3/"),
        {"Authorization": f"Bearer {TOKEN}"},
        timeout=(1.0, 0.05),
        attempts=1,
    )
    adapter = EventbriteAdapter()
    events = adapter.parse(pointed_at(fixture("barcode_checked_in.json"), api.base_url), {})

    with pytest.raises(PlatformUnavailable, match="ReadTimeout"):
        adapter.resolve(events, api)

    # Let the server finish the abandoned request, so it cannot land in the next test's log.
    answered_late.set()
    wait_for(lambda: httpserver.log)


# --- end to end: endpoint, inbox, worker function, API -----------------------------------------


@dataclass(frozen=True)
class Connection:
    """An Eventbrite integration whose API is the local server at `api_base`."""

    tenant: Tenant
    integration_id: int
    webhook_path: str
    api_base: str


@pytest.fixture()
def eventbrite(app: Flask, make_tenant: Callable[[], Tenant], httpserver: HTTPServer) -> Connection:
    tenant = make_tenant()
    api_base = httpserver.url_for("/v3/")
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            "eventbrite",
            platform_settings={"api_url": api_base},
            credentials={"api_token": TOKEN},
            register=False,
        )
    path = created.webhook_url.removeprefix("http://roomwise.test")
    return Connection(tenant, created.integration_id, path, api_base)


def post(client: FlaskClient, connection: Connection, body: bytes) -> Any:
    return client.post(connection.webhook_path, data=body, headers=eventbrite_headers(body))


def send(client: FlaskClient, connection: Connection, webhook: str) -> int:
    """Deliver a webhook fixture whose attendee lives on the local API; return the delivery."""
    response = post(client, connection, pointed_at(fixture(webhook), connection.api_base))
    assert response.status_code == 202, response.json
    delivery_id: int = response.json["delivery"]
    return delivery_id


def process(app: Flask, delivery_id: int) -> None:
    """Process a delivery as the worker's task does (it may have been queued for one too)."""
    with app.app_context(), session_scope() as session:
        inbox.process(session, secret_box(), delivery_id)


def delivery(client: FlaskClient, connection: Connection, delivery_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/deliveries/{delivery_id}", headers=connection.tenant.auth)
    assert response.status_code == 200
    record: dict[str, Any] = response.json
    return record


def only_gathering(client: FlaskClient, connection: Connection) -> dict[str, Any]:
    auth = connection.tenant.auth
    [summary] = client.get("/api/v1/gatherings", headers=auth).json["gatherings"]
    gathering: dict[str, Any] = client.get(f"/api/v1/gatherings/{summary['id']}", headers=auth).json
    return gathering


def test_a_check_in_is_fetched_and_recorded(app, client, httpserver, eventbrite):
    serve(httpserver)

    delivery_id = send(client, eventbrite, "barcode_checked_in.json")
    process(app, delivery_id)

    assert delivery(client, eventbrite, delivery_id)["status"] == "processed"
    gathering = only_gathering(client, eventbrite)
    assert gathering["name"] == "Thursday Breakfast Club: Founders' table"
    assert gathering["group"]["name"] == "Thursday Breakfast Club"
    assert (gathering["starts_at"], gathering["ends_at"]) == (
        "2026-11-26T07:30:00Z",
        "2026-11-26T09:30:00Z",
    )
    [row] = gathering["attendance"]
    assert {key: row["person"][key] for key in ("name", "email", "company")} == {
        "name": "Zoë Ångström",
        "email": "Zoe.Angstrom@Example.com",
        "company": "Ørsted & Søn",
    }
    assert row["status"] == "checked_in"
    assert (row["registered_at"], row["checked_in_at"]) == (
        "2026-11-19T18:04:11Z",
        "2026-11-26T07:34:51Z",
    )
    assert requested(httpserver) == [ATTENDEE_PATH, EVENT_PATH, SERIES_PATH]


def test_the_dashboard_test_button_is_answered_200_ignored(app, client, httpserver, eventbrite):
    response = post(client, eventbrite, fixture("test.json"))

    assert (response.status_code, response.json["status"]) == (200, "ignored")
    assert "test" in response.json["detail"]
    assert delivery(client, eventbrite, response.json["delivery"])["status"] == "ignored"
    assert httpserver.log == []


def test_checking_in_again_after_an_undo_counts(app, client, httpserver, eventbrite):
    """The third delivery repeats the first byte for byte and must not pass for a duplicate."""
    again_at = "2026-11-26T07:41:05Z"
    states = [
        ("barcode_checked_in.json", CHECKED_IN),
        ("barcode_un_checked_in.json", UN_CHECKED_IN),
        (
            "barcode_checked_in.json",
            edited(
                "api_attendee_checked_in.json",
                lambda a: a["barcodes"][0].update(changed=again_at),
            ),
        ),
    ]
    delivery_ids = []
    for webhook, attendee in states:
        httpserver.clear()
        serve(httpserver, attendee=attendee)
        delivery_ids.append(send(client, eventbrite, webhook))
        process(app, delivery_ids[-1])

    assert len(set(delivery_ids)) == 3
    [row] = only_gathering(client, eventbrite)["attendance"]
    assert (row["status"], row["checked_in_at"]) == ("checked_in", again_at)


def test_a_repeated_delivery_changes_nothing(app, client, httpserver, eventbrite):
    serve(httpserver)
    body = pointed_at(fixture("barcode_checked_in.json"), eventbrite.api_base)

    delivery_ids = [post(client, eventbrite, body).json["delivery"] for _ in range(2)]
    for delivery_id in delivery_ids:
        process(app, delivery_id)

    assert [delivery(client, eventbrite, d)["status"] for d in delivery_ids] == ["processed"] * 2
    with app.app_context(), session_scope() as session:
        kinds = session.scalars(
            select(AttendanceEvent.kind)
            .join(Attendance, Attendance.id == AttendanceEvent.attendance_id)
            .join(Gathering, Gathering.id == Attendance.gathering_id)
            .where(Gathering.integration_id == eventbrite.integration_id)
        ).all()
    assert sorted(kinds) == ["checked_in", "registered"]


def test_an_api_url_on_another_host_fails_unfetched(
    app, client, httpserver, httpserver_ipv4, eventbrite
):
    serve(httpserver)
    serve(httpserver_ipv4)
    elsewhere = httpserver_ipv4.url_for("/v3/")
    body = pointed_at(fixture("barcode_checked_in.json"), elsewhere)

    delivery_id = post(client, eventbrite, body).json["delivery"]
    process(app, delivery_id)

    record = delivery(client, eventbrite, delivery_id)
    assert record["status"] == "failed"
    assert record["reason"] == (
        f"platform_rejected: api_url {elsewhere}events/880011223344/attendees/2233445566/ "
        f"is not under the configured Eventbrite API {eventbrite.api_base}; it was not fetched"
    )
    assert httpserver_ipv4.log == []
    assert httpserver.log == []


def test_a_vanished_attendee_fails_the_delivery(app, client, httpserver, eventbrite):
    httpserver.expect_request(ATTENDEE_PATH).respond_with_json(
        {"status_code": 404, "error": "NOT_FOUND", "error_description": "Not found."}, status=404
    )

    delivery_id = send(client, eventbrite, "barcode_checked_in.json")
    process(app, delivery_id)

    record = delivery(client, eventbrite, delivery_id)
    assert record["status"] == "failed"
    assert record["reason"].startswith("platform_not_found: GET ")
    assert record["reason"].endswith(f"{ATTENDEE_PATH} answered 404")


def test_a_refused_token_fails_the_delivery_and_flags_the_credentials(
    app, client, httpserver, eventbrite
):
    httpserver.expect_request(ATTENDEE_PATH).respond_with_json(
        {"status_code": 401, "error": "INVALID_AUTH", "error_description": "Invalid token."},
        status=401,
    )

    delivery_id = send(client, eventbrite, "barcode_checked_in.json")
    process(app, delivery_id)

    record = delivery(client, eventbrite, delivery_id)
    assert record["status"] == "failed"
    assert record["reason"].startswith("platform_credentials_invalid: ")
    integration = client.get(
        f"/api/v1/integrations/{eventbrite.integration_id}", headers=eventbrite.tenant.auth
    ).json
    assert integration["credentials_invalid"] is True
    assert integration["last_error"] == record["reason"]
    assert integration["last_error"].endswith(f"{ATTENDEE_PATH} answered 401")


@pytest.mark.parametrize(
    ("status", "headers", "least_wait"),
    [(429, {"Retry-After": "1"}, 1.0), (500, {}, 0.0)],
)
def test_a_passing_api_failure_is_retried_in_place(
    app, client, httpserver, eventbrite, status, headers, least_wait
):
    httpserver.expect_oneshot_request(ATTENDEE_PATH).respond_with_data(
        "", status=status, headers=headers
    )
    serve(httpserver)
    delivery_id = send(client, eventbrite, "barcode_checked_in.json")

    started = time.monotonic()
    process(app, delivery_id)

    assert time.monotonic() - started >= least_wait
    assert delivery(client, eventbrite, delivery_id)["status"] == "processed"
    assert requested(httpserver) == [ATTENDEE_PATH, ATTENDEE_PATH, EVENT_PATH, SERIES_PATH]


def test_an_api_that_stays_down_leaves_the_delivery_for_a_later_retry(
    app, client, httpserver, eventbrite
):
    httpserver.expect_request(ATTENDEE_PATH).respond_with_data("", status=503)
    delivery_id = send(client, eventbrite, "barcode_checked_in.json")

    with pytest.raises(PlatformUnavailable):
        process(app, delivery_id)

    assert delivery(client, eventbrite, delivery_id)["status"] == "received"
    assert requested(httpserver) == [ATTENDEE_PATH] * 3

    # Once Eventbrite answers again, the retry completes it.
    httpserver.clear()
    serve(httpserver)
    process(app, delivery_id)
    assert delivery(client, eventbrite, delivery_id)["status"] == "processed"


# --- connecting through the CLI ----------------------------------------------------------------


def add_integration(settings_overrides: dict[str, Any], organizer_id: int, api_base: str) -> Any:
    return run_cli(
        settings_overrides,
        "add-integration",
        *("--organizer", str(organizer_id), "--platform", "eventbrite"),
        *("--api-url", api_base, "--api-token", TOKEN, "--organization", "123"),
    )


def eventbrite_integrations(app: Flask, organizer_id: int) -> int:
    with app.app_context(), session_scope() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Integration)
                .where(Integration.organizer_id == organizer_id)
                .where(Integration.platform == "eventbrite")
            )
            or 0
        )


def test_add_integration_registers_the_webhook(
    app, client, httpserver, make_tenant, settings_overrides
):
    tenant = make_tenant()
    httpserver.expect_request("/v3/organizations/123/webhooks/", method="POST").respond_with_data(
        fixture("api_webhook.json"), content_type=JSON
    )

    result = add_integration(settings_overrides, tenant.organizer_id, httpserver.url_for("/v3/"))

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["webhook_url"].startswith("http://roomwise.test/hooks/eventbrite/")
    assert printed["registered"] == {"webhook_id": "7654321"}
    assert "signing_secret" not in printed
    [(request, _)] = httpserver.log
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.get_json() == {"endpoint_url": printed["webhook_url"], "actions": ACTIONS}
    saved = client.get(
        f"/api/v1/integrations/{printed['integration_id']}", headers=tenant.auth
    ).json
    assert saved["settings"]["webhook_registration"] == {"webhook_id": "7654321"}
    assert saved["has_credentials"] is True


def test_add_integration_with_a_refused_token_saves_nothing(
    app, httpserver, make_tenant, settings_overrides
):
    tenant = make_tenant()
    httpserver.expect_request("/v3/organizations/123/webhooks/").respond_with_json(
        {"status_code": 401, "error": "INVALID_AUTH", "error_description": "Invalid token."},
        status=401,
    )

    result = add_integration(settings_overrides, tenant.organizer_id, httpserver.url_for("/v3/"))

    assert result.returncode != 0
    assert "registering the webhook with eventbrite failed" in result.stderr
    assert "answered 401" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert eventbrite_integrations(app, tenant.organizer_id) == 0
