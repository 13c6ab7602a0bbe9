"""Error reasons and their HTTP status codes, in one place.

Views raise `ApiError(reason, detail)`; the handlers registered here turn it, and every
werkzeug HTTP error, into a JSON body with a machine-readable `reason`. Nothing reaches a client
as an HTML error page or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from flask import Flask, Response
from flask.json.provider import JSONProvider
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

STATUS_BY_REASON: dict[str, int] = {
    # 400: the request is authentic but cannot be understood.
    "malformed_json": 400,
    "malformed_payload": 400,
    "invalid_parameter": 400,
    "empty_body": 400,
    "wrong_content_type": 400,
    "invalid_rows": 400,
    "forbidden_address": 400,
    # 401: not provably from who it claims to be.
    "missing_signature": 401,
    "bad_signature": 401,
    "bad_timestamp": 401,
    "stale_timestamp": 401,
    "future_timestamp": 401,
    "missing_token": 401,
    "bad_token": 401,
    # 404: nothing there, or not yours (the two are never distinguished).
    "unknown_integration": 404,
    "not_found": 404,
    # 409: the request conflicts with the stored state.
    "conflict": 409,
    # 413: the body is over the configured limit.
    "payload_too_large": 413,
    # 503: cannot store now; the sender should retry.
    "storage_unavailable": 503,
}


class ApiError(Exception):
    """An error with a reason slug; its HTTP status comes from `STATUS_BY_REASON`.

    `extra` adds fields to the body that a client needs to act on, e.g. a list of row errors.
    """

    def __init__(
        self, reason: str, detail: str = "", extra: Mapping[str, Any] | None = None
    ) -> None:
        if reason not in STATUS_BY_REASON:
            raise ValueError(f"unknown error reason {reason!r}")
        self.reason = reason
        self.detail = detail
        self.extra = dict(extra or {})
        super().__init__(detail or reason)

    @property
    def status(self) -> int:
        return STATUS_BY_REASON[self.reason]


def error_response(
    json: JSONProvider,
    reason: str,
    detail: str,
    status: int,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The JSON body every error gets, with `Retry-After` when the client should come back."""
    body: dict[str, Any] = {**(extra or {}), "status": "error", "reason": reason}
    if detail:
        body["detail"] = detail
    response = json_response(json, body, status)
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def json_response(json: JSONProvider, body: Any, status: int = 200) -> Response:
    """`body` as the app's JSON provider answers it (what `jsonify` returns), with `status`."""
    # Typed as werkzeug's sans-IO response; Flask's providers make the app's `response_class`.
    response = cast(Response, json.response(body))
    response.status_code = status
    return response


def response_for(err: Exception, json: JSONProvider) -> Response:
    """The answer to an exception raised while handling a request.

    Shared by Flask's error handlers and the webhook receiver in front of Flask
    (`service.views.hooks`), so that both answer every failure alike.
    """
    if isinstance(err, ApiError):
        return error_response(json, err.reason, err.detail, err.status, err.extra)
    if isinstance(err, HTTPException):
        status = err.code or 500
        reason = {413: "payload_too_large", 404: "not_found"}.get(status)
        reason = reason or (err.name or "error").lower().replace(" ", "_")
        return error_response(json, reason, err.description or "", status)
    log.error("unhandled error", exc_info=err)
    return error_response(json, "internal_error", "", 500)


def register_error_handlers(app: Flask) -> None:
    # One handler for every exception (HTTP errors and `ApiError` included): `response_for`
    # tells them apart.
    @app.errorhandler(Exception)
    def _error(err: Exception) -> Response:
        return response_for(err, app.json)
