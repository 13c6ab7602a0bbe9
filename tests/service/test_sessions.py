"""Cookie sessions: none on webhook paths, Flask's own everywhere else."""

from __future__ import annotations

import pytest
from flask import session
from flask.sessions import NullSession, SecureCookieSession

from tests.conftest import running_app
from tests.support import signed_headers, standard_body


def test_webhook_requests_get_the_null_session(app):
    with app.test_request_context("/hooks/standard/some-key", method="POST"):
        assert isinstance(session._get_current_object(), NullSession)
        assert "user" not in session
        with pytest.raises(RuntimeError):
            session["user"] = 1


def test_other_paths_keep_cookie_sessions(app):
    with app.test_request_context("/api/v1/groups"):
        assert isinstance(session._get_current_object(), SecureCookieSession)


def test_a_page_session_round_trips_but_a_webhook_never_sets_a_cookie(settings_overrides, tenant):
    with running_app(settings_overrides) as fresh:

        @fresh.get("/session-probe")
        def probe() -> dict[str, int]:
            session["visits"] = session.get("visits", 0) + 1
            return {"visits": session["visits"]}

        client = fresh.test_client()
        assert client.get("/session-probe").json == {"visits": 1}
        assert client.get("/session-probe").json == {"visits": 2}

        body = standard_body()
        hook = client.post(
            tenant.webhook_path, data=body, headers=signed_headers(tenant.signing_secret, body)
        )
        assert hook.status_code == 202
        assert "Set-Cookie" not in hook.headers
        assert client.get("/session-probe").json == {"visits": 3}
