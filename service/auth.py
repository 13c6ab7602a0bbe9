"""Bearer-token authentication for the JSON API: a token resolves to exactly one organizer."""

from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from service.crypto import hash_token
from service.db import request_session
from service.errors import ApiError
from service.models import ApiToken


def authenticate_request() -> None:
    """Resolve the request's bearer token to `g.organizer_id`, or raise 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("missing_token", "send Authorization: Bearer <api token>")
    organizer_id = request_session().scalar(
        select(ApiToken.organizer_id).where(ApiToken.token_hash == hash_token(token.strip()))
    )
    if organizer_id is None:
        raise ApiError("bad_token", "the API token is not valid")
    g.organizer_id = organizer_id


def organizer_id() -> int:
    """The organizer the current API request acts for."""
    current: int = g.organizer_id
    return current
