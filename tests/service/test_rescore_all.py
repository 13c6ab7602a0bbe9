"""The bulk rescore writes exactly the snapshots that rescoring gathering by gathering writes.

The data arrives the way production data does (signed `standard` webhooks, processed by
`service.inbox.process`) and covers what the two paths read differently: first-timers and
earlier pairs across a group's history, two gatherings starting at the same moment, a gathering
in no group, registrations without a check-in, a reverted check-in, check-outs, unconfirmed
connections, connections with someone never checked in, and outcomes in a business group.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service import full_rescore, rescoring
from service.context import current_settings, secret_box
from service.db import session_scope
from service.inbox import process
from service.models import (
    Gathering,
    GatheringScoreSnapshot,
    Group,
    GroupHealthSnapshot,
    MemberStandingSnapshot,
)
from tests.conftest import Tenant
from tests.support import signed_headers

START = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
NOW = START + timedelta(weeks=12)
SOCIAL = {"id": "grp-social", "name": "Riverside Socials"}
MIXER = {"id": "grp-mixer", "name": "Harbourside Business Mixer"}
BOOKS = {"id": "grp-books", "name": "Book Club"}  # logs no connections: standings estimated


def gathering(key: str, week: int | None, group: dict[str, str] | None) -> dict[str, Any]:
    """A gathering starting `week` weeks after START (None: its platform gave no times)."""
    ref: dict[str, Any] = {"id": key, "name": f"Gathering {key}"}
    if week is not None:
        starts = START + timedelta(weeks=week)
        ref.update(starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat())
    if group is not None:
        ref["group"] = group
    return ref


def person(name: str) -> dict[str, str]:
    return {"id": f"att-{name}", "email": f"{name}@example.com", "name": name.title()}


def body(event_type: str, at: datetime, **data: Any) -> bytes:
    occurred = at.isoformat()
    return json.dumps(
        {"type": event_type, "timestamp": occurred, "data": {**data, "occurred_at": occurred}}
    ).encode()


def deliver(app: Flask, client: FlaskClient, tenant: Tenant, bodies: list[bytes]) -> None:
    for payload in bodies:
        response = client.post(
            tenant.webhook_path,
            data=payload,
            headers=signed_headers(tenant.signing_secret, payload),
        )
        assert response.status_code == 202, response.json
        with app.app_context(), session_scope() as session:
            assert str(process(session, secret_box(), response.json["delivery"])) == "processed"


def starts(ref: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(ref["starts_at"]) if "starts_at" in ref else START


def visit(ref: dict[str, Any], name: str, stay_minutes: int | None = 90) -> list[bytes]:
    """Check-in (and check-out, after `stay_minutes`) of one person at one gathering."""
    arrived = starts(ref) + timedelta(minutes=len(name))
    events = [body("attendee.checked_in", arrived, gathering=ref, attendee=person(name))]
    if stay_minutes is not None:
        left = arrived + timedelta(minutes=stay_minutes)
        events.append(body("attendee.checked_out", left, gathering=ref, attendee=person(name)))
    return events


def connected(ref: dict[str, Any], name: str, other: str, source: str = "mutual_tap") -> bytes:
    at = starts(ref) + timedelta(minutes=45)
    return body(
        "connection.created",
        at,
        gathering=ref,
        attendee=person(name),
        counterpart=person(other),
        source=source,
    )


def history() -> list[bytes]:
    """Four weeks of a social group (two of its gatherings start together, one has no times), a
    business mixer with outcomes, a book club that logs no connections, and a one-off gathering
    in no group."""
    social = [gathering(f"social-{week}", week, SOCIAL) for week in range(3)]
    twin = gathering("social-twin", 2, SOCIAL)  # starts with social-2
    later = gathering("social-3", 3, SOCIAL)
    undated = gathering("social-undated", None, SOCIAL)  # earlier than nothing, later than nothing
    mixers = [gathering(f"mixer-{week}", week, MIXER) for week in range(4)]
    one_off = gathering("one-off", 1, None)
    bodies: list[bytes] = []
    for week, ref in enumerate(social):
        for name in ("ada", "ben", "cy", "dee", "eve", "fay")[: 3 + week]:
            bodies += visit(ref, name, stay_minutes=None if name == "cy" else 30 + 20 * week)
    bodies += visit(twin, "gus") + visit(twin, "ada") + visit(twin, "eve")
    bodies += visit(later, "gus") + visit(later, "ben") + visit(later, "cy") + visit(later, "fay")
    bodies += visit(undated, "hal") + visit(undated, "gus") + visit(later, "hal")
    bodies += [
        connected(social[0], "ada", "ben"),
        connected(social[1], "ada", "ben"),  # a re-meeting
        connected(social[1], "cy", "dee", source="recap_answer"),  # one side only
        connected(social[1], "dee", "cy", source="recap_answer"),  # now confirmed
        connected(social[2], "ada", "eve"),
        connected(social[2], "ben", "hal", source="scan"),  # hal never checked in
        connected(twin, "ada", "eve"),  # new here too: social-2 starts at the same moment
        connected(later, "ben", "gus"),  # met at no earlier gathering: twin starts with social-2
        connected(social[2], "fay", "cy", source="platform"),  # never confirmed
        connected(later, "cy", "fay"),  # new: the earlier report was never confirmed
        connected(undated, "gus", "hal"),
        connected(later, "hal", "gus"),  # new, and hal a first-timer: undated came before nothing
    ]
    registered_at = START - timedelta(days=2)
    for name in ("ada", "ben", "ivy"):  # ivy registers and never comes
        bodies.append(
            body("attendee.registered", registered_at, gathering=social[0], attendee=person(name))
        )
    reverted_at = START + timedelta(weeks=1, minutes=10)
    bodies.append(
        body("attendee.checkin_reverted", reverted_at, gathering=social[1], attendee=person("ben"))
    )
    for week, ref in enumerate(mixers):
        for name in ("kim", "lee", "max", "ned", "ada")[: 2 + week]:
            bodies += visit(ref, name)
        if week:  # the first mixer logs no connections
            bodies.append(connected(ref, "kim", "lee"))
    for name, ref in (("kim", mixers[1]), ("lee", mixers[3]), ("kim", mixers[3])):
        at = datetime.fromisoformat(ref["starts_at"]) + timedelta(days=3)
        bodies.append(
            body(
                "outcome.reported",
                at,
                group=MIXER,
                gathering=ref,
                attendee=person(name),
                counterpart=person("max"),
                kind="referral",
            )
        )
    for week in range(4):
        for name in ("ada", "una", "vic", "wes")[: 2 + week % 3]:
            bodies += visit(gathering(f"books-{week}", week, BOOKS), name)
    bodies += visit(one_off, "ada") + visit(one_off, "zoe")
    bodies.append(connected(one_off, "ada", "zoe"))
    return bodies


def snapshots(session: Session, organizer_id: int) -> dict[str, dict[Any, Any]]:
    """Every snapshot of the organizer, without the times at which they were written."""
    gathering_ids = select(Gathering.id).where(Gathering.organizer_id == organizer_id)
    group_ids = select(Group.id).where(Group.organizer_id == organizer_id)
    return {
        "gatherings": {
            row.gathering_id: (row.model_version, row.value, row.data)
            for row in session.scalars(
                select(GatheringScoreSnapshot).where(
                    GatheringScoreSnapshot.gathering_id.in_(gathering_ids)
                )
            )
        },
        "groups": {
            row.group_id: (row.model_version, row.value, row.data)
            for row in session.scalars(
                select(GroupHealthSnapshot).where(GroupHealthSnapshot.group_id.in_(group_ids))
            )
        },
        "members": {
            (row.group_id, row.person_id): (
                row.model_version,
                row.standing,
                row.estimated,
                row.data,
            )
            for row in session.scalars(
                select(MemberStandingSnapshot).where(MemberStandingSnapshot.group_id.in_(group_ids))
            )
        },
    }


def forget_snapshots(session: Session, organizer_id: int) -> None:
    gathering_ids = select(Gathering.id).where(Gathering.organizer_id == organizer_id)
    group_ids = select(Group.id).where(Group.organizer_id == organizer_id)
    session.execute(
        delete(GatheringScoreSnapshot).where(GatheringScoreSnapshot.gathering_id.in_(gathering_ids))
    )
    session.execute(delete(GroupHealthSnapshot).where(GroupHealthSnapshot.group_id.in_(group_ids)))
    session.execute(
        delete(MemberStandingSnapshot).where(MemberStandingSnapshot.group_id.in_(group_ids))
    )


def test_the_bulk_rescore_writes_what_the_per_gathering_rescore_writes(
    app: Flask, client: FlaskClient, tenant: Tenant
) -> None:
    deliver(app, client, tenant, history())
    groups = client.get("/api/v1/groups", headers=tenant.auth).json["groups"]
    [mixer_group] = [g["id"] for g in groups if g["name"] == MIXER["name"]]
    patched = client.patch(
        f"/api/v1/groups/{mixer_group}",
        json={"format": "business", "structure": "open"},
        headers=tenant.auth,
    )
    assert patched.status_code == 200, patched.json

    with app.app_context(), session_scope() as session:
        gathering_ids = session.scalars(
            select(Gathering.id).where(Gathering.organizer_id == tenant.organizer_id)
        ).all()
        group_ids = session.scalars(
            select(Group.id).where(Group.organizer_id == tenant.organizer_id)
        ).all()
        for gathering_id in gathering_ids:
            rescoring.rescore_gathering(session, gathering_id)
        for group_id in group_ids:
            rescoring.rescore_group(session, group_id, NOW)
    with app.app_context(), session_scope() as session:
        one_by_one = snapshots(session, tenant.organizer_id)
        forget_snapshots(session, tenant.organizer_id)

    with app.app_context(), session_scope() as session:
        counts = rescoring.rescore_all(session, tenant.organizer_id, NOW)
    with app.app_context(), session_scope() as session:
        bulk = snapshots(session, tenant.organizer_id)
    # Again over the snapshots it wrote, which it overwrites without reading.
    with app.app_context(), session_scope() as session:
        rescoring.rescore_all(session, tenant.organizer_id, NOW)
    with app.app_context(), session_scope() as session:
        again = snapshots(session, tenant.organizer_id)

    assert counts == rescoring.RescoreCounts(gatherings=len(gathering_ids), groups=3)
    assert len(one_by_one["gatherings"]) == 15 and len(one_by_one["groups"]) == 3
    assert bulk == one_by_one
    assert again == one_by_one
    # The data set reaches the cases the paths read differently.
    scored = [data for _, _, data in one_by_one["gatherings"].values()]
    figures = [f for data in scored for f in data["attendees"].values()]
    assert any(f["re_meetings"] for f in figures if f["re_meetings"] is not None)
    assert any(0 < len(data["first_timers"]) < data["head_count"] for data in scored)
    assert any(not data["connections_logged"] for data in scored)
    assert {estimated for _, _, estimated, _ in one_by_one["members"].values()} == {True, False}


def test_the_rescore_over_several_processes_writes_what_the_bulk_rescore_writes(
    app: Flask, client: FlaskClient, tenant: Tenant
) -> None:
    deliver(app, client, tenant, history())
    with app.app_context(), session_scope() as session:
        rescoring.rescore_all(session, tenant.organizer_id, NOW)
    with app.app_context(), session_scope() as session:
        bulk = snapshots(session, tenant.organizer_id)
        forget_snapshots(session, tenant.organizer_id)

    with app.app_context():
        done = full_rescore.rescore_everything(
            current_settings().database_url, 2, tenant.organizer_id, NOW
        )
    with app.app_context(), session_scope() as session:
        spread = snapshots(session, tenant.organizer_id)

    assert done.counts == rescoring.RescoreCounts(gatherings=15, groups=3)
    assert done.worker_peak_kb > 0 and done.worker_cpu_s > 0
    assert spread == bulk
