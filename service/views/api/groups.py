"""Groups: their health, their scoring settings (format, structure, venue, parameters) and
whether their attendees get recaps by email."""

from __future__ import annotations

from flask import Response, jsonify

from service import group_settings, reads, rescoring
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Group
from service.views.api.common import bp, json_object, owned


@bp.get("/groups")
def list_groups() -> Response:
    return jsonify({"groups": reads.groups(request_session(), organizer_id())})


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int) -> Response:
    session = request_session()
    return jsonify(reads.group(session, owned(session, Group, group_id)))


@bp.patch("/groups/<int:group_id>")
def update_group(group_id: int) -> Response:
    """Change a group's settings; `null` resets a setting to its default."""
    session = request_session()
    group = owned(session, Group, group_id)
    try:
        rescoring.change_group_settings(session, group, json_object())
    except group_settings.SettingsError as err:
        raise ApiError("invalid_parameter", str(err), {"field": err.field}) from err
    return show_group(group_id)
