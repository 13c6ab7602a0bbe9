"""Checking the fields of a JSON payload: one place for the rules every adapter applies.

Each check raises `MalformedPayload` naming the field, so a sender learns exactly what to fix,
and refuses text a database cannot store, so nothing accepted fails later in the worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.base import MalformedPayload, parse_timestamp

MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 300


def json_object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload("malformed_payload", f"{name} must be an object")
    return value


def identifier(value: object, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH or not storable(value):
        raise MalformedPayload(
            "malformed_payload", f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters"
        )
    return value


def text(value: object, name: str, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if (
        not isinstance(value, str)
        or (required and not value)
        or len(value) > MAX_TEXT_LENGTH
        or not storable(value)
    ):
        raise MalformedPayload(
            "malformed_payload",
            f"{name} must be text of at most {MAX_TEXT_LENGTH} characters, without NUL",
        )
    return value


def storable(value: str) -> bool:
    """Whether a database can keep `value`: PostgreSQL text refuses NUL, and a lone surrogate
    (which a JSON `\\ud800` escape produces) has no UTF-8 encoding for any driver to send.

    Refusing such text here answers the sender 400 instead of a 500, or a delivery that is
    accepted and then fails on every replay.
    """
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def optional_time(value: object, name: str) -> datetime | None:
    return None if value is None else parse_timestamp(value, name)


def clean_text(value: str) -> str:
    """Text fetched from a platform's API, made storable rather than refused.

    It is the platform's data, fetched with the organizer's credentials, so a stray NUL (which
    PostgreSQL text cannot hold) or a lone surrogate should not fail the delivery: drop the
    one, replace the other, and bound the length.
    """
    cleaned = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return cleaned.strip()[:MAX_TEXT_LENGTH]
