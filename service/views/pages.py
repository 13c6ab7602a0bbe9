"""Pages people open from their email: an attendee's recap with its answers (`/me/<token>…`)
and one-click unsubscribe (`/u/<token>`).

There is no login and no session: the signed token in the URL is the credential (see
`service.mail.links`), and every form posts back to its own tokened URL. A GET never changes
anything, because link scanners and mail prefetchers follow GETs; an unsubscribe `POST` works
without cookies or a form token, as RFC 8058's one-click unsubscribe requires. Answers are
HTML pages, errors included, since people read them in a browser; the JSON error handling of
`/api` and `/hooks` is untouched.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug import Response as Redirect
from werkzeug.exceptions import HTTPException

from service import recaps
from service.connections import InvalidReport
from service.context import current_settings
from service.db import request_session
from service.mail.links import BadLink, LinkSigner
from service.mail.preferences import suppress
from service.models import MailMessage, Organizer

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

# The token is in the URL, so the page must not hand it on (Referer), be framed, or be cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

INVALID_LINK = "This link is invalid or has expired. Use the newest email you received."


class PageError(Exception):
    """A request the page cannot serve, answered with an HTML page saying why."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message
        super().__init__(message)


# --- recap pages -------------------------------------------------------------------------------


@bp.get("/me/<token>")
def show_recap(token: str) -> str:
    """The recap: the gathering, the person's standing and connections, the three answers."""
    session = request_session()
    recap = recap_for(token)
    return render_template(
        "pages/recap.html",
        recap=recap,
        when=local_time(recap.gathering.starts_at, recap.organizer),
        standing=recaps.standing(session, recap),
        connections=recaps.confirmed_connections(session, recap),
        left=recaps.has_left(session, recap),
        kinds=recaps.ANSWERABLE_OUTCOMES,
        token=token,
    )


@bp.get("/me/<token>/outcome")
def confirm_outcome(token: str) -> str:
    """The form behind "I got a lead / referral": which (preselected by `kind`), from whom
    (optional) and its value (optional)."""
    session = request_session()
    recap = recap_for(token)
    kind = request.args.get("kind", "")
    if kind and kind not in recaps.ANSWERABLE_OUTCOMES:
        bad_request("Choose whether it was a lead or a referral.")
    return render_template(
        "pages/outcome.html",
        recap=recap,
        kind=kind,
        kinds=recaps.ANSWERABLE_OUTCOMES,
        attendees=recaps.listed_attendees(session, recap),
        token=token,
    )


@bp.post("/me/<token>/outcome")
def report_outcome(token: str) -> str:
    session = request_session()
    recap = recap_for(token)
    counterpart = optional_id(request.form.get("counterpart", ""))
    value = request.form.get("value", "").strip() or None
    try:
        recorded = recaps.report_outcome(
            session, recap, request.form.get("kind", ""), counterpart, value
        )
    except (recaps.InvalidAnswer, InvalidReport) as err:
        bad_request(str(err))
    session.commit()
    outcome = recorded.row
    what = outcome.kind
    source = f" from {outcome.counterpart.name}" if outcome.counterpart is not None else ""
    if recorded.created:
        lines = [f"Your {what}{source} is recorded. It counts towards {recap.group_name}."]
    else:
        lines = [f"You told us about this {what}{source} already; it is counted once."]
    return message("Thank you", lines, token)


@bp.get("/me/<token>/talked")
def choose_talked(token: str) -> str:
    """Fellow attendees who agreed to be listed, to tick whom the person talked with."""
    session = request_session()
    recap = recap_for(token)
    return render_template(
        "pages/talked.html",
        recap=recap,
        attendees=recaps.listed_attendees(session, recap),
        token=token,
    )


@bp.post("/me/<token>/talked")
def report_talked(token: str) -> str:
    session = request_session()
    recap = recap_for(token)
    chosen = [required_id(value) for value in request.form.getlist("person")]
    try:
        recorded = recaps.report_talked_with(session, recap, chosen)
    except recaps.InvalidAnswer as err:
        bad_request(str(err))
    session.commit()
    confirmed = sum(row.row.confirmed for row in recorded)
    lines = [
        f"You told us you talked with {len(recorded)} "
        f"{'person' if len(recorded) == 1 else 'people'} at {recap.gathering.name}.",
        "A conversation counts once the other person says so too"
        + (f"; {confirmed} already did." if confirmed else "."),
    ]
    return message("Thank you", lines, token)


@bp.get("/me/<token>/leave")
def confirm_leave(token: str) -> str:
    recap = recap_for(token)
    return render_template("pages/leave.html", recap=recap, token=token)


@bp.post("/me/<token>/leave")
def leave_group(token: str) -> str:
    """ "This group is not for me": recaps from the group stop; the organizer can see it."""
    session = request_session()
    recap = recap_for(token)
    try:
        recaps.leave_group(session, recap)
    except recaps.InvalidAnswer as err:
        bad_request(str(err))
    session.commit()
    lines = [
        f"You will get no more recaps from {recap.group_name}.",
        "Thank you for letting the organizer know.",
    ]
    return message("You have left the group", lines, token)


@bp.post("/me/<token>/listing")
def set_listing(token: str) -> Redirect:
    """Switch whether fellow attendees may pick the person's name in "I talked with …"."""
    session = request_session()
    recap = recap_for(token)
    choice = request.form.get("listed", "")
    if choice not in ("on", "off"):
        bad_request("Choose whether to be listed: on or off.")
    recaps.set_listed(recap, choice == "on")
    session.commit()
    return redirect(url_for("pages.show_recap", token=token, _anchor="listing"), 303)


# --- unsubscribe -------------------------------------------------------------------------------


@bp.get("/u/<token>")
def confirm_unsubscribe(token: str) -> str:
    """Only a confirm page: a GET changes nothing."""
    _row, organizer = message_for(token)
    return render_template("pages/unsubscribe.html", organizer=organizer, token=token)


@bp.post("/u/<token>")
def unsubscribe(token: str) -> str:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the confirm page's button."""
    session = request_session()
    row, organizer = message_for(token)
    suppress(session, row.organizer_id, row.recipient, "unsubscribed")
    session.commit()
    return render_template("pages/unsubscribed.html", organizer=organizer)


# --- reading requests --------------------------------------------------------------------------


def signer() -> LinkSigner:
    settings = current_settings()
    return LinkSigner(settings.secret_key, settings.public_base_url)


def recap_for(token: str) -> recaps.Recap:
    try:
        link = signer().read_recap(token)
    except BadLink as err:
        raise PageError(404, "Link not valid", INVALID_LINK) from err
    recap = recaps.load_recap(request_session(), link)
    if recap is None:
        raise PageError(404, "Not found", "This gathering or this person no longer exists.")
    return recap


def message_for(token: str) -> tuple[MailMessage, Organizer]:
    try:
        link = signer().read_unsubscribe(token)
    except BadLink as err:
        raise PageError(404, "Link not valid", INVALID_LINK) from err
    session = request_session()
    row = session.get(MailMessage, link.message_id)
    organizer = session.get(Organizer, row.organizer_id) if row is not None else None
    if row is None or organizer is None:
        raise PageError(404, "Not found", "The email this link came in is no longer known.")
    return row, organizer


def optional_id(text: str) -> int | None:
    return required_id(text) if text.strip() else None


def required_id(text: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 18:
        bad_request("The form was not filled in as expected. Go back and try again.")
    return int(text)


def bad_request(detail: str) -> NoReturn:
    raise PageError(400, "That did not work", detail)


def local_time(moment: datetime | None, organizer: Organizer) -> str:
    """A gathering's start as its organizer's attendees read it, e.g. "Thursday 26 November
    2026, 08:30"."""
    if moment is None:
        return ""
    local = moment.astimezone(organizer_zone(organizer))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


def organizer_zone(organizer: Organizer) -> ZoneInfo:
    """The organizer's time zone; UTC if theirs is unknown to this system."""
    try:
        return ZoneInfo(organizer.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def message(title: str, lines: list[str], token: str) -> str:
    """A short answer to a recap form, with the way back to the recap."""
    return render_template(
        "pages/message.html",
        title=title,
        lines=lines,
        back=url_for("pages.show_recap", token=token),
    )


# --- answers on every page ---------------------------------------------------------------------


def answer_as_pages(blueprint: Blueprint, surface: str) -> None:
    """Give every answer of `blueprint` the security headers and HTML error pages: people read
    these surfaces in a browser. `surface` names it in the log of an unexpected error."""

    @blueprint.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @blueprint.errorhandler(PageError)
    def _page_error(err: PageError) -> tuple[str, int]:
        lines = [err.message]
        return render_template("pages/message.html", title=err.title, lines=lines), err.status

    @blueprint.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[str, int]:
        status = err.code or 500
        lines = [err.description or "This request could not be served."]
        return render_template("pages/message.html", title=err.name, lines=lines), status

    @blueprint.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[str, int]:
        log.exception("unhandled error on %s", surface)
        lines = ["Something went wrong on our side. Please try again in a few minutes."]
        return render_template("pages/message.html", title="Sorry", lines=lines), 500


answer_as_pages(bp, "an attendee page")
