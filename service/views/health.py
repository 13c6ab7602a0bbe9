"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from celery import Celery
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from service.db import request_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database and the broker both answer, so deliveries can be stored and queued."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(result == "ok" for result in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if not ready:
        body["reason"] = "not_ready"
    return jsonify(body), 200 if ready else 503


def _check_database() -> str:
    try:
        request_session().execute(text("SELECT 1"))
    except Exception as err:  # any failure means not ready; the message says which
        return f"error: {type(err).__name__}"
    return "ok"


def _check_broker() -> str:
    celery: Celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as err:  # any failure means not ready; the message says which
        return f"error: {type(err).__name__}"
    return "ok"
