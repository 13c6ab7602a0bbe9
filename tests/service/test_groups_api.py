"""Group and gathering scoring settings through the API: defaults, changes, validation; and
each group's switch for attendee recaps."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from service.context import secret_box
from service.db import session_scope
from service.inbox import process
from service.models import Gathering, Group, RescoreJob
from tests.service.test_api import documented
from tests.support import signed_headers, standard_body

GROUP = "/api/v1/groups/{group_id}"


@pytest.fixture()
def gathering(app, client, tenant):
    """A processed check-in, so the tenant has one group and one gathering."""
    body = standard_body()
    response = client.post(
        tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
    )
    with app.app_context(), session_scope() as session:
        process(session, secret_box(), response.json["delivery"])
    [summary] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    return summary


def group_path(gathering):
    return f"/api/v1/groups/{gathering['group']['id']}"


def test_a_new_group_has_the_defaults_of_a_social_open_group(client, tenant, gathering):
    [group] = client.get("/api/v1/groups", headers=tenant.auth).json["groups"]
    assert group["name"] == "Thursday Breakfast Club"
    assert (group["format"], group["structure"], group["gatherings"]) == ("social", "open", 1)
    assert group["settings"] == {}
    effective = group["effective_settings"]
    assert effective["pool_probability"] == 0.10
    assert effective["grace_gatherings"] == 4


def test_business_plenary_takes_the_referral_chapter_defaults(client, tenant, gathering):
    response = client.patch(
        group_path(gathering),
        json={"format": "business", "structure": "plenary", "plenary_minutes": 90},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.json
    effective = response.json["effective_settings"]
    assert (effective["target_rate"], effective["ramp_gatherings"]) == (0.85, 26)
    assert effective["grace_gatherings"] == 12
    assert response.json["settings"] == {"plenary_minutes": 90.0}


def test_venue_and_parameters_are_stored_and_null_resets(client, tenant, gathering):
    path = group_path(gathering)
    changed = client.patch(
        path,
        json={
            "recurring": True,
            "open_minutes": 120,
            "venue": {"floor_area_m2": 150, "ceiling_height_m": 3, "reverberation_s": 0.8},
            "target_rate": 0.3,
        },
        headers=tenant.auth,
    ).json
    assert changed["effective_settings"]["venue"]["floor_area_m2"] == 150
    assert changed["effective_settings"]["target_rate"] == 0.3
    reset = client.patch(path, json={"target_rate": None}, headers=tenant.auth).json
    assert "target_rate" not in reset["settings"]
    assert reset["effective_settings"]["target_rate"] == 0.2
    assert reset["settings"]["venue"] == {
        "floor_area_m2": 150.0,
        "ceiling_height_m": 3.0,
        "reverberation_s": 0.8,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "party"}, "format"),
        ({"structure": "cocktail"}, "structure"),
        ({"recurring": "yes"}, "recurring"),
        ({"open_minutes": 0}, "open_minutes"),
        ({"open_minutes": "120"}, "open_minutes"),
        ({"open_minutes": True}, "open_minutes"),
        ({"venue": {"floor_area_m2": -5}}, "venue.floor_area_m2"),
        ({"venue": {"venue_type": "cave"}}, "venue.venue_type"),
        ({"venue": {"carpet": True}}, "venue.carpet"),
        ({"venue": "big"}, "venue"),
        ({"grace_gatherings": 2.5}, "grace_gatherings"),
        ({"pool_probability": 1.5}, "pool_probability"),
        ({"colour": "blue"}, "colour"),
        ({"novelty_low": 0.7}, "novelty_low"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(client, tenant, gathering, body, field):
    response = client.patch(group_path(gathering), json=body, headers=tenant.auth)
    assert response.status_code == 400
    assert response.json["reason"] == "invalid_parameter"
    assert response.json["detail"].startswith(f"{field}:")


def test_a_gathering_overrides_room_and_timing_only(client, tenant, gathering):
    path = f"/api/v1/gatherings/{gathering['id']}"
    response = client.patch(
        path, json={"venue": {"venue_type": "hall"}, "open_minutes": 90}, headers=tenant.auth
    )
    assert response.status_code == 200, response.json
    assert response.json["settings"] == {"venue": {"venue_type": "hall"}, "open_minutes": 90.0}
    refused = client.patch(path, json={"format": "business"}, headers=tenant.auth)
    assert refused.status_code == 400
    assert refused.json["detail"].startswith("format:")


def test_other_organizers_groups_and_gatherings_are_404(client, tenant, make_tenant, gathering):
    other = make_tenant()
    assert client.get(group_path(gathering), headers=other.auth).status_code == 404
    assert client.patch(group_path(gathering), json={}, headers=other.auth).status_code == 404
    assert (
        client.patch(
            f"/api/v1/gatherings/{gathering['id']}", json={}, headers=other.auth
        ).status_code
        == 404
    )
    assert client.get("/api/v1/groups", headers=other.auth).json["groups"] == []


def test_every_numeric_scoring_setting_can_be_changed():
    """A setting added to the model without a range here would be listed but refused."""
    from dataclasses import fields

    from service.group_settings import NUMBER_RANGES, WHOLE_NUMBERS
    from service.scoring.settings import ScoringSettings

    numeric = {
        field.name
        for field in fields(ScoringSettings)
        if field.type in ("float", "int", "float | None")
    }
    assert numeric == set(NUMBER_RANGES)
    whole = {field.name for field in fields(ScoringSettings) if field.type == "int"}
    assert whole == WHOLE_NUMBERS


# --- attendee recaps -----------------------------------------------------------------------------


def patch_group(client, tenant, group_id, body):
    response = client.patch(GROUP.format(group_id=group_id), json=body, headers=tenant.auth)
    return documented(response, GROUP, "patch")


def rescore_asked(app, group_id):
    with app.app_context(), session_scope() as session:
        gathering_ids = select(Gathering.id).where(Gathering.group_id == group_id)
        job = session.scalar(select(RescoreJob).where(RescoreJob.gathering_id.in_(gathering_ids)))
        return job is not None


@pytest.fixture()
def group_id(app, gathering):
    """The gathering's group, with the rescore its check-in asked for already done."""
    with app.app_context(), session_scope() as session:
        session.execute(delete(RescoreJob).where(RescoreJob.gathering_id == gathering["id"]))
    return gathering["group"]["id"]


def test_attendee_recaps_are_on_until_switched_off(app, client, tenant, group_id):
    [listed] = client.get("/api/v1/groups", headers=tenant.auth).json["groups"]
    assert listed["attendee_recaps"] is True

    off = patch_group(client, tenant, group_id, {"attendee_recaps": False})
    assert off.status_code == 200, off.json
    assert (off.json["attendee_recaps"], off.json["settings"]) == (False, {})
    shown = client.get(GROUP.format(group_id=group_id), headers=tenant.auth)
    assert documented(shown, GROUP, "get").json["attendee_recaps"] is False
    with app.app_context(), session_scope() as session:
        assert session.get_one(Group, group_id).attendee_recaps is False

    reset = patch_group(client, tenant, group_id, {"attendee_recaps": None})
    assert reset.json["attendee_recaps"] is True


def test_switching_recaps_rescores_nothing_but_a_scoring_setting_does(
    app, client, tenant, group_id
):
    patch_group(client, tenant, group_id, {"attendee_recaps": False})
    assert not rescore_asked(app, group_id)

    both = patch_group(client, tenant, group_id, {"attendee_recaps": True, "open_minutes": 90})
    assert (both.json["attendee_recaps"], both.json["settings"]) == (True, {"open_minutes": 90.0})
    assert rescore_asked(app, group_id)


@pytest.mark.parametrize("value", ["no", 0, 1, [], {}])
def test_a_recap_switch_that_is_not_a_boolean_is_400(client, tenant, group_id, value):
    response = patch_group(client, tenant, group_id, {"attendee_recaps": value})
    assert response.status_code == 400
    assert (response.json["reason"], response.json["field"]) == (
        "invalid_parameter",
        "attendee_recaps",
    )
    assert response.json["detail"].startswith("attendee_recaps:")
    shown = client.get(GROUP.format(group_id=group_id), headers=tenant.auth).json
    assert shown["attendee_recaps"] is True


def test_another_organizer_cannot_switch_a_groups_recaps(client, tenant, make_tenant, group_id):
    response = patch_group(client, make_tenant(), group_id, {"attendee_recaps": False})
    assert response.json["reason"] == "not_found"
    shown = client.get(GROUP.format(group_id=group_id), headers=tenant.auth).json
    assert shown["attendee_recaps"] is True
