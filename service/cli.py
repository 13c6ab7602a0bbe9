"""`flask --app service …` commands. Each prints JSON so scripts and tests can read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from service import accounts, demo, migrate
from service.context import current_settings, secret_box
from service.db import session_scope
from service.models import Integration


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(create_organizer)
    app.cli.add_command(add_integration)
    app.cli.add_command(rotate_secret)
    app.cli.add_command(seed_demo)
    app.cli.add_command(play_demo)


def _print_json(value: dict[str, Any]) -> None:
    click.echo(json.dumps(value, indent=2))


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(current_settings().database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(current_settings().database_url, revision)
    click.echo(f"database at {revision}")


@click.command("create-organizer")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="UTC", show_default=True)
def create_organizer(name: str, email: str, password: str, timezone: str) -> None:
    """Create an organizer with an admin login and an API token."""
    with _session() as session:
        created = accounts.create_organizer(session, name, email, password, timezone)
    _print_json(
        {
            "organizer_id": created.organizer_id,
            "user_id": created.user_id,
            "api_token": created.api_token,
        }
    )


@click.command("add-integration")
@click.option("--organizer", "organizer_id", type=int, required=True)
@click.option("--platform", required=True)
def add_integration(organizer_id: int, platform: str) -> None:
    """Connect a platform; prints the webhook URL and signing secret to give it."""
    with _session() as session:
        created = accounts.create_integration(
            session, secret_box(), current_settings(), organizer_id, platform
        )
    _print_json(
        {
            "integration_id": created.integration_id,
            "platform": created.platform,
            "webhook_url": created.webhook_url,
            "signing_secret": created.signing_secret,
        }
    )


@click.command("rotate-secret")
@click.option("--integration", "integration_id", type=int, required=True)
@click.option("--retire-old", is_flag=True, help="Drop every secret but the newest instead.")
def rotate_secret(integration_id: int, retire_old: bool) -> None:
    """Add a signing secret (the previous one stays valid), or retire the old ones."""
    with _session() as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise click.UsageError(f"no integration with id {integration_id}")
        if retire_old:
            accounts.retire_old_secrets(session, secret_box(), integration)
            _print_json({"integration_id": integration_id, "retired": True})
            return
        secret = accounts.rotate_signing_secret(session, secret_box(), integration)
    _print_json({"integration_id": integration_id, "signing_secret": secret})


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo organizer (once) and print its login, API token and webhook URL."""
    with _session() as session:
        credentials = demo.ensure_demo_organizer(session, secret_box(), current_settings())
    _print_json(asdict(credentials))


@click.command("play-demo")
def play_demo() -> None:
    """Post the demo season to the running server's webhook URL as signed deliveries."""
    with _session() as session:
        credentials = demo.ensure_demo_organizer(session, secret_box(), current_settings())
    result = demo.play(credentials, demo.demo_events(datetime.now(UTC)))
    _print_json(asdict(result))


@contextmanager
def _session() -> Iterator[Session]:
    """A committed session whose account errors become clean CLI usage errors."""
    try:
        with session_scope() as session:
            yield session
    except accounts.AccountError as err:
        raise click.UsageError(str(err)) from err
