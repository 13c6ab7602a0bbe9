"""The organizer's admin pages: signing in, what each page shows, and what it refuses."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import delete, select, update

from service import reads
from service.context import SETTINGS_KEY
from service.db import session_scope
from service.mail.mime import OutgoingMail
from service.mail.transport import OutboxTransport, Verdict
from service.models import (
    Delivery,
    DeliveryStatus,
    Gathering,
    Group,
    MailKind,
    MailMessage,
    MailStatus,
    Organizer,
    RescoreJob,
    User,
)
from tests.conftest import Tenant
from tests.service.recap_helpers import Scene, breakfast
from tests.support import signed_headers, standard_body

PASSWORD = "correct horse"  # what `make_tenant` gives every organizer's login


def shown(text: str) -> str:
    """`text` as a page shows it: HTML-escaped as the templates escape it."""
    return str(escape(text))


def login_email(app: Flask, tenant: Tenant) -> str:
    with app.app_context(), session_scope() as session:
        return session.scalars(
            select(User.email).where(User.organizer_id == tenant.organizer_id)
        ).one()


def form_token(client: FlaskClient, path: str = "/admin/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, next_page: str = ""):
    return client.post(
        "/admin/login",
        data={
            "email": email,
            "password": password,
            "next": next_page,
            "csrf_token": form_token(client),
        },
    )


@pytest.fixture()
def scene(app: Flask, client: FlaskClient, tenant: Tenant) -> Scene:
    return breakfast(app, client, tenant)


@pytest.fixture()
def signed_in(app: Flask, tenant: Tenant) -> FlaskClient:
    client = app.test_client()
    response = sign_in(client, login_email(app, tenant))
    assert response.status_code == 302
    return client


def test_pages_send_a_visitor_to_sign_in_first(client):
    response = client.get("/admin/groups/1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/groups/1"


def test_signing_in_leads_to_the_page_asked_for(app, tenant, scene):
    client = app.test_client()
    path = f"/admin/groups/{scene.group}"
    response = sign_in(client, " " + login_email(app, tenant).upper(), next_page=path)
    assert (response.status_code, response.headers["Location"]) == (302, path)
    assert client.get(path).status_code == 200


def test_a_next_page_off_the_admin_pages_is_not_followed(app, tenant):
    client = app.test_client()
    for elsewhere in ("https://evil.example/", "//evil.example/admin/", "/api/v1/groups"):
        response = sign_in(client, login_email(app, tenant), next_page=elsewhere)
        assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("password", ["wrong password", ""])
def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app, tenant, password):
    client = app.test_client()
    wrong = sign_in(client, login_email(app, tenant), password)
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "That email and password do not match an account." in response.get_data(True)
    assert client.get("/admin/").status_code == 302


def test_a_form_without_its_token_is_refused(app, tenant, signed_in):
    client = app.test_client()
    client.get("/admin/login")
    response = client.post(
        "/admin/login", data={"email": login_email(app, tenant), "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert signed_in.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 400
    assert signed_in.get("/admin/").status_code == 200


def test_signing_out_ends_the_session(signed_in):
    response = signed_in.post(
        "/admin/logout", data={"csrf_token": form_token(signed_in, "/admin/")}
    )
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/login")
    assert signed_in.get("/admin/").status_code == 302


def test_a_deleted_login_loses_its_session(app, tenant, signed_in):
    with app.app_context(), session_scope() as session:
        session.execute(delete(User).where(User.organizer_id == tenant.organizer_id))
    assert signed_in.get("/admin/").status_code == 302


def test_the_overview_lists_groups_with_health_gatherings_and_deliveries(
    app, tenant, scene, signed_in
):
    page = signed_in.get("/admin/").get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        groups = reads.groups(session, tenant.organizer_id)
    assert len(groups) == 2
    for group in groups:
        assert f'href="/admin/groups/{group["id"]}">{shown(group["name"])}</a>' in page
    scored = next(group for group in groups if group["id"] == scene.group)
    assert shown(scored["health"]["explanation"]) in page
    assert f'href="/admin/gatherings/{scene.breakfast}"' in page
    assert re.search(r"\d+ processed", page)


def test_the_group_page_explains_every_member_s_standing(app, scene, signed_in):
    page = signed_in.get(f"/admin/groups/{scene.group}").get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        group = session.get_one(Group, scene.group)
        members = reads.members(session, group)
        health = reads.group(session, group)["health"]
    assert members
    for member in members:
        assert shown(member["person"]["name"]) in page
        for reason in member["reasons"]:
            assert shown(reason) in page
    for factor in health["factors"]:
        assert shown(factor["sentence"]) in page


def test_the_gathering_page_explains_its_size_score(app, scene, signed_in):
    page = signed_in.get(f"/admin/gatherings/{scene.breakfast}").get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        gathering = reads.gathering(session, session.get_one(Gathering, scene.breakfast))
    score = gathering["score"]
    assert f"Size score: {round(score['value'])} of 100" in page
    assert shown(score["explanation"]) in page
    assert shown(score["recommended_band"]["sentence"]) in page
    for row in gathering["attendance"]:
        assert shown(row["person"]["name"]) in page


def test_another_organizer_s_objects_are_not_found(app, scene, make_tenant):
    other = make_tenant()
    client = app.test_client()
    sign_in(client, login_email(app, other))
    for path in (f"/admin/groups/{scene.group}", f"/admin/gatherings/{scene.breakfast}"):
        response = client.get(path)
        assert response.status_code == 404
        assert "text/html" in response.headers["Content-Type"]
    assert "No groups yet" in client.get("/admin/").get_data(as_text=True)


def test_admin_pages_are_not_cached_or_framed(signed_in):
    response = signed_in.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = signed_in.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def current_settings_of(app: Flask):
    return app.extensions[SETTINGS_KEY]


def a_failed_delivery(app: Flask, client: FlaskClient, tenant: Tenant) -> int:
    body = standard_body()
    response = client.post(
        tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
    )
    delivery_id: int = response.json["delivery"]
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DeliveryStatus.FAILED, reason="platform said no")
        )
    return delivery_id


def test_a_failed_delivery_is_listed_and_replayed(app, client, tenant, signed_in):
    delivery_id = a_failed_delivery(app, client, tenant)
    listed = signed_in.get("/admin/deliveries?status=failed").get_data(as_text=True)
    assert "platform said no" in listed
    assert f'aria-label="Replay delivery {delivery_id}"' in listed

    replayed = signed_in.post(
        f"/admin/deliveries/{delivery_id}/replay",
        data={"csrf_token": form_token(signed_in, "/admin/deliveries")},
        follow_redirects=True,
    )

    assert f"Delivery {delivery_id} is queued to be processed again." in replayed.get_data(True)
    with app.app_context(), session_scope() as session:
        delivery = session.get_one(Delivery, delivery_id)
        assert delivery.status != DeliveryStatus.FAILED and delivery.reason is None
        # Set aside, so that no later test's sweep picks it up.
        delivery.status = DeliveryStatus.IGNORED


def test_an_unknown_filter_is_a_clear_400(signed_in):
    response = signed_in.get("/admin/deliveries?status=lost")
    assert response.status_code == 400
    assert "status must be one of received, processed, ignored, failed." in response.get_data(True)


def test_another_organizer_s_delivery_cannot_be_replayed(app, client, tenant, make_tenant):
    delivery_id = a_failed_delivery(app, client, tenant)
    other = app.test_client()
    sign_in(other, login_email(app, make_tenant()))
    response = other.post(
        f"/admin/deliveries/{delivery_id}/replay",
        data={"csrf_token": form_token(other, "/admin/")},
    )
    assert response.status_code == 404
    with app.app_context(), session_scope() as session:
        delivery = session.get_one(Delivery, delivery_id)
        assert delivery.status == DeliveryStatus.FAILED
        delivery.status = DeliveryStatus.IGNORED


def ledger_row(app: Flask, tenant: Tenant, status: str, **values: object) -> int:
    with app.app_context(), session_scope() as session:
        row = MailMessage(
            organizer_id=tenant.organizer_id,
            kind=MailKind.WEEKLY_DIGEST,
            recipient=f"{status}@example.com",
            subject_key="week:2026-11-23",
            message_id=f"<digest-{uuid.uuid4().hex}@roomwise.test>",
            status=status,
            **values,
        )
        session.add(row)
        session.flush()
        return row.id


def test_mail_that_failed_is_resent_and_mail_in_the_outbox_opens(app, tenant, signed_in):
    failed = ledger_row(app, tenant, MailStatus.FAILED, last_error="550 mailbox unavailable")
    sent = ledger_row(app, tenant, MailStatus.SENT)
    with app.app_context(), session_scope() as session:
        message_id = session.get_one(MailMessage, sent).message_id
    outbox = current_settings_of(app).outbox_dir
    written = OutboxTransport(outbox).send(
        OutgoingMail(message_id, "sent@example.com", b"Subject: Your week\r\n\r\nHello\r\n")
    )
    assert written.verdict is Verdict.SENT

    page = signed_in.get("/admin/mail").get_data(as_text=True)
    assert "550 mailbox unavailable" in page
    assert f'aria-label="Resend message {failed}"' in page
    assert f'aria-label="Open message {sent}"' in page
    with signed_in.get(f"/admin/mail/{sent}.eml") as opened:
        assert opened.status_code == 200
        assert opened.mimetype == "message/rfc822"
        assert opened.data == b"Subject: Your week\r\n\r\nHello\r\n"
    assert signed_in.get(f"/admin/mail/{failed}.eml").status_code == 404

    token = form_token(signed_in, "/admin/mail")
    resent = signed_in.post(
        f"/admin/mail/{failed}/resend", data={"csrf_token": token}, follow_redirects=True
    )
    again = signed_in.post(
        f"/admin/mail/{sent}/resend", data={"csrf_token": token}, follow_redirects=True
    )

    assert "will be sent again shortly" in resent.get_data(as_text=True)
    assert f"Message {sent} is sent: only failed or uncertain mail is resent." in again.get_data(
        True
    )
    with app.app_context(), session_scope() as session:
        assert session.get_one(MailMessage, failed).status == MailStatus.PENDING
        assert session.get_one(MailMessage, sent).status == MailStatus.SENT
        # Out of the ledger again, so that no later test's sender sends it.
        session.execute(delete(MailMessage).where(MailMessage.id.in_([failed, sent])))


def test_times_are_shown_in_the_organizer_s_time_zone(app, tenant, scene, signed_in):
    with app.app_context(), session_scope() as session:
        session.get_one(Organizer, tenant.organizer_id).timezone = "Europe/Berlin"
    page = signed_in.get(f"/admin/gatherings/{scene.breakfast}").get_data(as_text=True)
    # The breakfast starts at 07:30 UTC, 08:30 in Berlin in November.
    assert "Thu 26 Nov 2026, 08:30" in page
    assert "times in Europe/Berlin" in page


def test_a_running_gathering_shows_who_is_inside_now(app, scene, signed_in):
    path = f"/admin/gatherings/{scene.breakfast}"
    assert "inside now" not in signed_in.get(path).get_data(as_text=True)
    now = datetime.now(UTC)
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Gathering)
            .where(Gathering.id == scene.breakfast)
            .values(starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(minutes=90))
        )
        live = reads.gathering(session, session.get_one(Gathering, scene.breakfast))["live"]

    page = signed_in.get(path).get_data(as_text=True)

    assert f"{live['head_count_now']} inside now · {live['checked_in']} checked in" in page
    assert shown(live["recommended_band"]["sentence"]) in page
    assert '<meta http-equiv="refresh" content="30">' in page


def test_a_group_s_settings_are_changed_and_its_gatherings_rescored(app, scene, signed_in):
    path = f"/admin/groups/{scene.group}"
    with app.app_context(), session_scope() as session:
        session.execute(delete(RescoreJob).where(RescoreJob.gathering_id == scene.breakfast))
    changed = signed_in.post(
        f"{path}/settings",
        data={
            "format": "business",
            "structure": "rotating_tables",
            "csrf_token": form_token(signed_in, path),
        },
        follow_redirects=True,
    )
    assert "Settings saved." in changed.get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        group = session.get_one(Group, scene.group)
        assert (group.format, group.structure, group.attendee_recaps) == (
            "business",
            "rotating_tables",
            False,
        )
        assert scene.breakfast in set(session.scalars(select(RescoreJob.gathering_id)))


def test_a_bad_setting_is_refused_and_nothing_changes(app, scene, signed_in):
    path = f"/admin/groups/{scene.group}"
    with app.app_context(), session_scope() as session:
        group = session.get_one(Group, scene.group)
        before = (group.format, group.structure)
    refused = signed_in.post(
        f"{path}/settings",
        data={
            "format": "party",
            "structure": "plenary",
            "attendee_recaps": "on",
            "csrf_token": form_token(signed_in, path),
        },
    )
    assert refused.status_code == 400
    assert "format: " in refused.get_data(as_text=True)
    with app.app_context(), session_scope() as session:
        group = session.get_one(Group, scene.group)
        assert (group.format, group.structure) == before
        assert before[1] != "plenary"


def test_long_lists_are_paged(app, tenant, signed_in):
    with app.app_context(), session_scope() as session:
        session.add_all(
            MailMessage(
                organizer_id=tenant.organizer_id,
                kind=MailKind.ATTENDEE_RECAP,
                recipient=f"guest{n}@example.com",
                subject_key="gathering:0",
                message_id=f"<recap-{uuid.uuid4().hex}@roomwise.test>",
                status=MailStatus.SKIPPED,
            )
            for n in range(101)
        )
    first = signed_in.get("/admin/mail?status=skipped").get_data(as_text=True)
    assert first.count("guest") == 100
    assert 'href="/admin/mail?status=skipped&amp;offset=100">Older</a>' in first
    assert ">Newer</a>" not in first

    second = signed_in.get("/admin/mail?status=skipped&offset=100").get_data(as_text=True)
    assert second.count("guest") == 1 and "guest0@example.com" in second
    assert 'href="/admin/mail?status=skipped&amp;offset=0">Newer</a>' in second
    assert ">Older</a>" not in second

    assert signed_in.get("/admin/mail?offset=-1").status_code == 400
    with app.app_context(), session_scope() as session:
        session.execute(delete(MailMessage).where(MailMessage.subject_key == "gathering:0"))
