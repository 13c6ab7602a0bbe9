"""JSON shapes of the API's objects, one function per object, shared by every view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.config import Settings
from service.group_settings import effective_settings, settings_json
from service.imports import PLATFORM as IMPORT_PLATFORM
from service.models import Attendance, Delivery, Gathering, Group, Integration
from service.platforms import DeliveryStats, webhook_url


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def gathering(row: Gathering, checked_in: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "group": {"id": row.group.id, "name": row.group.name} if row.group else None,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "checked_in": checked_in,
        "settings": row.settings,
    }


def attendance(row: Attendance) -> dict[str, Any]:
    person = row.person
    return {
        "person": {
            "id": person.id,
            "name": person.name,
            "email": person.email,
            "company": person.company,
        },
        "status": attendance_status(row),
        "registered_at": iso(row.registered_at),
        "checked_in_at": iso(row.checked_in_at),
        "checked_out_at": iso(row.checked_out_at),
        "source": row.source,
    }


def attendance_status(row: Attendance) -> str:
    """One word for where the person stands: registered, checked_in, checked_out or reverted."""
    if row.checked_in_at is not None:
        return "checked_out" if row.checked_out_at is not None else "checked_in"
    if row.reverted_at is not None:
        return "reverted"
    return "registered"


def delivery(row: Delivery, platform: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "integration_id": row.integration_id,
        "platform": platform,
        "external_id": row.external_id,
        "event_type": row.event_type,
        "status": row.status,
        "reason": row.reason,
        "summary": row.summary,
        "attempts": row.attempts,
        "received_at": iso(row.received_at),
        "processed_at": iso(row.processed_at),
    }


def integration(row: Integration, stats: DeliveryStats, settings: Settings) -> dict[str, Any]:
    """An integration's status for its organizer; secrets and credentials never leave."""
    return {
        "id": row.id,
        "platform": row.platform,
        # Imports arrive through the API, not a webhook: there is no URL to give anyone.
        "webhook_url": None if row.platform == IMPORT_PLATFORM else webhook_url(settings, row),
        "settings": row.settings,
        "has_credentials": bool(row.credentials_encrypted),
        "credentials_invalid": row.credentials_invalid_at is not None,
        "credentials_invalid_at": iso(row.credentials_invalid_at),
        "last_error": row.last_error,
        "last_error_at": iso(row.last_error_at),
        "last_delivery_at": iso(stats.last_delivery_at),
        "deliveries": stats.counts,
        "created_at": iso(row.created_at),
    }


def group(row: Group, gatherings: int) -> dict[str, Any]:
    """A group with the settings its organizer changed and the ones scoring will use."""
    return {
        "id": row.id,
        "name": row.name,
        "format": row.format,
        "structure": row.structure,
        "gatherings": gatherings,
        "settings": row.settings,
        "effective_settings": settings_json(effective_settings(row)),
    }
