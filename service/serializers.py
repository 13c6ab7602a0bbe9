"""JSON shapes of the API's objects, one function per object, shared by every view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from service.config import Settings
from service.group_settings import effective_settings, settings_json
from service.imports import PLATFORM as IMPORT_PLATFORM
from service.models import (
    Attendance,
    Connection,
    Delivery,
    Gathering,
    GatheringScoreSnapshot,
    Group,
    GroupHealthSnapshot,
    Integration,
    MailMessage,
    MemberStandingSnapshot,
    OutboundAttempt,
    OutboundEndpoint,
    OutboundMessage,
    Outcome,
    Person,
    Suppression,
)
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


def person(row: Person) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "email": row.email, "company": row.company}


def attendance(row: Attendance, figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """One attendance; `figures` are the person's scores at the gathering, once computed."""
    return {
        "person": person(row.person),
        "figures": figures,
        "status": attendance_status(row),
        "registered_at": iso(row.registered_at),
        "checked_in_at": iso(row.checked_in_at),
        "checked_out_at": iso(row.checked_out_at),
        "source": row.source,
    }


def connection(row: Connection, both_checked_in: bool) -> dict[str, Any]:
    """A connection; it counts when it is confirmed and both people are checked in."""
    reported = [
        (row.person_low_id, row.reported_by_low),
        (row.person_high_id, row.reported_by_high),
    ]
    return {
        "id": row.id,
        "gathering": row.gathering_id,
        "people": [person(row.person_low), person(row.person_high)],
        "source": row.source,
        "reported_by": [person_id for person_id, did in reported if did],
        "confirmed": row.confirmed,
        "both_checked_in": both_checked_in,
        "created_at": iso(row.created_at),
        "followed_up_at": iso(row.followed_up_at),
    }


def outcome(row: Outcome) -> dict[str, Any]:
    return {
        "id": row.id,
        "person": person(row.person),
        "group": row.group_id,
        "gathering": row.gathering_id,
        "counterpart": person(row.counterpart) if row.counterpart else None,
        "kind": row.kind,
        # A decimal string, so no client reads 0.1 + 0.2 into an amount.
        "value": str(row.value) if row.value is not None else None,
        "source": row.source,
        "key": row.key,
        "reported_at": iso(row.reported_at),
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


def group(
    row: Group, gatherings: int, health_row: GroupHealthSnapshot | None = None
) -> dict[str, Any]:
    """A group with its health and settings: those its organizer changed and those in force."""
    return {
        "health": health(health_row),
        "id": row.id,
        "name": row.name,
        "format": row.format,
        "structure": row.structure,
        "gatherings": gatherings,
        "settings": row.settings,
        "effective_settings": settings_json(effective_settings(row)),
        "attendee_recaps": row.attendee_recaps,
    }


def score(row: GatheringScoreSnapshot | None) -> dict[str, Any] | None:
    """A gathering's size score with its factors, band and actions; None until computed."""
    if row is None:
        return None
    data = row.data
    return {
        "value": row.value,
        "head_count": data["head_count"],
        "peak": data["peak"],
        "hours": data["hours"],
        "explanation": data["sentence"],
        "factors": data["factors"],
        "recommended_band": data["band"],
        "acoustic_capacity": data["acoustic_capacity"],
        "actions": data["actions"],
        "model_version": row.model_version,
        "computed_at": iso(row.computed_at),
    }


def health(row: GroupHealthSnapshot | None) -> dict[str, Any] | None:
    """A group's health with its components and weights; None until computed."""
    if row is None:
        return None
    return {
        "value": row.value,
        "explanation": row.data["summary"],
        "factors": row.data["factors"],
        "weights": row.data["weights"],
        "model_version": row.model_version,
        "computed_at": iso(row.computed_at),
    }


def standing(row: MemberStandingSnapshot) -> dict[str, Any]:
    """Stay / give it time / time to move on, with the rule that fired and its numbers."""
    return {
        "standing": row.standing,
        "label": row.data["label"],
        "estimated": row.estimated,
        "rule": row.data["rule"],
        "reasons": row.data["sentences"],
        "numbers": row.data["numbers"],
        "attended": row.data["attended"],
        "attendance_rate": row.data["attendance_rate"],
        "changed_at": iso(row.changed_at),
        "model_version": row.model_version,
    }


def member(person_row: Person, row: MemberStandingSnapshot) -> dict[str, Any]:
    return {"person": person(person_row), **standing(row)}


def endpoint(row: OutboundEndpoint) -> dict[str, Any]:
    """An outbound webhook endpoint; its secret is shown once, when it is created."""
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": iso(row.created_at),
    }


def outbound_message(row: OutboundMessage, attempts: list[OutboundAttempt]) -> dict[str, Any]:
    """A message sent (or to be sent) to an endpoint, with every attempt, oldest first."""
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "event_type": row.event_type,
        "event_key": row.event_key,
        "webhook_id": row.webhook_id,
        "payload": row.payload,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "delivered_at": iso(row.delivered_at),
        "history": [outbound_attempt(attempt) for attempt in attempts],
    }


def outbound_attempt(row: OutboundAttempt) -> dict[str, Any]:
    return {
        "attempted_at": iso(row.attempted_at),
        "status_code": row.status_code,
        "error": row.error,
        "duration_ms": row.duration_ms,
    }


def suppression(row: Suppression) -> dict[str, Any]:
    return {
        "email": row.email_normalized,
        "reason": row.reason,
        "detail": row.detail,
        "created_at": iso(row.created_at),
    }


def mail_message(row: MailMessage) -> dict[str, Any]:
    """A row of the mail ledger: one message to one recipient about one gathering or week."""
    return {
        "id": row.id,
        "kind": row.kind,
        "recipient": row.recipient,
        "subject_key": row.subject_key,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "due_at": iso(row.due_at),
        "sent_at": iso(row.sent_at),
        "created_at": iso(row.created_at),
    }
