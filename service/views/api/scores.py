"""Scores as the organizer reads them: group members' standings, and one person everywhere."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from service import reads, serializers
from service.db import request_session
from service.models import Group, MemberStandingSnapshot, Person
from service.views.api.common import bp, owned


@bp.get("/groups/<int:group_id>/members")
def list_members(group_id: int) -> Response:
    """Every member of the group with their standing and the reasons for it."""
    session = request_session()
    group = owned(session, Group, group_id)
    return jsonify(
        {"group": {"id": group.id, "name": group.name}, "members": reads.members(session, group)}
    )


@bp.get("/people/<int:person_id>")
def show_person(person_id: int) -> Response:
    """A person and their standing in every group of the organizer they attend."""
    session = request_session()
    person = owned(session, Person, person_id)
    rows = session.execute(
        select(MemberStandingSnapshot, Group)
        .join(Group, Group.id == MemberStandingSnapshot.group_id)
        .where(MemberStandingSnapshot.person_id == person.id)
        .order_by(Group.name, Group.id)
    ).all()
    return jsonify(
        {
            **serializers.person(person),
            "groups": [
                {"group": {"id": group.id, "name": group.name}, **serializers.standing(standing)}
                for standing, group in rows
            ],
        }
    )
