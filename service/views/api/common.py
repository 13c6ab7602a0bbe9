"""What every API module shares: the blueprint, authentication, ownership checks, paging."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from service.auth import authenticate_request, organizer_id
from service.errors import ApiError
from service.models import Base

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ModelT = TypeVar("ModelT", bound=Base)

MAX_PAGE = 200
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticate_request()


def owned(session: Session, model: type[ModelT], object_id: int) -> ModelT:
    """The organizer's object with this id, or 404 (also when it is another organizer's)."""
    row = session.get(model, object_id)
    if row is None or getattr(row, "organizer_id", None) != organizer_id():
        raise ApiError("not_found", f"no {model.__tablename__} with id {object_id}")
    return row


def page() -> tuple[int, int]:
    """`limit` and `offset` from the query string, validated."""
    limit = int_arg("limit", request.args.get("limit", "50"))
    offset = int_arg("offset", request.args.get("offset", "0"))
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ApiError("invalid_parameter", f"limit must be 1..{MAX_PAGE} and offset ≥ 0")
    return limit, offset


def int_arg(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as err:
        raise ApiError("invalid_parameter", f"{name} must be a whole number") from err


def page_response(
    name: str, items: list[dict[str, Any]], limit: int, offset: int, more: bool
) -> Response:
    return jsonify({name: items, "next_offset": offset + limit if more else None})


def json_object() -> dict[str, Any]:
    """The request's JSON object body, or 400 saying what is wrong with it."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError("malformed_json", "send a JSON object with Content-Type: application/json")
    return payload
