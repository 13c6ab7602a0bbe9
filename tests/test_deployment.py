"""docker-compose.yml and the Dockerfile, checked by reading: roles, commands, settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.config import setting_names

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PYTHON_ROLES = ("migrate", "web", "worker", "scorer", "sender", "beat")


def test_compose_runs_every_role_and_backing_service():
    assert set(SERVICES) >= {*PYTHON_ROLES, "postgres", "redis", "mailpit"}


def test_python_roles_share_one_image():
    assert {SERVICES[role]["image"] for role in PYTHON_ROLES} == {"roomwise:latest"}
    assert all(SERVICES[role]["build"] == "." for role in PYTHON_ROLES)


def test_role_commands_point_at_real_entry_points():
    assert SERVICES["web"]["command"][-1] == "service:create_app()"
    assert SERVICES["worker"]["command"][:4] == ["celery", "-A", "tasks.worker", "worker"]
    assert SERVICES["scorer"]["command"][:6] == [
        *["celery", "-A", "tasks.worker", "worker"],
        *["-Q", "scoring"],
    ]
    assert SERVICES["sender"]["command"][:6] == [
        *["celery", "-A", "tasks.worker", "worker"],
        *["-Q", "outbound"],
    ]
    assert SERVICES["beat"]["command"][:4] == ["celery", "-A", "tasks.worker", "beat"]
    assert SERVICES["migrate"]["command"] == ["flask", "--app", "service", "db", "upgrade"]
    assert (ROOT / "tasks" / "worker.py").exists()


def test_every_environment_variable_is_a_known_setting():
    known = {*setting_names(), "REDIS_URL"}
    for role in PYTHON_ROLES:
        assert set(SERVICES[role]["environment"]) <= known, role


def test_services_that_others_wait_on_have_healthchecks():
    for name in ("postgres", "redis", "web", "mailpit"):
        assert "healthcheck" in SERVICES[name], name
    assert "postgres-data" in COMPOSE["volumes"]


def test_image_contains_the_three_packages():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("service", "tasks", "integrations"):
        assert f"COPY {package} ./{package}" in dockerfile
