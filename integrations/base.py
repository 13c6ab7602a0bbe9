"""The adapter contract every platform module implements, and the normalized event it produces.

Adapters take the raw request (`body: bytes`, `headers: Mapping`) and never import Flask or the
database, so the same code verifies in the web view and parses in the worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from integrations.http import PlatformApi


class EventKind(StrEnum):
    """What happened, in Roomwise's terms; `UNKNOWN` keeps events we do not handle visible."""

    REGISTERED = "registered"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    CHECKIN_REVERTED = "checkin_reverted"
    CONNECTION = "connection"
    OUTCOME = "outcome"
    UNKNOWN = "unknown"


class ConnectionSource(StrEnum):
    """How two people's connection became known; `service.connections` decides which to trust."""

    MUTUAL_TAP = "mutual_tap"  # both phones or badges took part, so both sides reported it
    SCAN = "scan"  # one side's device read the other's badge, in person
    API = "api"  # the organizer's own system, through the JSON API
    RECAP_ANSWER = "recap_answer"  # an attendee's answer to their recap ("I talked with …")
    PLATFORM = "platform"  # an event platform, without saying how


class OutcomeKind(StrEnum):
    """What a networking group produced for a member (SCORING.md §4 counts these)."""

    LEAD = "lead"
    REFERRAL = "referral"
    CLOSED_BUSINESS = "closed_business"


class VerificationError(Exception):
    """The request is not provably from the platform: answer 401 with `reason`."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


class MalformedPayload(Exception):
    """The request is authentic but its body cannot be understood: answer 400 with `reason`."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class GroupRef:
    external_id: str
    name: str


@dataclass(frozen=True)
class GatheringRef:
    external_id: str
    name: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    group: GroupRef | None = None


@dataclass(frozen=True)
class AttendeeRef:
    external_id: str
    email: str | None = None
    name: str = ""
    company: str = ""


@dataclass(frozen=True)
class OutcomeRef:
    """A lead, referral or closed deal that `attendee` received in `group`."""

    kind: OutcomeKind
    group: GroupRef
    value: Decimal | None = None


@dataclass(frozen=True)
class NormalizedEvent:
    """One platform event in Roomwise's shape; `raw` keeps the platform's own payload.

    Connections and outcomes name a second person, `counterpart`: the one `attendee` connected
    with, or the one an outcome came from. `connection_source` says how a connection became
    known; `outcome` carries what an outcome event reports.
    """

    kind: EventKind
    platform_type: str
    occurred_at: datetime | None = None
    gathering: GatheringRef | None = None
    attendee: AttendeeRef | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    counterpart: AttendeeRef | None = None
    connection_source: ConnectionSource | None = None
    outcome: OutcomeRef | None = None


@dataclass(frozen=True)
class IntegrationConfig:
    """What an organizer told Roomwise about one platform account.

    `settings` are plain values (API base URL, organizer or event slugs); `credentials` are
    secret (API tokens); `signing_secrets` verify webhooks, newest first.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    signing_secrets: Sequence[str] = ()


class SecretSource(StrEnum):
    """Where an integration's webhook signing secret comes from."""

    ROOMWISE = "roomwise"  # Roomwise generates it and shows it once (standard)
    PLATFORM = "platform"  # the platform generates it; the organizer pastes it in (Tito, Zoom)
    NONE = "none"  # the platform does not sign; the unguessable URL key is the secret


class Adapter:
    """Base class for platform adapters: verify a request, name it, parse it, complete it.

    Subclasses set `platform` (the module name, registry key and URL segment) and override
    `verify` and `parse`. Platforms whose payloads are thin also override `api` and `resolve`;
    platforms with a URL handshake override `handshake`; platforms whose webhooks can be
    registered through their API override `register_webhook`. `delivery_id` defaults to a hash
    of the body for platforms that send no delivery id of their own.
    """

    platform: ClassVar[str]
    secret_source: ClassVar[SecretSource] = SecretSource.ROOMWISE
    thin: ClassVar[bool] = False

    def __init__(self, tolerance_seconds: int = 300) -> None:
        self.tolerance_seconds = tolerance_seconds

    def handshake(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
    ) -> dict[str, Any] | None:
        """The JSON answer to a platform's URL-validation request, or None if it is not one."""
        return None

    def api(self, config: IntegrationConfig) -> PlatformApi | None:
        """A client for the platform's REST API, or None when the organizer gave no credentials."""
        return None

    def resolve(
        self, events: list[NormalizedEvent], api: PlatformApi | None
    ) -> list[NormalizedEvent]:
        """Fill in what a thin payload leaves out by asking the platform's API (worker only)."""
        return events

    def register_webhook(
        self, api: PlatformApi, webhook_url: str, config: IntegrationConfig
    ) -> dict[str, Any]:
        """Subscribe `webhook_url` to check-in events through the platform's API."""
        raise NotImplementedError(f"{self.platform} webhooks are registered in its own UI")

    def validate_settings(self, config: IntegrationConfig) -> list[str]:
        """Problems with an organizer's settings for this platform, one sentence each."""
        return []

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime | None = None,
    ) -> None:
        """Raise `VerificationError` unless the request is authentic.

        Platforms that sign nothing keep this default: the request reached the integration's
        unguessable URL, which is their only credential.
        """
        if self.secret_source is not SecretSource.NONE:
            raise NotImplementedError(f"{self.platform} signs its webhooks: override verify")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        """Turn a verified request into events; raise `MalformedPayload` if it cannot."""
        raise NotImplementedError

    def delivery_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The platform's id for this delivery, the same on every retry of it."""
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def headers_to_keep(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The request headers worth storing with the delivery (never cookies or auth)."""
        return {"content-type": lower_keys(headers).get("content-type", "")}


def load_json_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body, or raise `MalformedPayload` saying what is wrong."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MalformedPayload("malformed_json", f"body is not valid JSON: {err}") from err
    if not isinstance(payload, dict):
        raise MalformedPayload("malformed_payload", "body must be a JSON object")
    return payload


def parse_timestamp(value: object, field_name: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (naive values are taken as UTC)."""
    if not isinstance(value, str):
        raise MalformedPayload("malformed_payload", f"{field_name} must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise MalformedPayload(
            "malformed_payload", f"{field_name} is not an ISO-8601 timestamp: {value!r}"
        ) from err
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


ChoiceT = TypeVar("ChoiceT", bound=StrEnum)


def parse_choice(value: object, choices: type[ChoiceT], field_name: str) -> ChoiceT:
    """The member of `choices` whose value `value` is, or `MalformedPayload` listing them all."""
    by_value = {choice.value: choice for choice in choices}
    if isinstance(value, str) and value in by_value:
        return by_value[value]
    raise MalformedPayload(
        "malformed_payload", f"{field_name} must be one of {', '.join(by_value)}"
    )


# Amounts fit the database's NUMERIC(14, 2): below a trillion, to the cent.
MAX_AMOUNT = Decimal(10) ** 12
CENT = Decimal("0.01")


def parse_amount(value: object, field_name: str) -> Decimal:
    """A non-negative amount with at most two decimal places, from a JSON number or string.

    The webhook adapter and the API share this rule, so an amount the API refuses is also
    refused at the webhook's door instead of failing later in the worker.
    """
    problem = f"{field_name} must be a number from 0 to below {MAX_AMOUNT:,}, to the cent"
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MalformedPayload("malformed_payload", problem)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as err:
        raise MalformedPayload("malformed_payload", problem) from err
    if not amount.is_finite() or not 0 <= amount < MAX_AMOUNT or amount != amount.quantize(CENT):
        raise MalformedPayload("malformed_payload", problem)
    return abs(amount).quantize(CENT)  # abs: "-0" is zero


class LowerCaseHeaders(dict[str, str]):
    """Request headers whose names are lower case already, so `lower_keys` need not copy them.

    A webhook request's headers are looked up by several adapter steps (verify, handshake,
    parse, delivery id, headers to keep); building them once like this spares each step a copy.
    """


def lower_keys(headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` with lower-case names, for lookups; not to be changed."""
    if isinstance(headers, LowerCaseHeaders):
        return headers
    return LowerCaseHeaders((name.lower(), value) for name, value in headers.items())
