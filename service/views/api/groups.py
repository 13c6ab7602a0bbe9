"""Groups: their health, their scoring settings (format, structure, venue, parameters) and
whether their attendees get recaps by email."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import func, select

from service import group_settings, rescoring, serializers
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Gathering, Group, GroupHealthSnapshot
from service.views.api.common import bp, json_object, owned


@bp.get("/groups")
def list_groups() -> Response:
    session = request_session()
    counts = (
        select(Gathering.group_id, func.count().label("gatherings"))
        .group_by(Gathering.group_id)
        .subquery()
    )
    rows = session.execute(
        select(Group, func.coalesce(counts.c.gatherings, 0))
        .outerjoin(counts, counts.c.group_id == Group.id)
        .where(Group.organizer_id == organizer_id())
        .order_by(Group.name, Group.id)
    ).all()
    health = {
        row.group_id: row
        for row in session.scalars(
            select(GroupHealthSnapshot).where(
                GroupHealthSnapshot.group_id.in_([group.id for group, _ in rows])
            )
        )
    }
    return jsonify({"groups": [serializers.group(g, count, health.get(g.id)) for g, count in rows]})


@bp.get("/groups/<int:group_id>")
def show_group(group_id: int) -> Response:
    session = request_session()
    group = owned(session, Group, group_id)
    count = session.scalar(select(func.count()).where(Gathering.group_id == group.id)) or 0
    return jsonify(serializers.group(group, count, session.get(GroupHealthSnapshot, group.id)))


@bp.patch("/groups/<int:group_id>")
def update_group(group_id: int) -> Response:
    """Change a group's settings; `null` resets a setting to its default."""
    session = request_session()
    group = owned(session, Group, group_id)
    try:
        changes = group_settings.validate_changes(json_object(), group_settings.group_fields())
        group_settings.apply_group_changes(group, changes)
    except group_settings.SettingsError as err:
        raise ApiError("invalid_parameter", str(err), {"field": err.field}) from err
    if set(changes) - group_settings.MAIL_FIELDS:
        # New scoring settings change every score of the group: rescore all of its gatherings.
        rescoring.mark_stale(
            session, session.scalars(select(Gathering.id).where(Gathering.group_id == group.id))
        )
    session.commit()
    return show_group(group_id)
