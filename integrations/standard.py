"""`standard`: Roomwise's own public webhook format, for any system that can sign a request.

Requests carry Standard Webhooks headers (see `integrations.signatures`); the body is
`{"type", "timestamp", "data": {"gathering": {...}, "attendee": {...}, "occurred_at"}}`, as
documented in the README under "The standard webhook format".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from integrations import fields, signatures
from integrations.base import (
    Adapter,
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
    VerificationError,
    load_json_object,
    lower_keys,
    parse_timestamp,
)


class StandardGroup(TypedDict):
    id: str
    name: str


class StandardGathering(TypedDict):
    id: str
    name: str
    starts_at: NotRequired[str]
    ends_at: NotRequired[str]
    group: NotRequired[StandardGroup]


class StandardAttendee(TypedDict):
    id: str
    email: NotRequired[str]
    name: NotRequired[str]
    company: NotRequired[str]


class StandardData(TypedDict):
    gathering: StandardGathering
    attendee: StandardAttendee
    occurred_at: NotRequired[str]


class StandardPayload(TypedDict):
    type: str
    timestamp: str
    data: StandardData


# The body types this format defines (README, "The standard webhook format").
KIND_BY_TYPE = {
    "attendee.registered": EventKind.REGISTERED,
    "attendee.checked_in": EventKind.CHECKED_IN,
    "attendee.checked_out": EventKind.CHECKED_OUT,
    "attendee.checkin_reverted": EventKind.CHECKIN_REVERTED,
}


class StandardAdapter(Adapter):
    platform = "standard"

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise VerificationError("bad_signature", "this integration has no signing secret")
        signatures.verify(body, headers, secrets, self.tolerance_seconds, now)

    def sign(
        self, body: bytes, secret: str, msg_id: str, now: datetime | None = None
    ) -> dict[str, str]:
        """Headers that make `body` a valid delivery, for senders, the demo and tests."""
        return signatures.signed_headers(secret, msg_id, body, now)

    def delivery_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        return lower_keys(headers)[signatures.ID_HEADER]

    def headers_to_keep(self, headers: Mapping[str, str]) -> dict[str, str]:
        lowered = lower_keys(headers)
        kept = super().headers_to_keep(lowered)
        for name in (signatures.ID_HEADER, signatures.TIMESTAMP_HEADER):
            kept[name] = lowered.get(name, "")
        return kept

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        payload = load_json_object(body)
        event_type = payload.get("type")
        if not isinstance(event_type, str) or not event_type or not fields.storable(event_type):
            raise MalformedPayload(
                "malformed_payload", "type must be a non-empty string, without NUL"
            )
        kind = KIND_BY_TYPE.get(event_type, EventKind.UNKNOWN)
        if kind is EventKind.UNKNOWN:
            return [NormalizedEvent(kind=kind, platform_type=event_type, raw=payload)]

        data = fields.json_object(payload.get("data"), "data")
        occurred = data.get("occurred_at", payload.get("timestamp"))
        return [
            NormalizedEvent(
                kind=kind,
                platform_type=event_type,
                occurred_at=parse_timestamp(occurred, "data.occurred_at"),
                gathering=_gathering(fields.json_object(data.get("gathering"), "data.gathering")),
                attendee=_attendee(fields.json_object(data.get("attendee"), "data.attendee")),
                raw=payload,
            )
        ]


def _gathering(raw: dict[str, Any]) -> GatheringRef:
    group_raw = raw.get("group")
    group = None
    if group_raw is not None:
        group_obj = fields.json_object(group_raw, "data.gathering.group")
        group = GroupRef(
            external_id=fields.identifier(group_obj.get("id"), "data.gathering.group.id"),
            name=fields.text(group_obj.get("name"), "data.gathering.group.name", required=True),
        )
    return GatheringRef(
        external_id=fields.identifier(raw.get("id"), "data.gathering.id"),
        name=fields.text(raw.get("name"), "data.gathering.name", required=True),
        starts_at=fields.optional_time(raw.get("starts_at"), "data.gathering.starts_at"),
        ends_at=fields.optional_time(raw.get("ends_at"), "data.gathering.ends_at"),
        group=group,
    )


def _attendee(raw: dict[str, Any]) -> AttendeeRef:
    email = raw.get("email")
    if email is not None and (
        not isinstance(email, str)
        or "@" not in email
        or len(email) > 320
        or not fields.storable(email)
    ):
        raise MalformedPayload("malformed_payload", "data.attendee.email must be an email address")
    return AttendeeRef(
        external_id=fields.identifier(raw.get("id"), "data.attendee.id"),
        email=email,
        name=fields.text(raw.get("name"), "data.attendee.name"),
        company=fields.text(raw.get("company"), "data.attendee.company"),
    )
