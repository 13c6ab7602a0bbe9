"""The README stays true to the code: its settings table and its standard-format event types."""

from __future__ import annotations

from pathlib import Path

from integrations.standard import KIND_BY_TYPE
from service.config import setting_names
from service.errors import STATUS_BY_REASON

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_settings_table():
    for name in setting_names():
        assert f"| `{name}` |" in README, name


def test_every_standard_event_type_is_documented():
    for event_type in KIND_BY_TYPE:
        assert f"`{event_type}`" in README, event_type


def test_every_webhook_rejection_reason_is_documented():
    webhook_reasons = [
        "malformed_json",
        "malformed_payload",
        "missing_signature",
        "bad_signature",
        "stale_timestamp",
        "future_timestamp",
        "unknown_integration",
        "payload_too_large",
        "storage_unavailable",
    ]
    for reason in webhook_reasons:
        assert reason in STATUS_BY_REASON
        assert f'"{reason}"' in README, reason
