"""`luma`: Luma (lu.ma) guest webhooks: registrations, and check-ins per ticket.

Authentication is the webhook URL's secret key, nothing else. Luma gives each webhook a
`secret`, but documents no signing scheme for it (header, algorithm or signed bytes): neither
https://help.luma.com/p/webhooks nor the webhooks section of Luma's OpenAPI description
(https://docs.luma.com/reference; a copy is `openapi/_original/openapi.json` in
https://github.com/api-evangelist/luma) names one, and third-party receivers disagree. Checking
a guessed scheme would either reject every real delivery or prove nothing, so the unguessable
URL is the credential until Luma documents its signature.

There is no check-in event: `guest.updated` fires on registration and whenever a guest
changes, check-ins included, and carries the whole guest with each ticket's `checked_in_at`.
So every delivery restates the guest's state, and Roomwise records what it states; applying is
idempotent, so restating a known check-in changes nothing. A check-in undone in Luma arrives
as a `checked_in_at` gone back to null, which a single delivery cannot tell from "never
checked in", so reverts are not recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

from integrations import fields
from integrations.base import (
    Adapter,
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
    SecretSource,
    load_json_object,
    parse_timestamp,
)


class LumaEvent(TypedDict):
    id: str
    calendar_id: str
    name: str
    start_at: str
    end_at: str | None
    timezone: str
    url: str


class LumaTicket(TypedDict):
    id: str
    name: str
    event_ticket_type_id: str
    checked_in_at: str | None


class LumaGuest(TypedDict):
    id: str
    user_id: str
    user_email: str
    user_name: str | None
    user_first_name: str | None
    user_last_name: str | None
    approval_status: str
    registered_at: str | None
    event_tickets: list[LumaTicket]
    event: LumaEvent


class LumaWebhook(TypedDict):
    type: str
    data: LumaGuest


# Webhook types: https://help.luma.com/p/webhooks and Luma's OpenAPI `webhooks` section. Both
# guest types carry the whole guest, so each can state a registration and check-ins; the rest
# (`event.*`, `calendar.*`, `ticket.registered`) are UNKNOWN: `guest.registered` already
# registers the guest once for all their tickets.
KINDS_BY_EVENT = {
    "guest.registered": (EventKind.REGISTERED, EventKind.CHECKED_IN),
    "guest.updated": (EventKind.REGISTERED, EventKind.CHECKED_IN),
}

# `approval_status` values of guests the host has not let in (yet): their `registered_at` is
# when they asked, and counting them would make them no-shows of an event they could not attend.
NOT_ADMITTED = frozenset({"pending_approval", "waitlist", "declined"})


class LumaAdapter(Adapter):
    """Luma's unsigned webhooks, authenticated by the secret webhook URL.

    Luma sends no delivery id, so `delivery_id` stays the base class's hash of the body: a
    body is the guest's whole state, and a repeat of the same body states nothing new.
    """

    platform = "luma"
    secret_source = SecretSource.NONE

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        payload = load_json_object(body)
        event_type = fields.text(payload.get("type"), "type", required=True)
        kinds = KINDS_BY_EVENT.get(event_type, ())
        events = _guest_events(event_type, kinds, payload) if kinds else []
        return events or [
            NormalizedEvent(kind=EventKind.UNKNOWN, platform_type=event_type, raw=payload)
        ]


def _guest_events(
    event_type: str, kinds: tuple[EventKind, ...], payload: dict[str, Any]
) -> list[NormalizedEvent]:
    """A REGISTERED at `registered_at`, then a CHECKED_IN per checked-in ticket."""
    guest = fields.json_object(payload.get("data"), "data")
    gathering = _gathering(fields.json_object(guest.get("event"), "data.event"))
    attendee = _attendee(guest)
    moments: list[tuple[EventKind, datetime]] = []
    registered_at = guest.get("registered_at")
    admitted = guest.get("approval_status") not in NOT_ADMITTED
    if EventKind.REGISTERED in kinds and registered_at is not None and admitted:
        moments.append((EventKind.REGISTERED, parse_timestamp(registered_at, "data.registered_at")))
    if EventKind.CHECKED_IN in kinds:
        moments.extend((EventKind.CHECKED_IN, at) for at in _check_ins(guest))
    return [
        NormalizedEvent(
            kind=kind,
            platform_type=event_type,
            occurred_at=at,
            gathering=gathering,
            attendee=attendee,
            raw=payload,
        )
        for kind, at in moments
    ]


def _check_ins(guest: dict[str, Any]) -> list[datetime]:
    """Each ticket's check-in time; a guest with several tickets checks in once per ticket."""
    tickets = guest.get("event_tickets") or []
    if not isinstance(tickets, list):
        raise MalformedPayload("malformed_payload", "data.event_tickets must be a list")
    times = []
    for index, raw in enumerate(tickets):
        ticket = fields.json_object(raw, f"data.event_tickets[{index}]")
        if ticket.get("checked_in_at") is not None:
            field_name = f"data.event_tickets[{index}].checked_in_at"
            times.append(parse_timestamp(ticket["checked_in_at"], field_name))
    return times


def _gathering(event: dict[str, Any]) -> GatheringRef:
    """The Luma event, grouped by the calendar it belongs to.

    A Luma calendar is a community: people subscribe to it and its events recur under it, which
    is what a Roomwise group is. The payload carries only the calendar's id, so the group is
    named after that id; an event's name would rename the group with every event. Because the
    calendar is a platform group, the organizer's name-prefix rules do not apply to Luma events
    that carry a `calendar_id`.
    """
    calendar_id = event.get("calendar_id")
    group = None
    if calendar_id:
        calendar_id = fields.identifier(calendar_id, "data.event.calendar_id")
        group = GroupRef(external_id=calendar_id, name=f"Luma calendar {calendar_id}")
    return GatheringRef(
        external_id=fields.identifier(event.get("id"), "data.event.id"),
        name=fields.text(event.get("name"), "data.event.name", required=True),
        starts_at=fields.optional_time(event.get("start_at"), "data.event.start_at"),
        ends_at=fields.optional_time(event.get("end_at"), "data.event.end_at"),
        group=group,
    )


def _attendee(guest: dict[str, Any]) -> AttendeeRef:
    """The guest: their Luma user id (the same in every event), else this guest record's id."""
    first = fields.text(guest.get("user_first_name"), "data.user_first_name")
    last = fields.text(guest.get("user_last_name"), "data.user_last_name")
    return AttendeeRef(
        external_id=fields.identifier(
            guest.get("user_id") or guest.get("id"), "data.user_id (or id)"
        ),
        email=fields.text(guest.get("user_email"), "data.user_email") or None,
        name=fields.text(guest.get("user_name"), "data.user_name")
        or fields.text(f"{first} {last}".strip(), "data.user_first_name and data.user_last_name"),
    )
