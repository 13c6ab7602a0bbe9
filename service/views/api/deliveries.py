"""The delivery inbox as the organizer sees it: what arrived, what happened, replay."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import inbox, serializers
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Delivery, DeliveryStatus, Integration
from service.queue import PROCESS_DELIVERY, enqueue
from service.views.api.common import bp, int_arg, page, page_response


@bp.get("/deliveries")
def list_deliveries() -> Response:
    limit, offset = page()
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
    if integration_id := request.args.get("integration_id"):
        query = query.where(Delivery.integration_id == int_arg("integration_id", integration_id))
    rows = request_session().execute(query).all()
    items = [serializers.delivery(row, platform) for row, platform in rows[:limit]]
    return page_response("deliveries", items, limit, offset, len(rows) > limit)


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


def _owned_delivery(session: Session, delivery_id: int) -> tuple[Delivery, str]:
    row = session.execute(
        select(Delivery, Integration.platform)
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Delivery.id == delivery_id, Integration.organizer_id == organizer_id())
    ).one_or_none()
    if row is None:
        raise ApiError("not_found", f"no delivery with id {delivery_id}")
    return row[0], row[1]
