"""The delivery inbox as the organizer sees it: what arrived, what happened, replay."""

from __future__ import annotations

from flask import Response, jsonify, request

from service import inbox, reads, serializers
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import DeliveryStatus
from service.views.api.common import bp, int_arg, page, page_response


@bp.get("/deliveries")
def list_deliveries() -> Response:
    limit, offset = page()
    status = request.args.get("status")
    if status is not None and status not in set(DeliveryStatus):
        raise ApiError("invalid_parameter", f"status must be one of {', '.join(DeliveryStatus)}")
    integration_id = request.args.get("integration_id")
    items, more = reads.deliveries(
        request_session(),
        organizer_id(),
        limit,
        offset,
        status or None,
        int_arg("integration_id", integration_id) if integration_id else None,
    )
    return page_response("deliveries", items, limit, offset, more)


@bp.get("/deliveries/<int:delivery_id>")
def show_delivery(delivery_id: int) -> Response:
    delivery, platform = reads.owned_delivery(request_session(), organizer_id(), delivery_id)
    return jsonify(serializers.delivery(delivery, platform))


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> tuple[Response, int]:
    """Process a stored delivery again (after a fix, or to recover a failure)."""
    session = request_session()
    delivery, platform = reads.owned_delivery(session, organizer_id(), delivery_id)
    inbox.replay(session, delivery)
    return jsonify(serializers.delivery(delivery, platform)), 202
