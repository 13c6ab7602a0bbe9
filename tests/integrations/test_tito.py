"""The `tito` adapter: Tito-Signature over byte-exact fixtures, triggers, and processing.

Fixture files are named after the trigger Tito sends them under (`X-Webhook-Name`), since the
trigger is not in the body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integrations.base import (
    AttendeeRef,
    EventKind,
    GatheringRef,
    MalformedPayload,
    NormalizedEvent,
    VerificationError,
)
from integrations.tito import TitoAdapter
from service import inbox
from service.context import current_settings, secret_box
from service.db import session_scope
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.integrations.contract import FIXTURES, SignedAdapterContract

SECRET = "tito-event-security-token"
TRIGGERS = [path.stem for path in sorted((FIXTURES / "tito").glob("*.json"))]
GATHERING = GatheringRef(
    external_id="harbourside-breakfast-2026-11-26", name="Harbourside Breakfast, 26 Nov"
)
ZOE = AttendeeRef(
    external_id="ti_p9dXkQ2vGm4cLsR8wYfJ1Aw",
    email="Zoe.Angstrom@Example.com",
    name="Zoë Ångström",
    company="Ørsted & Søn",
)


def fixture(trigger: str) -> bytes:
    return (FIXTURES / "tito" / f"{trigger}.json").read_bytes()


def signed(trigger: str, body: bytes | None = None, secret: str = SECRET) -> dict[str, str]:
    return TitoAdapter().sign(fixture(trigger) if body is None else body, secret, trigger)


def parse(trigger: str, body: bytes | None = None) -> list[NormalizedEvent]:
    body = fixture(trigger) if body is None else body
    return TitoAdapter().parse(body, signed(trigger, body))


def edited(trigger: str, **changes: Any) -> bytes:
    """A fixture with top-level fields replaced (`None` values kept as JSON null)."""
    return json.dumps({**json.loads(fixture(trigger)), **changes}).encode()


class TestTitoContract(SignedAdapterContract):
    platform = "tito"
    expected_kinds: ClassVar[list[EventKind]] = [EventKind.CHECKED_IN]

    def valid_body(self) -> bytes:
        return fixture("checkin.created")

    def unknown_type_body(self) -> bytes:
        return fixture("registration.started")

    def sign(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        trigger = next((name for name in TRIGGERS if fixture(name) == body), "checkin.created")
        return TitoAdapter().sign(body, secret, trigger)

    def check_events(self, events: list[NormalizedEvent]) -> None:
        [event] = events
        assert event.occurred_at == datetime(2026, 11, 26, 7, 34, 12, tzinfo=UTC)
        assert (event.gathering, event.attendee) == (GATHERING, ZOE)
        assert event.gathering is not None and event.gathering.group is None


# --- verification ------------------------------------------------------------------------------


def test_signature_is_the_documented_base64_hmac():
    """Known answer from `openssl dgst -sha256 -hmac <token> -binary <body> | base64`."""
    headers = signed("checkin.created")
    assert headers["Tito-Signature"] == "+scz7EcGd13WJmX61wQdWsZSsopfduJFWHy6wNwiWOQ="
    TitoAdapter().verify(fixture("checkin.created"), headers, [SECRET])


def test_header_names_are_case_insensitive_and_a_trailing_newline_is_ignored():
    body = fixture("checkin.created")
    headers = {"tito-signature": signed("checkin.created")["Tito-Signature"] + "\n"}
    TitoAdapter().verify(body, headers, [SECRET])


def test_re_serialized_json_does_not_verify():
    body = fixture("checkin.created")
    with pytest.raises(VerificationError) as raised:
        TitoAdapter().verify(
            json.dumps(json.loads(body)).encode(), signed("checkin.created"), [SECRET]
        )
    assert raised.value.reason == "bad_signature"


def test_no_security_token_verifies_nothing():
    with pytest.raises(VerificationError) as raised:
        TitoAdapter().verify(fixture("checkin.created"), signed("checkin.created"), [])
    assert raised.value.reason == "bad_signature"


# --- triggers ----------------------------------------------------------------------------------


def test_checkin_deleted_reverts_at_the_time_of_the_deleted_check_in():
    [event] = parse("checkin.deleted")
    assert event.kind is EventKind.CHECKIN_REVERTED
    assert event.platform_type == "checkin.deleted"
    # Not `deleted_at` (07:41:05): see `_checkin` for why.
    assert event.occurred_at == datetime(2026, 11, 26, 7, 34, 12, tzinfo=UTC)
    assert (event.gathering, event.attendee) == (GATHERING, ZOE)


def test_checkin_deleted_without_checked_in_at_falls_back_to_deleted_at():
    [event] = parse("checkin.deleted", edited("checkin.deleted", checked_in_at=None))
    assert event.occurred_at == datetime(2026, 11, 26, 7, 41, 5, tzinfo=UTC)


def test_ticket_completed_registers_its_holder():
    [event] = parse("ticket.completed")
    assert event == NormalizedEvent(
        kind=EventKind.REGISTERED,
        platform_type="ticket.completed",
        occurred_at=datetime(2026, 11, 20, 18, 4, 41, tzinfo=UTC),
        gathering=GATHERING,
        attendee=AttendeeRef("ti_dQ8mZr3Lk2VbNw7xHc4Tp0g", "grace@example.com", "Grace Hopper"),
    )


def test_registration_registers_each_assigned_ticket_at_its_completion():
    events = parse("registration.finished")
    # The third ticket has neither a name nor an email yet: nobody to register.
    assert [event.attendee for event in events] == [
        AttendeeRef(
            "ti_dj8GKOodhY1PZK3VpFxVshw", "ada@example.com", "Ada Lovelace", "Analytical Engines"
        ),
        AttendeeRef("ti_dbFC7zPGM4jkgWA1jpVfGOw", "charles@example.com"),
    ]
    # `completed_at`, written as Tito's registrations write times: "2026-11-20 18:02:11 UTC".
    assert {event.occurred_at for event in events} == {
        datetime(2026, 11, 20, 18, 2, 11, tzinfo=UTC)
    }
    assert {event.kind for event in events} == {EventKind.REGISTERED}


def test_unassigned_ticket_is_unknown():
    body = edited("ticket.completed", name="", first_name=None, last_name=None, email=None)
    [event] = parse("ticket.created", body)
    assert (event.kind, event.platform_type) == (EventKind.UNKNOWN, "ticket.created")


@pytest.mark.parametrize("trigger", ["ticket.voided", "registration.cancelled", "checkin.moved"])
def test_triggers_without_a_kind_are_unknown(trigger):
    [event] = parse(trigger, fixture("ticket.completed"))
    assert (event.kind, event.platform_type) == (EventKind.UNKNOWN, trigger)


def test_first_and_last_name_stand_in_for_a_missing_name():
    [event] = parse("ticket.updated", edited("ticket.completed", name=""))
    assert event.attendee is not None and event.attendee.name == "Grace Hopper"


def test_missing_webhook_name_is_refused_naming_the_header():
    body = fixture("checkin.created")
    headers = {"Tito-Signature": signed("checkin.created")["Tito-Signature"]}
    TitoAdapter().verify(body, headers, [SECRET])
    with pytest.raises(MalformedPayload) as raised:
        TitoAdapter().parse(body, headers)
    assert raised.value.reason == "malformed_payload"
    assert "X-Webhook-Name" in raised.value.detail


@pytest.mark.parametrize(
    ("trigger", "changes", "names"),
    [
        ("checkin.created", {"checked_in_at": None}, "checked_in_at"),
        ("checkin.created", {"checked_in_at": "soon"}, "checked_in_at"),
        ("checkin.created", {"checkin_uuid": ""}, "checkin_uuid"),
        ("checkin.deleted", {"checked_in_at": None, "deleted_at": None}, "deleted_at"),
        ("checkin.created", {"event": "harbourside"}, "event"),
        ("checkin.created", {"event": {"title": "Breakfast"}}, "event.slug"),
        ("checkin.created", {"slug": None, "reference": None}, "slug"),
        ("checkin.created", {"email": ["zoe@example.com"]}, "email"),
        ("checkin.created", {"name": "Zoë\u0000"}, "name"),
        ("ticket.completed", {"updated_at": None}, "updated_at"),
        ("registration.finished", {"tickets": {}}, "tickets"),
        ("registration.finished", {"tickets": ["ti_1"]}, "tickets[0]"),
        ("registration.finished", {"tickets": [{"name": "Ada", "slug": 1.5}]}, "tickets[0].slug"),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(trigger, changes, names):
    source = "ticket.completed" if trigger.startswith("ticket.") else trigger
    with pytest.raises(MalformedPayload) as raised:
        parse(trigger, edited(source, **changes))
    assert raised.value.reason == "malformed_payload"
    assert names in raised.value.detail


# --- what is stored ----------------------------------------------------------------------------


def test_delivery_ids_name_the_trigger_and_the_check_in():
    adapter = TitoAdapter()
    created, deleted = fixture("checkin.created"), fixture("checkin.deleted")
    uuid = "5b0c7a8e-3f1d-4c62-9a57-0e4d2b9f6c31"
    assert adapter.delivery_id(created, signed("checkin.created")) == f"checkin.created:{uuid}"
    assert adapter.delivery_id(deleted, signed("checkin.deleted")) == f"checkin.deleted:{uuid}"
    assert adapter.delivery_id(fixture("ticket.completed"), signed("ticket.completed")) == (
        "ticket.completed:ti_dQ8mZr3Lk2VbNw7xHc4Tp0g:2026-11-20T18:04:41.000Z"
    )


def test_kept_headers_let_the_worker_parse_again_without_the_signature():
    body = fixture("checkin.deleted")
    headers = {**signed("checkin.deleted"), "Cookie": "session=1"}
    kept = TitoAdapter().headers_to_keep(headers)
    assert kept == {"content-type": "application/json", "x-webhook-name": "checkin.deleted"}
    assert TitoAdapter().parse(body, kept) == TitoAdapter().parse(body, headers)


# --- through the endpoint and the worker's code ------------------------------------------------


def connect(app: Flask, tenant: Tenant) -> str:
    """A Tito integration for the tenant's organizer; returns its webhook path."""
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            "tito",
            signing_secret=SECRET,
            register=False,
        )
    return created.webhook_url.removeprefix("http://roomwise.test")


def deliver(app: Flask, client: FlaskClient, path: str, trigger: str, body: bytes) -> None:
    """POST a signed delivery, then apply it as the worker does."""
    response = client.post(path, data=body, headers=signed(trigger, body))
    assert response.status_code == 202, response.json
    with app.app_context(), session_scope() as session:
        outcome = inbox.process(session, secret_box(), response.json["delivery"])
    # A session-wide worker, when one runs, may have applied it first.
    assert outcome in (inbox.ProcessOutcome.PROCESSED, inbox.ProcessOutcome.ALREADY_DONE)


def only_gathering(client: FlaskClient, tenant: Tenant) -> dict[str, Any]:
    [summary] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    return client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json


def test_deleted_check_in_is_reverted_and_a_later_check_in_still_counts(app, client, tenant):
    path = connect(app, tenant)
    deliver(app, client, path, "checkin.created", fixture("checkin.created"))
    deliver(app, client, path, "checkin.deleted", fixture("checkin.deleted"))

    gathering = only_gathering(client, tenant)
    assert (gathering["name"], gathering["group"]) == ("Harbourside Breakfast, 26 Nov", None)
    [row] = gathering["attendance"]
    assert (row["status"], row["checked_in_at"]) == ("reverted", None)
    assert row["person"]["company"] == "Ørsted & Søn"

    # Scanned again properly at 07:39, before the mistaken scan was deleted at 07:41.
    rescan = edited(
        "checkin.created",
        checked_in_at="2026-11-26T07:39:00.000Z",
        checkin_uuid="0f6a2d4e-8b1c-4e3f-a5d7-9c2b1e0f4a68",
    )
    deliver(app, client, path, "checkin.created", rescan)
    [row] = only_gathering(client, tenant)["attendance"]
    assert (row["status"], row["checked_in_at"]) == ("checked_in", "2026-11-26T07:39:00Z")


def test_registration_then_check_in_is_one_attendance(app, client, tenant):
    path = connect(app, tenant)
    deliver(app, client, path, "ticket.completed", fixture("ticket.completed"))
    check_in = edited(
        "checkin.created", slug="ti_dQ8mZr3Lk2VbNw7xHc4Tp0g", email="grace@example.com"
    )
    deliver(app, client, path, "checkin.created", check_in)

    [row] = only_gathering(client, tenant)["attendance"]
    assert row["registered_at"] == "2026-11-20T18:04:41Z"
    assert row["checked_in_at"] == "2026-11-26T07:34:12Z"
    assert row["person"]["email"] == "grace@example.com"


def test_missing_webhook_name_is_400_and_stores_nothing(app, client, tenant):
    path = connect(app, tenant)
    body = fixture("checkin.created")
    headers = {"Tito-Signature": signed("checkin.created")["Tito-Signature"]}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["reason"] == "malformed_payload"
    assert "X-Webhook-Name" in response.json["detail"]
    assert client.get("/api/v1/deliveries", headers=tenant.auth).json["deliveries"] == []


def test_unsigned_delivery_is_401(client, app, tenant):
    path = connect(app, tenant)
    response = client.post(
        path, data=fixture("checkin.created"), headers={"X-Webhook-Name": "checkin.created"}
    )
    assert (response.status_code, response.json["reason"]) == (401, "missing_signature")
