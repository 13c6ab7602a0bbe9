"""Mail through the API: the organizer's mail settings, suppressions, and the mail ledger with
its resend. Every answer is checked against the OpenAPI description."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.db import session_scope
from service.mail.preferences import MAX_RECIPIENTS, suppress
from service.models import MailKind, MailMessage, MailStatus, Organizer
from tests.conftest import Tenant
from tests.service.test_api import documented

SETTINGS = "/api/v1/settings/mail"
SUPPRESSIONS = "/api/v1/suppressions"
SUPPRESSION = "/api/v1/suppressions/{email}"
LEDGER = "/api/v1/mail"
RESEND = "/api/v1/mail/{message_id}/resend"
OVERSIZED = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
WHEN = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def call(
    client: FlaskClient,
    tenant: Tenant,
    method: str,
    template: str,
    *,
    params: dict[str, Any] | None = None,
    **request: Any,
) -> TestResponse:
    """One request as the tenant; the answer must be one the description promises."""
    ids = {key: request.pop(key) for key in ("email", "message_id") if key in request}
    response = client.open(
        template.format(**ids),
        method=method.upper(),
        query_string=params,
        headers=tenant.auth,
        **request,
    )
    return documented(response, template, method)


def refused(response: TestResponse, reason: str, field: str | None = None) -> dict[str, Any]:
    """The error body, after checking its reason and the field it names."""
    body: dict[str, Any] = response.json
    assert body["reason"] == reason, body
    if field is not None:
        assert body["field"] == field, body
        assert field in body["detail"], body
    return body


def ledger_row(
    app: Flask,
    tenant: Tenant,
    status: MailStatus = MailStatus.SENT,
    kind: MailKind = MailKind.GATHERING_SUMMARY,
    recipient: str = "ops@example.com",
    **values: Any,
) -> int:
    """A message in the tenant's mail ledger, as the planner and the sender would leave it."""
    with app.app_context(), session_scope() as session:
        row = MailMessage(
            organizer_id=tenant.organizer_id,
            kind=kind,
            recipient=recipient,
            subject_key=values.pop("subject_key", f"gathering:{uuid.uuid4().int % 10**6}"),
            context={},
            message_id=f"<{uuid.uuid4().hex}@roomwise.test>",
            status=status,
            due_at=WHEN,
            **values,
        )
        session.add(row)
        session.flush()
        return row.id


def stored_row(app: Flask, message_id: int) -> MailMessage:
    with app.app_context(), session_scope() as session:
        row = session.get_one(MailMessage, message_id)
        session.expunge(row)
        return row


# --- mail settings -----------------------------------------------------------------------------


def organizer_email(app: Flask, tenant: Tenant) -> str:
    with app.app_context(), session_scope() as session:
        return session.get_one(Organizer, tenant.organizer_id).email


def test_a_new_organizer_gets_everything_on_monday_morning(app, client, tenant):
    response = call(client, tenant, "get", SETTINGS)
    assert response.status_code == 200
    assert response.json == {
        "summary_recipients": [organizer_email(app, tenant)],
        "digest_weekday": "monday",
        "digest_time": "08:00",
        "summary_grace_minutes": 120,
        "timezone": "UTC",
    }


def test_settings_change_and_null_resets_each_one(app, client, tenant):
    changes = {
        "summary_recipients": ["Ops@Example.com", "chair@example.org", "ops@example.com"],
        "digest_weekday": "Friday",
        "digest_time": "17:30",
        "summary_grace_minutes": 0,
        "timezone": "Europe/Berlin",
    }
    changed = call(client, tenant, "patch", SETTINGS, json=changes)
    assert changed.status_code == 200, changed.json
    assert changed.json == {
        "summary_recipients": ["Ops@Example.com", "chair@example.org"],
        "digest_weekday": "friday",
        "digest_time": "17:30",
        "summary_grace_minutes": 0,
        "timezone": "Europe/Berlin",
    }
    assert call(client, tenant, "get", SETTINGS).json == changed.json

    partly = call(client, tenant, "patch", SETTINGS, json={"digest_time": None, "timezone": None})
    assert partly.json == {**changed.json, "digest_time": "08:00", "timezone": "UTC"}

    reset = call(client, tenant, "patch", SETTINGS, json=dict.fromkeys(changes))
    assert reset.json == call(client, tenant, "get", SETTINGS).json
    assert reset.json["summary_recipients"] == [organizer_email(app, tenant)]
    assert reset.json["digest_weekday"] == "monday"
    assert reset.json["summary_grace_minutes"] == 120


def test_an_empty_change_changes_nothing(client, tenant):
    before = call(client, tenant, "get", SETTINGS).json
    assert call(client, tenant, "patch", SETTINGS, json={}).json == before


TOO_MANY = [f"person{n}@example.com" for n in range(MAX_RECIPIENTS + 1)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": 1}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"digest_weekday": "someday"}, "digest_weekday"),
        ({"digest_weekday": 1}, "digest_weekday"),
        ({"digest_time": "25:00"}, "digest_time"),
        ({"digest_time": "8:00"}, "digest_time"),
        ({"digest_time": "08:60"}, "digest_time"),
        ({"digest_time": 800}, "digest_time"),
        ({"summary_grace_minutes": -1}, "summary_grace_minutes"),
        ({"summary_grace_minutes": 7 * 24 * 60 + 1}, "summary_grace_minutes"),
        ({"summary_grace_minutes": 30.5}, "summary_grace_minutes"),
        ({"summary_grace_minutes": "60"}, "summary_grace_minutes"),
        ({"summary_grace_minutes": True}, "summary_grace_minutes"),
        ({"summary_recipients": "ops@example.com"}, "summary_recipients"),
        ({"summary_recipients": []}, "summary_recipients"),
        ({"summary_recipients": ["not an address"]}, "summary_recipients"),
        ({"summary_recipients": ["ops@example"]}, "summary_recipients"),
        ({"summary_recipients": [42]}, "summary_recipients"),
        ({"summary_recipients": TOO_MANY}, "summary_recipients"),
        ({"digest_day": "monday"}, "digest_day"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(client, tenant, body, field):
    before = call(client, tenant, "get", SETTINGS).json
    response = call(client, tenant, "patch", SETTINGS, json=body)
    assert response.status_code == 400
    refused(response, "invalid_parameter", field)
    assert call(client, tenant, "get", SETTINGS).json == before


def test_a_bad_setting_keeps_the_good_ones_of_its_request_out_too(client, tenant):
    before = call(client, tenant, "get", SETTINGS).json
    response = call(
        client, tenant, "patch", SETTINGS, json={"timezone": "Europe/Paris", "digest_time": "24:00"}
    )
    refused(response, "invalid_parameter", "digest_time")
    assert call(client, tenant, "get", SETTINGS).json == before


@pytest.mark.parametrize(("template", "method"), [(SETTINGS, "patch"), (SUPPRESSIONS, "post")])
@pytest.mark.parametrize(
    "request_body",
    [
        {"data": b"{not json", "content_type": "application/json"},
        {"data": b'["a list"]', "content_type": "application/json"},
        {"data": b'{"email": "x@example.com"}', "content_type": "text/plain"},
        {},
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(client, tenant, template, method, request_body):
    response = call(client, tenant, method, template, **request_body)
    assert response.status_code == 400
    refused(response, "malformed_json")


@pytest.mark.parametrize(("template", "method"), [(SETTINGS, "patch"), (SUPPRESSIONS, "post")])
def test_an_oversized_body_is_413(client, tenant, template, method):
    response = call(
        client, tenant, method, template, data=OVERSIZED, content_type="application/json"
    )
    assert response.status_code == 413
    refused(response, "payload_too_large")


def test_each_organizer_has_their_own_settings(client, tenant, make_tenant):
    other = make_tenant()
    before = call(client, other, "get", SETTINGS).json
    call(client, tenant, "patch", SETTINGS, json={"digest_weekday": "sunday"})
    assert call(client, other, "get", SETTINGS).json == before


# --- suppressions --------------------------------------------------------------------------------


def suppressed(client: FlaskClient, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = call(client, tenant, "get", SUPPRESSIONS, params={"limit": 200})
    assert response.status_code == 200
    return {row["email"]: row for row in response.json["suppressions"]}


def test_suppress_by_hand_list_and_lift(client, tenant):
    created = call(
        client, tenant, "post", SUPPRESSIONS, json={"email": " Ann@Example.com ", "detail": "asked"}
    )
    assert created.status_code == 201, created.json
    assert created.json["email"] == "ann@example.com"
    assert (created.json["reason"], created.json["detail"]) == ("manual", "asked")

    again = call(client, tenant, "post", SUPPRESSIONS, json={"email": "ann@example.com"})
    assert again.status_code == 200
    assert again.json == created.json
    assert suppressed(client, tenant) == {"ann@example.com": created.json}

    lifted = call(client, tenant, "delete", SUPPRESSION, email="ANN@example.com")
    assert lifted.status_code == 204
    assert suppressed(client, tenant) == {}
    gone = call(client, tenant, "delete", SUPPRESSION, email="ann@example.com")
    assert gone.status_code == 404
    refused(gone, "not_found")


def test_an_unsubscribe_or_bounce_keeps_its_reason(app, client, tenant):
    with app.app_context(), session_scope() as session:
        suppress(session, tenant.organizer_id, "ben@example.com", "bounced", "550 no such user")
        suppress(session, tenant.organizer_id, "cy@example.com", "unsubscribed")
    again = call(client, tenant, "post", SUPPRESSIONS, json={"email": "Ben@example.com"})
    assert again.status_code == 200
    assert (again.json["reason"], again.json["detail"]) == ("bounced", "550 no such user")
    listed = suppressed(client, tenant)
    assert {email: row["reason"] for email, row in listed.items()} == {
        "ben@example.com": "bounced",
        "cy@example.com": "unsubscribed",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "nobody"}, "email"),
        ({"email": 5}, "email"),
        ({"email": "a@" + "b" * 400}, "email"),
        ({"email": "dee@example.com", "detail": 5}, "detail"),
        ({"email": "dee@example.com", "reason": "bounced"}, "reason"),
    ],
)
def test_bad_suppressions_are_refused_naming_the_field(client, tenant, body, field):
    response = call(client, tenant, "post", SUPPRESSIONS, json=body)
    assert response.status_code == 400
    refused(response, "invalid_parameter", field)
    assert suppressed(client, tenant) == {}


def test_suppressions_are_the_organizers_own(client, tenant, make_tenant):
    other = make_tenant()
    call(client, tenant, "post", SUPPRESSIONS, json={"email": "ann@example.com"})
    assert suppressed(client, other) == {}
    refused(call(client, other, "delete", SUPPRESSION, email="ann@example.com"), "not_found")
    assert set(suppressed(client, tenant)) == {"ann@example.com"}

    # The other organizer may suppress the same address for their own mail.
    assert (
        call(client, other, "post", SUPPRESSIONS, json={"email": "ann@example.com"}).status_code
        == 201
    )


def test_suppressions_page_through_once_each(client, tenant):
    for n in range(3):
        call(client, tenant, "post", SUPPRESSIONS, json={"email": f"p{n}@example.com"})
    first = call(client, tenant, "get", SUPPRESSIONS, params={"limit": 2}).json
    assert first["next_offset"] == 2
    second = call(client, tenant, "get", SUPPRESSIONS, params={"limit": 2, "offset": 2}).json
    assert second["next_offset"] is None
    emails = [row["email"] for row in first["suppressions"] + second["suppressions"]]
    assert sorted(emails) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    refused(call(client, tenant, "get", SUPPRESSIONS, params={"limit": 0}), "invalid_parameter")


# --- the mail ledger -----------------------------------------------------------------------------


def test_the_ledger_lists_the_organizers_messages_newest_first(app, client, tenant, make_tenant):
    sent_at = WHEN + timedelta(minutes=1)
    sent = ledger_row(app, tenant, MailStatus.SENT, attempts=1, sent_at=sent_at)
    failed = ledger_row(
        app,
        tenant,
        MailStatus.FAILED,
        MailKind.ATTENDEE_RECAP,
        "ann@example.com",
        attempts=8,
        last_error="451 4.7.1 try again later",
    )
    digest = ledger_row(
        app, tenant, MailStatus.PENDING, MailKind.WEEKLY_DIGEST, subject_key="week:2026-11-30"
    )
    ledger_row(app, make_tenant())

    response = call(client, tenant, "get", LEDGER)
    assert response.status_code == 200
    rows = response.json["messages"]
    assert [row["id"] for row in rows] == [digest, failed, sent]
    assert rows[0]["subject_key"] == "week:2026-11-30"
    assert rows[1] == {
        "id": failed,
        "kind": "attendee_recap",
        "recipient": "ann@example.com",
        "subject_key": rows[1]["subject_key"],
        "status": "failed",
        "attempts": 8,
        "last_error": "451 4.7.1 try again later",
        "due_at": "2026-12-03T09:00:00Z",
        "sent_at": None,
        "created_at": rows[1]["created_at"],
    }
    assert rows[2]["sent_at"] == "2026-12-03T09:01:00Z"


def test_the_ledger_filters_by_status_and_kind(app, client, tenant):
    sent = ledger_row(app, tenant, MailStatus.SENT)
    recap = ledger_row(app, tenant, MailStatus.SENT, MailKind.ATTENDEE_RECAP)
    skipped = ledger_row(app, tenant, MailStatus.SKIPPED, MailKind.ATTENDEE_RECAP)

    def ids(**params: str) -> list[int]:
        return [
            row["id"] for row in call(client, tenant, "get", LEDGER, params=params).json["messages"]
        ]

    assert ids(status="sent") == [recap, sent]
    assert ids(kind="attendee_recap") == [skipped, recap]
    assert ids(status="sent", kind="gathering_summary") == [sent]
    assert ids(status="uncertain") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"status": "SENT"}, "status"),
        ({"kind": "newsletter"}, "kind"),
    ],
)
def test_unknown_ledger_filters_are_400(client, tenant, params, field):
    refused(call(client, tenant, "get", LEDGER, params=params), "invalid_parameter", field)


def test_the_ledger_pages_through_once_each(app, client, tenant):
    made = [ledger_row(app, tenant) for _ in range(3)]
    first = call(client, tenant, "get", LEDGER, params={"limit": 2}).json
    second = call(client, tenant, "get", LEDGER, params={"offset": first["next_offset"]}).json
    assert [row["id"] for row in first["messages"] + second["messages"]] == made[::-1]
    assert second["next_offset"] is None


@pytest.mark.parametrize("status", [MailStatus.FAILED, MailStatus.UNCERTAIN])
def test_a_failed_or_uncertain_message_is_resent(app, client, tenant, status):
    message_id = ledger_row(
        app,
        tenant,
        status,
        attempts=8,
        last_error="451 try again later",
        claim="old-batch",
        claimed_until=WHEN,
    )
    before = datetime.now(UTC)
    response = call(client, tenant, "post", RESEND, message_id=message_id)
    assert response.status_code == 202, response.json
    assert (response.json["status"], response.json["attempts"]) == ("pending", 0)

    row = stored_row(app, message_id)
    assert (row.status, row.attempts, row.claim, row.claimed_until) == ("pending", 0, None, None)
    assert row.due_at >= before
    assert (
        call(client, tenant, "get", LEDGER, params={"status": "pending"}).json["messages"][0]["id"]
        == message_id
    )


@pytest.mark.parametrize(
    "status",
    [
        MailStatus.SENT,
        MailStatus.PENDING,
        MailStatus.CLAIMED,
        MailStatus.SENDING,
        MailStatus.SUPPRESSED,
        MailStatus.SKIPPED,
    ],
)
def test_other_messages_are_not_resent(app, client, tenant, status):
    message_id = ledger_row(app, tenant, status, attempts=1)
    response = call(client, tenant, "post", RESEND, message_id=message_id)
    assert response.status_code == 409
    assert status in refused(response, "conflict")["detail"]
    row = stored_row(app, message_id)
    assert (row.status, row.attempts, row.due_at) == (status, 1, WHEN)


def test_another_organizers_message_is_not_found(app, client, tenant, make_tenant):
    message_id = ledger_row(app, tenant, MailStatus.FAILED)
    other = make_tenant()
    foreign = call(client, other, "post", RESEND, message_id=message_id)
    missing = call(client, other, "post", RESEND, message_id=10**9)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["detail"].replace(str(message_id), "N") == missing.json["detail"].replace(
        str(10**9), "N"
    )
    assert stored_row(app, message_id).status == "failed"
    assert call(client, other, "get", LEDGER).json == {"messages": [], "next_offset": None}
