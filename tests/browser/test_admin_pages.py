"""An organizer signs in to the admin pages in a browser and reads why a member stands where
they do."""

from __future__ import annotations

import re

from service import reads
from service.db import session_scope
from service.models import Group
from tests.service.recap_helpers import breakfast
from tests.service.test_admin_pages import PASSWORD, login_email


def test_an_organizer_signs_in_and_reads_a_member_s_standing(
    app, client, tenant, live_server, page
):
    scene = breakfast(app, client, tenant)
    with app.app_context(), session_scope() as session:
        group = session.get_one(Group, scene.group)
        group_name = group.name
        ada = next(
            member
            for member in reads.members(session, group)
            if member["person"]["id"] == scene.people["ada"]
        )

    page.goto(f"{live_server}/admin/groups/{scene.group}")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    page.get_by_label("Email").fill(login_email(app, tenant))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_role("heading", level=1).inner_text() == group_name
    row = page.get_by_role("row").filter(has_text=ada["person"]["name"])
    assert ada["label"].capitalize() in row.inner_text()
    assert ada["reasons"][0] in row.inner_text()

    page.get_by_role("link", name="Breakfast, 26 Nov").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Breakfast, 26 Nov"
    assert page.get_by_role("heading", name=re.compile(r"^Size score: \d+ of 100$")).is_visible()
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
