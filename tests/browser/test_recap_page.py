"""An attendee opens their recap in a browser and reports a lead in two clicks."""

from __future__ import annotations

from sqlalchemy import select

from service.db import session_scope
from service.models import Outcome
from tests.service.recap_helpers import breakfast


def test_an_attendee_reports_a_lead_from_the_recap_page(app, client, tenant, live_server, page):
    scene = breakfast(app, client, tenant)

    page.goto(live_server + scene.recap())
    assert page.get_by_role("heading", level=1).inner_text() == "Breakfast, 26 Nov"
    page.get_by_role("button", name="I got a lead").click()

    assert page.get_by_role("radio", name="A lead").is_checked()
    page.get_by_label("From whom (optional)").select_option(label="Ben · Babbage & Sons")
    page.get_by_label("Its value (optional)").fill("250")
    page.get_by_role("button", name="Record it").click()

    assert "Your lead from Ben is recorded" in page.get_by_role("main").inner_text()
    with app.app_context(), session_scope() as session:
        [outcome] = session.scalars(
            select(Outcome).where(Outcome.organizer_id == tenant.organizer_id)
        ).all()
        assert (outcome.kind, outcome.source, str(outcome.value)) == (
            "lead",
            "recap_answer",
            "250.00",
        )
        assert outcome.counterpart_id == scene.people["ben"]
