"""Settings read from the environment, typed, defaulted and validated once at start-up.

Every setting Roomwise reads lives here, so the README's settings table and this module can be
checked against each other. `load_settings` collects every problem before failing, so an
operator fixes a broken deployment in one pass instead of one error at a time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MIB = 1024 * 1024


class ConfigError(Exception):
    """Raised when one or more settings are wrong; the message names every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Settings:
    """The service's configuration. Field names are the environment variable names, lower-cased."""

    environment: str
    var_dir: Path
    database_url: str
    broker_url: str
    smtp_url: str
    mail_from: str
    secret_key: str
    public_base_url: str
    webhook_max_bytes: int
    webhook_tolerance_seconds: int
    sweep_after_seconds: int
    log_level: str
    outbound_allow_private: bool
    mail_lease_seconds: int
    mail_send_chunk: int
    mail_batch_size: int

    @property
    def outbox_dir(self) -> Path:
        """Where mail goes as `.eml` files when no SMTP server is configured."""
        return self.var_dir / "outbox"

    @property
    def sender_address(self) -> str:
        """The bare address of `MAIL_FROM`: the SMTP envelope sender, the unsubscribe mailbox
        and the domain of every Message-ID."""
        return parseaddr(self.mail_from)[1] or "roomwise@localhost"

    @property
    def beat_schedule_path(self) -> Path:
        return self.var_dir / "celerybeat-schedule"


ENVIRONMENTS = ("development", "production")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "pyamqp", "sqla+sqlite", "sqla+postgresql")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from `environ` (default: the process environment) and validate them.

    `overrides` replace individual fields after reading, for tests and embedded use.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    var_dir = Path(env.get("VAR_DIR", "var")).absolute()
    environment = env.get("ROOMWISE_ENV", "development")

    settings = Settings(
        environment=environment,
        var_dir=var_dir,
        database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'roomwise.sqlite'}",
        broker_url=(
            env.get("BROKER_URL")
            or env.get("REDIS_URL")
            or f"sqla+sqlite:///{var_dir / 'broker.sqlite'}"
        ),
        smtp_url=env.get("SMTP_URL", ""),
        mail_from=env.get("MAIL_FROM", "Roomwise <roomwise@localhost>"),
        secret_key=env.get("SECRET_KEY", ""),
        public_base_url=env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        webhook_max_bytes=_int(env, "WEBHOOK_MAX_BYTES", MIB, problems),
        webhook_tolerance_seconds=_int(env, "WEBHOOK_TOLERANCE_SECONDS", 300, problems),
        sweep_after_seconds=_int(env, "SWEEP_AFTER_SECONDS", 60, problems),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        outbound_allow_private=_bool(env, "OUTBOUND_ALLOW_PRIVATE", False, problems),
        mail_lease_seconds=_int(env, "MAIL_LEASE_SECONDS", 900, problems),
        mail_send_chunk=_int(env, "MAIL_SEND_CHUNK", 20, problems),
        mail_batch_size=_int(env, "MAIL_BATCH_SIZE", 1000, problems),
    )
    settings = replace(settings, **overrides)
    if not settings.secret_key and settings.environment == "development":
        settings = replace(settings, secret_key=_development_secret_key(settings.var_dir))
    problems.extend(validate(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def validate(settings: Settings) -> list[str]:
    """Return one sentence per wrong setting, naming the environment variable."""
    problems = []
    if settings.environment not in ENVIRONMENTS:
        problems.append(f"ROOMWISE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if _scheme(settings.database_url) not in DATABASE_SCHEMES:
        problems.append(
            "DATABASE_URL must start with sqlite:// or postgresql:// "
            f"(got {_redact(settings.database_url)!r})"
        )
    if _scheme(settings.broker_url) not in BROKER_SCHEMES:
        problems.append(
            "BROKER_URL (or REDIS_URL) must start with redis://, amqp:// or sqla+sqlite:// "
            f"(got {_redact(settings.broker_url)!r})"
        )
    if settings.smtp_url and _scheme(settings.smtp_url) not in ("smtp", "smtps"):
        problems.append("SMTP_URL must start with smtp:// or smtps://, or be empty for the outbox")
    if len(settings.secret_key) < 32:
        problems.append("SECRET_KEY must be set to at least 32 random characters")
    if (
        _scheme(settings.public_base_url) not in ("http", "https")
        or not urlsplit(settings.public_base_url).netloc
    ):
        problems.append("PUBLIC_BASE_URL must be an absolute http(s) URL")
    if not 1024 <= settings.webhook_max_bytes <= 16 * MIB:
        problems.append("WEBHOOK_MAX_BYTES must be between 1024 and 16777216")
    if not 30 <= settings.webhook_tolerance_seconds <= 3600:
        problems.append("WEBHOOK_TOLERANCE_SECONDS must be between 30 and 3600")
    if settings.sweep_after_seconds < 1:
        problems.append("SWEEP_AFTER_SECONDS must be at least 1")
    if not 10 <= settings.mail_lease_seconds <= 86400:
        problems.append("MAIL_LEASE_SECONDS must be between 10 and 86400")
    if not 1 <= settings.mail_send_chunk <= 1000:
        problems.append("MAIL_SEND_CHUNK must be between 1 and 1000")
    if not 1 <= settings.mail_batch_size <= 10000:
        problems.append("MAIL_BATCH_SIZE must be between 1 and 10000")
    if settings.log_level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return problems


# Fields whose environment variable is not simply the upper-cased field name.
ENV_NAME_BY_FIELD = {"environment": "ROOMWISE_ENV"}


def setting_names() -> list[str]:
    """The environment variable behind each field, for documentation checks."""
    return [ENV_NAME_BY_FIELD.get(field.name, field.name.upper()) for field in fields(Settings)]


def _int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number (got {raw!r})")
        return default


def _bool(env: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name} must be true or false (got {raw!r})")
    return default


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "***")
    return url


def _development_secret_key(var_dir: Path) -> str:
    """A random key kept under `var/`, so a newcomer needs no setup and secrets survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
