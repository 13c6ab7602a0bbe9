"""Outcomes: the leads, referrals and closed business members report from their groups."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from service import connections, serializers
from service.auth import organizer_id
from service.db import request_session
from service.models import Gathering, Group, Outcome, Person
from service.views.api.common import bp, int_arg, owned, page, page_response
from service.views.api.connections import fields, find, find_person, report_error

OUTCOME_FIELDS = frozenset({"person", "group", "gathering", "counterpart", "kind", "value", "key"})


@bp.post("/outcomes")
def create_outcome() -> tuple[Response, int]:
    """Record an outcome: 201 when new, 200 with the stored one when its `key` came before."""
    session = request_session()
    payload = fields(OUTCOME_FIELDS)
    person = find_person(session, payload.get("person"), "person")
    group = find(session, Group, payload.get("group"), "group")
    gathering = counterpart = None
    if payload.get("gathering") is not None:
        gathering = find(session, Gathering, payload["gathering"], "gathering")
    if payload.get("counterpart") is not None:
        counterpart = find_person(session, payload["counterpart"], "counterpart")
    try:
        recorded = connections.record_outcome(
            session,
            organizer_id(),
            person,
            group,
            payload.get("kind", ""),
            value=payload.get("value"),
            gathering=gathering,
            counterpart=counterpart,
            key=payload.get("key"),
        )
    except connections.InvalidReport as err:
        raise report_error(err) from err
    session.commit()
    return jsonify(serializers.outcome(recorded.row)), 201 if recorded.created else 200


@bp.get("/outcomes")
def list_outcomes() -> Response:
    """Outcomes, most recently reported first, optionally of one group and one person."""
    session = request_session()
    limit, offset = page()
    query = (
        select(Outcome)
        .where(Outcome.organizer_id == organizer_id())
        .order_by(Outcome.reported_at.desc(), Outcome.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if group_id := request.args.get("group"):
        query = query.where(
            Outcome.group_id == owned(session, Group, int_arg("group", group_id)).id
        )
    if person_id := request.args.get("person"):
        person = owned(session, Person, int_arg("person", person_id))
        query = query.where(Outcome.person_id == person.id)
    rows = session.scalars(query).all()
    items = [serializers.outcome(row) for row in rows[:limit]]
    return page_response("outcomes", items, limit, offset, len(rows) > limit)
