"""The pages people open from their email: an attendee's recap and its answers (`/me/<token>…`)
and one-click unsubscribe (`/u/<token>`), through signed links and no login."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from markupsafe import escape
from sqlalchemy import delete, func, select, update

from service.db import session_scope
from service.mail import links
from service.mail.links import RECAP_LINK_LIFETIME, RecapLink
from service.mail.preferences import is_suppressed
from service.models import (
    Connection,
    Gathering,
    GroupLeave,
    MailMessage,
    MemberStandingSnapshot,
    Organizer,
    Outcome,
    Person,
    RescoreJob,
    Suppression,
)
from tests.conftest import SECRET_KEY
from tests.service.recap_helpers import SIGNER, Scene, breakfast, unsubscribe_path

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@pytest.fixture()
def scene(app, client, tenant) -> Scene:
    return breakfast(app, client, tenant)


def page(response, status: int = 200) -> str:
    """The HTML of an answer, checked for its status and the headers every such page carries."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    return str(response.get_data(as_text=True))


def count(app, model, *criteria) -> int:
    with app.app_context(), session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)


def flip(token: str, index: int) -> str:
    """The token with one character changed to another of the URL-safe alphabet."""
    replacement = "B" if token[index] == "A" else "A"
    return token[:index] + replacement + token[index + 1 :]


# --- the pages render --------------------------------------------------------------------------


def test_recap_page_shows_the_gathering_standing_connections_and_answers(app, client, scene):
    html = page(client.get(scene.recap()))

    assert "Breakfast, 26 Nov" in html
    assert "Thursday 26 November 2026, 07:30" in html
    with app.app_context(), session_scope() as session:
        standing = session.get(MemberStandingSnapshot, (scene.group, scene.people["ada"]))
        assert standing is not None
        label, sentences = standing.data["label"], standing.data["sentences"]
    assert escape(label) in html
    assert all(escape(sentence) in html for sentence in sentences)
    # Ben is Ada's one confirmed connection; Cy and Dan are not connected to her.
    assert "Ben · Babbage &amp; Sons" in html
    assert "Cy" not in html and "Dan" not in html
    for answer in ("I got a lead", "I got a referral", "I talked with", "not for me"):
        assert answer in html
    assert "Let other attendees of this group pick my name" in html


@pytest.mark.parametrize(
    "action", ["outcome?kind=lead", "outcome?kind=referral", "talked", "leave"]
)
def test_every_answer_page_renders(client, scene, action):
    html = page(client.get(scene.recap(action=action)))
    assert '<form method="post"' in html


def test_the_outcome_form_offers_listed_fellow_attendees_only(client, scene):
    html = page(client.get(scene.recap(action="outcome?kind=lead")))
    offered = {name for name in ("Ben", "Cy", "Dan", "Eve", "Fay", "Ada") if f">{name}" in html}
    assert offered == {"Ben", "Cy"}


def test_the_talked_page_lists_listed_fellow_attendees_never_oneself(client, scene):
    html = page(client.get(scene.recap(action="talked")))
    assert f'value="{scene.people["ben"]}"' in html
    assert f'value="{scene.people["cy"]}"' in html
    for name in ("ada", "dan", "eve", "fay"):
        assert f'value="{scene.people[name]}"' not in html, name


def test_no_page_shows_an_email_address(app, client, scene):
    paths = [
        scene.recap(name, action)
        for name in ("ada", "ben")
        for action in ("", "outcome?kind=lead", "talked", "leave")
    ]
    paths.append(unsubscribe_path(app, scene))
    for path in paths:
        assert "example.com" not in page(client.get(path)), path


def test_the_gathering_time_is_shown_in_the_organizers_time_zone(app, client, scene):
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Organizer)
            .where(Organizer.id == scene.organizer_id)
            .values(timezone="Europe/Berlin")
        )
    assert "Thursday 26 November 2026, 08:30" in page(client.get(scene.recap()))


# --- links that are not valid ------------------------------------------------------------------


def test_a_tampered_token_is_refused(app, client, scene):
    recap_token = SIGNER.recap_token(RecapLink(scene.people["ada"], scene.breakfast))
    unsubscribe_token = unsubscribe_path(app, scene).removeprefix("/u/")
    for index in (3, len(recap_token) // 2, -5):
        html = page(client.get(f"/me/{flip(recap_token, index)}"), 404)
        assert "invalid or has expired" in html
        page(client.post(f"/me/{flip(recap_token, index)}/leave"), 404)
    for index in (1, -5):
        page(client.get(f"/u/{flip(unsubscribe_token, index)}"), 404)
        page(client.post(f"/u/{flip(unsubscribe_token, index)}"), 404)
    assert count(app, GroupLeave, GroupLeave.group_id == scene.group) == 0
    assert count(app, Suppression, Suppression.organizer_id == scene.organizer_id) == 0


def test_a_link_made_for_one_purpose_is_refused_by_the_other(app, client, scene):
    recap_token = scene.recap().removeprefix("/me/")
    unsubscribe_token = unsubscribe_path(app, scene).removeprefix("/u/")

    assert "invalid or has expired" in page(client.get(f"/u/{recap_token}"), 404)
    page(client.post(f"/u/{recap_token}", data={"List-Unsubscribe": "One-Click"}), 404)
    assert "invalid or has expired" in page(client.get(f"/me/{unsubscribe_token}"), 404)
    page(client.post(f"/me/{unsubscribe_token}/leave"), 404)
    assert count(app, Suppression, Suppression.organizer_id == scene.organizer_id) == 0
    assert count(app, GroupLeave, GroupLeave.group_id == scene.group) == 0


class _SignedEarlier(TimestampSigner):
    """Signs as `TimestampSigner` did `age` ago: what an old email's link carries."""

    age = timedelta()

    def get_timestamp(self) -> int:
        return int(time.time() - self.age.total_seconds())


def token_signed(age: timedelta, link: RecapLink) -> str:
    signer = type("Signer", (_SignedEarlier,), {"age": age})
    # The salt is the link module's own: the token is exactly what it would have issued then.
    serializer = URLSafeTimedSerializer(SECRET_KEY, salt=links._RECAP_SALT, signer=signer)
    return str(serializer.dumps([link.person_id, link.gathering_id]))


def test_a_recap_link_expires(client, scene):
    link = RecapLink(scene.people["ada"], scene.breakfast)
    recent = token_signed(RECAP_LINK_LIFETIME - timedelta(days=1), link)
    expired = token_signed(RECAP_LINK_LIFETIME + timedelta(days=1), link)

    page(client.get(f"/me/{recent}"))
    assert "invalid or has expired" in page(client.get(f"/me/{expired}"), 404)
    page(client.post(f"/me/{expired}/listing", data={"listed": "on"}), 404)


def test_a_link_to_a_deleted_person_or_gathering_is_not_found(app, client, scene):
    with app.app_context(), session_scope() as session:
        session.execute(delete(Person).where(Person.id == scene.people["cy"]))
    assert "no longer exists" in page(client.get(scene.recap("cy")), 404)

    with app.app_context(), session_scope() as session:
        session.execute(delete(Gathering).where(Gathering.id == scene.breakfast))
    page(client.get(scene.recap("ada")), 404)
    page(client.post(scene.recap("ada", "leave")), 404)


def test_an_unsubscribe_link_whose_message_is_gone_is_not_found(app, client, scene):
    path = unsubscribe_path(app, scene)
    with app.app_context(), session_scope() as session:
        session.execute(delete(MailMessage).where(MailMessage.organizer_id == scene.organizer_id))
    page(client.get(path), 404)
    page(client.post(path), 404)


def test_the_api_keeps_its_json_errors(client, scene):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["reason"] == "not_found"


# --- GET changes nothing ------------------------------------------------------------------------


def test_no_get_changes_anything(app, client, scene):
    unsubscribe = unsubscribe_path(app, scene)
    for path in (
        unsubscribe,
        scene.recap(),
        scene.recap(action="outcome?kind=lead"),
        scene.recap(action="talked"),
        scene.recap(action="leave"),
    ):
        page(client.get(path))
    assert client.get(scene.recap(action="listing")).status_code == 405

    assert count(app, Suppression, Suppression.organizer_id == scene.organizer_id) == 0
    assert count(app, Outcome, Outcome.organizer_id == scene.organizer_id) == 0
    assert count(app, GroupLeave, GroupLeave.group_id == scene.group) == 0
    assert count(app, Connection, Connection.organizer_id == scene.organizer_id) == 1
    assert count(app, Person, Person.id == scene.people["ada"], Person.listed.is_(True)) == 0


# --- unsubscribe --------------------------------------------------------------------------------


def test_one_click_unsubscribe_by_post(app, client, scene):
    path = unsubscribe_path(app, scene)
    assert "Unsubscribe" in page(client.get(path))
    with app.app_context(), session_scope() as session:
        assert not is_suppressed(session, scene.organizer_id, "ada@example.com")

    # RFC 8058: a form-encoded body, no cookies, no form token.
    response = app.test_client(use_cookies=False).post(
        path,
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert "You are unsubscribed" in page(response)
    # The confirm page's button posts the same, and a repeat changes nothing.
    page(client.post(path, data={"List-Unsubscribe": "One-Click"}))

    with app.app_context(), session_scope() as session:
        rows = session.scalars(
            select(Suppression).where(Suppression.organizer_id == scene.organizer_id)
        ).all()
        assert [(row.email_normalized, row.reason) for row in rows] == [
            ("ada@example.com", "unsubscribed")
        ]
        assert is_suppressed(session, scene.organizer_id, "ADA@example.com")


# --- answers ------------------------------------------------------------------------------------


def outcomes(app, scene: Scene) -> list[Outcome]:
    with app.app_context(), session_scope() as session:
        return list(
            session.scalars(
                select(Outcome)
                .where(Outcome.organizer_id == scene.organizer_id)
                .order_by(Outcome.id)
            )
        )


def test_an_outcome_is_recorded_once_and_marks_the_scores_stale(app, client, scene):
    with app.app_context(), session_scope() as session:
        session.execute(delete(RescoreJob))
    form = {"kind": "lead", "counterpart": str(scene.people["ben"]), "value": "1200"}

    html = page(client.post(scene.recap(action="outcome"), data=form))
    assert "Your lead from Ben is recorded" in html
    html = page(client.post(scene.recap(action="outcome"), data=form))
    assert "already" in html

    [outcome] = outcomes(app, scene)
    assert outcome.source == "recap_answer"
    assert (outcome.kind, outcome.value) == ("lead", Decimal("1200.00"))
    assert (outcome.person_id, outcome.counterpart_id) == (scene.people["ada"], scene.people["ben"])
    assert (outcome.group_id, outcome.gathering_id) == (scene.group, scene.breakfast)
    assert count(app, RescoreJob, RescoreJob.gathering_id == scene.breakfast) == 1

    # A referral, naming nobody, is another outcome.
    page(client.post(scene.recap(action="outcome"), data={"kind": "referral"}))
    assert [(row.kind, row.counterpart_id) for row in outcomes(app, scene)] == [
        ("lead", scene.people["ben"]),
        ("referral", None),
    ]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "lead", "counterpart": "dan"}, "not filled in as expected"),
        ({"kind": "closed_business"}, "lead or a referral"),
        ({"kind": "lead", "value": "lots"}, "value must be a number"),
        ({"kind": "lead", "value": "-5"}, "value must be a number"),
    ],
)
def test_a_malformed_outcome_form_is_refused(app, client, scene, form, message):
    html = page(client.post(scene.recap(action="outcome"), data=form), 400)
    assert message in html
    assert outcomes(app, scene) == []


def test_an_oversized_or_undecodable_form_is_refused_without_storing(app, client, scene):
    oversized = {"kind": "lead", "value": "1" + "0" * (2 * 1024 * 1024)}
    page(client.post(scene.recap(action="outcome"), data=oversized), 413)
    garbage = client.post(
        scene.recap(action="outcome"),
        data=b"\xff\xfe%%%",
        content_type="application/x-www-form-urlencoded",
    )
    page(garbage, 400)
    assert outcomes(app, scene) == []


@pytest.mark.parametrize("name", ["dan", "eve", "fay", "ada"])
def test_an_outcome_may_name_only_a_listed_fellow_attendee(app, client, scene, name):
    form = {"kind": "referral", "counterpart": str(scene.people[name])}
    assert "agreed to be listed" in page(client.post(scene.recap(action="outcome"), data=form), 400)
    assert outcomes(app, scene) == []


def test_the_outcome_form_preselects_a_known_kind_and_refuses_others(client, scene):
    html = page(client.get(scene.recap(action="outcome")))
    assert "I got a lead or referral" in html and "checked" not in html
    page(client.get(scene.recap(action="outcome?kind=closed_business")), 400)


def connection_between(app, scene: Scene, a: str, b: str) -> Connection | None:
    low, high = sorted((scene.people[a], scene.people[b]))
    with app.app_context(), session_scope() as session:
        return session.scalars(
            select(Connection).where(
                Connection.gathering_id == scene.breakfast,
                Connection.person_low_id == low,
                Connection.person_high_id == high,
            )
        ).one_or_none()


def test_talked_with_reports_one_side_and_the_other_side_confirms(app, client, scene):
    chosen = {"person": [str(scene.people["cy"])]}
    html = page(client.post(scene.recap(action="talked"), data=chosen))
    assert "talked with 1 person" in html

    connection = connection_between(app, scene, "ada", "cy")
    assert connection is not None
    assert (connection.source, connection.confirmed) == ("recap_answer", False)
    assert "Cy" not in page(client.get(scene.recap()))

    # Cy can name Ada once Ada agrees to be listed; then the connection is confirmed.
    assert str(scene.people["ada"]) not in page(client.get(scene.recap("cy", "talked")))
    response = client.post(scene.recap(action="listing"), data={"listed": "on"})
    assert response.status_code == 303
    page(client.post(scene.recap("cy", "talked"), data={"person": str(scene.people["ada"])}))

    connection = connection_between(app, scene, "ada", "cy")
    assert connection is not None and connection.confirmed
    assert "Cy · Cyclic Ltd" in page(client.get(scene.recap()))


def test_talked_with_several_people_reports_each_once(app, client, scene):
    chosen = {"person": [str(scene.people["ben"]), str(scene.people["cy"])]}
    page(client.post(scene.recap(action="talked"), data=chosen))
    page(client.post(scene.recap(action="talked"), data=chosen))
    assert count(app, Connection, Connection.gathering_id == scene.breakfast) == 2
    ben = connection_between(app, scene, "ada", "ben")
    assert ben is not None and ben.confirmed  # the organizer's API had vouched for it


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["dan"], "agreed to be listed"),
        (["eve"], "agreed to be listed"),
        (["fay"], "agreed to be listed"),
        (["ada"], "agreed to be listed"),
        (["cy", "dan"], "1 of your choices is not"),
        ([], "Choose at least one person"),
    ],
)
def test_talked_with_only_listed_fellow_attendees(app, client, scene, chosen, message):
    form = {"person": [str(scene.people[name]) for name in chosen]}
    assert message in page(client.post(scene.recap(action="talked"), data=form), 400)
    assert count(app, Connection, Connection.gathering_id == scene.breakfast) == 1


def test_talked_with_something_that_is_not_a_person_id(client, scene):
    form = {"person": ["ben@example.com"]}
    page(client.post(scene.recap(action="talked"), data=form), 400)


def test_leaving_a_group_is_stored_once(app, client, scene):
    html = page(client.post(scene.recap(action="leave")))
    assert "no more recaps from Thursday Breakfast Club" in html
    page(client.post(scene.recap(action="leave")))

    assert count(app, GroupLeave, GroupLeave.group_id == scene.group) == 1
    assert "You left this group" in page(client.get(scene.recap()))


def test_the_listing_switch(app, client, scene):
    listed = Person.listed.is_(True)
    response = client.post(scene.recap(action="listing"), data={"listed": "on"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(scene.recap() + "#listing")
    assert count(app, Person, Person.id == scene.people["ada"], listed) == 1
    assert "Stop listing my name" in page(client.get(scene.recap()))

    client.post(scene.recap(action="listing"), data={"listed": "off"})
    assert count(app, Person, Person.id == scene.people["ada"], listed) == 0

    page(client.post(scene.recap(action="listing"), data={"listed": "maybe"}), 400)
    assert count(app, Person, Person.id == scene.people["ada"], listed) == 0
