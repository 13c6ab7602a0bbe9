"""Standard Webhooks signing (spec v1.0.0, symmetric `v1` scheme), for both directions.

Inbound, the `standard` platform verifies with it; outbound, Roomwise signs the webhooks it
sends to organizers' tools with it. Spec: https://github.com/standard-webhooks/standard-webhooks
(`spec/standard-webhooks.md`): the signed content is `"{id}.{timestamp}.{body}"`, the signature
header is a space-separated list of `v1,<base64 HMAC-SHA256>` so secrets can rotate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from integrations.base import VerificationError, lower_keys

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def generate_secret() -> str:
    """A new `whsec_` secret: 32 random bytes, base64, as the spec suggests (24–64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """Decode a `whsec_…` secret the way the reference libraries do (prefix optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "==")
    except binascii.Error as err:
        raise ValueError("signing secret is not valid base64") from err


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `v1,<base64>` signature of one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, msg_id: str, body: bytes, now: datetime | None = None
) -> dict[str, str]:
    """The three headers a sender attaches to `body`."""
    timestamp = int((now or datetime.now(UTC)).timestamp())
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, msg_id, timestamp, body),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets_: Sequence[str],
    tolerance_seconds: int,
    now: datetime | None = None,
) -> None:
    """Raise `VerificationError` unless one listed `v1` signature matches one of `secrets_`."""
    lowered = lower_keys(headers)
    msg_id = lowered.get(ID_HEADER, "")
    raw_timestamp = lowered.get(TIMESTAMP_HEADER, "")
    signature_list = lowered.get(SIGNATURE_HEADER, "")
    if not (msg_id and raw_timestamp and signature_list):
        raise VerificationError(
            "missing_signature",
            "webhook-id, webhook-timestamp and webhook-signature headers are required",
        )
    if "." in msg_id:
        raise VerificationError("bad_signature", "webhook-id must not contain '.'")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as err:
        raise VerificationError("bad_timestamp", "webhook-timestamp must be unix seconds") from err
    current = int((now or datetime.now(UTC)).timestamp())
    if timestamp < current - tolerance_seconds:
        raise VerificationError("stale_timestamp", "webhook-timestamp is too old (replay?)")
    if timestamp > current + tolerance_seconds:
        raise VerificationError("future_timestamp", "webhook-timestamp is too far in the future")

    offered = [
        candidate.partition(",")[2].encode()
        for candidate in signature_list.split()
        if candidate.startswith("v1,")
    ]
    for secret in secrets_:
        expected = sign(secret, msg_id, timestamp, body).partition(",")[2].encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise VerificationError("bad_signature", "no webhook-signature matches a current secret")
