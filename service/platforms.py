"""Connecting platforms: creating integrations, their secrets and settings, and their status.

The CLI, the API and the demo all connect platforms through these functions. Where a platform
lets Roomwise register its own webhook (pretix, Eventbrite), connecting does that too, inside
the same transaction: if the platform refuses, nothing is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations import REGISTRY, adapter_for
from integrations.base import Adapter, IntegrationConfig, SecretSource
from integrations.http import PlatformError
from integrations.signatures import generate_secret
from service.config import Settings
from service.crypto import SecretBox, new_integration_key
from service.models import Delivery, Integration, Organizer

# How many signing secrets stay valid at once: the new one and the one being retired.
MAX_SIGNING_SECRETS = 2


class IntegrationError(ValueError):
    """Input that cannot connect a platform; the message says which field and why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class NewIntegration:
    integration_id: int
    platform: str
    webhook_url: str
    signing_secret: str | None
    registration: dict[str, Any] | None


def create_integration(
    session: Session,
    box: SecretBox,
    settings: Settings,
    organizer_id: int,
    platform: str,
    *,
    platform_settings: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
    signing_secret: str | None = None,
    register: bool = True,
) -> NewIntegration:
    """Connect a platform: a secret webhook URL, the signing secret, and the webhook itself.

    Roomwise generates the signing secret for `standard`; Tito and Zoom generate their own,
    which the organizer passes as `signing_secret`. With API credentials, platforms that
    support it get their webhook registered through their API (`register=False` skips that).
    """
    adapter = adapter_for(platform)
    if adapter is None:
        known = ", ".join(sorted(REGISTRY))
        raise IntegrationError(f"unknown platform {platform!r}; known: {known}", "platform")
    if session.get(Organizer, organizer_id) is None:
        raise IntegrationError(f"no organizer with id {organizer_id}", "organizer")
    secrets = _initial_secrets(adapter, signing_secret)
    config = IntegrationConfig(dict(platform_settings or {}), dict(credentials or {}), secrets)
    _check_settings(adapter, config)

    integration = Integration(
        organizer_id=organizer_id,
        platform=platform,
        key=new_integration_key(),
        secrets_encrypted=box.seal(secrets),
        credentials_encrypted=box.seal(dict(config.credentials)) if config.credentials else "",
        settings=dict(config.settings),
    )
    session.add(integration)
    session.flush()
    url = webhook_url(settings, integration)
    registration = _register(adapter, config, url) if register else None
    if registration is not None:
        integration.settings = {**integration.settings, "webhook_registration": registration}
    shown_secret = secrets[0] if adapter.secret_source is SecretSource.ROOMWISE else None
    return NewIntegration(integration.id, platform, url, shown_secret, registration)


def import_integration(session: Session, organizer_id: int, platform: str) -> Integration:
    """The organizer's integration for file imports (one per kind), created on first use."""
    existing = session.scalars(
        select(Integration)
        .where(Integration.organizer_id == organizer_id, Integration.platform == platform)
        .order_by(Integration.id)
        .limit(1)
    ).first()
    if existing is not None:
        return existing
    integration = Integration(
        organizer_id=organizer_id, platform=platform, key=new_integration_key()
    )
    session.add(integration)
    session.flush()
    return integration


def update_integration(
    session: Session,
    box: SecretBox,
    integration: Integration,
    *,
    platform_settings: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
) -> None:
    """Change an integration's settings or credentials; new credentials clear the invalid flag."""
    adapter = adapter_for(integration.platform)
    merged_settings = {**integration.settings, **(platform_settings or {})}
    if "group_rules" in merged_settings:
        merged_settings["group_rules"] = validate_group_rules(merged_settings["group_rules"])
    merged_credentials = {**box.open(integration.credentials_encrypted, {}), **(credentials or {})}
    if adapter is not None:
        _check_settings(
            adapter,
            IntegrationConfig(
                merged_settings,
                merged_credentials,
                box.open(integration.secrets_encrypted, []),
            ),
        )
    integration.settings = merged_settings
    if credentials:
        integration.credentials_encrypted = box.seal(merged_credentials)
        integration.credentials_invalid_at = None


MAX_GROUP_RULES = 100


def validate_group_rules(value: object) -> list[dict[str, str]]:
    """Check `[{"prefix": "Breakfast", "group": "Harbourside Breakfast"}, …]` from an organizer."""
    if not isinstance(value, list) or len(value) > MAX_GROUP_RULES:
        raise IntegrationError(
            f"group_rules must be a list of at most {MAX_GROUP_RULES} rules", "group_rules"
        )
    rules = []
    for index, rule in enumerate(value):
        prefix = rule.get("prefix") if isinstance(rule, dict) else None
        group = rule.get("group") if isinstance(rule, dict) else None
        if not (isinstance(prefix, str) and isinstance(group, str)) or not (
            _short_text(prefix, 200) and _short_text(group, 300)
        ):
            raise IntegrationError(
                f"group_rules[{index}] needs a non-empty 'prefix' (≤ 200 characters) and "
                "'group' (≤ 300 characters)",
                "group_rules",
            )
        rules.append({"prefix": prefix, "group": group})
    return rules


def _short_text(value: str, limit: int) -> bool:
    return 0 < len(value.strip()) <= limit and "\x00" not in value


def rotate_signing_secret(
    session: Session, box: SecretBox, integration: Integration, new_secret: str | None = None
) -> str:
    """Add a signing secret (generated, or the platform's new one); the previous one stays valid."""
    secret = new_secret or generate_secret()
    current: list[str] = box.open(integration.secrets_encrypted, [])
    integration.secrets_encrypted = box.seal([secret, *current][:MAX_SIGNING_SECRETS])
    return secret


def retire_old_secrets(session: Session, box: SecretBox, integration: Integration) -> None:
    """Keep only the newest signing secret, once every sender uses it."""
    current: list[str] = box.open(integration.secrets_encrypted, [])
    integration.secrets_encrypted = box.seal(current[:1])


def webhook_url(settings: Settings, integration: Integration) -> str:
    return f"{settings.public_base_url}/hooks/{integration.platform}/{integration.key}"


@dataclass(frozen=True)
class DeliveryStats:
    last_delivery_at: datetime | None
    counts: dict[str, int]


def delivery_stats(session: Session, integration_ids: list[int]) -> dict[int, DeliveryStats]:
    """Per integration: when the last delivery arrived and how many are in each status."""
    rows = session.execute(
        select(
            Delivery.integration_id,
            Delivery.status,
            func.count(),
            func.max(Delivery.received_at),
        )
        .where(Delivery.integration_id.in_(integration_ids))
        .group_by(Delivery.integration_id, Delivery.status)
    ).all()
    stats = {integration_id: DeliveryStats(None, {}) for integration_id in integration_ids}
    for integration_id, status, count, last in rows:
        current = stats[integration_id]
        latest = max(filter(None, [current.last_delivery_at, last]), default=None)
        stats[integration_id] = DeliveryStats(latest, {**current.counts, status: count})
    return stats


def _initial_secrets(adapter: Adapter, signing_secret: str | None) -> list[str]:
    if adapter.secret_source is SecretSource.ROOMWISE:
        if signing_secret:
            raise IntegrationError(
                f"{adapter.platform} secrets are generated by Roomwise", "signing_secret"
            )
        return [generate_secret()]
    if adapter.secret_source is SecretSource.PLATFORM and not signing_secret:
        raise IntegrationError(
            f"{adapter.platform} signs its webhooks: pass the secret it shows you", "signing_secret"
        )
    return [signing_secret] if signing_secret else []


def _check_settings(adapter: Adapter, config: IntegrationConfig) -> None:
    problems = adapter.validate_settings(config)
    if problems:
        raise IntegrationError("; ".join(problems), "settings")


def _register(adapter: Adapter, config: IntegrationConfig, url: str) -> dict[str, Any] | None:
    """Register the webhook where the platform allows it and the organizer gave credentials."""
    if type(adapter).register_webhook is Adapter.register_webhook:
        return None
    api = adapter.api(config)
    if api is None:
        return None
    try:
        return adapter.register_webhook(api, url, config)
    except PlatformError as err:
        raise IntegrationError(
            f"registering the webhook with {adapter.platform} failed ({err.reason}): {err.detail}",
            "credentials",
        ) from err
