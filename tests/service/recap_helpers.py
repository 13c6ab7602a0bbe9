"""A scored breakfast whose attendees answer their recaps, for the `/me/…` and `/u/…` page
tests and the browser test: signed links made as the emails make them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from service import rescoring
from service.db import session_scope
from service.mail.links import LinkSigner, RecapLink, UnsubscribeLink
from service.models import Gathering, MailKind, MailMessage, MailStatus, Person
from service.rescoring import rescore_all
from tests.conftest import SECRET_KEY, Tenant
from tests.service.report_helpers import CONNECTIONS, LUNCH, START, Api, check_in

SIGNER = LinkSigner(SECRET_KEY, "http://roomwise.test")
# Listed people, and who is not: Dan checked in but keeps his name to himself; Eve registered
# and never came; Fay is listed but was at another group's lunch.
LISTED = ("ben", "cy", "eve", "fay")
COMPANIES = {"ben": "Babbage & Sons", "cy": "Cyclic Ltd"}


@dataclass(frozen=True)
class Scene:
    organizer_id: int
    breakfast: int
    group: int
    people: dict[str, int]

    def recap(self, name: str = "ada", action: str = "") -> str:
        """The path of `name`'s recap page (or one answer's page) for the breakfast."""
        url = SIGNER.recap_url(RecapLink(self.people[name], self.breakfast), action)
        return url.removeprefix("http://roomwise.test")


def breakfast(app: Flask, client: FlaskClient, tenant: Tenant) -> Scene:
    """Ada, Ben, Cy and Dan checked in to the breakfast at 07:30 UTC (Eve only registered), Ada
    and Ben's connection vouched for by the organizer's API, the group scored."""
    check_in(app, client, tenant, "ada", "ben", "cy", "dan")
    check_in(app, client, tenant, "eve", kind="registered")
    check_in(app, client, tenant, "fay", gathering=LUNCH)
    api = Api(client, tenant)
    people = {**api.person_ids(), **api.person_ids(LUNCH)}
    scene = Scene(tenant.organizer_id, api.gathering_id(), api.group_id(), people)
    response = api.post(
        CONNECTIONS, {"gathering": scene.breakfast, "people": [people["ada"], people["ben"]]}
    )
    assert response.status_code == 201, response.json
    with app.app_context(), session_scope() as session:
        session.execute(
            update(Person)
            .where(Person.id.in_([people[name] for name in LISTED]))
            .values(listed=True)
        )
        session.execute(
            update(Gathering).where(Gathering.id == scene.breakfast).values(starts_at=START)
        )
        for name, company in COMPANIES.items():
            session.execute(update(Person).where(Person.id == people[name]).values(company=company))
        rescore_all(session, tenant.organizer_id)
    return scene


def unsubscribe_path(app: Flask, scene: Scene, recipient: str = " Ada@Example.com") -> str:
    """A ledger row for Ada's recap, as the planner writes it, and its unsubscribe link."""
    with app.app_context(), session_scope() as session:
        row = MailMessage(
            organizer_id=scene.organizer_id,
            kind=MailKind.ATTENDEE_RECAP,
            recipient=recipient,
            subject_key=f"gathering:{scene.breakfast}",
            person_id=scene.people["ada"],
            context={"gathering_id": scene.breakfast},
            message_id=f"<recap-{scene.breakfast}-{scene.people['ada']}@roomwise.test>",
        )
        session.add(row)
        session.flush()
        message_id = row.id
    url = SIGNER.unsubscribe_url(UnsubscribeLink(message_id))
    return url.removeprefix("http://roomwise.test")


def scored_breakfast(app: Flask, client: FlaskClient, tenant: Tenant) -> Scene:
    """The breakfast, with the rescores its changes asked for taken off the list (its scores
    are current: the scene rescored everything)."""
    scene = breakfast(app, client, tenant)
    with app.app_context(), session_scope() as session:
        rescoring.claim_due(session, now=datetime.now(UTC) + timedelta(days=1), limit=10_000)
    return scene


def set_aside_other_tests_mail(app: Flask) -> None:
    """Gatherings and mail that other tests left would be planned and sent along with these
    tests' own: mark them done, so each test sees only what it makes."""
    with app.app_context(), session_scope() as session:
        session.execute(
            update(MailMessage)
            .where(MailMessage.status.in_([MailStatus.PENDING, MailStatus.CLAIMED]))
            .values(status=MailStatus.SKIPPED)
        )
        session.execute(
            update(Gathering)
            .where(Gathering.summarized_at.is_(None))
            .values(summarized_at=datetime.now(UTC))
        )
