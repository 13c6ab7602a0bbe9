"""Stale marks and the rescoring they lead to: coalescing, claiming, peaks and snapshots."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from service import rescoring
from service.context import secret_box
from service.db import session_scope
from service.group_settings import json_ready
from service.inbox import process
from service.models import Gathering, GatheringScoreSnapshot, GroupRescoreJob, RescoreJob
from service.rescoring import Visit, peak_concurrency
from service.scoring.standing import StandingNumbers
from tests.support import signed_headers, standard_body

START = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


def post_and_process(app, client, tenant, bodies):
    for body in bodies:
        response = client.post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
        with app.app_context(), session_scope() as session:
            process(session, secret_box(), response.json["delivery"])


def jobs_for(app, gathering_ids):
    with app.app_context(), session_scope() as session:
        return session.scalar(
            select(func.count()).where(RescoreJob.gathering_id.in_(gathering_ids))
        )


def test_a_burst_of_500_check_ins_leaves_one_rescore_to_do(app, client, tenant):
    bodies = [
        standard_body(attendee_id=f"p{n}", email=f"p{n}@example.com", gathering_id="burst")
        for n in range(500)
    ]
    post_and_process(app, client, tenant, bodies)
    [gathering] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    assert gathering["checked_in"] == 500
    assert jobs_for(app, [gathering["id"]]) == 1

    with app.app_context(), session_scope() as session:
        # Other tests leave gatherings due too: claim them all.
        later = datetime.now(UTC) + timedelta(seconds=5)
        claimed = rescoring.claim_due(session, later, limit=100_000)
        assert gathering["id"] in claimed
        snapshot = rescoring.rescore_gathering(session, gathering["id"])
        assert snapshot is not None and snapshot.data["head_count"] == 500
    assert jobs_for(app, [gathering["id"]]) == 0


def test_marking_again_keeps_the_earlier_due_time(app, tenant, client):
    post_and_process(app, client, tenant, [standard_body(gathering_id="due")])
    [gathering] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    with app.app_context(), session_scope() as session:
        first = session.get_one(RescoreJob, gathering["id"]).due_at
        rescoring.mark_stale(session, [gathering["id"]], now=first + timedelta(minutes=5))
    with app.app_context(), session_scope() as session:
        assert session.get_one(RescoreJob, gathering["id"]).due_at == first
        early = rescoring.claim_due(session, first - timedelta(seconds=1), limit=100_000)
        assert gathering["id"] not in early


def test_a_rescored_gathering_marks_its_group_due_once_a_little_later(app, client, tenant):
    post_and_process(app, client, tenant, [standard_body(gathering_id="group-due")])
    [gathering] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    with app.app_context(), session_scope() as session:
        group_id = session.get_one(Gathering, gathering["id"]).group_id
        rescoring.rescore_gathering(session, gathering["id"])
    with app.app_context(), session_scope() as session:
        due = session.get_one(GroupRescoreJob, group_id).due_at
        rescoring.rescore_gathering(session, gathering["id"])
    with app.app_context(), session_scope() as session:
        assert session.get_one(GroupRescoreJob, group_id).due_at == due
        early = due - rescoring.GROUP_DEBOUNCE + rescoring.DEBOUNCE
        assert group_id not in rescoring.claim_due_groups(session, early, limit=100_000)
        assert group_id in rescoring.claim_due_groups(session, due, limit=100_000)
    with app.app_context(), session_scope() as session:
        assert session.get(GroupRescoreJob, group_id) is None


def test_a_gathering_is_scored_from_its_check_ins_and_connections(app, client, tenant):
    people = [
        {"attendee_id": f"c{n}", "email": f"c{n}@example.com", "name": f"C {n}"} for n in range(6)
    ]
    post_and_process(
        app, client, tenant, [standard_body(gathering_id="scored", **p) for p in people]
    )
    [summary] = client.get("/api/v1/gatherings", headers=tenant.auth).json["gatherings"]
    for other in ("c1@example.com", "c2@example.com"):
        response = client.post(
            "/api/v1/connections",
            json={"gathering": summary["id"], "people": ["c0@example.com", other]},
            headers=tenant.auth,
        )
        assert response.status_code == 201, response.json
    with app.app_context(), session_scope() as session:
        rescoring.rescore_gathering(session, summary["id"])
        assert session.get(GatheringScoreSnapshot, summary["id"]) is not None

    detail = client.get(f"/api/v1/gatherings/{summary['id']}", headers=tenant.auth).json
    assert detail["score"]["head_count"] == 6
    assert 0 <= detail["score"]["value"] <= 100
    figures = {row["person"]["email"]: row["figures"] for row in detail["attendance"]}
    assert figures["c0@example.com"]["connections"] == 2
    assert figures["c0@example.com"]["new_connections"] == 2
    assert figures["c1@example.com"]["connections"] == 1
    assert figures["c5@example.com"]["connections"] == 0


def test_peak_concurrency_follows_check_outs():
    def visit(person, start, end=None):
        return Visit(
            person, START + timedelta(minutes=start), end and START + timedelta(minutes=end)
        )

    assert peak_concurrency([]) == 0
    assert peak_concurrency([visit(1, 0), visit(2, 10), visit(3, 20)]) == 3
    assert peak_concurrency([visit(1, 0, 15), visit(2, 10, 30), visit(3, 20)]) == 2
    # Leaving at the minute another arrives is one out, then one in.
    assert peak_concurrency([visit(1, 0, 10), visit(2, 10)]) == 1


@given(st.lists(st.floats(0, 1) | st.sampled_from([0.0, 1.0, 1e-300, 0.1]), min_size=1))
def test_a_members_mean_utilization_is_statistics_mean_to_the_bit(values):
    assert rescoring._mean(values) == statistics.mean(values)


@pytest.mark.parametrize("settle_in", [None, 3])
def test_a_standings_numbers_are_stored_as_json_ready_gives_them(settle_in):
    numbers = StandingNumbers(2, 5.5, None, 1.1, 0.55, 0.9, 0.26, settle_in)
    stored = rescoring._numbers_json(numbers)
    assert stored == json_ready(numbers)
    assert list(stored) == list(json_ready(numbers))
