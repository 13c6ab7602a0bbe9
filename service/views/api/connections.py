"""Connections between attendees: recorded through the API, listed per gathering.

Also the request-reading helpers that `outcomes` shares: people named by id or email, owned
objects named by id, and the domain's refusals turned into API errors.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import ConnectionSource
from service import connections, serializers
from service.attendance import normalize_email
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Connection, Gathering, Group, Person
from service.views.api.common import bp, int_arg, json_object, owned, page, page_response

OwnedT = TypeVar("OwnedT", Gathering, Group, Person)

CONNECTION_FIELDS = frozenset({"gathering", "people", "source", "reported_by"})


@bp.post("/connections")
def create_connection() -> tuple[Response, int]:
    """Record that two checked-in people connected: 201 when new, 200 when already known."""
    session = request_session()
    payload = fields(CONNECTION_FIELDS)
    gathering = find(session, Gathering, payload.get("gathering"), "gathering")
    people = payload.get("people")
    if not isinstance(people, list) or len(people) != 2:
        raise invalid("people", "people must be a list of two person ids or email addresses")
    person_a = find_person(session, people[0], "people")
    person_b = find_person(session, people[1], "people")
    reported_by = None
    if payload.get("reported_by") is not None:
        reported_by = find_person(session, payload["reported_by"], "reported_by")
    try:
        recorded = connections.record_connection(
            session,
            organizer_id(),
            gathering,
            person_a,
            person_b,
            payload.get("source", ConnectionSource.API),
            reported_by,
        )
    except connections.InvalidReport as err:
        raise report_error(err) from err
    session.commit()
    # The API records connections between checked-in people only.
    return jsonify(serializers.connection(recorded.row, True)), 201 if recorded.created else 200


@bp.get("/connections")
def list_connections() -> Response:
    """Connections, newest first; `both_checked_in` says which of them count."""
    session = request_session()
    limit, offset = page()
    query = (
        connections.select_connections(organizer_id())
        .order_by(Connection.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if gathering_id := request.args.get("gathering"):
        gathering = owned(session, Gathering, int_arg("gathering", gathering_id))
        query = query.where(Connection.gathering_id == gathering.id)
    rows = session.execute(query).all()
    items = [serializers.connection(row, bool(both)) for row, both in rows[:limit]]
    return page_response("connections", items, limit, offset, len(rows) > limit)


def fields(allowed: frozenset[str]) -> dict[str, Any]:
    """The JSON object body, refusing fields the operation does not know (typos included)."""
    payload = json_object()
    if unknown := sorted(set(payload) - allowed):
        raise invalid(unknown[0], f"unknown fields: {', '.join(unknown)}")
    return payload


def find(session: Session, model: type[OwnedT], ref: object, field: str) -> OwnedT:
    """The organizer's object with the id in `field`; another organizer's answers 404."""
    if not isinstance(ref, int) or isinstance(ref, bool):
        raise invalid(field, f"{field} must be an id (a whole number)")
    row = session.get(model, ref)
    if row is None or row.organizer_id != organizer_id():
        raise ApiError(
            "not_found", f"{field}: no {model.__tablename__} with id {ref}", {"field": field}
        )
    return row


def find_person(session: Session, ref: object, field: str) -> Person:
    """The organizer's person named by id or by email address (any case, trimmed)."""
    if isinstance(ref, str) and "@" in ref:
        person = session.scalars(
            select(Person).where(
                Person.organizer_id == organizer_id(),
                Person.email_normalized == normalize_email(ref),
            )
        ).one_or_none()
        if person is None:
            raise ApiError(
                "not_found", f"{field}: no person with email {ref.strip()}", {"field": field}
            )
        return person
    if isinstance(ref, int) and not isinstance(ref, bool):
        return find(session, Person, ref, field)
    raise invalid(field, f"{field} must be a person id or an email address")


def invalid(field: str, detail: str) -> ApiError:
    return ApiError("invalid_parameter", detail, {"field": field})


def report_error(err: connections.InvalidReport) -> ApiError:
    """The domain's refusal as the API answers it: 404 for what is not there, else 400."""
    return ApiError(err.reason, err.detail, {"field": err.field})
