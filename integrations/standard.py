"""`standard`: Roomwise's own public webhook format, for any system that can sign a request.

Requests carry Standard Webhooks headers (see `integrations.signatures`); the body is
`{"type", "timestamp", "data"}`: check-ins have `data = {"gathering", "attendee", "occurred_at"}`,
connections add a `counterpart` and a `source`, and outcomes name a `group`, a `kind` and an
optional `value`, as documented in the README under "The standard webhook format".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from integrations import fields, signatures
from integrations.base import (
    Adapter,
    AttendeeRef,
    ConnectionSource,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
    OutcomeKind,
    OutcomeRef,
    VerificationError,
    load_json_object,
    lower_keys,
    parse_amount,
    parse_choice,
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


class StandardConnectionData(TypedDict):
    gathering: StandardGathering
    attendee: StandardAttendee
    counterpart: StandardAttendee
    source: NotRequired[str]
    occurred_at: NotRequired[str]


class StandardOutcomeData(TypedDict):
    group: StandardGroup
    gathering: NotRequired[StandardGathering]
    attendee: StandardAttendee
    counterpart: NotRequired[StandardAttendee]
    kind: str
    value: NotRequired[float | str]
    occurred_at: NotRequired[str]


class StandardPayload(TypedDict):
    type: str
    timestamp: str
    data: StandardData | StandardConnectionData | StandardOutcomeData


# The body types this format defines (README, "The standard webhook format").
KIND_BY_TYPE = {
    "attendee.registered": EventKind.REGISTERED,
    "attendee.checked_in": EventKind.CHECKED_IN,
    "attendee.checked_out": EventKind.CHECKED_OUT,
    "attendee.checkin_reverted": EventKind.CHECKIN_REVERTED,
    "connection.created": EventKind.CONNECTION,
    "outcome.reported": EventKind.OUTCOME,
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
        event = NormalizedEvent(
            kind=kind,
            platform_type=event_type,
            occurred_at=parse_timestamp(occurred, "data.occurred_at"),
            attendee=_attendee(fields.json_object(data.get("attendee"), "data.attendee")),
            raw=payload,
        )
        if kind is EventKind.OUTCOME:
            return [_outcome(event, data)]
        gathering = _gathering(fields.json_object(data.get("gathering"), "data.gathering"))
        event = replace(event, gathering=gathering)
        if kind is EventKind.CONNECTION:
            return [_connection(event, data)]
        return [event]


def _connection(event: NormalizedEvent, data: dict[str, Any]) -> NormalizedEvent:
    """A connection the attendee reported with the counterpart; `source` defaults to platform."""
    return replace(
        event,
        counterpart=_counterpart(event, data.get("counterpart")),
        connection_source=parse_choice(
            data.get("source", ConnectionSource.PLATFORM), ConnectionSource, "data.source"
        ),
    )


def _outcome(event: NormalizedEvent, data: dict[str, Any]) -> NormalizedEvent:
    """An outcome the attendee received in a group, optionally at one of its gatherings.

    A gathering without a group of its own belongs to the outcome's group; one that names a
    different group is refused, since an outcome cannot belong to two groups.
    """
    group = _group(fields.json_object(data.get("group"), "data.group"), "data.group")
    gathering = None
    if data.get("gathering") is not None:
        gathering = _gathering(fields.json_object(data["gathering"], "data.gathering"))
        if gathering.group is None:
            gathering = replace(gathering, group=group)
        elif gathering.group.external_id != group.external_id:
            raise MalformedPayload(
                "malformed_payload", "data.gathering.group must be data.group, or left out"
            )
    counterpart = None
    if data.get("counterpart") is not None:
        counterpart = _counterpart(event, data["counterpart"])
    value = None if data.get("value") is None else parse_amount(data["value"], "data.value")
    return replace(
        event,
        gathering=gathering,
        counterpart=counterpart,
        outcome=OutcomeRef(parse_choice(data.get("kind"), OutcomeKind, "data.kind"), group, value),
    )


def _counterpart(event: NormalizedEvent, raw: object) -> AttendeeRef:
    counterpart = _attendee(fields.json_object(raw, "data.counterpart"), "data.counterpart")
    if event.attendee is not None and counterpart.external_id == event.attendee.external_id:
        raise MalformedPayload(
            "malformed_payload", "data.counterpart must be someone other than data.attendee"
        )
    return counterpart


def _group(raw: dict[str, Any], name: str) -> GroupRef:
    return GroupRef(
        external_id=fields.identifier(raw.get("id"), f"{name}.id"),
        name=fields.text(raw.get("name"), f"{name}.name", required=True),
    )


def _gathering(raw: dict[str, Any]) -> GatheringRef:
    group_raw = raw.get("group")
    group = None
    if group_raw is not None:
        name = "data.gathering.group"
        group = _group(fields.json_object(group_raw, name), name)
    return GatheringRef(
        external_id=fields.identifier(raw.get("id"), "data.gathering.id"),
        name=fields.text(raw.get("name"), "data.gathering.name", required=True),
        starts_at=fields.optional_time(raw.get("starts_at"), "data.gathering.starts_at"),
        ends_at=fields.optional_time(raw.get("ends_at"), "data.gathering.ends_at"),
        group=group,
    )


def _attendee(raw: dict[str, Any], name: str = "data.attendee") -> AttendeeRef:
    email = raw.get("email")
    if email is not None and (
        not isinstance(email, str)
        or "@" not in email
        or len(email) > 320
        or not fields.storable(email)
    ):
        raise MalformedPayload("malformed_payload", f"{name}.email must be an email address")
    return AttendeeRef(
        external_id=fields.identifier(raw.get("id"), f"{name}.id"),
        email=email,
        name=fields.text(raw.get("name"), f"{name}.name"),
        company=fields.text(raw.get("company"), f"{name}.company"),
    )
