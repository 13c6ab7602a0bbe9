"""`eventbrite`: check-ins from Eventbrite, whose webhooks only say where to look.

A delivery is `{"config": {"action", …}, "api_url"}`: the action that happened and the API URL
of the attendee it happened to, nothing else. The worker fetches that attendee, its event and,
for a recurring event, the series, with the organizer's API token (`resolve`), and records the
state Eventbrite reports.

Authentication is the secret key in the webhook URL. Eventbrite signs nothing; its docs advise a
"private, unpublished" URL instead. Nothing in a request is believed as is: its only effect is
to make Roomwise ask Eventbrite's API about an attendee, and `resolve` refuses an `api_url`
anywhere but the configured API, so a forged request cannot send the organizer's token elsewhere.

Sources: https://www.eventbrite.com/platform/docs/webhooks (deliveries),
https://www.eventbrite.com/platform/api (attendee, event, series and webhook endpoints).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import urlsplit

from integrations import fields
from integrations.base import (
    Adapter,
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    IntegrationConfig,
    MalformedPayload,
    NormalizedEvent,
    SecretSource,
    load_json_object,
    lower_keys,
    parse_timestamp,
)
from integrations.http import PlatformApi, PlatformAuthError, PlatformRejected

DEFAULT_API_URL = "https://www.eventbriteapi.com/v3/"


class EventbriteWebhookConfig(TypedDict):
    action: str
    user_id: str
    endpoint_url: str
    webhook_id: str  # the subscription, the same on every delivery it sends


class EventbritePayload(TypedDict):
    api_url: str
    config: EventbriteWebhookConfig


# What each action announces (https://www.eventbrite.com/platform/docs/webhooks). `resolve`
# records the state the fetched attendee is in by then, which may have moved on.
KIND_BY_ACTION = {
    "barcode.checked_in": EventKind.CHECKED_IN,
    "barcode.un_checked_in": EventKind.CHECKIN_REVERTED,
    # Any change to an attendee: their registration, and their check-in if they are in.
    "attendee.updated": EventKind.REGISTERED,
    # The older v3 names (https://www.eventbrite.com/developer/v3/endpoints/webhooks/), which
    # describe them as a barcode "scanned in" and "scanned out".
    "attendee.checked_in": EventKind.CHECKED_IN,
    "attendee.checked_out": EventKind.CHECKED_OUT,
}
# Every other action, such as `order.placed` or the dashboard's Test button (`config.action`
# "test"), parses to UNKNOWN and is answered 200 "ignored".

# What `register_webhook` subscribes to: the current names of the actions above.
WEBHOOK_ACTIONS = ("barcode.checked_in", "barcode.un_checked_in", "attendee.updated")

ACTION_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# Eventbrite ids are digit strings; anything put into an API path must at least be one segment.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
MAX_URL_LENGTH = 2000
MAX_EMAIL_LENGTH = 320
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
# The `barcodes[].status` of a scanned ticket; "unused" until then and again after an undo.
USED = "used"


class EventbriteAdapter(Adapter):
    platform = "eventbrite"
    secret_source = SecretSource.NONE
    thin = True

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        """One announcement per delivery; `resolve` turns it into what actually happened.

        `api_url` is required only for the actions Roomwise handles: an ignored action (the
        dashboard's Test button among them) is stored as sent, not refused for a field that is
        never read.
        """
        payload = load_json_object(body)
        config = payload.get("config")
        if not isinstance(config, dict):
            raise MalformedPayload("malformed_payload", "config must be an object")
        action = config.get("action")
        if not isinstance(action, str) or not ACTION_PATTERN.fullmatch(action):
            raise MalformedPayload(
                "malformed_payload",
                "config.action must be an Eventbrite action name, such as barcode.checked_in",
            )
        kind = KIND_BY_ACTION.get(action, EventKind.UNKNOWN)
        if kind is not EventKind.UNKNOWN and not _is_url(payload.get("api_url")):
            raise MalformedPayload("malformed_payload", "api_url must be an http(s) URL")
        return [NormalizedEvent(kind=kind, platform_type=action, raw=payload)]

    def delivery_id(
        self, body: bytes, headers: Mapping[str, str], now: datetime | None = None
    ) -> str:
        """A new id for every request: the body's hash and the time it arrived.

        Eventbrite sends no delivery id. Its `X-Eventbrite-Delivery` header carries the
        subscription's id (in captured deliveries it equals `config.webhook_id` and is the same
        on every delivery), and the body names only the action and the attendee. Checking
        someone in again after an undo therefore sends exactly the bytes of their first
        check-in, and a key made from the request alone would file that check-in as a
        duplicate of the first and lose it.

        So no request is taken for a retry of another, and that is safe because processing one
        twice is harmless: `resolve` fetches the attendee's current state, and recording a
        state already recorded changes nothing (events are keyed by attendee, kind and
        Eventbrite's own change time). A real retry costs one more row in the delivery log and
        a few API calls; the shared hash prefix shows it for what it is.
        """
        received = now or datetime.now(UTC)
        return f"sha256:{hashlib.sha256(body).hexdigest()}@{received:%Y-%m-%dT%H:%M:%S.%fZ}"

    def headers_to_keep(self, headers: Mapping[str, str]) -> dict[str, str]:
        lowered = lower_keys(headers)
        kept = super().headers_to_keep(lowered)
        for name in ("x-eventbrite-event", "x-eventbrite-delivery", "user-agent"):
            if name in lowered:
                kept[name] = lowered[name]
        return kept

    def api(self, config: IntegrationConfig) -> PlatformApi | None:
        token = config.credentials.get("api_token")
        if not token:
            return None
        base_url = config.settings.get("api_url") or DEFAULT_API_URL
        return PlatformApi(base_url, {"Authorization": f"Bearer {token}"})

    def resolve(
        self, events: list[NormalizedEvent], api: PlatformApi | None
    ) -> list[NormalizedEvent]:
        """Replace each announcement with the attendee's state as Eventbrite reports it now.

        Fetches the attendee at `api_url` (only under the configured API base), its event and
        the event's series. Raises `PlatformRejected` for an `api_url` elsewhere, without
        fetching it, and `PlatformAuthError` when there is no token to fetch with.
        """
        resolved: list[NormalizedEvent] = []
        for event in events:
            if event.kind is EventKind.UNKNOWN:
                resolved.append(event)
            elif api is None:
                raise PlatformAuthError("Eventbrite API token is missing")
            else:
                resolved.extend(_current_state(api, event))
        return resolved

    def register_webhook(
        self, api: PlatformApi, webhook_url: str, config: IntegrationConfig
    ) -> dict[str, Any]:
        """Subscribe `webhook_url` under the organization, for one event if `event` is set."""
        settings = config.settings
        organization = settings.get("organization")
        if not organization:
            raise PlatformRejected(
                "Eventbrite registers webhooks per organization: set the organization id"
            )
        payload = {"endpoint_url": webhook_url, "actions": ",".join(WEBHOOK_ACTIONS)}
        if settings.get("event"):
            payload["event_id"] = settings["event"]
        answer = api.post(f"organizations/{organization}/webhooks/", payload)
        webhook_id = answer.get("id") if isinstance(answer, dict) else None
        if not webhook_id:
            raise PlatformRejected("Eventbrite answered the webhook registration without an id")
        return {"webhook_id": str(webhook_id)}

    def validate_settings(self, config: IntegrationConfig) -> list[str]:
        problems = []
        if not config.credentials.get("api_token"):
            problems.append(
                "Eventbrite needs an API token (api_token): its webhooks carry no details, "
                "Roomwise fetches them"
            )
        api_url = config.settings.get("api_url")
        if api_url is not None and not _is_api_base(api_url):
            problems.append("api_url must be an https URL (http only for localhost or 127.0.0.1)")
        for name in ("organization", "event"):
            value = config.settings.get(name)
            if value is not None and not (isinstance(value, str) and ID_PATTERN.fullmatch(value)):
                problems.append(f"{name} must be an Eventbrite id (digits)")
        return problems


def _current_state(api: PlatformApi, announced: NormalizedEvent) -> list[NormalizedEvent]:
    """The registration (unless the ticket was cancelled or refunded) and check-in state.

    Both are timed by Eventbrite's own `created` and `changed` fields, so fetching the same
    state twice yields the same events and applying them again changes nothing.
    """
    attendee = _object(api.get(_api_path(api, str(announced.raw["api_url"]))), "attendee")
    event_id = _identifier(attendee.get("event_id"), "attendee.event_id")
    template = replace(announced, gathering=_gathering(api, event_id), attendee=_attendee(attendee))
    barcodes = [code for code in attendee.get("barcodes") or [] if isinstance(code, dict)]
    checked_in = attendee.get("checked_in") is True or any(
        code.get("status") == USED for code in barcodes
    )

    states = []
    if not (attendee.get("cancelled") or attendee.get("refunded")):
        registered_at = _time(attendee.get("created"), "attendee.created")
        states.append(replace(template, kind=EventKind.REGISTERED, occurred_at=registered_at))
    kind = _check_in_kind(announced.kind, checked_in)
    if kind is not None:
        changed_at = _changed_at(attendee, barcodes, checked_in)
        states.append(replace(template, kind=kind, occurred_at=changed_at))
    return states


def _check_in_kind(announced: EventKind, checked_in: bool) -> EventKind | None:
    """The check-in event the attendee's current state stands for.

    The state wins over the announcement because it is newer: a check-in announced for someone
    no longer in was undone since, and an undo announced for someone in again was followed by
    a new check-in. An attendee update records a check-in only if there is one.
    """
    if checked_in:
        return EventKind.CHECKED_IN
    if announced in (EventKind.CHECKED_OUT, EventKind.CHECKIN_REVERTED):
        return announced
    if announced is EventKind.CHECKED_IN:
        return EventKind.CHECKIN_REVERTED
    return None


def _changed_at(attendee: dict[str, Any], barcodes: list[dict[str, Any]], used: bool) -> datetime:
    """When the check-in state last changed: the latest change of a barcode in that state.

    A ticket normally has one barcode; the attendee's own `changed` stands in without one, but
    it also moves when their profile is edited, so the barcode's time is preferred.
    """
    in_state = [code for code in barcodes if (code.get("status") == USED) == used] or barcodes
    times = [
        _time(code["changed"], "attendee.barcodes[].changed")
        for code in in_state
        if code.get("changed")
    ]
    return max(times) if times else _time(attendee.get("changed"), "attendee.changed")


def _gathering(api: PlatformApi, event_id: str) -> GatheringRef:
    """The event as a gathering; a recurring event's series is its group.

    The group is named after the series parent (`GET /series/{id}/`), which names the whole
    run whatever each date is called: one more request, only for events in a series.
    """
    event = _object(api.get(f"events/{event_id}/"), "event")
    name = _name(event) or f"Eventbrite event {event_id}"
    group = None
    if event.get("series_id"):
        series_id = _identifier(event["series_id"], "event.series_id")
        parent = (
            event if series_id == event_id else _object(api.get(f"series/{series_id}/"), "series")
        )
        group = GroupRef(external_id=series_id, name=_name(parent) or name)
    return GatheringRef(
        external_id=event_id,
        name=name,
        starts_at=_utc(event, "start"),
        ends_at=_utc(event, "end"),
        group=group,
    )


def _attendee(attendee: dict[str, Any]) -> AttendeeRef:
    """The ticket holder. Unless the event asks for each ticket holder's details, Eventbrite
    copies the buyer's profile onto every ticket of an order, so they share one email."""
    profile = attendee.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    email = _text(profile.get("email"))
    return AttendeeRef(
        external_id=_identifier(attendee.get("id"), "attendee.id"),
        email=email if "@" in email and len(email) <= MAX_EMAIL_LENGTH else None,
        name=_text(profile.get("name")),
        company=_text(profile.get("company")),
    )


def _api_path(api: PlatformApi, api_url: str) -> str:
    """`api_url` relative to the configured API base, or `PlatformRejected` if it is elsewhere.

    The URL comes from an unsigned request: fetching it as is would let anyone who learns the
    webhook URL have the organizer's token sent to a host of their choosing. Only the same
    scheme and host (and port) as the base, a path under the base's path, and plain segments
    (no `..`, no escapes, no query) are fetched.
    """
    base = urlsplit(api.base_url)
    target = urlsplit(api_url)
    relative = target.path.removeprefix(base.path)
    if (
        (target.scheme.lower(), target.netloc.lower()) != (base.scheme.lower(), base.netloc.lower())
        or not target.path.startswith(base.path)
        or target.query
        or target.fragment
        or not all(ID_PATTERN.fullmatch(part) for part in relative.removesuffix("/").split("/"))
    ):
        raise PlatformRejected(
            f"api_url {api_url} is not under the configured Eventbrite API {api.base_url}; "
            "it was not fetched"
        )
    return relative


def _is_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return False
    if not (value.isascii() and value.isprintable()) or " " in value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_api_base(value: object) -> bool:
    """https, or http on this machine (a local stand-in for the API)."""
    if not _is_url(value):
        return False
    parts = urlsplit(str(value))
    return parts.scheme == "https" or parts.hostname in LOCAL_HOSTS


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlatformRejected(f"Eventbrite's {what} is not a JSON object")
    return value


def _identifier(value: object, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise PlatformRejected(f"Eventbrite's {what} is not an id: {value!r}")
    return value


def _time(value: object, what: str) -> datetime:
    try:
        return parse_timestamp(value, what)
    except MalformedPayload as err:
        raise PlatformRejected(f"Eventbrite's {err.detail}") from err


def _utc(event: dict[str, Any], field: str) -> datetime | None:
    """`start`/`end` are `{"timezone", "local", "utc"}`; the UTC one is unambiguous."""
    value = event.get(field)
    if not isinstance(value, dict) or not value.get("utc"):
        return None
    return _time(value["utc"], f"event.{field}.utc")


def _name(event: dict[str, Any]) -> str:
    """An event's title: `name` is `{"text", "html"}`."""
    name = event.get("name")
    return _text(name.get("text")) if isinstance(name, dict) else ""


def _text(value: object) -> str:
    """Text people typed into Eventbrite, cleaned (see `fields.clean_text`); "" if absent."""
    return fields.clean_text(value) if isinstance(value, str) else ""
