"""Creating organizers, API tokens and integrations, and rotating signing secrets.

The CLI, the demo and the tests all bootstrap through these functions, so there is one way to
make an organizer and one way to connect a platform.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from integrations import REGISTRY
from integrations.signatures import generate_secret
from service.config import Settings
from service.crypto import SecretBox, hash_token, new_api_token, new_integration_key
from service.models import ApiToken, Integration, Organizer, User

# How many signing secrets stay valid at once: the new one and the one being retired.
MAX_SIGNING_SECRETS = 2
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """Input that cannot make an account; the message says which field and why."""


@dataclass(frozen=True)
class NewOrganizer:
    organizer_id: int
    user_id: int
    api_token: str


@dataclass(frozen=True)
class NewIntegration:
    integration_id: int
    platform: str
    webhook_url: str
    signing_secret: str


def create_organizer(
    session: Session, name: str, email: str, password: str, timezone: str = "UTC"
) -> NewOrganizer:
    """An organizer, its first admin user and an API token (shown once, stored hashed)."""
    if not name.strip():
        raise AccountError("name must not be empty")
    if "@" not in email:
        raise AccountError("email must be an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    organizer = Organizer(name=name.strip(), email=email.strip(), timezone=timezone)
    session.add(organizer)
    session.flush()
    user = User(
        organizer_id=organizer.id,
        email=email.strip().lower(),
        password_hash=generate_password_hash(password),
    )
    token = issue_api_token(session, organizer.id)
    session.add(user)
    session.flush()
    return NewOrganizer(organizer.id, user.id, token)


def issue_api_token(session: Session, organizer_id: int, label: str = "default") -> str:
    token = new_api_token()
    session.add(ApiToken(organizer_id=organizer_id, token_hash=hash_token(token), label=label))
    return token


def create_integration(
    session: Session, box: SecretBox, settings: Settings, organizer_id: int, platform: str
) -> NewIntegration:
    """Connect a platform: a secret webhook URL and a fresh signing secret."""
    if platform not in REGISTRY:
        raise AccountError(f"unknown platform {platform!r}; known: {', '.join(sorted(REGISTRY))}")
    if session.get(Organizer, organizer_id) is None:
        raise AccountError(f"no organizer with id {organizer_id}")
    secret = generate_secret()
    integration = Integration(
        organizer_id=organizer_id,
        platform=platform,
        key=new_integration_key(),
        secrets_encrypted=box.seal([secret]),
    )
    session.add(integration)
    session.flush()
    return NewIntegration(integration.id, platform, webhook_url(settings, integration), secret)


def rotate_signing_secret(session: Session, box: SecretBox, integration: Integration) -> str:
    """Add a new signing secret; the previous one keeps working until the next rotation."""
    secret = generate_secret()
    current: list[str] = box.open(integration.secrets_encrypted, [])
    integration.secrets_encrypted = box.seal([secret, *current][:MAX_SIGNING_SECRETS])
    return secret


def retire_old_secrets(session: Session, box: SecretBox, integration: Integration) -> None:
    """Keep only the newest signing secret, once every sender uses it."""
    current: list[str] = box.open(integration.secrets_encrypted, [])
    integration.secrets_encrypted = box.seal(current[:1])


def webhook_url(settings: Settings, integration: Integration) -> str:
    return f"{settings.public_base_url}/hooks/{integration.platform}/{integration.key}"
