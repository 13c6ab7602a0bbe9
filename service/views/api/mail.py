"""Mail as the organizer runs it: their mail settings, the addresses mail no longer goes to, and
the ledger of every message planned, sent or given up, with a resend for those that failed."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import reads, serializers
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.mail import sending
from service.mail.preferences import (
    PreferenceError,
    mailbox,
    preferences_of,
    suppress,
    unsuppress,
    update_preferences,
)
from service.models import MailKind, MailMessage, MailStatus, Organizer, Suppression
from service.views.api.common import bp, json_object, owned, page, page_response
from service.views.api.connections import fields, invalid

# A suppression the organizer added through the API, as opposed to an unsubscribe or a bounce.
MANUAL = "manual"


@bp.get("/settings/mail")
def show_mail_settings() -> Response:
    organizer = _organizer(request_session())
    return jsonify(preferences_of(organizer).as_json())


@bp.patch("/settings/mail")
def update_mail_settings() -> Response:
    """Change some mail settings; `null` resets one to its default."""
    session = request_session()
    organizer = _organizer(session)
    try:
        update_preferences(organizer, json_object())
    except PreferenceError as err:
        raise invalid(err.field, str(err)) from err
    session.commit()
    return jsonify(preferences_of(organizer).as_json())


@bp.get("/suppressions")
def list_suppressions() -> Response:
    """Addresses the organizer's mail no longer goes to, most recent first."""
    limit, offset = page()
    rows = (
        request_session()
        .scalars(
            select(Suppression)
            .where(Suppression.organizer_id == organizer_id())
            .order_by(Suppression.created_at.desc(), Suppression.email_normalized)
            .limit(limit + 1)
            .offset(offset)
        )
        .all()
    )
    items = [serializers.suppression(row) for row in rows[:limit]]
    return page_response("suppressions", items, limit, offset, len(rows) > limit)


@bp.post("/suppressions")
def create_suppression() -> tuple[Response, int]:
    """Stop the organizer's mail to an address by hand; an address already stopped stays as it
    was (an unsubscribe or a bounce keeps its reason)."""
    payload = fields(frozenset({"email", "detail"}))
    email, detail = payload.get("email"), payload.get("detail")
    if not isinstance(email, str) or "@" not in email or not 3 <= len(email.strip()) <= 320:
        raise invalid("email", "email must be an email address")
    if detail is not None and (not isinstance(detail, str) or len(detail) > 1000):
        raise invalid("detail", "detail must be a text of at most 1000 characters")
    session = request_session()
    created = suppress(session, organizer_id(), email, MANUAL, detail)
    session.commit()
    row = session.get_one(Suppression, (organizer_id(), mailbox(email)))
    return jsonify(serializers.suppression(row)), 201 if created else 200


@bp.delete("/suppressions/<path:email>")
def delete_suppression(email: str) -> tuple[str, int]:
    """Let the organizer's mail reach an address again."""
    session = request_session()
    if not unsuppress(session, organizer_id(), email):
        raise ApiError("not_found", f"{mailbox(email)} is not suppressed")
    session.commit()
    return "", 204


@bp.get("/mail")
def list_mail() -> Response:
    """The organizer's mail ledger, newest first."""
    limit, offset = page()
    chosen = {}
    for name, choices in (("status", MailStatus), ("kind", MailKind)):
        if value := request.args.get(name):
            if value not in set(choices):
                raise invalid(name, f"{name} must be one of {', '.join(choices)}")
            chosen[name] = value
    rows, more = reads.mail_messages(request_session(), organizer_id(), limit, offset, **chosen)
    items = [serializers.mail_message(row) for row in rows]
    return page_response("messages", items, limit, offset, more)


@bp.post("/mail/<int:message_id>/resend")
def resend_mail(message_id: int) -> tuple[Response, int]:
    """Send a failed or uncertain message again, as soon as the sender next runs."""
    session = request_session()
    message = owned(session, MailMessage, message_id)
    if not sending.resend(session, message):
        raise ApiError(
            "conflict",
            f"message {message_id} is {message.status}: only failed or uncertain messages "
            "are resent",
        )
    session.commit()
    return jsonify(serializers.mail_message(message)), 202


def _organizer(session: Session) -> Organizer:
    return session.get_one(Organizer, organizer_id())
