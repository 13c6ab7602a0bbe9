"""`POST /hooks/<platform>/<key>`: verify, store, enqueue, answer. Nothing else happens here.

Webhook POSTs are answered by `WebhookReceiver`, a WSGI application in front of Flask: a
webhook needs none of Flask's request context, URL map, session, signals or teardown, which
cost as much CPU as verifying and storing the delivery (BENCHMARKS.md). It answers exactly as
Flask would: the same JSON bodies from the app's JSON provider, the same error bodies from
`service.errors.response_for`, the same 413 over `MAX_CONTENT_LENGTH`. Every other request,
including other methods on these URLs, goes on to Flask, whose URL map keeps the rule for its
405 and OPTIONS answers and for the API description.

Storing and enqueueing happen together in `service.inbox.receive`, through the process's
delivery writer, so that the 2xx is only given once both are done.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream, get_path_info

from integrations.base import LowerCaseHeaders
from service import inbox
from service.context import KEYRING_KEY, SETTINGS_KEY
from service.delivery_writer import delivery_writer_for
from service.errors import ApiError, response_for
from service.inbox import Receipt
from service.ingest_sql import UNAVAILABLE

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

bp = Blueprint("hooks", __name__)
# No view: `WebhookReceiver` answers every POST before Flask sees it. The rule is in Flask's
# URL map so that other methods get Flask's 405 and OPTIONS answers.
bp.add_url_rule("/hooks/<platform>/<key>", endpoint="receive_webhook", methods=["POST"])

STATUS_BY_RECEIPT = {
    Receipt.ACCEPTED: 202,
    Receipt.DUPLICATE: 200,
    Receipt.IGNORED: 200,
    Receipt.HANDSHAKE: 200,
}
# Werkzeug's status lines for the answers given here.
STATUS_LINES = {status: f"{status} {HTTP_STATUS_CODES[status].upper()}" for status in (200, 202)}
# Request headers that the WSGI environ carries without the `HTTP_` prefix.
CONTENT_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


class WebhookReceiver:
    """Answers `POST /hooks/<platform>/<key>`; hands every other request to `flask_app`."""

    def __init__(self, app: Flask, flask_app: WSGIApplication) -> None:
        self._flask_app = flask_app
        self._json = app.json
        self._writer = delivery_writer_for(app)
        self._keyring = app.extensions[KEYRING_KEY]
        self._tolerance_seconds = app.extensions[SETTINGS_KEY].webhook_tolerance_seconds
        self._max_bytes: int | None = app.config["MAX_CONTENT_LENGTH"]
        self._dump_args = _response_layout(app)
        self._content_type = ("Content-Type", getattr(app.json, "mimetype", "application/json"))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = _webhook_route(environ)
        if route is None:
            return self._flask_app(environ, start_response)
        try:
            status, answer = self._receive(environ, *route)
        except Exception as err:
            return response_for(err, self._json)(environ, start_response)
        # The body `jsonify` would give, without building a response object for it.
        data = f"{self._json.dumps(answer, **self._dump_args)}\n".encode()
        headers = [self._content_type, ("Content-Length", str(len(data)))]
        start_response(STATUS_LINES[status], headers)
        return [data]

    def _receive(self, environ: WSGIEnvironment, platform: str, key: str) -> tuple[int, Any]:
        """The status and JSON body of the answer to a delivery; raises for a refusal."""
        body = get_input_stream(environ, max_content_length=self._max_bytes).read()
        try:
            result = inbox.receive(
                self._writer,
                self._keyring,
                platform,
                key,
                body,
                request_headers(environ),
                self._tolerance_seconds,
            )
        except UNAVAILABLE as err:
            # Not stored, so not acknowledged: the platform's retry will bring it back.
            raise ApiError(
                "storage_unavailable", "the delivery could not be stored; retry"
            ) from err

        if result.receipt is Receipt.HANDSHAKE:
            return 200, result.answer
        answer: dict[str, object] = {"status": result.receipt.value}
        if result.delivery_id is not None:
            answer["delivery"] = result.delivery_id
        if result.receipt is Receipt.IGNORED:
            answer["reason"] = "ignored"
            answer["detail"] = f"event type {result.event_type!r} is not handled"
        return STATUS_BY_RECEIPT[result.receipt], answer


def _response_layout(app: Flask) -> dict[str, Any]:
    """How Flask's JSON provider lays out a response body (`DefaultJSONProvider.response`):
    indented when debugging, compact otherwise."""
    compact = getattr(app.json, "compact", None)
    if (compact is None and app.debug) or compact is False:
        return {"indent": 2}
    return {"separators": (",", ":")}


def _webhook_route(environ: WSGIEnvironment) -> tuple[str, str] | None:
    """(platform, key) of a POST that Flask's rule would route to the webhook, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    parts = get_path_info(environ).split("/")
    if len(parts) != 4 or parts[0] or parts[1] != "hooks" or not (parts[2] and parts[3]):
        return None
    return parts[2], parts[3]


def request_headers(environ: WSGIEnvironment) -> LowerCaseHeaders:
    """The request's headers, named in lower case, as werkzeug reads them from the environ."""
    headers = LowerCaseHeaders()
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                headers[name[5:].replace("_", "-").lower()] = value
        elif name in CONTENT_HEADERS and value:
            headers[CONTENT_HEADERS[name]] = value
    return headers


def install_webhook_receiver(app: Flask) -> None:
    """Put the webhook receiver in front of the app's Flask request handling."""
    app.wsgi_app = WebhookReceiver(app, app.wsgi_app)  # type: ignore[method-assign]
