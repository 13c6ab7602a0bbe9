"""`POST /hooks/<platform>/<key>`: verify, store, enqueue, answer. Nothing else happens here.

Storing and enqueueing happen together in `service.inbox.receive`, through the process's
delivery writer, so that the 2xx is only given once both are done.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from service import inbox
from service.context import current_settings, keyring
from service.delivery_writer import delivery_writer_for
from service.errors import ApiError
from service.inbox import Receipt
from service.ingest_sql import UNAVAILABLE

bp = Blueprint("hooks", __name__)

STATUS_BY_RECEIPT = {
    Receipt.ACCEPTED: 202,
    Receipt.DUPLICATE: 200,
    Receipt.IGNORED: 200,
    Receipt.HANDSHAKE: 200,
}


@bp.post("/hooks/<platform>/<key>")
def receive_webhook(platform: str, key: str) -> tuple[Response, int]:
    body = request.get_data(cache=False)
    try:
        result = inbox.receive(
            delivery_writer_for(current_app),
            keyring(),
            platform,
            key,
            body,
            dict(request.headers),
            current_settings().webhook_tolerance_seconds,
        )
    except UNAVAILABLE as err:
        # Not stored, so not acknowledged: the platform's retry will bring it back.
        raise ApiError("storage_unavailable", "the delivery could not be stored; retry") from err

    if result.receipt is Receipt.HANDSHAKE:
        return jsonify(result.answer), 200
    answer: dict[str, object] = {"status": result.receipt.value}
    if result.delivery_id is not None:
        answer["delivery"] = result.delivery_id
    if result.receipt is Receipt.IGNORED:
        answer["reason"] = "ignored"
        answer["detail"] = f"event type {result.event_type!r} is not handled"
    return jsonify(answer), STATUS_BY_RECEIPT[result.receipt]
