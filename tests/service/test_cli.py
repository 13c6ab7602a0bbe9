"""The operator CLI, run as a real `flask --app service …` process against the test database.

What it prints must be usable as is: the token opens the API, the webhook URL and signing
secret accept a signed delivery, and a rotated secret works alongside the old one until that
is retired. Bad input ends with a one-line reason and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from service.context import secret_box
from service.db import session_scope
from service.inbox import process
from tests.conftest import ROOT, worker_env
from tests.support import signed_headers, standard_body

FLASK = str(Path(sys.executable).parent / "flask")


def run_cli(settings_overrides: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one CLI command with the test suite's database, secret key and base URL."""
    return subprocess.run(
        [FLASK, "--app", "service", *args],
        cwd=ROOT,
        env=worker_env(settings_overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_json(settings_overrides: dict[str, Any], *args: str) -> dict[str, Any]:
    result = run_cli(settings_overrides, *args)
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def new_organizer(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    return cli_json(
        settings_overrides,
        "create-organizer",
        *("--name", "CLI Networking Co", "--email", email, "--password", "correct horse"),
    )


def add_integration(settings_overrides: dict[str, Any], organizer_id: int) -> dict[str, Any]:
    return cli_json(
        settings_overrides,
        "add-integration",
        *("--organizer", str(organizer_id), "--platform", "standard"),
    )


def post_signed(client: FlaskClient, webhook_url: str, secret: str, attendee: str) -> Any:
    body = standard_body(attendee_id=attendee, email=f"{attendee}@example.com")
    return client.post(urlsplit(webhook_url).path, data=body, headers=signed_headers(secret, body))


@pytest.fixture(scope="module")
def organizer(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return new_organizer(settings_overrides)


def test_created_organizer_token_opens_the_api(client, organizer):
    assert organizer["api_token"].startswith("rw_")
    assert isinstance(organizer["organizer_id"], int)
    assert isinstance(organizer["user_id"], int)

    headers = {"Authorization": f"Bearer {organizer['api_token']}"}
    response = client.get("/api/v1/deliveries", headers=headers)
    assert response.status_code == 200
    assert response.json == {"deliveries": [], "next_offset": None}


def test_rescore_all_scores_a_delivered_check_in(client, settings_overrides, organizer):
    created = add_integration(settings_overrides, organizer["organizer_id"])
    response = post_signed(client, created["webhook_url"], created["signing_secret"], "cli-r")
    assert response.status_code == 202, response.json
    processed = cli_json(settings_overrides, "rescore-all", "--organizer", "0")
    assert processed == {"gatherings": 0, "groups": 0, "processes": processed["processes"]}

    with client.application.app_context(), session_scope() as session:
        assert str(process(session, secret_box(), response.json["delivery"])) == "processed"
    done = cli_json(
        settings_overrides,
        "rescore-all",
        *("--organizer", str(organizer["organizer_id"]), "--processes", "2"),
    )

    assert done == {"gatherings": 1, "groups": 1, "processes": 2}
    headers = {"Authorization": f"Bearer {organizer['api_token']}"}
    [gathering] = client.get("/api/v1/gatherings", headers=headers).json["gatherings"]
    detail = client.get(f"/api/v1/gatherings/{gathering['id']}", headers=headers).json
    assert detail["score"]["head_count"] == 1


def test_added_integration_accepts_a_signed_delivery(client, settings_overrides, organizer):
    created = add_integration(settings_overrides, organizer["organizer_id"])

    assert created["platform"] == "standard"
    assert created["signing_secret"].startswith("whsec_")
    url = urlsplit(created["webhook_url"])
    assert f"{url.scheme}://{url.netloc}" == settings_overrides["public_base_url"]
    assert url.path.startswith("/hooks/standard/")

    response = post_signed(client, created["webhook_url"], created["signing_secret"], "cli-1")
    assert response.status_code == 202, response.json

    headers = {"Authorization": f"Bearer {organizer['api_token']}"}
    delivery = client.get(f"/api/v1/deliveries/{response.json['delivery']}", headers=headers)
    assert delivery.status_code == 200
    assert delivery.json["integration_id"] == created["integration_id"]


def test_each_integration_gets_its_own_url_and_secret(settings_overrides, organizer):
    first = add_integration(settings_overrides, organizer["organizer_id"])
    second = add_integration(settings_overrides, organizer["organizer_id"])
    assert first["webhook_url"] != second["webhook_url"]
    assert first["signing_secret"] != second["signing_secret"]


def test_rotated_secret_works_beside_the_old_one_until_retired(
    client, settings_overrides, organizer
):
    created = add_integration(settings_overrides, organizer["organizer_id"])
    url, old = created["webhook_url"], created["signing_secret"]
    integration = str(created["integration_id"])

    rotated = cli_json(settings_overrides, "rotate-secret", "--integration", integration)
    assert rotated["integration_id"] == created["integration_id"]
    new = rotated["signing_secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert post_signed(client, url, old, "rot-old").status_code == 202
    assert post_signed(client, url, new, "rot-new").status_code == 202

    retired = cli_json(
        settings_overrides, "rotate-secret", "--integration", integration, "--retire-old"
    )
    assert retired == {"integration_id": created["integration_id"], "retired": True}
    refused = post_signed(client, url, old, "rot-old-again")
    assert refused.status_code == 401
    assert refused.json["reason"] == "bad_signature"
    assert post_signed(client, url, new, "rot-new-again").status_code == 202


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("create-organizer", "--name", "X", "--email", "x@example.com", "--password", "short"),
            "password must be at least 8 characters",
        ),
        (
            ("create-organizer", "--name", "X", "--email", "nobody", "--password", "long enough"),
            "email must be an email address",
        ),
        (
            (
                "create-organizer",
                "--name",
                " ",
                "--email",
                "x@example.com",
                "--password",
                "long enough",
            ),
            "name must not be empty",
        ),
        (
            ("add-integration", "--organizer", "999999999", "--platform", "standard"),
            "no organizer with id 999999999",
        ),
        (
            ("add-integration", "--organizer", "1", "--platform", "nosuch"),
            "unknown platform 'nosuch'",
        ),
        (
            ("add-integration", "--organizer", "one", "--platform", "standard"),
            "'one' is not a valid integer",
        ),
        (("rotate-secret", "--integration", "999999999"), "no integration with id 999999999"),
    ],
)
def test_bad_input_fails_with_a_clear_message(settings_overrides, args, message):
    result = run_cli(settings_overrides, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_a_taken_login_email_is_a_clear_error(settings_overrides):
    email = f"taken-{uuid.uuid4().hex[:8]}@example.com"
    args = ("create-organizer", "--name", "First", "--password", "correct horse")
    assert run_cli(settings_overrides, *args, "--email", email).returncode == 0

    again = run_cli(settings_overrides, *args, "--email", f"  {email.upper()}")
    assert again.returncode != 0
    assert f"a login with email {email} already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_an_unknown_timezone_is_refused_cleanly(settings_overrides):
    result = run_cli(
        settings_overrides,
        "create-organizer",
        "--name",
        "Club",
        "--email",
        "tz@example.com",
        "--password",
        "long enough",
        "--timezone",
        "Mars/Olympus",
    )
    assert result.returncode != 0
    assert "IANA time zone" in result.stderr
    assert "Traceback" not in result.stderr
