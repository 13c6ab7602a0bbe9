"""Connected platforms: their status, and the settings an organizer may change."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from sqlalchemy import select

from service import platforms, serializers
from service.auth import organizer_id
from service.context import current_settings, secret_box
from service.db import request_session
from service.errors import ApiError
from service.models import Integration
from service.views.api.common import bp, json_object, owned

# What `PATCH /integrations/<id>` accepts: plain settings, and credentials kept encrypted.
SETTING_FIELDS = frozenset({"group_rules", "api_url", "organizer", "event", "organization"})
CREDENTIAL_FIELDS = frozenset({"api_token"})


@bp.get("/integrations")
def list_integrations() -> Response:
    session = request_session()
    rows = session.scalars(
        select(Integration)
        .where(Integration.organizer_id == organizer_id())
        .order_by(Integration.id)
    ).all()
    stats = platforms.delivery_stats(session, [row.id for row in rows])
    return jsonify(
        {
            "integrations": [
                serializers.integration(row, stats[row.id], current_settings()) for row in rows
            ]
        }
    )


@bp.get("/integrations/<int:integration_id>")
def show_integration(integration_id: int) -> Response:
    session = request_session()
    integration = owned(session, Integration, integration_id)
    stats = platforms.delivery_stats(session, [integration.id])[integration.id]
    return jsonify(serializers.integration(integration, stats, current_settings()))


@bp.patch("/integrations/<int:integration_id>")
def update_integration(integration_id: int) -> Response:
    """Change group rules, API settings or credentials (new credentials clear the invalid flag)."""
    session = request_session()
    integration = owned(session, Integration, integration_id)
    payload = json_object()
    unknown = set(payload) - SETTING_FIELDS - CREDENTIAL_FIELDS
    if unknown:
        raise ApiError("invalid_parameter", f"unknown fields: {', '.join(sorted(unknown))}")
    settings_part: dict[str, Any] = {k: v for k, v in payload.items() if k in SETTING_FIELDS}
    credentials_part = {k: v for k, v in payload.items() if k in CREDENTIAL_FIELDS}
    for name, value in {**credentials_part, **_plain(settings_part)}.items():
        if not isinstance(value, str) or not value or len(value) > 500:
            raise ApiError("invalid_parameter", f"{name} must be a non-empty string")
    try:
        platforms.update_integration(
            session,
            secret_box(),
            integration,
            platform_settings=settings_part,
            credentials=credentials_part,
        )
    except platforms.IntegrationError as err:
        raise ApiError("invalid_parameter", str(err)) from err
    session.commit()
    return show_integration(integration_id)


def _plain(settings_part: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings_part.items() if k != "group_rules"}
