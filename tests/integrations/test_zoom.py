"""The `zoom` adapter: `v0` signatures, the URL-validation handshake, joins and leaves.

Known answers come from `openssl dgst -sha256 -hmac`, an implementation independent of ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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
    VerificationError,
)
from integrations.zoom import ZoomAdapter
from service import inbox
from service.context import current_settings, secret_box
from service.db import session_scope
from service.platforms import create_integration
from tests.conftest import Tenant
from tests.integrations.contract import FIXTURES, TimestampedAdapterContract

SECRET = "zoom-secret-token"
OTHER_SECRET = "zoom-secret-token-before-rotation"
NOW = datetime(2026, 11, 26, 7, 34, 12, tzinfo=UTC)
BREAKFAST = GatheringRef(
    external_id="4444AAAiAAAAAiAiAiiAii==",
    name="Harbourside Breakfast",
    starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
    ends_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
    group=GroupRef("85746065432", "Harbourside Breakfast"),
)
ZOE = AttendeeRef("user:iFxeBPYun6SAiWUzBcEkX", "Zoe.Angstrom@Example.com", "Zoë Ångström")


def fixture(name: str) -> bytes:
    return (FIXTURES / "zoom" / f"{name}.json").read_bytes()


def adapter() -> ZoomAdapter:
    return ZoomAdapter(tolerance_seconds=300)


def verify(body: bytes, headers: dict[str, str], secrets: list[str] | None = None) -> None:
    adapter().verify(body, headers, [SECRET] if secrets is None else secrets, now=NOW)


def rejection(body: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(VerificationError) as raised:
        verify(body, headers)
    return raised.value.reason


def parse(body: bytes) -> list[NormalizedEvent]:
    return adapter().parse(body, {})


def edited(name: str, **changes: Any) -> bytes:
    """A fixture with fields of `payload.object` replaced, or removed for `...`; names
    prefixed `participant__` are fields of its participant.
    """
    payload = json.loads(fixture(name))
    meeting = payload["payload"]["object"]
    for key, value in changes.items():
        target, _, field = key.rpartition("__")
        node = meeting["participant"] if target == "participant" else meeting
        if value is ...:
            node.pop(field, None)
        else:
            node[field] = value
    return json.dumps(payload).encode()


class TestZoomContract(TimestampedAdapterContract):
    platform = "zoom"
    secret = SECRET
    other_secret = OTHER_SECRET
    expected_kinds: ClassVar[list[EventKind]] = [EventKind.CHECKED_IN]

    def valid_body(self) -> bytes:
        return fixture("participant_joined")

    def unknown_type_body(self) -> bytes:
        return fixture("meeting_started")

    def sign(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        return ZoomAdapter().sign(body, secret, at)

    def check_events(self, events: list[NormalizedEvent]) -> None:
        [event] = events
        assert event.occurred_at == NOW
        assert (event.gathering, event.attendee) == (BREAKFAST, ZOE)


# --- verification ------------------------------------------------------------------------------


def test_signature_is_the_documented_v0_hmac():
    body = fixture("participant_joined")
    headers = ZoomAdapter().sign(body, SECRET, NOW)
    assert headers["x-zm-request-timestamp"] == "1795678452"
    assert headers["x-zm-signature"] == (
        "v0=2aa14d8e6ac6d2990147c8c6bfb96c603b774c1cfddf19a68460e76234eebee4"
    )
    verify(body, {name.upper(): value for name, value in headers.items()})


def test_future_timestamp_is_rejected():
    body = fixture("participant_joined")
    headers = ZoomAdapter().sign(body, SECRET, NOW + timedelta(seconds=301))
    assert rejection(body, headers) == "future_timestamp"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_inside_the_tolerance_verify(offset):
    body = fixture("participant_joined")
    verify(body, ZoomAdapter().sign(body, SECRET, NOW + timedelta(seconds=offset)))


def test_signed_timestamp_cannot_be_swapped():
    body = fixture("participant_joined")
    headers = {**ZoomAdapter().sign(body, SECRET, NOW), "x-zm-request-timestamp": "1795678451"}
    assert rejection(body, headers) == "bad_signature"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-zm-signature": "v0=00"}, "missing_signature"),
        ({"x-zm-request-timestamp": "1795678452"}, "missing_signature"),
        ({"x-zm-request-timestamp": "yesterday", "x-zm-signature": "v0=00"}, "bad_timestamp"),
        ({"x-zm-request-timestamp": "1795678452", "x-zm-signature": "v0=ünïcode"}, "bad_signature"),
    ],
)
def test_unusable_headers_are_refused_not_crashed(headers, reason):
    assert rejection(fixture("participant_joined"), headers) == reason


def test_no_secret_token_verifies_nothing():
    body = fixture("participant_joined")
    with pytest.raises(VerificationError) as raised:
        verify(body, ZoomAdapter().sign(body, SECRET, NOW), secrets=[])
    assert raised.value.reason == "bad_signature"


# --- the URL-validation handshake --------------------------------------------------------------


def test_handshake_answers_the_challenge_with_the_documented_hmac():
    body = fixture("endpoint_url_validation")
    answer = adapter().handshake(body, ZoomAdapter().sign(body, SECRET, NOW), [SECRET])
    assert answer == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": "d9e0d764a78494688ba3f2d5c0ed4ca311394b4834d959759213424d2df961e3",
    }


def test_handshake_answers_with_the_secret_zoom_signed_with():
    body = fixture("endpoint_url_validation")
    secrets = [SECRET, OTHER_SECRET]
    new = adapter().handshake(body, ZoomAdapter().sign(body, SECRET, NOW), secrets)
    old = adapter().handshake(body, ZoomAdapter().sign(body, OTHER_SECRET, NOW), secrets)
    assert new is not None and old is not None
    assert new["encryptedToken"] != old["encryptedToken"]
    only_old = adapter().handshake(body, ZoomAdapter().sign(body, OTHER_SECRET, NOW), secrets[1:])
    assert only_old == old


def test_other_events_are_no_handshake():
    body = fixture("participant_joined")
    assert adapter().handshake(body, ZoomAdapter().sign(body, SECRET, NOW), [SECRET]) is None


def test_challenge_without_a_plain_token_is_refused():
    body = b'{"event":"endpoint.url_validation","payload":{}}'
    with pytest.raises(MalformedPayload) as raised:
        adapter().handshake(body, ZoomAdapter().sign(body, SECRET, NOW), [SECRET])
    assert "payload.plainToken" in raised.value.detail


# --- parsing -----------------------------------------------------------------------------------


def test_left_is_a_check_out_at_the_leave_time():
    [event] = parse(fixture("participant_left"))
    assert event.kind is EventKind.CHECKED_OUT
    assert event.platform_type == "meeting.participant_left"
    assert event.occurred_at == datetime(2026, 11, 26, 9, 2, 40, tzinfo=UTC)
    assert (event.gathering, event.attendee) == (BREAKFAST, ZOE)


@pytest.mark.parametrize(
    ("name", "meeting_type", "grouped"),
    [
        ("participant_joined", 8, True),
        ("participant_joined", 3, True),
        ("participant_joined", 2, False),
        ("participant_joined", 1, False),
        ("participant_joined", 6, False),  # 6 recurs for webinars, not for meetings
        ("webinar_guest_joined", 9, True),
        ("webinar_guest_joined", 6, True),
        ("webinar_guest_joined", 5, False),
        ("webinar_guest_joined", 8, False),
    ],
)
def test_only_recurring_meetings_and_webinars_are_groups(name, meeting_type, grouped):
    [event] = parse(edited(name, type=meeting_type))
    assert event.gathering is not None
    topic = json.loads(fixture(name))["payload"]["object"]["topic"]
    series = json.loads(fixture(name))["payload"]["object"]["id"]
    assert event.gathering.group == (GroupRef(series, topic) if grouped else None)


def test_a_guest_webinar_attendee_has_no_email_and_a_participant_id():
    [event] = parse(fixture("webinar_guest_joined"))
    assert event.gathering == GatheringRef(
        external_id="qzW3fY9nR6mKt1xLp8vB2A==",
        name="Founders Q&A",
        starts_at=datetime(2026, 12, 3, 18, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 19, 0, tzinfo=UTC),
    )
    assert event.attendee == AttendeeRef(
        "participant:8A6C2E1B-4F7D-4B39-9E05-3D2C1B0A9F88", None, "Guest 7"
    )


@pytest.mark.parametrize(
    ("participant", "external_id"),
    [
        ({"participant_user_id": "u-1", "id": "u-2", "registrant_id": "r-1"}, "user:u-1"),
        ({"participant_user_id": "", "id": "u-2", "registrant_id": "r-1"}, "user:u-2"),
        ({"participant_user_id": "", "id": "", "registrant_id": "r-1"}, "registrant:r-1"),
        ({"participant_user_id": ..., "id": ..., "participant_uuid": ...}, None),
    ],
)
def test_the_participant_key_is_the_most_stable_one_present(participant, external_id):
    changes = {f"participant__{field}": value for field, value in participant.items()}
    [event] = parse(edited("participant_joined", **changes))
    assert event.attendee is not None
    # Last resort: the per-meeting `user_id`, scoped to the occurrence.
    assert event.attendee.external_id == (
        external_id or "session:4444AAAiAAAAAiAiAiiAii==:16778240"
    )


def test_without_a_uuid_the_occurrence_is_the_series_at_its_start():
    [event] = parse(edited("participant_joined", uuid=...))
    assert event.gathering is not None
    assert event.gathering.external_id == "85746065432@2026-11-26T07:30:00+00:00"


def test_a_meeting_with_no_fixed_time_has_no_dates_and_falls_back_to_a_name():
    [event] = parse(edited("participant_joined", start_time="", type=3, topic=...))
    assert event.gathering == GatheringRef(
        external_id="4444AAAiAAAAAiAiAiiAii==",
        name="Zoom meeting 85746065432",
        group=GroupRef("85746065432", "Zoom meeting 85746065432"),
    )


def test_numeric_meeting_ids_are_read_as_strings():
    [event] = parse(edited("participant_joined", id=85746065432))
    assert event.gathering is not None and event.gathering.group is not None
    assert event.gathering.group.external_id == "85746065432"


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"participant__join_time": ...}, "payload.object.participant.join_time"),
        ({"participant__join_time": "at noon"}, "payload.object.participant.join_time"),
        ({"participant": "zoe"}, "payload.object.participant"),
        ({"uuid": ..., "start_time": ...}, "payload.object.uuid"),
        ({"uuid": ["x"]}, "payload.object.uuid"),
        ({"type": "8"}, "payload.object.type"),
        ({"duration": 1.5}, "payload.object.duration"),
        ({"topic": 42}, "payload.object.topic"),
        ({"participant__email": 7}, "payload.object.participant.email"),
        (
            {
                f"participant__{field}": ...
                for field in ("participant_user_id", "id", "participant_uuid", "user_id")
            },
            "payload.object.participant.user_id",
        ),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(changes, names):
    with pytest.raises(MalformedPayload) as raised:
        parse(edited("participant_joined", **changes))
    assert raised.value.reason == "malformed_payload"
    assert names in raised.value.detail


@pytest.mark.parametrize(
    "body", [b'{"payload": {}}', b'{"event": 3}', b'{"event": "meeting.participant_left"}']
)
def test_bodies_without_an_event_or_object_are_refused(body):
    with pytest.raises(MalformedPayload):
        parse(body)


# --- what is stored ----------------------------------------------------------------------------


def test_delivery_id_ignores_delivery_details_but_not_the_event():
    joined = fixture("participant_joined")
    retried = joined.replace(b'"event_ts":1795678452117', b'"event_ts":1795678752117')
    assert retried != joined
    assert adapter().delivery_id(joined, {}) == adapter().delivery_id(retried, {})
    assert adapter().delivery_id(joined, {}) != adapter().delivery_id(
        fixture("participant_left"), {}
    )
    rejoined = edited("participant_joined", participant__join_time="2026-11-26T08:10:00Z")
    assert adapter().delivery_id(rejoined, {}) != adapter().delivery_id(joined, {})


def test_unknown_events_are_named_by_their_body():
    body = fixture("meeting_started")
    assert adapter().delivery_id(body, {}).startswith("sha256:")


def test_only_harmless_headers_are_kept():
    body = fixture("participant_joined")
    headers = {
        **ZoomAdapter().sign(body, SECRET, NOW),
        "x-zm-trackingid": "v=2.0;clid=aw1;rid=WEB_f0a1",
        "authorization": "legacy verification token",
    }
    assert adapter().headers_to_keep(headers) == {
        "content-type": "application/json; charset=utf-8",
        "x-zm-trackingid": "v=2.0;clid=aw1;rid=WEB_f0a1",
    }


# --- through the endpoint and the worker's code ------------------------------------------------


def connect(app: Flask, tenant: Tenant) -> str:
    """A Zoom integration for the tenant's organizer; returns its webhook path."""
    with app.app_context(), session_scope() as session:
        created = create_integration(
            session,
            secret_box(),
            current_settings(),
            tenant.organizer_id,
            "zoom",
            signing_secret=SECRET,
            register=False,
        )
    return created.webhook_url.removeprefix("http://roomwise.test")


def post(client: FlaskClient, path: str, body: bytes, secret: str = SECRET) -> Any:
    return client.post(path, data=body, headers=ZoomAdapter().sign(body, secret))


def deliver(app: Flask, client: FlaskClient, path: str, body: bytes) -> None:
    """POST a signed delivery, then apply it as the worker does."""
    response = post(client, path, body)
    assert response.status_code == 202, response.json
    with app.app_context(), session_scope() as session:
        outcome = inbox.process(session, secret_box(), response.json["delivery"])
    # A session-wide worker, when one runs, may have applied it first.
    assert outcome in (inbox.ProcessOutcome.PROCESSED, inbox.ProcessOutcome.ALREADY_DONE)


def deliveries(client: FlaskClient, tenant: Tenant) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = client.get("/api/v1/deliveries", headers=tenant.auth).json[
        "deliveries"
    ]
    return result


def test_signed_url_validation_is_answered_and_not_stored(app, client, tenant):
    path = connect(app, tenant)
    response = post(client, path, fixture("endpoint_url_validation"))
    assert response.status_code == 200
    assert response.json == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": "d9e0d764a78494688ba3f2d5c0ed4ca311394b4834d959759213424d2df961e3",
    }
    assert deliveries(client, tenant) == []


def test_forged_or_unsigned_url_validation_is_401(app, client, tenant):
    path = connect(app, tenant)
    body = fixture("endpoint_url_validation")
    forged = post(client, path, body, secret=OTHER_SECRET)
    unsigned = client.post(path, data=body, headers={"content-type": "application/json"})
    assert (forged.status_code, forged.json["reason"]) == (401, "bad_signature")
    assert (unsigned.status_code, unsigned.json["reason"]) == (401, "missing_signature")
    assert "encryptedToken" not in forged.json
    assert deliveries(client, tenant) == []


def test_join_then_leave_records_check_in_and_check_out(app, client, tenant):
    path = connect(app, tenant)
    deliver(app, client, path, fixture("participant_joined"))
    deliver(app, client, path, fixture("participant_left"))

    [summary] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    gathering = client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json
    assert gathering["name"] == "Harbourside Breakfast"
    assert gathering["group"]["name"] == "Harbourside Breakfast"
    assert (gathering["starts_at"], gathering["ends_at"]) == (
        "2026-11-26T07:30:00Z",
        "2026-11-26T09:30:00Z",
    )
    [row] = gathering["attendance"]
    assert row["status"] == "checked_out"
    assert (row["checked_in_at"], row["checked_out_at"]) == (
        "2026-11-26T07:34:12Z",
        "2026-11-26T09:02:40Z",
    )
    assert row["person"]["email"] == "Zoe.Angstrom@Example.com"
    assert [d["event_type"] for d in deliveries(client, tenant)] == [
        "meeting.participant_left",
        "meeting.participant_joined",
    ]


def test_two_occurrences_of_a_recurring_meeting_share_a_group(app, client, tenant):
    path = connect(app, tenant)
    deliver(app, client, path, fixture("participant_joined"))
    next_week = edited(
        "participant_joined",
        uuid="5555BBBjBBBBBjBjBjjBjj==",
        start_time="2026-12-03T07:30:00Z",
        participant__join_time="2026-12-03T07:31:00Z",
    )
    deliver(app, client, path, next_week)

    gatherings = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    assert len(gatherings) == 2
    assert len({g["group"]["id"] for g in gatherings}) == 1
