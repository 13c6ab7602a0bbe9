"""The JSON API under `/api/v1/`: every object is scoped to the token's organizer.

An object that belongs to another organizer answers 404, exactly like one that does not exist,
so ids leak nothing across tenants.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import inbox, serializers
from service.auth import authenticate_request, organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Attendance, Base, Delivery, DeliveryStatus, Gathering, Integration
from service.openapi import OPENAPI_SPEC
from service.queue import PROCESS_DELIVERY, enqueue

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ModelT = TypeVar("ModelT", bound=Base)

MAX_PAGE = 200


@bp.before_request
def _authenticate() -> None:
    if request.endpoint != "api.openapi":
        authenticate_request()


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI_SPEC)


@bp.get("/gatherings")
def list_gatherings() -> Response:
    limit, offset = _page()
    session = request_session()
    checked_in = (
        select(Attendance.gathering_id, func.count().label("checked_in"))
        .where(Attendance.checked_in_at.is_not(None))
        .group_by(Attendance.gathering_id)
        .subquery()
    )
    query = (
        select(Gathering, func.coalesce(checked_in.c.checked_in, 0))
        .outerjoin(checked_in, checked_in.c.gathering_id == Gathering.id)
        .where(Gathering.organizer_id == organizer_id())
        .order_by(Gathering.starts_at.desc().nulls_last(), Gathering.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if group_id := request.args.get("group_id"):
        query = query.where(Gathering.group_id == _int_arg("group_id", group_id))
    rows = session.execute(query).all()
    items = [serializers.gathering(gathering, count) for gathering, count in rows[:limit]]
    return _page_response("gatherings", items, limit, offset, len(rows) > limit)


@bp.get("/gatherings/<int:gathering_id>")
def show_gathering(gathering_id: int) -> Response:
    session = request_session()
    gathering = _owned(session, Gathering, gathering_id)
    attendance = session.scalars(
        select(Attendance)
        .where(Attendance.gathering_id == gathering.id)
        .order_by(Attendance.checked_in_at, Attendance.id)
    ).all()
    checked_in = sum(1 for row in attendance if row.checked_in_at is not None)
    return jsonify(
        {
            **serializers.gathering(gathering, checked_in),
            "attendance": [serializers.attendance(row) for row in attendance],
        }
    )


@bp.get("/deliveries")
def list_deliveries() -> Response:
    limit, offset = _page()
    query = (
        select(Delivery, Integration.platform)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Integration.organizer_id == organizer_id())
        .order_by(Delivery.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if status := request.args.get("status"):
        if status not in set(DeliveryStatus):
            raise ApiError(
                "invalid_parameter", f"status must be one of {', '.join(DeliveryStatus)}"
            )
        query = query.where(Delivery.status == status)
    rows = request_session().execute(query).all()
    items = [serializers.delivery(row, platform) for row, platform in rows[:limit]]
    return _page_response("deliveries", items, limit, offset, len(rows) > limit)


@bp.get("/deliveries/<int:delivery_id>")
def show_delivery(delivery_id: int) -> Response:
    delivery, platform = _owned_delivery(request_session(), delivery_id)
    return jsonify(serializers.delivery(delivery, platform))


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> tuple[Response, int]:
    """Process a stored delivery again (after a fix, or to recover a failure)."""
    session = request_session()
    delivery, platform = _owned_delivery(session, delivery_id)
    inbox.mark_for_replay(session, delivery)
    enqueue(PROCESS_DELIVERY, delivery.id)
    return jsonify(serializers.delivery(delivery, platform)), 202


def _owned(session: Session, model: type[ModelT], object_id: int) -> ModelT:
    row = session.get(model, object_id)
    if row is None or getattr(row, "organizer_id", None) != organizer_id():
        raise ApiError("not_found", f"no {model.__tablename__} with id {object_id}")
    return row


def _owned_delivery(session: Session, delivery_id: int) -> tuple[Delivery, str]:
    row = session.execute(
        select(Delivery, Integration.platform)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Delivery.id == delivery_id, Integration.organizer_id == organizer_id())
    ).one_or_none()
    if row is None:
        raise ApiError("not_found", f"no delivery with id {delivery_id}")
    return row[0], row[1]


def _page() -> tuple[int, int]:
    limit = _int_arg("limit", request.args.get("limit", "50"))
    offset = _int_arg("offset", request.args.get("offset", "0"))
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ApiError("invalid_parameter", f"limit must be 1..{MAX_PAGE} and offset ≥ 0")
    return limit, offset


def _int_arg(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as err:
        raise ApiError("invalid_parameter", f"{name} must be a whole number") from err


def _page_response(
    name: str, items: list[dict[str, Any]], limit: int, offset: int, more: bool
) -> Response:
    return jsonify({name: items, "next_offset": offset + limit if more else None})
