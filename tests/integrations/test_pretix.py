"""The pretix adapter: thin notifications, completed through pretix's REST API.

Webhook bodies under `tests/fixtures/pretix/` are byte for byte what pretix sends
(`requests.post(url, json=payload)`: Python's default JSON separators, non-ASCII escaped). API
answers are pretix's documented resources, served unchanged by a real local HTTP server standing
in for pretix. Deliveries go through the real webhook endpoint and `inbox.process`, the function
the Celery task calls; registration goes through the real `flask add-integration` command.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.base import (
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    IntegrationConfig,
    MalformedPayload,
    NormalizedEvent,
    VerificationError,
)
from integrations.http import PlatformApi, PlatformAuthError, PlatformRejected, PlatformUnavailable
from integrations.pretix import PretixAdapter, api_root
from service import inbox
from service.attendance import fold_attendance
from service.context import current_settings, secret_box
from service.db import session_scope
from service.inbox import ProcessOutcome
from service.models import AttendanceKind
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.integrations.contract import FIXTURES, AdapterContract
from tests.service.test_cli import run_cli

TOKEN = "pretix-team-token-4kd93"
AUTH = {"Authorization": f"Token {TOKEN}"}
SUMMIT = "/api/v1/organizers/acme/events/summit-2026/"
SERIES = "/api/v1/organizers/acme/events/breakfast-club/"
WEBHOOKS = "/api/v1/organizers/acme/webhooks/"
BASIC_SECRET = "roomwise:c0rrect-h0rse"


def fixture(name: str) -> bytes:
    return (FIXTURES / "pretix" / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture(name))
    return data


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TestPretixContract(AdapterContract):
    platform = "pretix"
    expected_kinds: ClassVar[list[EventKind]] = [EventKind.CHECKED_IN]

    def valid_body(self) -> bytes:
        return fixture("checkin_entry.json")

    def unknown_type_body(self) -> bytes:
        return fixture("order_placed.json")

    def check_events(self, events: list[NormalizedEvent]) -> None:
        [event] = events
        assert event.platform_type == "pretix.event.checkin"
        # Thin: who, where and when are only known after `resolve` asks the API.
        assert (event.occurred_at, event.gathering, event.attendee) == (None, None, None)
        assert event.raw == json.loads(self.valid_body())

    def integration_options(self) -> dict[str, Any]:
        return {
            # A closed local port: a worker that picks these up fails fast, calling no one.
            "platform_settings": {"api_url": "http://127.0.0.1:9/api/v1/", "organizer": "acme"},
            "credentials": {"api_token": TOKEN},
        }


# --- parsing -------------------------------------------------------------------------------


def parse(body: bytes) -> list[NormalizedEvent]:
    return PretixAdapter().parse(body, {"content-type": "application/json"})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("checkin_entry.json", EventKind.CHECKED_IN),
        ("checkin_exit.json", EventKind.CHECKED_OUT),
        ("checkin_reverted.json", EventKind.CHECKIN_REVERTED),
        ("checkin_series.json", EventKind.CHECKED_IN),
        ("order_placed.json", EventKind.UNKNOWN),
    ],
)
def test_each_notification_parses_to_its_kind(name, kind):
    [event] = parse(fixture(name))
    assert event.kind is kind
    assert event.platform_type == json.loads(fixture(name))["action"]


def test_every_fixture_is_used():
    assert {path.name for path in (FIXTURES / "pretix").iterdir()} == {
        "checkin_entry.json",
        "checkin_exit.json",
        "checkin_reverted.json",
        "checkin_series.json",
        "order_placed.json",
        "event.json",
        "event_series.json",
        "subevent.json",
        "order.json",
        "order_series.json",
        "orderposition.json",
        "orderposition_reverted.json",
        "orderposition_series.json",
    }


def with_fields(name: str, **changes: object) -> bytes:
    """A fixture body with fields replaced, or removed for `...`."""
    payload = fixture_json(name)
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "body",
    [
        # A check-in type pretix does not have yet, and notifications Roomwise does not
        # handle, whatever else they carry (customer notifications name no event).
        with_fields("checkin_entry.json", type="annulled"),
        b'{"notification_id": 5, "organizer": "acme", "customer": "C3X7P",'
        b' "action": "pretix.customer.created"}',
        with_fields("order_placed.json", action="pretix.event.order.changed.item"),
    ],
)
def test_other_notifications_are_unknown(body):
    [event] = parse(body)
    assert event.kind is EventKind.UNKNOWN


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "object"),
        (with_fields("checkin_entry.json", notification_id=...), "notification_id"),
        (with_fields("checkin_entry.json", notification_id="2093417"), "notification_id"),
        (with_fields("checkin_entry.json", notification_id=True), "notification_id"),
        (with_fields("checkin_entry.json", notification_id=-1), "notification_id"),
        (with_fields("checkin_entry.json", action=...), "action"),
        (with_fields("checkin_entry.json", action="pretix event\x00checkin"), "action"),
        (with_fields("checkin_entry.json", organizer=...), "organizer"),
        (with_fields("checkin_entry.json", organizer="../../webhooks"), "organizer"),
        (with_fields("checkin_entry.json", event=""), "event"),
        (with_fields("checkin_entry.json", event="summit/2026"), "event"),
        (with_fields("checkin_entry.json", orderposition_id=...), "orderposition_id"),
        (with_fields("checkin_entry.json", orderposition_id="23442"), "orderposition_id"),
        (with_fields("checkin_reverted.json", checkin_list="44"), "checkin_list"),
        (with_fields("checkin_entry.json", type=1), "type"),
    ],
)
def test_malformed_notifications_are_refused_naming_the_field(body, field):
    with pytest.raises(MalformedPayload) as raised:
        parse(body)
    assert raised.value.reason == "malformed_payload"
    assert field in raised.value.detail


def test_delivery_id_is_the_notification_id_whatever_the_serialization():
    body = fixture("checkin_entry.json")
    reserialized = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
    adapter = PretixAdapter()
    assert adapter.delivery_id(body, {}) == "pretix:2093417"
    assert adapter.delivery_id(reserialized, {}) == "pretix:2093417"


def test_credentials_in_headers_are_never_kept():
    headers = {"Content-Type": "application/json", "Authorization": "Basic cm9vbXdpc2U6eA=="}
    assert PretixAdapter().headers_to_keep(headers) == {"content-type": "application/json"}


# --- optional HTTP Basic auth ---------------------------------------------------------------


def as_pretix_sends(body: bytes, target_url: str) -> dict[str, str]:
    """The headers `requests` (pretix's HTTP client) sends to a `user:password@` URL."""
    prepared = requests.Request("POST", target_url, data=body).prepare()
    return dict(prepared.headers)


def basic_rejection(headers: dict[str, str], secrets: list[str]) -> str:
    with pytest.raises(VerificationError) as raised:
        PretixAdapter().verify(fixture("checkin_entry.json"), headers, secrets)
    return raised.value.reason


def test_without_a_secret_the_url_key_is_enough():
    PretixAdapter().verify(fixture("checkin_entry.json"), {}, [])


def test_basic_credentials_from_the_url_verify():
    body = fixture("checkin_entry.json")
    headers = as_pretix_sends(body, "https://roomwise:c0rrect-h0rse@roomwise.test/hooks/pretix/k")
    PretixAdapter().verify(body, headers, [BASIC_SECRET])
    # During a change of password, the old and the new one both pass.
    PretixAdapter().verify(body, headers, ["roomwise:next-password", BASIC_SECRET])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"Authorization": "Bearer c0rrect-h0rse"}, "missing_signature"),
        ({"Authorization": "Basic "}, "missing_signature"),
        ({"Authorization": "Basic not base64!"}, "bad_signature"),
        (
            as_pretix_sends(b"{}", "https://roomwise:wrong@roomwise.test/hooks/pretix/k"),
            "bad_signature",
        ),
        (
            as_pretix_sends(b"{}", "https://someone:c0rrect-h0rse@roomwise.test/hooks/pretix/k"),
            "bad_signature",
        ),
    ],
)
def test_missing_or_wrong_basic_credentials_are_refused(headers, reason):
    assert basic_rejection(headers, [BASIC_SECRET]) == reason


def connect(
    app: Flask, tenant: Tenant, api_url: str, *, signing_secret: str | None = None
) -> tuple[int, str]:
    """A pretix integration for `tenant`, whose API is `api_url`; its id and webhook path."""
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            "pretix",
            platform_settings={"api_url": api_url, "organizer": "acme"},
            credentials={"api_token": TOKEN},
            signing_secret=signing_secret,
            register=False,
        )
    return created.integration_id, urlsplit(created.webhook_url).path


def test_endpoint_requires_the_basic_credentials_when_configured(app, client, tenant):
    _, path = connect(app, tenant, "http://127.0.0.1:9/", signing_secret=BASIC_SECRET)
    body = fixture("checkin_entry.json")

    missing = client.post(path, data=body, headers={"content-type": "application/json"})
    wrong = client.post(
        path, data=body, headers=as_pretix_sends(body, f"https://roomwise:nope@roomwise.test{path}")
    )
    right = client.post(
        path,
        data=body,
        headers=as_pretix_sends(body, f"https://roomwise:c0rrect-h0rse@roomwise.test{path}"),
    )

    assert (missing.status_code, missing.json["reason"]) == (401, "missing_signature")
    assert (wrong.status_code, wrong.json["reason"]) == (401, "bad_signature")
    assert right.status_code == 202, right.json


# --- settings ----------------------------------------------------------------------------------


SETTINGS = {"api_url": "https://pretix.eu/api/v1/", "organizer": "acme"}
CREDENTIALS = {"api_token": TOKEN}


def settings_problems(
    settings: dict[str, Any] = SETTINGS,
    credentials: dict[str, str] = CREDENTIALS,
    secrets: tuple[str, ...] = (),
) -> list[str]:
    return PretixAdapter().validate_settings(IntegrationConfig(settings, credentials, secrets))


def test_complete_settings_have_no_problems():
    assert settings_problems() == []
    assert settings_problems({**SETTINGS, "event": "summit-2026"}, secrets=(BASIC_SECRET,)) == []


@pytest.mark.parametrize(
    ("config", "names"),
    [
        ({"settings": {"organizer": "acme"}}, "api_url"),
        ({"settings": {**SETTINGS, "api_url": "pretix.eu/api/v1/"}}, "api_url"),
        ({"settings": {**SETTINGS, "api_url": "ftp://pretix.eu/api/v1/"}}, "api_url"),
        ({"settings": {"api_url": SETTINGS["api_url"]}}, "organizer"),
        ({"settings": {**SETTINGS, "organizer": "acme/other"}}, "organizer"),
        ({"settings": {**SETTINGS, "event": "summit 2026"}}, "event"),
        ({"credentials": {}}, "api_token"),
        ({"secrets": ("no-colon",)}, "user:password"),
        ({"secrets": (":password-only",)}, "user:password"),
        ({"secrets": (BASIC_SECRET, "roomwise:pässword")}, "user:password"),
    ],
)
def test_each_settings_problem_is_one_sentence_naming_it(config, names):
    [problem] = settings_problems(**config)
    assert names in problem
    assert problem.endswith(".")


def test_every_problem_is_reported_at_once():
    assert len(settings_problems(settings={}, credentials={})) == 3


@pytest.mark.parametrize(
    "api_url",
    [
        "https://pretix.eu",
        "https://pretix.eu/",
        "https://pretix.eu/api/v1",
        "https://pretix.eu/api/v1/",
    ],
)
def test_api_url_may_name_the_instance_or_its_api(api_url):
    assert api_root(api_url) == "https://pretix.eu/api/v1"
    assert api_root("https://tickets.example.org/pretix/") == (
        "https://tickets.example.org/pretix/api/v1"
    )


# --- resolving against a fake pretix ---------------------------------------------------------


def serve(httpserver: HTTPServer, path: str, name: str) -> None:
    """Answer GET `path` with a fixture, only for requests carrying the API token."""
    httpserver.expect_request(path, method="GET", headers=AUTH).respond_with_data(
        fixture(name), content_type="application/json"
    )


def serve_summit(httpserver: HTTPServer, position: str = "orderposition.json") -> None:
    serve(httpserver, f"{SUMMIT}orderpositions/23442/", position)
    serve(httpserver, SUMMIT, "event.json")
    serve(httpserver, f"{SUMMIT}orders/ABC12/", "order.json")


def serve_series(httpserver: HTTPServer) -> None:
    serve(httpserver, f"{SERIES}orderpositions/31007/", "orderposition_series.json")
    serve(httpserver, SERIES, "event_series.json")
    serve(httpserver, f"{SERIES}subevents/501/", "subevent.json")
    serve(httpserver, f"{SERIES}orders/XYZ89/", "order_series.json")


def pretix_api(httpserver: HTTPServer, api_path: str = "/") -> PlatformApi:
    """The client the worker builds from an integration's settings and credentials."""
    config = IntegrationConfig(
        settings={"api_url": httpserver.url_for(api_path), "organizer": "acme"},
        credentials={"api_token": TOKEN},
    )
    api = PretixAdapter().api(config)
    assert api is not None
    return api


def test_registration_puts_the_basic_credentials_into_the_target_url(httpserver):
    """pretix sends Basic auth only as `user:password@` in the URL, so that is what it gets;
    a request built from that URL then verifies against the same secret."""
    httpserver.expect_request("/api/v1/organizers/acme/webhooks/", method="POST").respond_with_json(
        {"id": 5}
    )
    secret = "roomwise:p@ss/word"
    config = IntegrationConfig(settings={"organizer": "acme"}, signing_secrets=[secret])
    PretixAdapter().register_webhook(
        pretix_api(httpserver), "https://roomwise.test/hooks/pretix/k", config
    )
    [(request, _)] = httpserver.log
    target = request.get_json()["target_url"]
    assert target == "https://roomwise:p%40ss%2Fword@roomwise.test/hooks/pretix/k"
    body = fixture("checkin_entry.json")
    PretixAdapter().verify(body, as_pretix_sends(body, target), [secret])


def resolve(body: bytes, api: PlatformApi | None) -> list[NormalizedEvent]:
    adapter = PretixAdapter()
    return adapter.resolve(adapter.parse(body, {}), api)


def requested_paths(httpserver: HTTPServer) -> list[str]:
    return [request.path for request, _ in httpserver.log]


SUMMIT_GATHERING = GatheringRef(
    external_id="acme/summit-2026",
    name="Networking Summit 2026",
    starts_at=at("2026-11-26T08:00:00Z"),
    ends_at=at("2026-11-26T17:00:00Z"),
)
ZOE = AttendeeRef(
    external_id="acme/summit-2026/position/23442",
    email="Zoe.Angstrom@Example.com",
    name="Zoë Ångström",
    company="Ørsted & Søn",
)


@pytest.mark.parametrize("api_path", ["/", "/api/v1/"])
def test_a_checkin_replays_the_positions_whole_checkin_list(httpserver, api_path):
    serve_summit(httpserver)

    events = resolve(fixture("checkin_entry.json"), pretix_api(httpserver, api_path))

    assert events == [
        NormalizedEvent(
            EventKind.CHECKED_IN,
            "pretix.event.checkin",
            at("2026-11-26T08:05:12Z"),
            SUMMIT_GATHERING,
            ZOE,
        ),
        NormalizedEvent(
            EventKind.CHECKED_OUT,
            "pretix.event.checkin",
            at("2026-11-26T11:40:00Z"),
            SUMMIT_GATHERING,
            ZOE,
        ),
    ]
    assert all(event.raw == json.loads(fixture("checkin_entry.json")) for event in events)
    # The position names its attendee's email, so the order is not fetched.
    assert requested_paths(httpserver) == [f"{SUMMIT}orderpositions/23442/", SUMMIT]


def test_series_dates_are_gatherings_grouped_by_their_series(httpserver):
    serve_series(httpserver)

    [event] = resolve(fixture("checkin_series.json"), pretix_api(httpserver))

    assert event == NormalizedEvent(
        EventKind.CHECKED_IN,
        "pretix.event.checkin",
        at("2026-11-26T06:34:50Z"),
        GatheringRef(
            external_id="acme/breakfast-club/501",
            # No English name: the first language pretix lists.
            name="Frühstück am 26. November",
            starts_at=at("2026-11-26T06:30:00Z"),
            ends_at=at("2026-11-26T08:30:00Z"),
            group=GroupRef("acme/breakfast-club", "Thursday Breakfast Club"),
        ),
        # No attendee email on the ticket: the order's email stands in.
        AttendeeRef(
            external_id="acme/breakfast-club/position/31007",
            email="grace@example.com",
            name="Grace Hopper",
        ),
    )


def test_a_revert_is_placed_at_the_orders_last_change(httpserver):
    serve_summit(httpserver, position="orderposition_reverted.json")

    events = resolve(fixture("checkin_reverted.json"), pretix_api(httpserver))

    # pretix deleted the list's check-ins: nothing to replay, one revert when the order changed.
    assert events == [
        NormalizedEvent(
            EventKind.CHECKIN_REVERTED,
            "pretix.event.checkin.reverted",
            at("2026-11-26T11:52:31.420113Z"),
            SUMMIT_GATHERING,
            ZOE,
        )
    ]
    stored = [
        (AttendanceKind.CHECKED_IN, at("2026-11-26T08:05:12Z")),
        (AttendanceKind.CHECKED_OUT, at("2026-11-26T11:40:00Z")),
    ]
    new = [(AttendanceKind(event.kind.value), event.occurred_at) for event in events]
    assert fold_attendance(stored + new).checked_in_at is None


def test_a_reentry_after_a_revert_stays_counted(httpserver):
    """Processed late, the order has changed since the revert; the re-entry still counts."""
    position = fixture_json("orderposition_reverted.json")
    position["checkins"] = [
        {"id": 90412, "datetime": "2026-11-26T11:58:02Z", "list": 44, "type": "entry"}
    ]
    order = {**fixture_json("order.json"), "last_modified": "2026-11-26T12:30:00Z"}
    httpserver.expect_request(f"{SUMMIT}orderpositions/23442/").respond_with_json(position)
    httpserver.expect_request(f"{SUMMIT}orders/ABC12/").respond_with_json(order)
    serve(httpserver, SUMMIT, "event.json")

    events = resolve(fixture("checkin_reverted.json"), pretix_api(httpserver))

    reentry = at("2026-11-26T11:58:02Z")
    assert [(event.kind, event.occurred_at) for event in events] == [
        (EventKind.CHECKED_IN, reentry),
        (EventKind.CHECKIN_REVERTED, reentry - timedelta(microseconds=1)),
    ]
    stored = [(AttendanceKind.CHECKED_IN, at("2026-11-26T08:05:12Z"))]
    new = [(AttendanceKind(event.kind.value), event.occurred_at) for event in events]
    assert fold_attendance(stored + new).checked_in_at == reentry


def test_unknown_notifications_pass_through_without_asking_pretix():
    events = parse(fixture("order_placed.json"))
    assert PretixAdapter().resolve(events, None) == events


def test_without_credentials_resolving_is_an_auth_error():
    assert PretixAdapter().api(IntegrationConfig({"api_url": "https://pretix.eu"}, {})) is None
    with pytest.raises(PlatformAuthError, match="pretix API credentials are missing"):
        resolve(fixture("checkin_entry.json"), None)


def test_a_pretix_slower_than_the_timeout_is_unavailable(httpserver):
    released = threading.Event()

    def stall(request: Request) -> Response:
        released.wait(timeout=5)
        return Response(fixture("orderposition.json"), content_type="application/json")

    httpserver.expect_request(f"{SUMMIT}orderpositions/23442/").respond_with_handler(stall)
    api = PlatformApi(httpserver.url_for("/api/v1/"), AUTH, timeout=(1.0, 0.2), attempts=1)
    try:
        with pytest.raises(PlatformUnavailable, match="ReadTimeout"):
            resolve(fixture("checkin_entry.json"), api)
    finally:
        released.set()


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        (f"{SUMMIT}orderpositions/23442/", {"checkins": None}, "checkins"),
        (f"{SUMMIT}orderpositions/23442/", {"id": "23442"}, "id"),
        (f"{SUMMIT}orderpositions/23442/", {"attendee_name": ["Zoë"]}, "attendee_name"),
        (
            f"{SUMMIT}orderpositions/23442/",
            {"checkins": [{"list": 44, "type": "entry", "datetime": "soon"}]},
            "datetime",
        ),
        (f"{SUMMIT}orderpositions/23442/", {"attendee_email": None, "order": "../x"}, "order"),
        # An event series, but the ticket names no date of it.
        (SUMMIT, {"has_subevents": True}, "subevent"),
        (SUMMIT, {"date_from": 1764144000}, "date_from"),
    ],
)
def test_unexpected_answers_are_rejected_naming_the_field(httpserver, path, change, field):
    names = {
        f"{SUMMIT}orderpositions/23442/": "orderposition.json",
        SUMMIT: "event.json",
        f"{SUMMIT}orders/ABC12/": "order.json",
    }
    for served, name in names.items():
        if served == path:
            httpserver.expect_request(served).respond_with_json({**fixture_json(name), **change})
        else:
            serve(httpserver, served, name)

    with pytest.raises(PlatformRejected) as raised:
        resolve(fixture("checkin_entry.json"), pretix_api(httpserver))
    assert field in raised.value.detail


# --- processing deliveries through the inbox --------------------------------------------------


def post(client: FlaskClient, path: str, name: str) -> int:
    response = client.post(path, data=fixture(name), headers={"content-type": "application/json"})
    assert response.status_code == 202, response.json
    delivery_id: int = response.json["delivery"]
    return delivery_id


def process(app: Flask, delivery_id: int) -> ProcessOutcome:
    """What the Celery task does with a delivery id, minus the retry policy."""
    with app.app_context(), session_scope() as session:
        return inbox.process(session, secret_box(), delivery_id)


def api_get(client: FlaskClient, tenant: Tenant, path: str) -> Any:
    response = client.get(f"/api/v1{path}", headers=tenant.auth)
    assert response.status_code == 200, response.json
    return response.json


def gathering_named(client: FlaskClient, tenant: Tenant, name: str) -> dict[str, Any]:
    [summary] = [
        row for row in api_get(client, tenant, "/gatherings")["gatherings"] if row["name"] == name
    ]
    gathering: dict[str, Any] = api_get(client, tenant, f"/gatherings/{summary['id']}")
    return gathering


@pytest.fixture()
def pretix_tenant(
    app: Flask, make_tenant: Callable[[], Tenant], httpserver: HTTPServer
) -> tuple[Tenant, int, str]:
    """An organizer with a pretix integration whose API is the fake pretix."""
    tenant = make_tenant()
    integration_id, path = connect(app, tenant, httpserver.url_for("/api/v1/"))
    return tenant, integration_id, path


def test_a_checkin_and_its_revert_reach_the_api(app, client, httpserver, pretix_tenant):
    tenant, _, path = pretix_tenant
    serve_summit(httpserver)

    delivery_id = post(client, path, "checkin_entry.json")
    assert process(app, delivery_id) is ProcessOutcome.PROCESSED

    assert api_get(client, tenant, f"/deliveries/{delivery_id}")["status"] == "processed"
    gathering = gathering_named(client, tenant, "Networking Summit 2026")
    assert (gathering["starts_at"], gathering["ends_at"], gathering["group"]) == (
        "2026-11-26T08:00:00Z",
        "2026-11-26T17:00:00Z",
        None,
    )
    [row] = gathering["attendance"]
    assert row["person"] | {"id": None} == {
        "id": None,
        "name": "Zoë Ångström",
        "email": "Zoe.Angstrom@Example.com",
        "company": "Ørsted & Søn",
    }
    assert (row["status"], row["checked_in_at"], row["checked_out_at"]) == (
        "checked_out",
        "2026-11-26T08:05:12Z",
        "2026-11-26T11:40:00Z",
    )

    httpserver.clear()
    serve_summit(httpserver, position="orderposition_reverted.json")
    revert_id = post(client, path, "checkin_reverted.json")
    assert process(app, revert_id) is ProcessOutcome.PROCESSED

    [row] = gathering_named(client, tenant, "Networking Summit 2026")["attendance"]
    assert (row["status"], row["checked_in_at"]) == ("reverted", None)


def test_series_dates_reach_the_api_in_their_group(app, client, httpserver, pretix_tenant):
    tenant, _, path = pretix_tenant
    serve_series(httpserver)

    assert process(app, post(client, path, "checkin_series.json")) is ProcessOutcome.PROCESSED

    gathering = gathering_named(client, tenant, "Frühstück am 26. November")
    assert gathering["group"]["name"] == "Thursday Breakfast Club"
    assert gathering["starts_at"] == "2026-11-26T06:30:00Z"
    [row] = gathering["attendance"]
    assert (row["person"]["email"], row["checked_in_at"]) == (
        "grace@example.com",
        "2026-11-26T06:34:50Z",
    )


def test_a_plain_event_is_grouped_by_the_organizers_rules(app, client, httpserver, pretix_tenant):
    tenant, integration_id, path = pretix_tenant
    rules = {"group_rules": [{"prefix": "networking", "group": "Harbour Networking"}]}
    patched = client.patch(
        f"/api/v1/integrations/{integration_id}", json=rules, headers=tenant.auth
    )
    assert patched.status_code == 200, patched.json
    serve_summit(httpserver)

    assert process(app, post(client, path, "checkin_exit.json")) is ProcessOutcome.PROCESSED

    gathering = gathering_named(client, tenant, "Networking Summit 2026")
    assert gathering["group"]["name"] == "Harbour Networking"


def refuse(httpserver: HTTPServer, status: int, headers: dict[str, str] | None = None) -> None:
    """The next request for Zoë's position gets `status`, then pretix answers normally."""
    httpserver.expect_oneshot_request(f"{SUMMIT}orderpositions/23442/").respond_with_json(
        {"detail": "refused"}, status=status, headers=headers
    )
    serve_summit(httpserver)


def test_a_position_gone_from_pretix_fails_the_delivery(app, client, httpserver, pretix_tenant):
    tenant, integration_id, path = pretix_tenant
    httpserver.expect_request(f"{SUMMIT}orderpositions/23442/").respond_with_json(
        {"detail": "Not found."}, status=404
    )

    delivery_id = post(client, path, "checkin_entry.json")
    assert process(app, delivery_id) is ProcessOutcome.FAILED

    delivery = api_get(client, tenant, f"/deliveries/{delivery_id}")
    assert delivery["status"] == "failed"
    assert delivery["reason"].startswith("platform_not_found: GET ")
    integration = api_get(client, tenant, f"/integrations/{integration_id}")
    assert integration["credentials_invalid"] is False


def test_refused_credentials_fail_the_delivery_and_flag_the_integration(
    app, client, httpserver, pretix_tenant
):
    tenant, integration_id, path = pretix_tenant
    httpserver.expect_request(f"{SUMMIT}orderpositions/23442/").respond_with_json(
        {"detail": "Invalid token."}, status=401
    )

    delivery_id = post(client, path, "checkin_entry.json")
    assert process(app, delivery_id) is ProcessOutcome.FAILED

    delivery = api_get(client, tenant, f"/deliveries/{delivery_id}")
    assert delivery["status"] == "failed"
    assert delivery["reason"].startswith("platform_credentials_invalid: ")
    integration = api_get(client, tenant, f"/integrations/{integration_id}")
    assert integration["credentials_invalid"] is True
    assert integration["last_error"].startswith("platform_credentials_invalid: GET ")
    assert "answered 401" in integration["last_error"]


def test_a_rate_limited_call_waits_for_retry_after(app, client, httpserver, pretix_tenant):
    _, _, path = pretix_tenant
    refuse(httpserver, 429, {"Retry-After": "1"})
    delivery_id = post(client, path, "checkin_entry.json")

    started = time.monotonic()
    assert process(app, delivery_id) is ProcessOutcome.PROCESSED

    assert time.monotonic() - started >= 1.0
    assert requested_paths(httpserver).count(f"{SUMMIT}orderpositions/23442/") == 2


def test_a_server_error_is_retried_within_the_call(app, client, httpserver, pretix_tenant):
    _, _, path = pretix_tenant
    refuse(httpserver, 500)

    assert process(app, post(client, path, "checkin_entry.json")) is ProcessOutcome.PROCESSED
    assert requested_paths(httpserver).count(f"{SUMMIT}orderpositions/23442/") == 2


def test_pretix_down_leaves_the_delivery_for_the_task_to_retry(
    app, client, httpserver, pretix_tenant
):
    tenant, integration_id, path = pretix_tenant
    httpserver.expect_request(f"{SUMMIT}orderpositions/23442/").respond_with_json(
        {"detail": "maintenance"}, status=503
    )
    delivery_id = post(client, path, "checkin_entry.json")

    with pytest.raises(PlatformUnavailable):
        process(app, delivery_id)

    assert api_get(client, tenant, f"/deliveries/{delivery_id}")["status"] == "received"
    assert api_get(client, tenant, f"/integrations/{integration_id}")["last_error"] is None

    # The retry, once pretix is back, completes it.
    httpserver.clear()
    serve_summit(httpserver)
    assert process(app, delivery_id) is ProcessOutcome.PROCESSED


# --- registering the webhook through the CLI ------------------------------------------------


def accept_webhooks(httpserver: HTTPServer, status: int = 201) -> None:
    """pretix's webhook endpoint: echo the created webhook with an id, as pretix does."""

    def create(request: Request) -> Response:
        body = {"detail": "Invalid token."} if status >= 400 else {"id": 17, **request.json}
        return Response(json.dumps(body), status=status, content_type="application/json")

    httpserver.expect_request(WEBHOOKS, method="POST", headers=AUTH).respond_with_handler(create)


def add_pretix(settings_overrides: dict[str, Any], tenant: Tenant, api_url: str, *extra: str):
    return run_cli(
        settings_overrides,
        "add-integration",
        *("--organizer", str(tenant.organizer_id), "--platform", "pretix"),
        *("--api-url", api_url, "--api-token", TOKEN, "--pretix-organizer", "acme"),
        *extra,
    )


@pytest.mark.parametrize(
    ("extra", "all_events", "limit_events"),
    [(("--event", "summit-2026"), False, ["summit-2026"]), ((), True, [])],
)
def test_add_integration_registers_the_webhook_on_pretix(
    client, httpserver, settings_overrides, make_tenant, extra, all_events, limit_events
):
    tenant = make_tenant()
    accept_webhooks(httpserver)

    result = add_pretix(settings_overrides, tenant, httpserver.url_for("/"), *extra)

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["registered"] == {
        "webhook_id": 17,
        "organizer": "acme",
        "limit_events": limit_events,
    }
    assert "signing_secret" not in printed
    [(request, _)] = httpserver.log
    assert request.json == {
        "target_url": printed["webhook_url"],
        "enabled": True,
        "all_events": all_events,
        "limit_events": limit_events,
        "action_types": ["pretix.event.checkin", "pretix.event.checkin.reverted"],
        "comment": "Roomwise: check-ins for attendance and scoring",
    }
    integration = api_get(client, tenant, f"/integrations/{printed['integration_id']}")
    assert integration["settings"]["webhook_registration"]["webhook_id"] == 17
    assert integration["has_credentials"] is True


def test_a_refused_registration_saves_nothing(client, httpserver, settings_overrides, make_tenant):
    tenant = make_tenant()
    accept_webhooks(httpserver, status=401)

    result = add_pretix(settings_overrides, tenant, httpserver.url_for("/api/v1/"))

    assert result.returncode != 0
    assert "registering the webhook with pretix failed" in result.stderr
    assert "answered 401" in result.stderr
    assert "Traceback" not in result.stderr
    integrations = api_get(client, tenant, "/integrations")["integrations"]
    assert [row["platform"] for row in integrations] == ["standard"]
