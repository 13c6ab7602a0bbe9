"""Outbound webhook endpoints: registering an organizer's URLs, their message log, replay."""

from __future__ import annotations

from collections import defaultdict

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import outbound, serializers
from service.auth import organizer_id
from service.context import current_settings, secret_box
from service.db import request_session
from service.errors import ApiError
from service.models import OutboundAttempt, OutboundEndpoint, OutboundMessage
from service.views.api.common import bp, owned, page, page_response
from service.views.api.connections import fields, invalid

ENDPOINT_FIELDS = frozenset({"url", "events"})


@bp.post("/endpoints")
def create_endpoint() -> tuple[Response, int]:
    """Register a URL for some events; the answer carries its signing secret, shown only once."""
    payload = fields(ENDPOINT_FIELDS)
    url = payload.get("url")
    events = payload.get("events")
    if not isinstance(url, str):
        raise invalid("url", "url must be a string")
    if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
        raise invalid("events", "events must be a list of event types")
    session = request_session()
    try:
        created = outbound.register(
            session,
            secret_box(),
            organizer_id(),
            url,
            events,
            allow_private=current_settings().outbound_allow_private,
        )
    except outbound.InvalidEndpoint as err:
        raise ApiError(err.reason, err.detail, {"field": err.field}) from err
    session.commit()
    return jsonify({**serializers.endpoint(created.endpoint), "secret": created.secret}), 201


@bp.get("/endpoints")
def list_endpoints() -> Response:
    rows = request_session().scalars(
        select(OutboundEndpoint)
        .where(OutboundEndpoint.organizer_id == organizer_id())
        .order_by(OutboundEndpoint.id)
    )
    return jsonify({"endpoints": [serializers.endpoint(row) for row in rows]})


@bp.get("/endpoints/<int:endpoint_id>")
def show_endpoint(endpoint_id: int) -> Response:
    return jsonify(serializers.endpoint(owned(request_session(), OutboundEndpoint, endpoint_id)))


@bp.delete("/endpoints/<int:endpoint_id>")
def delete_endpoint(endpoint_id: int) -> Response:
    """Remove the endpoint, its waiting messages and its message log."""
    session = request_session()
    session.delete(owned(session, OutboundEndpoint, endpoint_id))
    session.commit()
    return jsonify({"status": "deleted", "id": endpoint_id})


@bp.post("/endpoints/<int:endpoint_id>/enable")
def enable_endpoint(endpoint_id: int) -> Response:
    """Send to a disabled endpoint again (it answered 410, say, and its owner fixed it)."""
    session = request_session()
    endpoint = owned(session, OutboundEndpoint, endpoint_id)
    try:
        outbound.enable(endpoint, allow_private=current_settings().outbound_allow_private)
    except outbound.InvalidEndpoint as err:
        raise ApiError(err.reason, err.detail, {"field": err.field}) from err
    session.commit()
    return jsonify(serializers.endpoint(endpoint))


@bp.get("/endpoints/<int:endpoint_id>/messages")
def list_endpoint_messages(endpoint_id: int) -> Response:
    """The endpoint's messages, newest first, each with its attempts."""
    session = request_session()
    endpoint = owned(session, OutboundEndpoint, endpoint_id)
    limit, offset = page()
    rows = session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.endpoint_id == endpoint.id)
        .order_by(OutboundMessage.id.desc())
        .limit(limit + 1)
        .offset(offset)
    ).all()
    shown = rows[:limit]
    attempts = _attempts(session, [row.id for row in shown])
    items = [serializers.outbound_message(row, attempts[row.id]) for row in shown]
    return page_response("messages", items, limit, offset, len(rows) > limit)


@bp.post("/messages/<int:message_id>/replay")
def replay_message(message_id: int) -> tuple[Response, int]:
    """Send a message again with the same `webhook-id`, whatever became of it before."""
    session = request_session()
    message = session.scalars(
        select(OutboundMessage)
        .join(OutboundEndpoint, OutboundEndpoint.id == OutboundMessage.endpoint_id)
        .where(OutboundMessage.id == message_id, OutboundEndpoint.organizer_id == organizer_id())
    ).one_or_none()
    if message is None:
        raise ApiError("not_found", f"no message with id {message_id}")
    try:
        outbound.replay(session, message)
    except outbound.EndpointDisabled as err:
        raise ApiError("conflict", str(err)) from err
    session.commit()
    return jsonify(
        serializers.outbound_message(message, _attempts(session, [message.id])[message.id])
    ), 202


def _attempts(session: Session, message_ids: list[int]) -> dict[int, list[OutboundAttempt]]:
    by_message: dict[int, list[OutboundAttempt]] = defaultdict(list)
    for row in session.scalars(
        select(OutboundAttempt)
        .where(OutboundAttempt.message_id.in_(message_ids))
        .order_by(OutboundAttempt.id)
    ):
        by_message[row.message_id].append(row)
    return by_message
