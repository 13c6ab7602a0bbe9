"""Signed outbound webhooks: organizers' endpoints, the events queued for them, and sending.

Registering an endpoint gives it its own `whsec_…` secret (`integrations.signatures`, the same
Standard Webhooks code that verifies inbound requests). `emit` queues an event as one
`OutboundMessage` per subscribed endpoint, idempotently on the event's key. Beat's
`deliver_due_webhooks` calls `deliver_due`, which claims due messages one at a time, POSTs each
(`attempt`) and records the answer (`record`): 2xx delivered; 410 disables the endpoint; anything
else, 3xx and timeouts included, is retried on `RETRIES` (about 18 hours in all) or after
the receiver's `Retry-After`, then given up as failed. Spec and delivery advice:
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

Endpoints are URLs typed in by organizers, so sending must never reach Roomwise's own network
(SSRF): loopback, private, link-local, multicast, reserved and unspecified addresses are refused
when the endpoint is registered, again when its host is resolved before each attempt (the name
may have been re-pointed since: DNS rebinding), and once more on the socket actually connected,
so a name that changes between that check and the connection cannot slip through.
`OUTBOUND_ALLOW_PRIVATE` lifts all three for local development.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.http import retry_after_seconds
from integrations.signatures import generate_secret, signed_headers
from service.backoff import RetrySchedule
from service.crypto import SecretBox
from service.models import (
    Group,
    MemberStandingSnapshot,
    OutboundAttempt,
    OutboundEndpoint,
    OutboundEventType,
    OutboundMessage,
    OutboundStatus,
    Person,
    utcnow,
)
from service.upsert import insert_ignoring_conflict

# Seconds to connect, and again to wait for the answer, before an attempt counts as failed.
TIMEOUT = 15.0
# The wait after the 1st, 2nd, … failed attempt; after the last one the message is failed.
# Svix's schedule, which Standard Webhooks points to: https://docs.svix.com/retries. Each delay
# is spread by ± a fifth, so endpoints that failed together do not retry together.
RETRIES = RetrySchedule(
    delays=(
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
    ),
    jitter=0.2,
)
# A receiver's Retry-After (on 429 or 503) is honoured up to the longest scheduled delay.
RETRY_AFTER_STATUSES = frozenset({429, 503})
# How long a claimed message is hidden from other workers while one sends it: longer than the
# connect and read timeouts together, so a message is only sent twice when a worker died.
LEASE = timedelta(seconds=120)
MAX_URL_LENGTH = 2000
USER_AGENT = "Roomwise-Webhooks/1"


class InvalidEndpoint(ValueError):
    """A URL or event list Roomwise will not send to; `reason` is an API reason slug."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        super().__init__(detail)


class EndpointDisabled(ValueError):
    """The message's endpoint is disabled, so it cannot be sent again."""


# --- payloads ----------------------------------------------------------------------------------
# Every body is the Standard Webhooks envelope {"type", "timestamp", "data"}; these are the data.


class GroupRef(TypedDict):
    id: int
    name: str


class PersonRef(TypedDict):
    """A person as webhooks name them: never with an email address."""

    id: int
    name: str


class StandingChangedData(TypedDict):
    """`member.standing_changed`: a member's standing in a group moved to another value."""

    group: GroupRef
    person: PersonRef
    old_standing: str
    standing: str  # stay | give_it_time | time_to_move_on
    label: str
    estimated: bool
    rule: str
    reasons: list[str]
    numbers: dict[str, Any]
    changed_at: str


class GatheringSummaryData(TypedDict):
    """`gathering.summary`, once after a gathering ends (event key `summary:<gathering id>`):
    the organizer's summary email as data (`service.mail.build.summary_payload`).

    `gathering` and `score` are shaped as `GET /api/v1/gatherings/<id>` shows them, without
    attendance; `standings` counts the group's members by standing after the gathering;
    `standing_changes` are the members whose standing changed since the group's previous
    gathering, and `left_group` how many said "this group is not for me" in that time.
    """

    gathering: dict[str, Any]
    group: GroupRef | None
    score: dict[str, Any] | None
    checked_in: int
    registered: int
    first_timers: int | None  # None until the gathering is scored
    returning: int | None
    standings: dict[str, int]
    standing_changes: list[StandingChange]
    left_group: int


class StandingChange(TypedDict):
    person: PersonRef
    old_standing: str
    standing: str
    label: str
    reasons: list[str]
    changed_at: str


class Retention(TypedDict):
    """Of the people at the group's previous gathering, how many came to its latest."""

    previous: str
    latest: str
    attended_previous: int
    came_back: int
    share: float


class NextGathering(TypedDict):
    id: int
    name: str
    starts_at: str | None
    registered: int
    expected: int  # registered × the measured show-up rate, else the recent median


class DigestAction(TypedDict):
    code: str
    text: str
    reason: str


class GroupDigestData(TypedDict):
    """`group.digest`, once per group and period (event key `digest:<group id>:<period start>`):
    one group's part of the weekly digest email (`service.mail.build.digest_payloads`).

    `health` is the API's group health object; `health_history` the health as of each recent
    gathering, recomputed from today's records; `gatherings` are the period's gatherings with
    their score values; `actions` the top three of the latest scored gathering.
    """

    group: GroupRef
    period_start: str
    period_end: str
    health: dict[str, Any] | None
    health_history: list[dict[str, Any]]
    gatherings: list[dict[str, Any]]
    retention: Retention | None
    regulars_going_quiet: list[PersonRef]
    next_gathering: NextGathering | None
    actions: list[DigestAction]


# --- endpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: OutboundEndpoint
    secret: str  # shown to the organizer once; only its encrypted form is stored


def register(
    session: Session,
    box: SecretBox,
    organizer_id: int,
    url: str,
    events: Sequence[str],
    *,
    allow_private: bool,
) -> NewEndpoint:
    """Add an endpoint for `events` at `url`, with a new signing secret (flushed, not committed)."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidEndpoint(
            "invalid_parameter", "url", f"url must be 1 to {MAX_URL_LENGTH} characters"
        )
    check_url(url, allow_private=allow_private)
    known = {event.value for event in OutboundEventType}
    if not events or any(event not in known for event in events):
        raise InvalidEndpoint(
            "invalid_parameter", "events", f"events must list some of: {', '.join(sorted(known))}"
        )
    secret = generate_secret()
    endpoint = OutboundEndpoint(
        organizer_id=organizer_id,
        url=url,
        events=sorted(set(events)),
        secret_encrypted=box.seal(secret),
    )
    session.add(endpoint)
    session.flush()
    return NewEndpoint(endpoint, secret)


def disable(session: Session, endpoint: OutboundEndpoint, reason: str) -> None:
    """Stop sending to `endpoint`: its waiting messages become `disabled`, kept for the record."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.endpoint_id == endpoint.id,
            OutboundMessage.status == OutboundStatus.PENDING,
        )
        .values(status=OutboundStatus.DISABLED, next_attempt_at=None)
    )


def enable(endpoint: OutboundEndpoint, *, allow_private: bool) -> None:
    """Send to `endpoint` again once its owner has fixed it (after a 410, say). Its address is
    checked again, as at registration. Messages disabled meanwhile stay disabled, kept for the
    record; each can be replayed."""
    check_url(endpoint.url, allow_private=allow_private)
    endpoint.enabled = True
    endpoint.disabled_reason = None


# --- addresses (SSRF) --------------------------------------------------------------------------

IPAddress = IPv4Address | IPv6Address


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise `InvalidEndpoint` unless Roomwise may POST to `url`.

    Only http(s); https unless private addresses are allowed; and, unless they are, a host whose
    every address (an IP literal, or what the name resolves to now) is public.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpoint("invalid_parameter", "url", "url must be an absolute http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise InvalidEndpoint("invalid_parameter", "url", "url has an invalid port") from err
    if allow_private:
        return
    if parts.scheme != "https":
        raise InvalidEndpoint("invalid_parameter", "url", "url must use https")
    for address in _addresses(parts.hostname, port):
        if not is_public(address):
            raise InvalidEndpoint(
                "forbidden_address",
                "url",
                f"url: {parts.hostname} is not a public address ({address})",
            )


def is_public(address: IPAddress) -> bool:
    """False for loopback, private (RFC 1918, unique-local), link-local, multicast, reserved,
    unspecified and shared addresses, including IPv4 ones written as IPv6 (`::ffff:10.0.0.1`)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _addresses(host: str, port: int) -> set[IPAddress]:
    try:
        return {ip_address(host)}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise InvalidEndpoint("invalid_parameter", "url", f"url: {host} does not resolve") from err
    return {ip_address(str(info[4][0]).partition("%")[0]) for info in infos}


def _public_peer(sock: socket.socket) -> socket.socket:
    """The connected socket, or `InvalidEndpoint` when it reached a non-public address."""
    address = ip_address(str(sock.getpeername()[0]).partition("%")[0])
    if not is_public(address):
        sock.close()
        raise InvalidEndpoint(
            "forbidden_address", "url", f"url: connected to {address}, not a public address"
        )
    return sock


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _public_peer(super()._new_conn())


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _public_peer(super()._new_conn())


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def http_session(*, allow_private: bool) -> requests.Session:
    """A requests session for sending webhooks; unless private addresses are allowed, it checks
    the address of every socket it opens before a byte of the request is written.

    Proxy settings from the environment are ignored: the check must see the receiver itself.
    """
    session = requests.Session()
    session.trust_env = False
    if not allow_private:
        adapter = _PublicOnlyAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


# --- emitting ----------------------------------------------------------------------------------


def emit(
    session: Session,
    organizer_id: int,
    event_type: str,
    event_key: str,
    payload: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> int:
    """Queue an event for every enabled endpoint of the organizer subscribed to its type, due now.

    `event_key` names the event itself (not this call), so emitting it again, from a retried
    task or a rescore that lands on the same change, creates nothing. Returns how many
    messages were created.
    """
    event = OutboundEventType(event_type)
    body = {
        "type": event.value,
        "timestamp": (occurred_at or utcnow()).isoformat(),
        "data": dict(payload),
    }
    endpoints = session.execute(
        select(OutboundEndpoint.id, OutboundEndpoint.events).where(
            OutboundEndpoint.organizer_id == organizer_id, OutboundEndpoint.enabled.is_(True)
        )
    )
    created = 0
    for endpoint_id, events in endpoints:
        if event.value not in events:
            continue
        values = {
            "endpoint_id": endpoint_id,
            "event_type": event.value,
            "event_key": event_key,
            "webhook_id": f"msg_{uuid.uuid4().hex}",
            "payload": body,
            "next_attempt_at": utcnow(),
        }
        inserted = insert_ignoring_conflict(
            session, OutboundMessage, values, ["endpoint_id", "event_key"]
        )
        created += inserted is not None
    return created


def emit_standing_changed(
    session: Session, group: Group, row: MemberStandingSnapshot, old_standing: str
) -> int:
    """Queue `member.standing_changed` for a standing just changed from `old_standing`."""
    person = session.get(Person, row.person_id)
    data: StandingChangedData = {
        "group": {"id": group.id, "name": group.name},
        "person": {"id": row.person_id, "name": person.name if person else ""},
        "old_standing": old_standing,
        "standing": row.standing,
        "label": row.data["label"],
        "estimated": row.estimated,
        "rule": row.data["rule"],
        "reasons": row.data["sentences"],
        "numbers": row.data["numbers"],
        "changed_at": row.changed_at.isoformat(),
    }
    key = f"standing:{group.id}:{row.person_id}:{row.changed_at.isoformat()}"
    return emit(
        session,
        group.organizer_id,
        OutboundEventType.MEMBER_STANDING_CHANGED,
        key,
        data,
        occurred_at=row.changed_at,
    )


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    """What one POST came to: the receiver's status code, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(message: OutboundMessage) -> bytes:
    """The exact bytes sent, and signed, on every attempt."""
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


def attempt(
    message: OutboundMessage, secret: str, *, allow_private: bool, timeout: float = TIMEOUT
) -> AttemptResult:
    """POST the message once: same `webhook-id` every time, a fresh timestamp and signature,
    no redirects followed. Touches no database, so no transaction stays open while it waits."""
    body = body_of(message)
    headers = {
        **signed_headers(secret, message.webhook_id, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.monotonic()
    status_code = None
    retry_after = None
    error = None
    try:
        check_url(message.endpoint.url, allow_private=allow_private)
        with (
            http_session(allow_private=allow_private) as http,
            http.post(
                message.endpoint.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,  # the receiver's body is never read
            ) as response,
        ):
            status_code = response.status_code
            if status_code in RETRY_AFTER_STATUSES:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    except InvalidEndpoint as err:
        error = f"{err.reason}: {err.detail}"
    except requests.Timeout:
        error = f"timeout: no answer within {timeout:g} s"
    except requests.RequestException as err:
        error = f"connection_failed: {type(err).__name__}"
    if status_code is not None and not 200 <= status_code < 300:
        error = f"http_{status_code}"
    duration_ms = round((time.monotonic() - started) * 1000)
    return AttemptResult(status_code, error, duration_ms, retry_after)


def record(session: Session, message: OutboundMessage, result: AttemptResult, now: datetime) -> str:
    """Store the attempt and decide what comes next; return the message's new status."""
    session.add(
        OutboundAttempt(
            message_id=message.id,
            attempted_at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    message.attempts += 1
    message.last_status_code = result.status_code
    message.last_error = result.error
    if result.delivered:
        message.status = OutboundStatus.DELIVERED
        message.delivered_at = now
        message.next_attempt_at = None
    elif result.status_code == 410:
        # Also marks this message disabled (the bulk update synchronizes the session).
        disable(session, message.endpoint, f"the endpoint answered 410 Gone at {now.isoformat()}")
    elif RETRIES.exhausted(message.attempts):
        message.status = OutboundStatus.FAILED
        message.next_attempt_at = None
    else:
        message.next_attempt_at = now + RETRIES.delay_after(message.attempts, result.retry_after)
    return message.status


def deliver_due(
    session: Session,
    box: SecretBox,
    now: datetime | None = None,
    limit: int = 50,
    *,
    allow_private: bool,
) -> Counter[str]:
    """Send up to `limit` due messages, one at a time; count them by their new status.

    Each message is claimed in its own short transaction (`SELECT … FOR UPDATE SKIP LOCKED`,
    then its due time moved `LEASE` ahead) and committed before the POST, so several workers
    never take the same message and no lock is held while a slow receiver keeps us waiting.
    `now` fixes the clock (tests); by default each step reads it afresh.
    """
    outcomes: Counter[str] = Counter()
    for _ in range(limit):
        message_id = _claim(session, now or utcnow())
        session.commit()
        if message_id is None:
            break
        message = session.get(OutboundMessage, message_id, populate_existing=True)
        if message is None:
            continue
        result = attempt(
            message, box.open(message.endpoint.secret_encrypted), allow_private=allow_private
        )
        # Reloaded: the endpoint may have been deleted or the message replayed meanwhile.
        message = session.get(OutboundMessage, message_id, populate_existing=True)
        if message is not None:
            outcomes[record(session, message, result, now or utcnow())] += 1
            session.commit()
    return outcomes


def _claim(session: Session, now: datetime) -> int | None:
    message_id = session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.status == OutboundStatus.PENDING,
            OutboundMessage.next_attempt_at <= now,
        )
        .order_by(OutboundMessage.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if message_id is not None:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id)
            .values(next_attempt_at=now + LEASE)
        )
    return message_id


def replay(session: Session, message: OutboundMessage, now: datetime | None = None) -> None:
    """Send a message again as soon as beat next runs, with the same `webhook-id` (so a receiver
    that has it already can tell), and a fresh retry schedule."""
    if not message.endpoint.enabled:
        raise EndpointDisabled(f"endpoint {message.endpoint_id} is disabled")
    message.status = OutboundStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now or utcnow()
    message.delivered_at = None
