"""`pretix`: check-ins from pretix, the open-source ticketing system, fetched through its API.

pretix webhooks are deliberately thin and unsigned: the body names an order position and what
happened to it, nothing more, and pretix's documentation asks receivers to use it only as a
trigger to fetch the data through the authenticated REST API
(https://docs.pretix.eu/en/latest/api/webhooks.html). So `parse` checks the notification and
`resolve`, in the worker, asks the API for the order position, its order, its event and sub-event.

Authentication is the unguessable webhook URL. pretix can also send HTTP Basic auth when the
organizer writes it into the URL (`https://user:password@host/hooks/pretix/<key>`); an
integration with signing secrets (each `"user:password"`) then refuses requests without it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict
from urllib.parse import quote, urlsplit, urlunsplit

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
    VerificationError,
    load_json_object,
    lower_keys,
    parse_timestamp,
)
from integrations.http import PlatformApi, PlatformAuthError, PlatformRejected


class PretixNotification(TypedDict):
    """A check-in webhook body, as built by `ParametrizedOrderPositionCheckinWebhookEvent` in
    pretix's `src/pretix/api/webhooks.py`. Order notifications carry only the first five keys.
    """

    notification_id: int  # the log entry's id: the same on every retry
    organizer: str
    event: str
    code: str  # the order code
    action: str
    orderposition_id: NotRequired[int]
    orderposition_positionid: NotRequired[int]
    checkin_list: NotRequired[int | None]
    type: NotRequired[str | None]  # "entry" or "exit"; null on reverts
    first_checkin: NotRequired[bool | None]


# The API objects, with the fields Roomwise reads:
# https://docs.pretix.eu/en/latest/api/resources/orders.html (order positions and orders),
# https://docs.pretix.eu/en/latest/api/resources/events.html,
# https://docs.pretix.eu/en/latest/api/resources/subevents.html
class PretixCheckin(TypedDict):
    list: int
    type: NotRequired[str]  # "entry" or "exit"
    datetime: str


class PretixOrderPosition(TypedDict):
    id: int
    order: str  # the order code
    attendee_name: str | None
    attendee_email: str | None
    company: NotRequired[str | None]
    subevent: int | None
    checkins: list[PretixCheckin]


class PretixOrder(TypedDict):
    code: str
    email: str | None
    last_modified: str


class PretixEvent(TypedDict):
    name: dict[str, str]  # by language code
    date_from: str
    date_to: str | None
    has_subevents: bool


class PretixSubEvent(TypedDict):
    id: int
    name: dict[str, str]
    date_from: str
    date_to: str | None


CHECKIN = "pretix.event.checkin"
CHECKIN_REVERTED = "pretix.event.checkin.reverted"

# Action types and check-in types: https://docs.pretix.eu/en/latest/api/resources/webhooks.html
# and the `type` of a check-in (https://docs.pretix.eu/en/latest/api/resources/orders.html).
# The same table reads a notification (`action`, `type`) and each entry of a position's
# `checkins` list (as `pretix.event.checkin`, its `type`). Exits arrive as check-ins with
# type "exit"; reverts carry no type; pretix versions from before exits existed send none.
KIND_BY_ACTION: dict[tuple[str, str | None], EventKind] = {
    (CHECKIN, "entry"): EventKind.CHECKED_IN,
    (CHECKIN, None): EventKind.CHECKED_IN,
    (CHECKIN, "exit"): EventKind.CHECKED_OUT,
    (CHECKIN_REVERTED, None): EventKind.CHECKIN_REVERTED,
}
CHECKIN_ACTIONS = frozenset(action for action, _ in KIND_BY_ACTION)

# pretix slugs and order codes are letters, digits, dots and dashes (at most 50 characters);
# they become URL path segments, so nothing else may pass.
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,49}")
ACTION = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# Names longer than Roomwise's columns are cut (pretix's own limits are shorter).
PREFERRED_LANGUAGE = "en"


class PretixAdapter(Adapter):
    platform = "pretix"
    secret_source = SecretSource.NONE
    thin = True

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime | None = None,
    ) -> None:
        """Accept any request to the secret URL, unless the integration also asks for Basic auth.

        pretix signs nothing; the Basic credentials are what `requests` (pretix's HTTP client)
        derives from a `user:password@` URL, so they are compared decoded, in constant time.
        """
        if not secrets:
            return
        scheme, _, token = lower_keys(headers).get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise VerificationError(
                "missing_signature",
                "this integration requires HTTP Basic auth: put user:password@ in the webhook URL",
            )
        try:
            offered = base64.b64decode(token.strip(), validate=True)
        except binascii.Error as err:
            raise VerificationError("bad_signature", "Basic credentials are not base64") from err
        if not any(hmac.compare_digest(offered, secret.encode()) for secret in secrets):
            raise VerificationError("bad_signature", "Basic credentials match no current secret")

    def delivery_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        return f"pretix:{_notification_id(load_json_object(body))}"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> list[NormalizedEvent]:
        """One event naming the action; its attendee, gathering and time come from `resolve`."""
        payload = load_json_object(body)
        _notification_id(payload)
        action = payload.get("action")
        if not isinstance(action, str) or not ACTION.fullmatch(action):
            raise MalformedPayload("malformed_payload", "action must be a pretix action type")
        if action not in CHECKIN_ACTIONS:
            return [NormalizedEvent(kind=EventKind.UNKNOWN, platform_type=action, raw=payload)]
        notification = _checkin_notification(payload)
        return [NormalizedEvent(kind=notification.kind, platform_type=action, raw=payload)]

    def api(self, config: IntegrationConfig) -> PlatformApi | None:
        api_url = config.settings.get("api_url")
        token = config.credentials.get("api_token")
        if not (isinstance(api_url, str) and api_url and token):
            return None
        # https://docs.pretix.eu/en/latest/api/tokenauth.html
        return PlatformApi(
            api_root(api_url), {"Authorization": f"Token {token}", "Accept": "application/json"}
        )

    def validate_settings(self, config: IntegrationConfig) -> list[str]:
        problems = []
        api_url = config.settings.get("api_url")
        if not isinstance(api_url, str) or not _is_http_url(api_url):
            problems.append(
                "api_url must be the absolute http(s) URL of your pretix instance or its API, "
                "such as https://pretix.eu/api/v1/."
            )
        if not _is_slug(config.settings.get("organizer")):
            problems.append(
                "organizer must be your pretix organizer's short name (letters, digits, dots "
                "and dashes)."
            )
        if "event" in config.settings and not _is_slug(config.settings["event"]):
            problems.append("event must be a pretix event's short name, or left out for all.")
        if not config.credentials.get("api_token"):
            problems.append(
                "api_token is required: pretix webhooks name what happened and Roomwise reads "
                "the details with a team API token that can view orders."
            )
        if not all(_is_basic_secret(secret) for secret in config.signing_secrets):
            problems.append(
                "A Basic auth secret must look like user:password, in printable ASCII "
                "(pretix sends the credentials Latin-1 encoded)."
            )
        return problems

    def register_webhook(
        self, api: PlatformApi, webhook_url: str, config: IntegrationConfig
    ) -> dict[str, Any]:
        """Create an organizer webhook for check-ins, limited to one event if `event` is set.

        With a Basic-auth secret, the credentials go into the target URL, which is how pretix
        sends them (https://docs.pretix.eu/en/latest/api/webhooks.html).
        https://docs.pretix.eu/en/latest/api/resources/webhooks.html
        """
        settings = config.settings
        if config.signing_secrets:
            webhook_url = _with_userinfo(webhook_url, config.signing_secrets[0])
        organizer = str(settings["organizer"])
        limit_events = [str(settings["event"])] if settings.get("event") else []
        path = f"organizers/{organizer}/webhooks/"
        created = _Fields(
            api.post(
                path,
                {
                    "target_url": webhook_url,
                    "enabled": True,
                    "all_events": not limit_events,
                    "limit_events": limit_events,
                    "action_types": [CHECKIN, CHECKIN_REVERTED],
                    "comment": "Roomwise: check-ins for attendance and scoring",
                },
            ),
            f"POST {api.url(path)}",
        )
        return {
            "webhook_id": created.integer("id"),
            "organizer": organizer,
            "limit_events": limit_events,
        }

    def resolve(
        self, events: list[NormalizedEvent], api: PlatformApi | None
    ) -> list[NormalizedEvent]:
        """Replace each check-in notification by what pretix now says about its order position.

        Every check-in in the position's `checkins` list becomes an event (entry: checked in,
        exit: checked out, at its `datetime`). Replaying the whole list is idempotent downstream
        and repairs notifications that never arrived. A revert adds a `CHECKIN_REVERTED`; see
        `_reverted_at` for its time.
        """
        resolved: list[NormalizedEvent] = []
        for event in events:
            if event.kind is EventKind.UNKNOWN:
                resolved.append(event)
                continue
            if api is None:
                raise PlatformAuthError("pretix API credentials are missing")
            resolved.extend(_fetch_checkins(api, _checkin_notification(event.raw)))
        return resolved


def _with_userinfo(url: str, secret: str) -> str:
    """`url` with `user:password` in its authority, percent-encoded as URLs require."""
    user, _, password = secret.partition(":")
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def api_root(api_url: str) -> str:
    """The API base URL: pretix serves it at `/api/v1/` of the instance, so accept either."""
    root = api_url.rstrip("/")
    return root if root.endswith("/api/v1") else f"{root}/api/v1"


@dataclass(frozen=True)
class CheckinNotification:
    """The parts of a validated check-in notification that `resolve` needs."""

    kind: EventKind
    organizer: str
    event: str
    position_id: int
    checkin_list: int | None
    payload: Mapping[str, Any]


def _checkin_notification(payload: Mapping[str, Any]) -> CheckinNotification:
    action = str(payload.get("action"))
    checkin_type = payload.get("type")
    if checkin_type is not None and not isinstance(checkin_type, str):
        raise MalformedPayload("malformed_payload", "type must be a string or null")
    for name in ("organizer", "event"):
        if not _is_slug(payload.get(name)):
            raise MalformedPayload("malformed_payload", f"{name} must be a pretix slug")
    return CheckinNotification(
        kind=KIND_BY_ACTION.get((action, checkin_type), EventKind.UNKNOWN),
        organizer=payload["organizer"],
        event=payload["event"],
        position_id=_payload_integer(payload, "orderposition_id"),
        checkin_list=(
            None
            if payload.get("checkin_list") is None
            else _payload_integer(payload, "checkin_list")
        ),
        payload=payload,
    )


def _notification_id(payload: Mapping[str, Any]) -> int:
    return _payload_integer(payload, "notification_id")


def _payload_integer(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedPayload("malformed_payload", f"{name} must be a non-negative integer")
    return value


def _is_slug(value: object) -> bool:
    return isinstance(value, str) and SLUG.fullmatch(value) is not None


def _is_basic_secret(secret: str) -> bool:
    user, colon, _ = secret.partition(":")
    return bool(user and colon) and secret.isascii() and secret.isprintable()


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _fetch_checkins(api: PlatformApi, notification: CheckinNotification) -> list[NormalizedEvent]:
    """The position's check-ins (and a revert) as events, with gathering and attendee filled in."""
    organizer, event_slug = notification.organizer, notification.event
    base = f"organizers/{organizer}/events/{event_slug}/"
    position = _get(api, f"{base}orderpositions/{notification.position_id}/")
    gathering = _gathering(api, base, f"{organizer}/{event_slug}", position)
    scans = [_scan(checkin) for checkin in position.objects("checkins")]
    email = position.optional_text("attendee_email")
    reverted = notification.kind is EventKind.CHECKIN_REVERTED
    reverted_at = None
    if reverted or not email:
        order = _get(api, f"{base}orders/{position.slug('order')}/")
        email = email or order.optional_text("email")
        if reverted:
            reverted_at = _reverted_at(
                order.time("last_modified"), scans, notification.checkin_list
            )
    attendee = AttendeeRef(
        external_id=f"{organizer}/{event_slug}/position/{position.integer('id')}",
        email=email or None,
        name=position.optional_text("attendee_name"),
        company=position.optional_text("company"),
    )
    found = [(scan.kind, CHECKIN, scan.at) for scan in scans if scan.kind is not EventKind.UNKNOWN]
    if reverted_at is not None:
        found.append((EventKind.CHECKIN_REVERTED, CHECKIN_REVERTED, reverted_at))
    return [
        NormalizedEvent(
            kind=kind,
            platform_type=platform_type,
            occurred_at=at,
            gathering=gathering,
            attendee=attendee,
            raw=notification.payload,
        )
        for kind, platform_type, at in found
    ]


def _gathering(api: PlatformApi, base: str, event_id: str, position: _Fields) -> GatheringRef:
    """The event is the gathering; in an event series each date (sub-event) is one, and the
    series is their group. A plain event has no group of its own, so the organizer's
    name-prefix rules may give it one.
    """
    event = _get(api, base)
    event_name = event.localized("name") or event_id
    if not event.boolean("has_subevents"):
        return GatheringRef(
            external_id=event_id,
            name=event_name,
            starts_at=event.optional_time("date_from"),
            ends_at=event.optional_time("date_to"),
        )
    subevent_id = position.integer("subevent")
    subevent = _get(api, f"{base}subevents/{subevent_id}/")
    return GatheringRef(
        external_id=f"{event_id}/{subevent_id}",
        name=subevent.localized("name") or event_name,
        starts_at=subevent.optional_time("date_from"),
        ends_at=subevent.optional_time("date_to"),
        group=GroupRef(external_id=event_id, name=event_name),
    )


@dataclass(frozen=True)
class _Scan:
    kind: EventKind
    at: datetime
    list_id: int


def _scan(checkin: _Fields) -> _Scan:
    checkin_type = checkin.optional_text("type") or None
    return _Scan(
        kind=KIND_BY_ACTION.get((CHECKIN, checkin_type), EventKind.UNKNOWN),
        at=checkin.time("datetime"),
        list_id=checkin.integer("list"),
    )


def _reverted_at(last_modified: datetime, scans: list[_Scan], checkin_list: int | None) -> datetime:
    """When a revert happened, as closely as pretix lets anyone know.

    A revert deletes every check-in of the position on one check-in list, so the position no
    longer shows them and their times are gone; the notification carries no time either.
    Roomwise's revert undoes every check-in before it, so its time must be no earlier than the
    deleted check-ins and no later than any check-in made afterwards.

    The order's `last_modified` is the moment of the revert, which touches the order, unless
    the order changed again since; either way it is after every deleted check-in. Any check-in
    still on the reverted list was made after the revert (that list was emptied), so the
    revert is placed just before the first of them: a re-entry after a revert stays counted
    however late this delivery is processed or replayed. Both bounds come from pretix's data,
    so processing the delivery again gives the same time while nothing changes in pretix.

    What stays approximate: check-ins on other lists of the same event that precede this time
    are undone too, since Roomwise keeps one attendance per gathering, not one per list.
    """
    later = [scan.at for scan in scans if scan.list_id == checkin_list]
    if later:
        return min(last_modified, min(later) - timedelta(microseconds=1))
    return last_modified


def _get(api: PlatformApi, path: str) -> _Fields:
    return _Fields(api.get(path), f"GET {api.url(path)}")


class _Fields:
    """A JSON object from pretix's API, read field by field.

    A field of the wrong shape is a `PlatformRejected` naming the call and the field: the
    delivery fails visibly instead of storing a guess.
    """

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise PlatformRejected(f"{where} answered with something other than a JSON object")
        self.data: dict[str, Any] = data
        self.where = where

    def _wrong(self, name: str, expected: str) -> PlatformRejected:
        return PlatformRejected(f"{self.where}: {name} is not {expected}")

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(name, "an integer")
        return value

    def boolean(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def slug(self, name: str) -> str:
        value = self.data.get(name)
        if not _is_slug(value):
            raise self._wrong(name, "a pretix code")
        return str(value)

    def optional_text(self, name: str) -> str:
        """The text, or "" when pretix has none (null or absent)."""
        value = self.data.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(name, "text")
        return fields.clean_text(value)

    def localized(self, name: str) -> str:
        """One language of a multilingual field (`{"de": …, "en": …}`): English if there is
        one, else the first; plain text is taken as is.
        """
        value = self.data.get(name)
        if isinstance(value, dict):
            texts = {lang: text for lang, text in value.items() if isinstance(text, str) and text}
            value = texts.get(PREFERRED_LANGUAGE) or next(iter(texts.values()), "")
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(name, "text in one or more languages")
        return fields.clean_text(value)

    def time(self, name: str) -> datetime:
        try:
            return parse_timestamp(self.data.get(name), name)
        except MalformedPayload as err:
            raise self._wrong(name, "an ISO-8601 time") from err

    def optional_time(self, name: str) -> datetime | None:
        return None if self.data.get(name) is None else self.time(name)

    def objects(self, name: str) -> list[_Fields]:
        value = self.data.get(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        return [_Fields(item, f"{self.where}: {name}[{index}]") for index, item in enumerate(value)]
