"""`GET /api/v1/openapi.json`: the API's own description, served without a token."""

from __future__ import annotations

from flask import Response, jsonify

from service.openapi import OPENAPI_SPEC
from service.views.api.common import bp


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI_SPEC)
