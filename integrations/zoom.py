"""`zoom`: Zoom meeting and webinar participants joining and leaving, as check-in and check-out.

Zoom signs with the app's Secret Token, which the organizer copies from the Zoom App
Marketplace into Roomwise: `x-zm-signature` is `v0=` + hex HMAC-SHA256 of
`v0:{x-zm-request-timestamp}:{raw body}`. Before it sends events to a URL, and every 72 hours
after, Zoom posts a signed `endpoint.url_validation` challenge, answered by `handshake`.
Sources: https://developers.zoom.us/docs/api/webhooks (verify webhook events, validate your
webhook endpoint), https://developers.zoom.us/changelog/platform/webhook-url-validation,
https://github.com/zoom/webhook-sample (`index.js`), and the payload types in
https://zoom.github.io/rivet-javascript/types/Meetings.MeetingParticipantJoinedEvent.html.

A gathering is one occurrence of a meeting or webinar (its `uuid`); a recurring meeting or
webinar (its `id`) is the group its occurrences belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, TypedDict

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
    VerificationError,
    load_json_object,
    lower_keys,
    parse_timestamp,
)

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
TRACKING_HEADER = "x-zm-trackingid"
VALIDATION_EVENT = "endpoint.url_validation"


class ZoomParticipant(TypedDict):
    user_id: str
    user_name: str
    id: NotRequired[str]
    participant_uuid: NotRequired[str]
    participant_user_id: NotRequired[str]
    registrant_id: NotRequired[str]
    email: str
    join_time: NotRequired[str]
    leave_time: NotRequired[str]
    leave_reason: NotRequired[str]


class ZoomObject(TypedDict):
    uuid: str
    id: NotRequired[str | int]
    host_id: str
    topic: NotRequired[str]
    type: int
    start_time: NotRequired[str]
    timezone: NotRequired[str]
    duration: int
    participant: ZoomParticipant


class ZoomPayload(TypedDict):
    account_id: str
    object: ZoomObject


class ZoomEvent(TypedDict):
    event: str
    event_ts: int
    payload: ZoomPayload


# Meeting and webinar events: https://developers.zoom.us/docs/api/meetings/events/ (the
# `meeting.participant_*` and `webinar.participant_*` operations).
KIND_BY_EVENT = {
    "meeting.participant_joined": EventKind.CHECKED_IN,
    "webinar.participant_joined": EventKind.CHECKED_IN,
    "meeting.participant_left": EventKind.CHECKED_OUT,
    "webinar.participant_left": EventKind.CHECKED_OUT,
}
TIME_FIELD_BY_KIND = {EventKind.CHECKED_IN: "join_time", EventKind.CHECKED_OUT: "leave_time"}

# `object.type` values of recurring series (same source): meetings 3 (no fixed time) and 8
# (fixed time); webinars 6 (no fixed time) and 9 (fixed time).
RECURRING_TYPES = {"meeting": frozenset({3, 8}), "webinar": frozenset({6, 9})}

# Who the participant is, most stable first, each with the namespace its value lives in:
# `participant_user_id` and `id` are the Zoom account's user id (the same person in every
# meeting; empty for guests who are not signed in); `registrant_id` is their registration,
# shared by the occurrences it covers; `participant_uuid` identifies them within the meeting.
# Without any of these, `user_id` (assigned on joining, valid for the meeting) still pairs a
# guest's join with their leave.
PARTICIPANT_KEYS = (
    ("participant_user_id", "user"),
    ("id", "user"),
    ("registrant_id", "registrant"),
    ("participant_uuid", "participant"),
)


class ZoomAdapter(Adapter):
    """Zoom's signed webhooks; the secret is the app's Secret Token, pasted by the organizer.

    Zoom documents no delivery id (the `x-zm-trackingid` header is not documented as one), so
    `delivery_id` is a hash of what makes the event itself: its type, the occurrence, the
    participant and their join or leave time. A retry then dedupes even if Zoom re-serializes
    the body or stamps a new `event_ts`.
    """

    platform = "zoom"
    secret_source = SecretSource.PLATFORM

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime | None = None,
    ) -> None:
        if not secrets:
            raise VerificationError("bad_signature", "this integration has no Zoom secret token")
        lowered = lower_keys(headers)
        raw_timestamp = lowered.get(TIMESTAMP_HEADER, "")
        if not (raw_timestamp and lowered.get(SIGNATURE_HEADER)):
            raise VerificationError(
                "missing_signature", "x-zm-signature and x-zm-request-timestamp are required"
            )
        try:
            timestamp = int(raw_timestamp)
        except ValueError as err:
            raise VerificationError(
                "bad_timestamp", "x-zm-request-timestamp must be unix seconds"
            ) from err
        # Zoom states no tolerance; the adapter's (five minutes by default) bounds replays.
        current = int((now or datetime.now(UTC)).timestamp())
        if timestamp < current - self.tolerance_seconds:
            raise VerificationError(
                "stale_timestamp", "x-zm-request-timestamp is too old (replay?)"
            )
        if timestamp > current + self.tolerance_seconds:
            raise VerificationError(
                "future_timestamp", "x-zm-request-timestamp is too far in the future"
            )
        if _signing_secret(body, lowered, secrets) is None:
            raise VerificationError("bad_signature", "x-zm-signature matches no current secret")

    def sign(self, body: bytes, secret: str, now: datetime | None = None) -> dict[str, str]:
        """The headers Zoom sends with `body` (for tests and local trials)."""
        timestamp = str(int((now or datetime.now(UTC)).timestamp()))
        return {
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": _signature(secret, timestamp, body),
            "content-type": "application/json; charset=utf-8",
        }

    def handshake(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
    ) -> dict[str, Any] | None:
        """Answer Zoom's URL-validation challenge: the `plainToken`, and its HMAC as hex.

        The HMAC's key is the secret that signed the challenge, which is the one Zoom holds
        now: with secrets newest first, that is the newest one Zoom has switched to.
        """
        payload = load_json_object(body)
        if payload.get("event") != VALIDATION_EVENT:
            return None
        plain_token = fields.text(
            fields.json_object(payload.get("payload"), "payload").get("plainToken"),
            "payload.plainToken",
            required=True,
        )
        secret = _signing_secret(body, lower_keys(headers), secrets)
        if secret is None:
            raise VerificationError("bad_signature", "x-zm-signature matches no current secret")
        encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
        return {"plainToken": plain_token, "encryptedToken": encrypted}

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        payload = load_json_object(body)
        event_type = fields.text(payload.get("event"), "event", required=True)
        kind = KIND_BY_EVENT.get(event_type, EventKind.UNKNOWN)
        if kind is EventKind.UNKNOWN:
            return [NormalizedEvent(kind=kind, platform_type=event_type, raw=payload)]

        meeting = fields.json_object(
            fields.json_object(payload.get("payload"), "payload").get("object"), "payload.object"
        )
        participant = fields.json_object(meeting.get("participant"), "payload.object.participant")
        time_field = TIME_FIELD_BY_KIND[kind]
        gathering = _gathering(event_type.partition(".")[0], meeting)
        return [
            NormalizedEvent(
                kind=kind,
                platform_type=event_type,
                occurred_at=parse_timestamp(
                    participant.get(time_field), f"payload.object.participant.{time_field}"
                ),
                gathering=gathering,
                attendee=_attendee(participant, gathering.external_id),
                raw=payload,
            )
        ]

    def delivery_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        [event] = self.parse(body, headers)
        if event.gathering is None or event.attendee is None or event.occurred_at is None:
            return super().delivery_id(body, headers)
        identity = [
            event.platform_type,
            event.gathering.external_id,
            event.attendee.external_id,
            event.occurred_at.isoformat(),
        ]
        return "sha256:" + hashlib.sha256(json.dumps(identity).encode()).hexdigest()

    def headers_to_keep(self, headers: Mapping[str, str]) -> dict[str, str]:
        # Parsing needs no header; Zoom support asks for the tracking id when tracing a delivery.
        kept = super().headers_to_keep(lower_keys(headers))
        kept[TRACKING_HEADER] = lower_keys(headers).get(TRACKING_HEADER, "")
        return kept


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    message = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _signing_secret(
    body: bytes, lowered_headers: Mapping[str, str], secrets: Sequence[str]
) -> str | None:
    """The first of `secrets` whose signature matches the request's, if any."""
    offered = lowered_headers.get(SIGNATURE_HEADER, "").encode()
    timestamp = lowered_headers.get(TIMESTAMP_HEADER, "")
    for secret in secrets:
        if hmac.compare_digest(_signature(secret, timestamp, body).encode(), offered):
            return secret
    return None


def _gathering(family: str, meeting: dict[str, Any]) -> GatheringRef:
    """The occurrence; its group is the series when the meeting or webinar recurs."""
    meeting_id = meeting.get("id")
    series_id = (
        None if meeting_id in (None, "") else fields.identifier(meeting_id, "payload.object.id")
    )
    starts_at = fields.optional_time(meeting.get("start_time") or None, "payload.object.start_time")
    duration = _optional_int(meeting.get("duration"), "payload.object.duration")
    meeting_type = _optional_int(meeting.get("type"), "payload.object.type")
    topic = fields.text(meeting.get("topic"), "payload.object.topic")

    if meeting.get("uuid"):
        external_id = fields.identifier(meeting.get("uuid"), "payload.object.uuid")
    elif series_id is not None and starts_at is not None:
        external_id = fields.identifier(f"{series_id}@{starts_at.isoformat()}", "payload.object.id")
    else:
        raise MalformedPayload(
            "malformed_payload",
            "payload.object.uuid is required (or payload.object.id with start_time)",
        )
    name = topic or f"Zoom {family} {series_id or external_id}"
    ends_at = None
    if starts_at is not None and duration is not None and duration > 0:
        ends_at = starts_at + timedelta(minutes=duration)
    recurs = meeting_type in RECURRING_TYPES.get(family, frozenset())
    return GatheringRef(
        external_id=external_id,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        group=GroupRef(series_id, name) if recurs and series_id is not None else None,
    )


def _attendee(participant: dict[str, Any], occurrence_id: str) -> AttendeeRef:
    prefix = "payload.object.participant"
    for field_name, namespace in PARTICIPANT_KEYS:
        value = participant.get(field_name)
        if value not in (None, ""):
            key = f"{namespace}:{fields.identifier(value, f'{prefix}.{field_name}')}"
            break
    else:
        session_user = fields.identifier(participant.get("user_id"), f"{prefix}.user_id")
        key = f"session:{occurrence_id}:{session_user}"
    return AttendeeRef(
        external_id=fields.identifier(key, f"{prefix} id"),
        # Guests who are not signed in have an empty email.
        email=fields.text(participant.get("email"), f"{prefix}.email") or None,
        name=fields.text(participant.get("user_name"), f"{prefix}.user_name"),
    )


def _optional_int(value: object, field_name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedPayload("malformed_payload", f"{field_name} must be an integer")
    return value
