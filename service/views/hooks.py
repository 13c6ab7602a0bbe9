"""`POST /hooks/<platform>/<key>`: verify, store, enqueue, answer. Nothing else happens here."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service import inbox
from service.context import current_settings, keyring
from service.db import ingest_engine_for
from service.errors import ApiError
from service.inbox import Receipt
from service.queue import PROCESS_DELIVERY, enqueue

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
            ingest_engine_for(current_app),
            keyring(),
            platform,
            key,
            body,
            dict(request.headers),
            current_settings().webhook_tolerance_seconds,
        )
    except (OperationalError, InterfaceError, PoolTimeoutError) as err:
        # Not stored, so not acknowledged: the platform's retry will bring it back.
        raise ApiError("storage_unavailable", "the delivery could not be stored; retry") from err

    if result.receipt is Receipt.HANDSHAKE:
        return jsonify(result.answer), 200
    if result.receipt is Receipt.ACCEPTED:
        enqueue(PROCESS_DELIVERY, result.delivery_id)
    answer: dict[str, object] = {"status": result.receipt.value}
    if result.delivery_id is not None:
        answer["delivery"] = result.delivery_id
    if result.receipt is Receipt.IGNORED:
        answer["reason"] = "ignored"
        answer["detail"] = f"event type {result.event_type!r} is not handled"
    return jsonify(answer), STATUS_BY_RECEIPT[result.receipt]
