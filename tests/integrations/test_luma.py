"""The `luma` adapter: guests' registrations and per-ticket check-ins, behind the secret URL."""

from __future__ import annotations

import hashlib
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
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
)
from integrations.luma import LumaAdapter
from service import inbox
from service.context import current_settings, secret_box
from service.db import session_scope
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.integrations.contract import FIXTURES, AdapterContract

BREAKFAST = GatheringRef(
    external_id="evt-Hb3kR9mQ2wXn7Lt",
    name="Harbourside Breakfast, 26 Nov",
    starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
    ends_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    group=GroupRef("cal-Ym5Tq8Wn2Kd4Rx", "Luma calendar cal-Ym5Tq8Wn2Kd4Rx"),
)
ZOE = AttendeeRef("usr-Zk4pW8nT2qLm6Vd", "Zoe.Angstrom@Example.com", "Zoë Ångström")


def fixture(name: str) -> bytes:
    return (FIXTURES / "luma" / f"{name}.json").read_bytes()


def parse(body: bytes) -> list[NormalizedEvent]:
    return LumaAdapter().parse(body, {"content-type": "application/json"})


def edited(name: str, *, event: dict[str, Any] | None = None, **guest: Any) -> bytes:
    """A fixture with fields of `data` (and of `data.event`) replaced, or removed for `...`."""
    payload = json.loads(fixture(name))
    for node, changes in ((payload["data"], guest), (payload["data"]["event"], event or {})):
        for key, value in changes.items():
            if value is ...:
                node.pop(key, None)
            else:
                node[key] = value
    return json.dumps(payload).encode()


class TestLumaContract(AdapterContract):
    platform = "luma"
    expected_kinds: ClassVar[list[EventKind]] = [
        EventKind.REGISTERED,
        EventKind.CHECKED_IN,
        EventKind.CHECKED_IN,
    ]

    def valid_body(self) -> bytes:
        return fixture("guest_checked_in")

    def unknown_type_body(self) -> bytes:
        return fixture("event_updated")

    def check_events(self, events: list[NormalizedEvent]) -> None:
        assert [event.occurred_at for event in events] == [
            datetime(2026, 11, 19, 21, 14, 8, 392000, tzinfo=UTC),
            datetime(2026, 11, 26, 7, 36, 41, 18000, tzinfo=UTC),
            datetime(2026, 11, 26, 7, 38, 2, 551000, tzinfo=UTC),
        ]
        assert {(event.gathering, event.attendee) for event in events} == {(BREAKFAST, ZOE)}
        assert {event.platform_type for event in events} == {"guest.updated"}


def test_anything_that_reaches_the_secret_url_verifies():
    LumaAdapter().verify(fixture("guest_checked_in"), {}, [])


def test_several_tickets_check_in_once_each():
    events = parse(fixture("guest_checked_in"))
    # Three tickets, the third not scanned: a registration and two check-ins.
    assert [event.kind for event in events] == TestLumaContract.expected_kinds


def test_null_checked_in_at_is_only_a_registration():
    [event] = parse(fixture("guest_registered"))
    assert event == NormalizedEvent(
        kind=EventKind.REGISTERED,
        platform_type="guest.registered",
        occurred_at=datetime(2026, 11, 20, 8, 2, 45, 120000, tzinfo=UTC),
        gathering=BREAKFAST,
        # No `user_name`: first and last name stand in.
        attendee=AttendeeRef("usr-Pn3Vx7Lk1Qw9Hc", "grace@example.com", "Grace Hopper"),
    )


@pytest.mark.parametrize("status", ["pending_approval", "waitlist", "declined"])
def test_guests_not_admitted_are_not_registered(status):
    [event] = parse(edited("guest_registered", approval_status=status))
    assert (event.kind, event.platform_type) == (EventKind.UNKNOWN, "guest.registered")


def test_a_check_in_still_counts_when_approval_changed_afterwards():
    events = parse(edited("guest_checked_in", approval_status="declined"))
    assert [event.kind for event in events] == [EventKind.CHECKED_IN, EventKind.CHECKED_IN]


def test_guest_without_registration_time_or_tickets_is_unknown():
    [event] = parse(edited("guest_registered", registered_at=None, event_tickets=...))
    assert event.kind is EventKind.UNKNOWN


@pytest.mark.parametrize(
    "event_type", ["ticket.registered", "event.created", "calendar.person.subscribed"]
)
def test_other_types_are_unknown(event_type):
    [event] = parse(json.dumps({"type": event_type, "data": {}}).encode())
    assert (event.kind, event.platform_type) == (EventKind.UNKNOWN, event_type)


def test_an_event_without_a_calendar_has_no_group_so_organizer_rules_apply():
    [event] = parse(edited("guest_registered", event={"calendar_id": None, "end_at": None}))
    assert event.gathering == GatheringRef(
        external_id="evt-Hb3kR9mQ2wXn7Lt",
        name="Harbourside Breakfast, 26 Nov",
        starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
    )


def test_the_guest_record_identifies_a_guest_without_a_user_id():
    [event] = parse(edited("guest_registered", user_id=None))
    assert event.attendee is not None
    assert event.attendee.external_id == "gst-2Rb8Wq5Nx1Lt7Kd"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"{}", "type"),
        (b'{"type": ""}', "type"),
        (b'{"type": "guest.updated"}', "data"),
        (b'{"type": "guest.updated", "data": {"user_id": "usr-1"}}', "data.event"),
        (edited("guest_checked_in", event={"id": None}), "data.event.id"),
        (edited("guest_checked_in", event={"name": ""}), "data.event.name"),
        (edited("guest_checked_in", event={"start_at": "Thursday"}), "data.event.start_at"),
        (edited("guest_checked_in", event={"calendar_id": 7.5}), "data.event.calendar_id"),
        (edited("guest_checked_in", user_id=None, id=None), "data.user_id"),
        (edited("guest_checked_in", user_email=["zoe@example.com"]), "data.user_email"),
        (edited("guest_checked_in", registered_at="recently"), "data.registered_at"),
        (edited("guest_checked_in", event_tickets={"id": "t"}), "data.event_tickets"),
        (edited("guest_checked_in", event_tickets=["t"]), "data.event_tickets[0]"),
        (
            edited("guest_checked_in", event_tickets=[{"checked_in_at": 1764142200}]),
            "data.event_tickets[0].checked_in_at",
        ),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(body, names):
    with pytest.raises(MalformedPayload) as raised:
        parse(body)
    assert raised.value.reason == "malformed_payload"
    assert names in raised.value.detail


def test_delivery_id_is_the_hash_of_the_body():
    body = fixture("guest_checked_in")
    assert LumaAdapter().delivery_id(body, {}) == "sha256:" + hashlib.sha256(body).hexdigest()


# --- through the endpoint and the worker's code ------------------------------------------------


def connect(app: Flask, tenant: Tenant, group_rules: list[dict[str, str]]) -> str:
    """A Luma integration for the tenant's organizer; returns its secret webhook path."""
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            "luma",
            platform_settings={"group_rules": group_rules},
            register=False,
        )
    return created.webhook_url.removeprefix("http://roomwise.test")


def deliver(app: Flask, client: FlaskClient, path: str, body: bytes) -> None:
    """POST a delivery to the secret URL, then apply it as the worker does."""
    response = client.post(path, data=body, headers={"content-type": "application/json"})
    assert response.status_code == 202, response.json
    with app.app_context(), session_scope() as session:
        outcome = inbox.process(session, secret_box(), response.json["delivery"])
    # A session-wide worker, when one runs, may have applied it first.
    assert outcome in (inbox.ProcessOutcome.PROCESSED, inbox.ProcessOutcome.ALREADY_DONE)


def gatherings(client: FlaskClient, tenant: Tenant) -> list[dict[str, Any]]:
    summaries = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    return [
        client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json
        for summary in sorted(summaries, key=lambda summary: summary["id"])
    ]


def test_guest_updates_become_one_attendance_in_the_calendars_group(app, client, tenant):
    rules = [{"prefix": "Harbourside", "group": "Harbourside by name"}]
    path = connect(app, tenant, rules)
    deliver(app, client, path, fixture("guest_checked_in"))
    # The same state again, as Luma sends on any later change to the guest.
    deliver(app, client, path, edited("guest_checked_in", phone_number="+44 20 7946 0000"))
    # Another event on no calendar: the organizer's rule groups it.
    deliver(
        app, client, path, edited("guest_registered", event={"id": "evt-2", "calendar_id": None})
    )

    breakfast, other = gatherings(client, tenant)
    assert breakfast["group"]["name"] == "Luma calendar cal-Ym5Tq8Wn2Kd4Rx"
    assert (breakfast["starts_at"], breakfast["ends_at"]) == (
        "2026-11-26T07:30:00Z",
        "2026-11-26T09:30:00Z",
    )
    [row] = breakfast["attendance"]
    assert (row["status"], row["checked_in_at"]) == ("checked_in", "2026-11-26T07:36:41.018000Z")
    assert row["registered_at"] == "2026-11-19T21:14:08.392000Z"
    assert row["person"]["name"] == "Zoë Ångström"
    assert other["group"]["name"] == "Harbourside by name"
