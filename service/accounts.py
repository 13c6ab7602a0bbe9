"""Creating organizers, their admin logins and API tokens.

The CLI, the demo and the tests all bootstrap through these functions, so there is one way to
make an organizer. Connecting platforms lives in `service.platforms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from service.crypto import hash_token, new_api_token
from service.models import ApiToken, Organizer, User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """Input that cannot make an account; the message says which field and why."""


@dataclass(frozen=True)
class NewOrganizer:
    organizer_id: int
    user_id: int
    api_token: str


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
    login = email.strip().lower()
    # Checked up front so a taken login is a clear error, not the database's IntegrityError.
    if session.scalar(select(User.id).where(User.email == login)) is not None:
        raise AccountError(f"a login with email {login} already exists")
    if timezone not in available_timezones():
        raise AccountError(
            f"timezone must be an IANA time zone such as Europe/Berlin, not {timezone!r}"
        )
    organizer = Organizer(name=name.strip(), email=email.strip(), timezone=timezone)
    session.add(organizer)
    session.flush()
    user = User(
        organizer_id=organizer.id,
        email=login,
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
