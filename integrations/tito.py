"""`tito`: classic Tito (ti.to) webhooks: check-ins, deleted check-ins and registrations.

Tito signs every request with the event's security token, which the organizer copies from
Tito's webhook settings into Roomwise: `Tito-Signature` is the base64 HMAC-SHA256 of the raw
body. Nothing else is signed. There is no timestamp, so no replay window: a replayed delivery
is caught by the inbox's dedupe on `delivery_id`. The trigger name travels in the
`X-Webhook-Name` header, outside the signature: the worker re-parses with that header as
stored, and a captured body re-sent under another trigger would verify (Tito signs nothing
that could prevent it). Sources: https://github.com/teamtito/api-docs
(`source/includes/admin_api/3.1/_webhooks.md.erb`, `data/webhooks.json`,
`data/3.0/registrations/webhook_payload.json`) and
https://help.tito.io/en/articles/2011381-webhooks (`checkin.deleted`).

A Tito event is a gathering; Tito has no series, so gatherings carry no platform group and the
organizer's name-prefix rules group them. The attendee is the ticket (its `slug`): check-in
payloads are the ticket's fields plus the check-in's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from integrations import fields
from integrations.base import (
    Adapter,
    AttendeeRef,
    EventKind,
    GatheringRef,
    MalformedPayload,
    NormalizedEvent,
    SecretSource,
    VerificationError,
    load_json_object,
    lower_keys,
    parse_timestamp,
)

SIGNATURE_HEADER = "tito-signature"
NAME_HEADER = "x-webhook-name"


class TitoEvent(TypedDict):
    slug: str
    title: str


class TitoTicket(TypedDict):
    """A ticket as `ticket.*` sends it, and as each of a registration's `tickets`."""

    slug: str
    reference: str
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    company_name: str | None
    created_at: NotRequired[str]
    updated_at: NotRequired[str]
    event: NotRequired[TitoEvent]


class TitoCheckin(TitoTicket):
    """`checkin.*`: the ticket's fields plus the check-in's."""

    checked_in: bool
    checked_in_at: str | None
    checkin_uuid: str
    deleted_at: NotRequired[str | None]


class TitoRegistration(TypedDict):
    """`registration.*`; its times read like `2022-03-26 07:36:07 UTC`."""

    slug: str
    created_at: str
    completed_at: str | None
    updated_at: str
    tickets: list[TitoTicket]
    event: TitoEvent


# Triggers: https://github.com/teamtito/api-docs/blob/master/data/webhooks.json, and
# `checkin.deleted` from https://help.tito.io/en/articles/2011381-webhooks. The others
# (`registration.started`, `.filling`, `.cancelled`, `ticket.voided`) are UNKNOWN: before
# `finished` nobody is registered yet, and Roomwise has no kind for a cancelled registration.
KIND_BY_ACTION = {
    "checkin.created": EventKind.CHECKED_IN,
    "checkin.deleted": EventKind.CHECKIN_REVERTED,
    "ticket.created": EventKind.REGISTERED,
    "ticket.completed": EventKind.REGISTERED,
    "ticket.reassigned": EventKind.REGISTERED,
    "ticket.updated": EventKind.REGISTERED,
    "ticket.unsnoozed": EventKind.REGISTERED,
    "ticket.unvoided": EventKind.REGISTERED,
    "registration.updated": EventKind.REGISTERED,
    "registration.finished": EventKind.REGISTERED,
    "registration.completed": EventKind.REGISTERED,
}

# When a ticket or registration counts as registered: the first of these it carries. Tickets
# carry only `updated_at` in Tito's example; attendance keeps the earliest registration anyway.
REGISTERED_AT_FIELDS = ("completed_at", "created_at", "updated_at")


class TitoAdapter(Adapter):
    """Tito's signed webhooks; the secret is the event's security token, pasted by the organizer."""

    platform = "tito"
    secret_source = SecretSource.PLATFORM

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise VerificationError("bad_signature", "this integration has no Tito security token")
        offered = lower_keys(headers).get(SIGNATURE_HEADER, "").strip().encode()
        if not offered:
            raise VerificationError("missing_signature", "the Tito-Signature header is required")
        if not any(hmac.compare_digest(_signature(secret, body), offered) for secret in secrets):
            raise VerificationError(
                "bad_signature", "Tito-Signature matches no current security token"
            )

    def sign(self, body: bytes, secret: str, webhook_name: str) -> dict[str, str]:
        """The headers Tito sends with `body` for the trigger `webhook_name` (for tests)."""
        return {
            "Tito-Signature": _signature(secret, body).decode(),
            "X-Webhook-Name": webhook_name,
            "Content-Type": "application/json",
        }

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        action = _webhook_name(headers)
        payload = load_json_object(body)
        kind = KIND_BY_ACTION.get(action, EventKind.UNKNOWN)
        if kind is EventKind.UNKNOWN:
            events = []
        elif kind is EventKind.REGISTERED:
            events = _registrations(action, payload)
        else:
            events = [_checkin(kind, action, payload)]
        return events or [
            NormalizedEvent(kind=EventKind.UNKNOWN, platform_type=action, raw=payload)
        ]

    def delivery_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        """`<trigger>:<checkin_uuid>` for check-ins, `<trigger>:<slug>:<updated_at>` for
        tickets and registrations; a hash of the body when those fields are missing.

        Tito sends no delivery id; `checkin_uuid` is the documented id of a check-in. The
        trigger is part of the id because a check-in's creation and deletion share the uuid.
        """
        action = _webhook_name(headers)
        payload = load_json_object(body)
        names = ("checkin_uuid",) if action.startswith("checkin.") else ("slug", "updated_at")
        values = [value for name in names if isinstance(value := payload.get(name), str) and value]
        if len(values) == len(names):
            return ":".join([action, *values])
        return super().delivery_id(body, headers)

    def headers_to_keep(self, headers: Mapping[str, str]) -> dict[str, str]:
        # The worker parses the stored delivery again, and only this header names its trigger.
        kept = super().headers_to_keep(lower_keys(headers))
        kept[NAME_HEADER] = lower_keys(headers).get(NAME_HEADER, "")
        return kept


def _signature(secret: str, body: bytes) -> bytes:
    """Tito's signature: `Base64.encode64(OpenSSL::HMAC.digest('sha256', token, body)).strip`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def _webhook_name(headers: Mapping[str, str]) -> str:
    name = lower_keys(headers).get(NAME_HEADER)
    if not name:
        raise MalformedPayload(
            "malformed_payload", "the X-Webhook-Name header (Tito's trigger name) is required"
        )
    return fields.text(name, "the X-Webhook-Name header")


def _checkin(kind: EventKind, action: str, payload: dict[str, Any]) -> NormalizedEvent:
    """One check-in, or its deletion.

    A deletion is dated at the time of the check-in it deletes, not at `deleted_at`: a revert
    undoes the check-ins up to its time, so dating it at the deleted check-in undoes exactly
    that one (and any earlier) and never a genuine re-check-in scanned between the mistaken
    check-in and its deletion. `deleted_at` (a field of Tito's check-in API) dates it only when
    the payload no longer carries `checked_in_at`.
    """
    # Required although not part of the event: `delivery_id` names the check-in by it.
    fields.identifier(payload.get("checkin_uuid"), "checkin_uuid")
    at = payload.get("checked_in_at")
    field_name = "checked_in_at"
    if at is None and kind is EventKind.CHECKIN_REVERTED:
        at, field_name = payload.get("deleted_at"), "checked_in_at or deleted_at"
    return NormalizedEvent(
        kind=kind,
        platform_type=action,
        occurred_at=_time(at, field_name),
        gathering=_gathering(payload),
        attendee=_attendee(payload, ""),
        raw=payload,
    )


def _registrations(action: str, payload: dict[str, Any]) -> list[NormalizedEvent]:
    """One REGISTERED per assigned ticket of a `ticket.*` or `registration.*` payload."""
    if action.startswith("registration."):
        tickets = payload.get("tickets")
        if not isinstance(tickets, list):
            raise MalformedPayload("malformed_payload", "tickets must be a list")
        named = [
            (fields.json_object(t, f"tickets[{i}]"), f"tickets[{i}].")
            for i, t in enumerate(tickets)
        ]
    else:
        named = [(payload, "")]
    field_name = next((name for name in REGISTERED_AT_FIELDS if payload.get(name)), None)
    if field_name is None:
        raise MalformedPayload(
            "malformed_payload", f"one of {', '.join(REGISTERED_AT_FIELDS)} is required"
        )
    occurred_at = _time(payload[field_name], field_name)
    gathering = _gathering(payload)
    return [
        NormalizedEvent(
            kind=EventKind.REGISTERED,
            platform_type=action,
            occurred_at=occurred_at,
            gathering=gathering,
            attendee=attendee,
            raw=payload,
        )
        for ticket, prefix in named
        # A ticket that has neither a name nor an email is not assigned to anyone yet.
        if (attendee := _attendee(ticket, prefix)).email or attendee.name
    ]


def _gathering(payload: dict[str, Any]) -> GatheringRef:
    # `event.start_date` is a bare date without a time zone, so it does not date the gathering.
    event = fields.json_object(payload.get("event"), "event")
    slug = fields.identifier(event.get("slug"), "event.slug")
    return GatheringRef(
        external_id=slug, name=fields.text(event.get("title"), "event.title") or slug
    )


def _attendee(ticket: dict[str, Any], prefix: str) -> AttendeeRef:
    """The ticket's holder; the ticket's `slug` (or `reference`) is their id."""
    first = fields.text(ticket.get("first_name"), f"{prefix}first_name")
    last = fields.text(ticket.get("last_name"), f"{prefix}last_name")
    name = fields.text(ticket.get("name"), f"{prefix}name") or fields.text(
        f"{first} {last}".strip(), f"{prefix}first_name and {prefix}last_name"
    )
    return AttendeeRef(
        external_id=fields.identifier(
            ticket.get("slug") or ticket.get("reference"), f"{prefix}slug (or reference)"
        ),
        email=fields.text(ticket.get("email"), f"{prefix}email") or None,
        name=name,
        company=fields.text(ticket.get("company_name"), f"{prefix}company_name"),
    )


def _time(value: object, field_name: str) -> datetime:
    # Registration payloads write times as `2022-03-26 07:36:07 UTC`; the rest use ISO-8601.
    if isinstance(value, str):
        value = value.removesuffix(" UTC")
    return parse_timestamp(value, field_name)
