"""The organizer's admin pages (`/admin/`): each group's health, each gathering's size score
and every member's standing, each with the sentences that explain it; the webhook deliveries,
with a replay for those that failed; and the mail ledger, with a resend for messages that
failed and, where mail goes to the outbox directory, each message as its `.eml` file.

An organizer's user signs in with their email and password (the login `create-organizer`
made); the signed-cookie session then carries the user's id. Every request checks that the
user still exists, so deleting a login ends its sessions. Every form carries the session's
token, so another site cannot post one on the user's behalf. The pages read through
`service.reads`, the same queries as the JSON API, so both always show the same figures.
"""

from __future__ import annotations

import hmac
import secrets
from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug import Response
from werkzeug import Response as Redirect
from werkzeug.exceptions import NotFound
from werkzeug.security import check_password_hash, generate_password_hash

from service import inbox, reads, rescoring, serializers
from service.auth import organizer_id
from service.context import current_settings
from service.db import request_session
from service.errors import ApiError
from service.group_settings import SettingsError
from service.mail import sending
from service.mail.planning import end_of
from service.mail.transport import outbox_path
from service.models import (
    DeliveryStatus,
    Gathering,
    Group,
    Integration,
    MailMessage,
    MailStatus,
    Organizer,
    User,
    utcnow,
)
from service.platforms import delivery_stats
from service.scoring.settings import GroupFormat, Structure
from service.views.api.common import owned
from service.views.pages import PageError, answer_as_pages, organizer_zone

bp = Blueprint("admin", __name__, url_prefix="/admin")
answer_as_pages(bp, "an admin page")

USER_KEY = "admin_user_id"
CSRF_KEY = "csrf_token"
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.sign_in"})
LATEST_GATHERINGS = 20
GROUP_GATHERINGS = 50
LISTED_ROWS = 100
SIGN_IN_FAILED = "That email and password do not match an account."
# Checked against when no login has the email, so an unknown email takes as long to refuse
# as a wrong password and the timing does not tell which logins exist.
UNKNOWN_LOGIN_HASH = generate_password_hash(secrets.token_urlsafe(16))


@bp.before_request
def _require_login() -> Redirect | None:
    if request.method == "POST" and not _csrf_ok(request.form.get(CSRF_KEY, "")):
        raise PageError(400, "Form expired", "Reload the page and send the form again.")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user_id = session.get(USER_KEY)
    user = request_session().get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        session.pop(USER_KEY, None)
        return redirect(url_for("admin.login", next=request.path))
    g.organizer_id = user.organizer_id
    return None


@bp.errorhandler(ApiError)
def _not_found(err: ApiError) -> tuple[str, int]:
    # `owned` refuses another organizer's objects exactly as a missing one.
    title = "Not found" if err.status == 404 else "Cannot show this"
    return render_template("pages/message.html", title=title, lines=[err.detail]), err.status


@bp.get("/login")
def login() -> str:
    return _login_page(email="", error=None)


@bp.post("/login")
def sign_in() -> tuple[str, int] | Redirect:
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    user = request_session().scalar(select(User).where(User.email == email))
    password_hash = user.password_hash if user is not None else UNKNOWN_LOGIN_HASH
    if not check_password_hash(password_hash, password) or user is None:
        return _login_page(email=email, error=SIGN_IN_FAILED), 401
    # A new session on every sign-in: nothing set before it (a planted cookie) carries over.
    session.clear()
    session[USER_KEY] = user.id
    return redirect(_next_page(request.form.get("next", "")))


@bp.post("/logout")
def sign_out() -> Redirect:
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("/")
def overview() -> str:
    db = request_session()
    latest, _ = reads.gatherings(db, organizer_id(), LATEST_GATHERINGS, 0)
    integrations = db.scalars(
        select(Integration.id).where(Integration.organizer_id == organizer_id())
    ).all()
    counts: Counter[str] = Counter()
    for stats in delivery_stats(db, list(integrations)).values():
        counts.update(stats.counts)
    return _page(
        "admin/overview.html",
        groups=reads.groups(db, organizer_id()),
        gatherings=latest,
        deliveries=sorted(counts.items()),
    )


@bp.get("/groups/<int:group_id>")
def group(group_id: int) -> str:
    return _group_page(owned(request_session(), Group, group_id), error=None)


@bp.post("/groups/<int:group_id>/settings")
def change_group(group_id: int) -> tuple[str, int] | Redirect:
    """The group's kind and whether its attendees get recaps: the settings an organizer
    changes most; the API changes every other one."""
    db = request_session()
    row = owned(db, Group, group_id)
    changes = {
        "format": request.form.get("format", ""),
        "structure": request.form.get("structure", ""),
        # An unticked checkbox is not sent at all.
        "attendee_recaps": request.form.get("attendee_recaps") == "on",
    }
    try:
        rescoring.change_group_settings(db, row, changes)
    except SettingsError as err:
        db.rollback()
        return _group_page(row, error=str(err)), 400
    flash("Settings saved. The group's scores are being recomputed.")
    return redirect(url_for("admin.group", group_id=group_id))


def _group_page(row: Group, error: str | None) -> str:
    db = request_session()
    gatherings, _ = reads.gatherings(db, organizer_id(), GROUP_GATHERINGS, 0, row.id)
    return _page(
        "admin/group.html",
        group=reads.group(db, row),
        members=reads.members(db, row),
        gatherings=gatherings,
        formats=list(GroupFormat),
        structures=list(Structure),
        error=error,
    )


@bp.get("/gatherings/<int:gathering_id>")
def gathering(gathering_id: int) -> str:
    """The gathering's score explained; while it runs, also who is inside and any alerts."""
    db = request_session()
    row = owned(db, Gathering, gathering_id)
    return _page("admin/gathering.html", gathering=reads.gathering(db, row), running=_running(row))


def _running(row: Gathering) -> bool:
    """Whether the gathering is on now: started, and not past its end (or, without an end,
    its usual length)."""
    return row.starts_at is not None and row.starts_at <= utcnow() <= end_of(row)


@bp.get("/deliveries")
def deliveries() -> str:
    status = _filter("status", DeliveryStatus)
    offset = _offset()
    rows, more = reads.deliveries(request_session(), organizer_id(), LISTED_ROWS, offset, status)
    return _page(
        "admin/deliveries.html",
        deliveries=rows,
        more=more,
        offset=offset,
        status=status,
        statuses=list(DeliveryStatus),
        replayable=DeliveryStatus.FAILED,
    )


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> Redirect:
    db = request_session()
    delivery, _ = reads.owned_delivery(db, organizer_id(), delivery_id)
    inbox.replay(db, delivery)
    flash(f"Delivery {delivery_id} is queued to be processed again.")
    return redirect(url_for("admin.deliveries"))


@bp.get("/mail")
def mail() -> str:
    status = _filter("status", MailStatus)
    offset = _offset()
    rows, more = reads.mail_messages(request_session(), organizer_id(), LISTED_ROWS, offset, status)
    outbox = None if current_settings().smtp_url else current_settings().outbox_dir
    files = {
        row.id
        for row in rows
        if outbox is not None and outbox_path(outbox, row.message_id).is_file()
    }
    return _page(
        "admin/mail.html",
        messages=[serializers.mail_message(row) for row in rows],
        more=more,
        offset=offset,
        status=status,
        statuses=list(MailStatus),
        resendable=sending.RESENDABLE,
        files=files,
    )


@bp.post("/mail/<int:message_id>/resend")
def resend_mail(message_id: int) -> Redirect:
    db = request_session()
    message = owned(db, MailMessage, message_id)
    if sending.resend(db, message):
        flash(f"Message {message_id} to {message.recipient} will be sent again shortly.")
    else:
        flash(f"Message {message_id} is {message.status}: only failed or uncertain mail is resent.")
    return redirect(url_for("admin.mail"))


@bp.get("/mail/<int:message_id>.eml")
def mail_file(message_id: int) -> Response:
    """The message as the outbox wrote it, for a mail program to open."""
    message = owned(request_session(), MailMessage, message_id)
    settings = current_settings()
    path = outbox_path(settings.outbox_dir, message.message_id)
    if settings.smtp_url or not path.is_file():
        raise NotFound("This message was not written to the outbox directory.")
    return send_file(
        path, mimetype="message/rfc822", as_attachment=True, download_name=f"{message_id}.eml"
    )


@bp.app_template_filter("organizer_time")
def organizer_time(iso_time: str | None, organizer: Organizer, time_only: bool = False) -> str:
    """An API timestamp as the organizer reads it, in their time zone: "Thu 26 Nov 2026,
    08:30", or "08:30" alone."""
    if not iso_time:
        return "—"
    local = datetime.fromisoformat(iso_time).astimezone(organizer_zone(organizer))
    return f"{local:%H:%M}" if time_only else f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def _offset() -> int:
    """Where a list page starts: a whole number of rows from the newest, 0 by default."""
    raw = request.args.get("offset", "0")
    if not raw.isdigit():
        raise PageError(400, "Unknown page", "offset must be a whole number of rows, 0 or more.")
    return int(raw)


def _filter(name: str, choices: type[StrEnum]) -> str | None:
    """A list page's filter from the query string; an unknown value is a clear 400."""
    value = request.args.get(name) or None
    if value is not None and value not in set(choices):
        raise PageError(400, "Unknown filter", f"{name} must be one of {', '.join(choices)}.")
    return value


def _page(template: str, **context: Any) -> str:
    organizer = request_session().get_one(Organizer, organizer_id())
    return render_template(
        template,
        organizer=organizer,
        csrf_token=_csrf_token(),
        page_size=LISTED_ROWS,
        **context,
    )


def _login_page(email: str, error: str | None) -> str:
    next_page = request.values.get("next", "")
    return render_template(
        "admin/login.html",
        organizer=None,
        csrf_token=_csrf_token(),
        email=email,
        error=error,
        next=next_page if _is_admin_path(next_page) else "",
    )


def _csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def _csrf_ok(sent: str) -> bool:
    expected = session.get(CSRF_KEY)
    return isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())


def _next_page(wanted: str) -> str:
    """Where to go after signing in: the admin page asked for, never another site."""
    return wanted if _is_admin_path(wanted) else url_for("admin.overview")


def _is_admin_path(path: str) -> bool:
    return path.startswith("/admin/") and "\\" not in path
