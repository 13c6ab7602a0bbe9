"""Gatherings and their attendance."""

from __future__ import annotations

from flask import Response, jsonify, request

from service import group_settings, reads, rescoring
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Gathering
from service.views.api.common import bp, int_arg, json_object, owned, page, page_response


@bp.get("/gatherings")
def list_gatherings() -> Response:
    limit, offset = page()
    group_id = request.args.get("group_id")
    items, more = reads.gatherings(
        request_session(),
        organizer_id(),
        limit,
        offset,
        int_arg("group_id", group_id) if group_id else None,
    )
    return page_response("gatherings", items, limit, offset, more)


@bp.get("/gatherings/<int:gathering_id>")
def show_gathering(gathering_id: int) -> Response:
    session = request_session()
    return jsonify(reads.gathering(session, owned(session, Gathering, gathering_id)))


@bp.patch("/gatherings/<int:gathering_id>")
def update_gathering(gathering_id: int) -> Response:
    """Override the group's room or timing for this one gathering; `null` removes an override."""
    session = request_session()
    gathering = owned(session, Gathering, gathering_id)
    try:
        changes = group_settings.validate_changes(json_object(), group_settings.GATHERING_FIELDS)
    except group_settings.SettingsError as err:
        raise ApiError("invalid_parameter", str(err)) from err
    group_settings.apply_gathering_changes(gathering, changes)
    rescoring.mark_stale(session, [gathering.id])
    session.commit()
    return show_gathering(gathering_id)
