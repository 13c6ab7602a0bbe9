"""Flask's cookie sessions, opened only where a page can use one.

Webhook senders never carry a session cookie, and nothing on `/hooks/` reads or writes one, yet
Flask opens (and afterwards considers saving) a signed-cookie session for every request. On
those paths the session is Flask's null session instead: reading it finds nothing, writing to
it raises, and no cookie is ever set. Every other path keeps Flask's own sessions, so pages
that add a login or a flash message later get them without any change here.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

SESSIONLESS_PREFIXES = ("/hooks/",)


class PathSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions, except on paths under `SESSIONLESS_PREFIXES`."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            # None makes Flask use its null session and skip saving one.
            return None
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = PathSessionInterface()
