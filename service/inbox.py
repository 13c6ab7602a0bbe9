"""The delivery inbox: storing webhook requests durably, then processing them exactly once.

The web side calls `receive`, which verifies, stores and enqueues a request and says whether it
is new; the worker side calls `process`, which applies a stored delivery and marks it. A delivery is
the unit of replay: processing it again is harmless because applying events is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from integrations import adapter_for
from integrations.base import (
    Adapter,
    EventKind,
    IntegrationConfig,
    MalformedPayload,
    VerificationError,
)
from integrations.http import PlatformAuthError, PlatformError, PlatformUnavailable
from service import imports
from service.attendance import apply_events
from service.crypto import SecretBox
from service.delivery_writer import DeliveryWriter
from service.errors import ApiError
from service.imports import InvalidRows
from service.ingest_sql import ingest_statements
from service.keyring import Keyring, SigningKeys
from service.models import Delivery, DeliveryStatus, Integration, utcnow
from service.queue import PROCESS_DELIVERY, enqueue
from service.rescoring import mark_delivery_stale


class Receipt(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    HANDSHAKE = "handshake"


@dataclass(frozen=True)
class ReceiveResult:
    receipt: Receipt
    delivery_id: int | None
    event_type: str
    answer: dict[str, Any] | None = None


# After a kept guess: a fresh read, then one more in case the secrets changed during that read.
MAX_FRESH_ATTEMPTS = 2


def receive(
    writer: DeliveryWriter,
    keyring: Keyring,
    platform: str,
    key: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance_seconds: int,
    now: datetime | None = None,
) -> ReceiveResult:
    """Verify a webhook request and commit it to the inbox before anyone answers 2xx.

    `writer` stores the delivery and, once it is committed, enqueues it for processing when it
    is accepted. Raises `ApiError` for an unknown integration (404), a bad signature (401) or a
    malformed body (400). Ignored event types are stored too, so an organizer can see what was
    sent.

    The secrets this process kept from an earlier request are tried first, without reading
    anything from the database. Only a stored delivery is answered on them alone, because
    storing it checks that the integration still has those very secrets; any other answer (a
    refusal, a duplicate, a handshake) is worked out again on secrets read from the database.
    """
    adapter = adapter_for(platform, tolerance_seconds)
    if adapter is None:
        raise ApiError("unknown_integration", f"no platform called {platform!r}")
    try:
        return _receive(writer, keyring, adapter, platform, key, body, headers, now)
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
    # The database had dropped the pooled connection (a restart, an idle timeout). Either
    # nothing was stored on it, or it was and this attempt answers "duplicate".
    return _receive(writer, keyring, adapter, platform, key, body, headers, now)


def _receive(
    writer: DeliveryWriter,
    keyring: Keyring,
    adapter: Adapter,
    platform: str,
    key: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None,
) -> ReceiveResult:
    kept = keyring.kept(platform, key)
    if kept is not None:
        result = _store(writer, adapter, kept, body, headers, now, fresh=False)
        if result is not None:
            return result
    for _ in range(MAX_FRESH_ATTEMPTS):
        with ingest_statements(writer.engine) as statements:
            keys = keyring.load(statements, platform, key)
        if keys is None:
            raise ApiError("unknown_integration", "no integration has this webhook URL")
        result = _store(writer, adapter, keys, body, headers, now, fresh=True)
        if result is not None:
            return result
    # The integration's secrets changed under every attempt: let the platform retry shortly.
    raise ApiError("storage_unavailable", "the integration changed while storing; retry")


def _store(
    writer: DeliveryWriter,
    adapter: Adapter,
    keys: SigningKeys,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None,
    fresh: bool,
) -> ReceiveResult | None:
    """Verify with `keys` and store; None when only fresher secrets can decide the answer.

    Only storing can be answered on secrets kept from an earlier request (not `fresh`): any
    other answer waits for secrets read from the database.
    """
    try:
        adapter.verify(body, headers, keys.secrets, now)
        answer = adapter.handshake(body, headers, keys.secrets)
        if answer is not None:
            return ReceiveResult(Receipt.HANDSHAKE, None, "", answer) if fresh else None
        events = adapter.parse(body, headers)
        external_id = adapter.delivery_id(body, headers)[:200]
    except (VerificationError, MalformedPayload) as err:
        if fresh:
            raise ApiError(err.reason, err.detail) from err
        return None

    ignored = all(event.kind is EventKind.UNKNOWN for event in events)
    event_type = ",".join(sorted({event.platform_type for event in events}))[:100]
    delivery_id = writer.store(
        {
            "integration_id": keys.integration_id,
            "secrets_encrypted": keys.sealed,
            "external_id": external_id,
            "event_type": event_type,
            "headers": adapter.headers_to_keep(headers),
            "body": body,
            "status": DeliveryStatus.IGNORED if ignored else DeliveryStatus.RECEIVED,
            "reason": "ignored" if ignored else None,
            "received_at": now or utcnow(),
        }
    )
    if delivery_id is not None:
        receipt = Receipt.IGNORED if ignored else Receipt.ACCEPTED
        return ReceiveResult(receipt, delivery_id, event_type)
    if not fresh:
        return None
    with ingest_statements(writer.engine) as statements:
        existing = statements.delivery_exists(keys.integration_id, external_id)
    return ReceiveResult(Receipt.DUPLICATE, None, event_type) if existing else None


class ProcessOutcome(StrEnum):
    PROCESSED = "processed"
    ALREADY_DONE = "already_done"
    MISSING = "missing"
    FAILED = "failed"


# A delivery and its integration, the delivery's row locked; built once for every delivery.
LOCK_DELIVERY = (
    select(Delivery, Integration)
    .join(Integration, Integration.id == Delivery.integration_id)
    .where(Delivery.id == bindparam("delivery_id"))
    .with_for_update(of=Delivery)
)


def process(session: Session, box: SecretBox, delivery_id: int) -> ProcessOutcome:
    """Apply one stored delivery in the caller's transaction, holding its row lock.

    The lock makes two workers given the same delivery (a redelivery, a sweep racing a retry)
    take turns; the second sees it processed and does nothing. A platform that is down raises
    `PlatformUnavailable` for the caller to retry later; any other platform error fails the
    delivery with its reason, and a 401/403 also marks the integration's credentials invalid.
    """
    found = session.execute(LOCK_DELIVERY, {"delivery_id": delivery_id}).one_or_none()
    if found is None:
        return ProcessOutcome.MISSING
    delivery, integration = found
    if delivery.status != DeliveryStatus.RECEIVED:
        return ProcessOutcome.ALREADY_DONE
    try:
        summary = _apply(session, box, integration, delivery)
        mark_delivery_stale(session, delivery.id)
    except MalformedPayload as err:
        return _fail(delivery, f"{err.reason}: {err.detail}")
    except InvalidRows as err:
        return _fail(delivery, f"invalid_rows: {err}")
    except PlatformUnavailable:
        raise
    except PlatformError as err:
        note_platform_error(integration, err)
        return _fail(delivery, f"{err.reason}: {err.detail}")
    # Changed only now, so that the delivery's row is written once.
    delivery.attempts += 1
    delivery.summary = summary
    delivery.status = DeliveryStatus.PROCESSED
    delivery.reason = None
    delivery.processed_at = utcnow()
    return ProcessOutcome.PROCESSED


def _apply(
    session: Session, box: SecretBox, integration: Integration, delivery: Delivery
) -> dict[str, Any]:
    """Apply a webhook's events through its platform's adapter, or an uploaded file."""
    if integration.platform == imports.PLATFORM:
        return imports.apply_stored(session, integration, delivery)
    adapter = adapter_for(integration.platform)
    if adapter is None:
        raise MalformedPayload(
            "unknown_platform", f"platform {integration.platform!r} is no longer supported"
        )
    events = adapter.parse(delivery.body, delivery.headers)
    if adapter.thin:
        api = adapter.api(integration_config(box, integration))
        try:
            events = adapter.resolve(events, api)
        finally:
            if api is not None:
                api.close()
    return {"events": len(events), "applied": apply_events(session, integration, delivery, events)}


def integration_config(box: SecretBox, integration: Integration) -> IntegrationConfig:
    """Decrypt what an adapter needs to call the platform's API for this integration."""
    return IntegrationConfig(
        settings=integration.settings,
        credentials=box.open(integration.credentials_encrypted, {}),
        signing_secrets=box.open(integration.secrets_encrypted, []),
    )


def note_platform_error(integration: Integration, err: PlatformError) -> None:
    """Keep the latest platform error on the integration, where the organizer looks first."""
    integration.last_error = f"{err.reason}: {err.detail}"[:2000]
    integration.last_error_at = utcnow()
    if isinstance(err, PlatformAuthError):
        integration.credentials_invalid_at = integration.last_error_at


def _fail(delivery: Delivery, reason: str) -> ProcessOutcome:
    delivery.attempts += 1
    delivery.status = DeliveryStatus.FAILED
    delivery.reason = reason[:2000]
    delivery.processed_at = utcnow()
    return ProcessOutcome.FAILED


def note_retry(session: Session, delivery_id: int, reason: str) -> None:
    """Count a failed attempt that will be retried, and say why, where the organizer can see it.

    The attempt's own transaction was rolled back, so this runs in a fresh one.
    """
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.RECEIVED)
        .values(attempts=Delivery.attempts + 1, reason=f"retrying: {reason}"[:2000])
    )
    session.commit()


def record_failure(session: Session, delivery_id: int, reason: str) -> None:
    """Mark a delivery failed after its retries ran out, so the organizer sees and can replay it."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.RECEIVED)
        .values(status=DeliveryStatus.FAILED, reason=reason[:2000], processed_at=utcnow())
    )
    session.commit()


def stuck_deliveries(session: Session, older_than: timedelta, limit: int = 500) -> list[int]:
    """Ids of deliveries still `received` after `older_than`: their enqueue was lost."""
    cutoff = utcnow() - older_than
    return list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.status == DeliveryStatus.RECEIVED, Delivery.received_at < cutoff)
            .order_by(Delivery.id)
            .limit(limit)
        )
    )


def replay(session: Session, delivery: Delivery) -> None:
    """Put a delivery back in the inbox and queue it for processing (the sweeper queues it
    later if the broker cannot take it now)."""
    mark_for_replay(session, delivery)
    enqueue(PROCESS_DELIVERY, delivery.id)


def mark_for_replay(session: Session, delivery: Delivery) -> None:
    """Put a delivery back in the inbox; its events apply again without double-counting."""
    delivery.status = DeliveryStatus.RECEIVED
    delivery.reason = None
    delivery.processed_at = None
    session.commit()
