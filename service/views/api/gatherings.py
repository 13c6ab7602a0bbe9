"""Gatherings and their attendance."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import func, select

from service import group_settings, rescoring, serializers
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Attendance, Gathering, GatheringScoreSnapshot
from service.views.api.common import bp, int_arg, json_object, owned, page, page_response


@bp.get("/gatherings")
def list_gatherings() -> Response:
    limit, offset = page()
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
        query = query.where(Gathering.group_id == int_arg("group_id", group_id))
    rows = request_session().execute(query).all()
    items = [serializers.gathering(gathering, count) for gathering, count in rows[:limit]]
    return page_response("gatherings", items, limit, offset, len(rows) > limit)


@bp.get("/gatherings/<int:gathering_id>")
def show_gathering(gathering_id: int) -> Response:
    session = request_session()
    gathering = owned(session, Gathering, gathering_id)
    attendance = session.scalars(
        select(Attendance)
        .where(Attendance.gathering_id == gathering.id)
        .order_by(Attendance.checked_in_at, Attendance.id)
    ).all()
    checked_in = sum(1 for row in attendance if row.checked_in_at is not None)
    snapshot = session.get(GatheringScoreSnapshot, gathering.id)
    figures = snapshot.data["attendees"] if snapshot else {}
    return jsonify(
        {
            **serializers.gathering(gathering, checked_in),
            "score": serializers.score(snapshot),
            "live": rescoring.live_view(session, gathering),
            "attendance": [
                serializers.attendance(row, figures.get(str(row.person_id))) for row in attendance
            ],
        }
    )


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
