"""Outcomes: the JSON API (idempotent keys, validation, tenants, filters) and the
`outcome.reported` webhook, including replays."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.db import session_scope
from service.inbox import mark_for_replay
from service.models import Delivery, Outcome
from tests.service.report_helpers import (
    LUNCH,
    LUNCH_GROUP,
    OUTCOMES,
    Api,
    attendee,
    check_in,
    deliver,
    email,
    outcome_body,
    post_hook,
    process_delivery,
)
from tests.support import signed_headers


@pytest.fixture()
def api(client, tenant) -> Api:
    return Api(client, tenant)


@pytest.fixture()
def ids(app, client, tenant, api) -> dict[str, int]:
    """Ada, Ben and Cy at the breakfast; Ben also at the lunch (another group)."""
    check_in(app, client, tenant, "ada", "ben", "cy")
    check_in(app, client, tenant, "ben", gathering=LUNCH)
    return {
        **api.person_ids(),
        "breakfast": api.gathering_id(),
        "breakfast_group": api.group_id(),
        "lunch": api.gathering_id(LUNCH),
        "lunch_group": api.group_id(LUNCH),
    }


def report(api: Api, ids: dict[str, int], **fields: Any):
    return api.post(
        OUTCOMES, {"person": ids["ada"], "group": ids["breakfast_group"], "kind": "lead", **fields}
    )


def outcome_count(app, tenant) -> int:
    """How many outcomes the tenant has, whatever the API would show."""
    with app.app_context(), session_scope() as session:
        count = session.scalar(
            select(func.count()).where(Outcome.organizer_id == tenant.organizer_id)
        )
    return int(count or 0)


# --- the API ---------------------------------------------------------------------------------


def test_create_with_every_field(api, ids):
    response = report(
        api,
        ids,
        person=email("ada"),
        gathering=ids["breakfast"],
        counterpart=ids["ben"],
        kind="closed_business",
        value=1250.5,
        key="crm-deal-881",
    )
    assert response.status_code == 201
    outcome = response.json
    assert outcome["person"]["id"] == ids["ada"]
    assert outcome["counterpart"]["email"] == email("ben")
    assert (outcome["group"], outcome["gathering"]) == (ids["breakfast_group"], ids["breakfast"])
    assert (outcome["kind"], outcome["value"], outcome["key"]) == (
        "closed_business",
        "1250.50",
        "crm-deal-881",
    )
    assert outcome["source"] == "api"
    assert outcome["reported_at"].endswith("Z")
    [listed] = api.listing(OUTCOMES, "outcomes")
    assert listed == outcome


def test_create_with_only_what_is_required(api, ids):
    response = report(api, ids)
    assert response.status_code == 201
    outcome = response.json
    assert (outcome["gathering"], outcome["counterpart"], outcome["value"], outcome["key"]) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(("value", "stored"), [(0, "0.00"), ("19.9", "19.90"), (7, "7.00")])
def test_values_are_stored_to_the_cent(api, ids, value, stored):
    assert report(api, ids, value=value).json["value"] == stored


def test_a_key_used_before_answers_the_first_outcome(app, tenant, api, ids):
    first = report(api, ids, key="retry-me", value=100)
    retried = report(api, ids, key="retry-me", value=100)
    changed = report(api, ids, key="retry-me", value=999, kind="referral")
    assert first.status_code == 201
    assert (retried.status_code, changed.status_code) == (200, 200)
    assert retried.json == changed.json == first.json
    assert outcome_count(app, tenant) == 1


def test_reports_without_a_key_are_separate_outcomes(app, tenant, api, ids):
    assert report(api, ids).status_code == 201
    assert report(api, ids).status_code == 201
    assert outcome_count(app, tenant) == 2


def test_keys_belong_to_one_organizer(app, client, tenant, make_tenant, api, ids):
    other = make_tenant()
    check_in(app, client, other, "zed")
    theirs = Api(client, other)
    mine = report(api, ids, key="shared-key")
    their_ids = {"ada": theirs.person_ids()["zed"], "breakfast_group": theirs.group_id()}
    their = report(theirs, their_ids, key="shared-key")
    assert (mine.status_code, their.status_code) == (201, 201)
    assert mine.json["id"] != their.json["id"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": None}, "kind"),
        ({"kind": "handshake"}, "kind"),
        ({"value": -1}, "value"),
        ({"value": "12,50"}, "value"),
        ({"value": 1.234}, "value"),
        ({"value": True}, "value"),
        ({"value": 10**12}, "value"),
        ({"value": [5]}, "value"),
        ({"person": "ada"}, "person"),
        ({"person": None}, "person"),
        ({"group": "1"}, "group"),
        ({"gathering": "lunch"}, "gathering"),
        ({"counterpart": {"id": 1}}, "counterpart"),
        ({"key": ""}, "key"),
        ({"key": "k" * 201}, "key"),
        ({"key": 42}, "key"),
        ({"key": "k\u0000"}, "key"),
        ({"amount": 5}, "amount"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(app, tenant, api, ids, fields, field):
    response = report(api, ids, **fields)
    assert response.status_code == 400, response.json
    assert (response.json["reason"], response.json["field"]) == ("invalid_parameter", field)
    assert field in response.json["detail"]
    assert outcome_count(app, tenant) == 0


def test_the_gathering_must_be_one_of_the_groups(api, ids):
    response = report(api, ids, gathering=ids["lunch"])
    assert (response.status_code, response.json["field"]) == (400, "gathering")
    assert report(api, ids, gathering=ids["lunch"], group=ids["lunch_group"]).status_code == 201


def test_the_counterpart_must_be_someone_else(api, ids):
    response = report(api, ids, counterpart=email("ada"))
    assert (response.status_code, response.json["field"]) == (400, "counterpart")


@pytest.mark.parametrize("body", [b"{", b'"lead"', b""])
def test_malformed_json_is_400(api, body):
    response = api.post_raw(OUTCOMES, body)
    assert (response.status_code, response.json["reason"]) == (400, "malformed_json")


def test_another_organizers_ids_are_404(app, client, tenant, make_tenant, api, ids):
    other = make_tenant()
    check_in(app, client, other, "zed")
    theirs = Api(client, other)
    their_person, their_gathering = theirs.person_ids()["zed"], theirs.gathering_id()
    their_group = theirs.group_id()

    for fields, field in [
        ({"person": their_person}, "person"),
        ({"person": email("zed")}, "person"),
        ({"group": their_group}, "group"),
        ({"gathering": their_gathering}, "gathering"),
        ({"counterpart": their_person}, "counterpart"),
        ({"person": 10**9}, "person"),
    ]:
        response = report(api, ids, **fields)
        assert response.status_code == 404, fields
        assert (response.json["reason"], response.json["field"]) == ("not_found", field)
    assert api.get(OUTCOMES, group=their_group).status_code == 404
    assert api.get(OUTCOMES, person=their_person).status_code == 404
    assert outcome_count(app, tenant) == 0


def test_list_filters_by_group_and_person(api, ids):
    ada_breakfast = report(api, ids).json["id"]
    ben_breakfast = report(api, ids, person=ids["ben"]).json["id"]
    ben_lunch = report(api, ids, person=ids["ben"], group=ids["lunch_group"]).json["id"]

    def listed(**params: Any) -> list[int]:
        return [row["id"] for row in api.listing(OUTCOMES, "outcomes", **params)]

    assert listed() == [ben_lunch, ben_breakfast, ada_breakfast]
    assert listed(group=ids["breakfast_group"]) == [ben_breakfast, ada_breakfast]
    assert listed(person=ids["ben"]) == [ben_lunch, ben_breakfast]
    assert listed(group=ids["lunch_group"], person=ids["ben"]) == [ben_lunch]
    assert listed(group=ids["lunch_group"], person=ids["ada"]) == []
    page = api.get(OUTCOMES, limit=2).json
    assert (len(page["outcomes"]), page["next_offset"]) == (2, 2)
    for params in ({"group": "x"}, {"person": "ada@example.com"}, {"offset": -1}):
        assert api.get(OUTCOMES, **params).status_code == 400


# --- the `outcome.reported` webhook ------------------------------------------------------------


def test_a_webhook_outcome_is_recorded_once_even_when_replayed(app, client, tenant, api, ids):
    body = outcome_body(
        "ada",
        gathering={"id": "g-2026-11-26", "name": "Breakfast, 26 Nov"},
        counterpart=attendee("ben"),
        kind="referral",
        value="1200",
    )
    delivery_id = deliver(app, client, tenant, body)
    [outcome] = api.listing(OUTCOMES, "outcomes")
    assert outcome["person"]["id"] == ids["ada"]
    assert outcome["counterpart"]["id"] == ids["ben"]
    assert (outcome["group"], outcome["gathering"]) == (ids["breakfast_group"], ids["breakfast"])
    assert (outcome["kind"], outcome["value"], outcome["source"]) == (
        "referral",
        "1200.00",
        "platform",
    )
    assert outcome["reported_at"] == "2026-12-03T07:30:00Z"

    with app.app_context(), session_scope() as session:
        mark_for_replay(session, session.get_one(Delivery, delivery_id))
    assert process_delivery(app, delivery_id) == "processed"
    assert api.listing(OUTCOMES, "outcomes") == [outcome]
    assert api.delivery(delivery_id)["summary"] == {"events": 1, "applied": 0}

    again = post_hook(client, tenant, body, msg_id=api.delivery(delivery_id)["external_id"])
    assert again.json == {"status": "duplicate"}


def test_a_webhook_outcome_for_someone_new_creates_the_group_and_person(app, client, tenant, api):
    deliver(app, client, tenant, outcome_body("hal", group=LUNCH_GROUP, kind="lead"))
    [outcome] = api.listing(OUTCOMES, "outcomes")
    assert outcome["person"]["email"] == email("hal")
    assert (outcome["gathering"], outcome["counterpart"], outcome["value"]) == (None, None, None)
    check_in(app, client, tenant, "hal", gathering=LUNCH)
    assert api.group_id(LUNCH) == outcome["group"]


def test_a_gathering_without_a_group_joins_the_outcomes_group(app, client, tenant, api):
    lone = {"id": "g-lone", "name": "Lone gathering"}
    deliver(app, client, tenant, outcome_body("ada", gathering=lone))
    [outcome] = api.listing(OUTCOMES, "outcomes")
    gathering = api.gathering(lone)
    assert gathering["id"] == outcome["gathering"]
    assert gathering["group"]["id"] == outcome["group"]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"group": None}, "data.group"),
        ({"group": {"id": "grp"}}, "data.group.name"),
        ({"kind": "hug"}, "data.kind"),
        ({"kind": None}, "data.kind"),
        ({"value": -5}, "data.value"),
        ({"value": "a lot"}, "data.value"),
        ({"value": 0.001}, "data.value"),
        ({"counterpart": attendee("ada")}, "data.counterpart"),
        ({"counterpart": "ben"}, "data.counterpart"),
        ({"gathering": {"id": "g-1", "name": "G", "group": LUNCH_GROUP}}, "data.gathering.group"),
        ({"attendee": None}, "data.attendee"),
    ],
)
def test_malformed_outcome_bodies_are_400_at_the_door(app, client, tenant, changes, named):
    response = post_hook(client, tenant, outcome_body(**changes))
    assert (response.status_code, response.json["reason"]) == (400, "malformed_payload")
    assert named in response.json["detail"]
    assert outcome_count(app, tenant) == 0


def test_unsigned_forged_and_oversized_outcome_webhooks_are_refused(app, client, tenant):
    body = outcome_body()
    unsigned = client.post(tenant.webhook_path, data=body, headers={"content-type": "x/json"})
    assert (unsigned.status_code, unsigned.json["reason"]) == (401, "missing_signature")
    forged = client.post(
        tenant.webhook_path,
        data=body.replace(b"referral", b"closed_business"),
        headers=signed_headers(tenant.signing_secret, body),
    )
    assert (forged.status_code, forged.json["reason"]) == (401, "bad_signature")
    assert post_hook(client, tenant, outcome_body(note="x" * (1024 * 1024))).status_code == 413
    assert outcome_count(app, tenant) == 0
