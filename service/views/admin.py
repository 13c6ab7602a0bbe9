"""The organizer's admin pages (`/admin/`): each group's health, each gathering's size score
and every member's standing, each with the sentences that explain it.

An organizer's user signs in with their email and password (the login `create-organizer`
made); the signed-cookie session then carries the user's id. Every request checks that the
user still exists, so deleting a login ends its sessions. Every form carries the session's
token, so another site cannot post one on the user's behalf. The pages read through
`service.reads`, the same queries as the JSON API, so both always show the same figures.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select
from werkzeug import Response as Redirect
from werkzeug.security import check_password_hash, generate_password_hash

from service import reads
from service.auth import organizer_id
from service.db import request_session
from service.errors import ApiError
from service.models import Delivery, Gathering, Group, Integration, Organizer, User
from service.views.api.common import owned
from service.views.pages import PageError, answer_as_pages

bp = Blueprint("admin", __name__, url_prefix="/admin")
answer_as_pages(bp, "an admin page")

USER_KEY = "admin_user_id"
CSRF_KEY = "csrf_token"
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.sign_in"})
LATEST_GATHERINGS = 20
GROUP_GATHERINGS = 50
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
    deliveries = db.execute(
        select(Delivery.status, func.count())
        .join(Integration, Integration.id == Delivery.integration_id)
        .where(Integration.organizer_id == organizer_id())
        .group_by(Delivery.status)
        .order_by(Delivery.status)
    ).all()
    return _page(
        "admin/overview.html",
        groups=reads.groups(db, organizer_id()),
        gatherings=latest,
        deliveries=[(status, count) for status, count in deliveries],
    )


@bp.get("/groups/<int:group_id>")
def group(group_id: int) -> str:
    db = request_session()
    row = owned(db, Group, group_id)
    gatherings, _ = reads.gatherings(db, organizer_id(), GROUP_GATHERINGS, 0, row.id)
    return _page(
        "admin/group.html",
        group=reads.group(db, row),
        members=reads.members(db, row),
        gatherings=gatherings,
    )


@bp.get("/gatherings/<int:gathering_id>")
def gathering(gathering_id: int) -> str:
    db = request_session()
    return _page(
        "admin/gathering.html", gathering=reads.gathering(db, owned(db, Gathering, gathering_id))
    )


def _page(template: str, **context: Any) -> str:
    organizer = request_session().get_one(Organizer, organizer_id())
    return render_template(template, organizer=organizer, csrf_token=_csrf_token(), **context)


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
    return path.startswith("/admin/") and not path.startswith("//") and "\\" not in path
