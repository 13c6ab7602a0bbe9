"""`flask --app service …` commands. Each prints JSON so scripts and tests can read it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from service import accounts, demo, full_rescore, migrate, platforms
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
    app.cli.add_command(rescore_all)


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
@click.option("--platform", required=True, help="standard, pretix, eventbrite, tito, zoom, luma")
@click.option("--api-url", help="The platform's API base URL (pretix: your instance's /api/v1/).")
@click.option("--api-token", help="A platform API token, for thin payloads and registration.")
@click.option("--signing-secret", help="The secret the platform signs with (Tito, Zoom).")
@click.option("--pretix-organizer", help="pretix: the organizer slug.")
@click.option("--event", help="pretix or Eventbrite: limit the webhook to this event.")
@click.option("--organization", help="Eventbrite: the organization id to register under.")
@click.option("--no-register", is_flag=True, help="Do not register the webhook via the API.")
def add_integration(
    organizer_id: int,
    platform: str,
    api_url: str | None,
    api_token: str | None,
    signing_secret: str | None,
    pretix_organizer: str | None,
    event: str | None,
    organization: str | None,
    no_register: bool,
) -> None:
    """Connect a platform; prints the webhook URL (and secret) to give it."""
    options = {
        "api_url": api_url,
        "organizer": pretix_organizer,
        "event": event,
        "organization": organization,
    }
    with _session() as session:
        created = platforms.create_integration(
            session,
            secret_box(),
            current_settings(),
            organizer_id,
            platform,
            platform_settings={key: value for key, value in options.items() if value},
            credentials={"api_token": api_token} if api_token else None,
            signing_secret=signing_secret,
            register=not no_register,
        )
    printed: dict[str, Any] = {
        "integration_id": created.integration_id,
        "platform": created.platform,
        "webhook_url": created.webhook_url,
    }
    if created.signing_secret:
        printed["signing_secret"] = created.signing_secret
    if created.registration is not None:
        printed["registered"] = created.registration
    _print_json(printed)


@click.command("rescore-all")
@click.option("--organizer", "organizer_id", type=int, help="Only this organizer's groups.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the machine's cores",
    help="Groups rescored at once, each in a process of its own.",
)
def rescore_all(organizer_id: int | None, processes: int) -> None:
    """Rescore every gathering and group: after a model change, a settings change or a restore."""
    done = full_rescore.rescore_everything(current_settings().database_url, processes, organizer_id)
    _print_json(
        {
            "gatherings": done.counts.gatherings,
            "groups": done.counts.groups,
            "processes": done.processes,
        }
    )


@click.command("rotate-secret")
@click.option("--integration", "integration_id", type=int, required=True)
@click.option("--secret", "new_secret", help="The platform's new secret (Tito, Zoom).")
@click.option("--retire-old", is_flag=True, help="Drop every secret but the newest instead.")
def rotate_secret(integration_id: int, new_secret: str | None, retire_old: bool) -> None:
    """Add a signing secret (the previous one stays valid), or retire the old ones."""
    with _session() as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise click.UsageError(f"no integration with id {integration_id}")
        if retire_old:
            platforms.retire_old_secrets(session, secret_box(), integration)
            _print_json({"integration_id": integration_id, "retired": True})
            return
        secret = platforms.rotate_signing_secret(session, secret_box(), integration, new_secret)
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
    except (accounts.AccountError, platforms.IntegrationError) as err:
        raise click.UsageError(str(err)) from err
