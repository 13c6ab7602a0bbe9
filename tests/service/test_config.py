"""Settings: the embedded defaults, the fall-backs, and one error naming every bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import MIB, ConfigError, Settings, load_settings, setting_names

GOOD_KEY = "k" * 40


def settings(tmp_path: Path, **environ: str) -> Settings:
    return load_settings({"VAR_DIR": str(tmp_path), **environ})


def problems(tmp_path: Path, **environ: str) -> tuple[list[str], str]:
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, **environ)
    return raised.value.problems, str(raised.value)


def test_defaults_are_embedded_files_under_var_dir(tmp_path):
    loaded = settings(tmp_path)

    assert loaded.environment == "development"
    assert loaded.var_dir == tmp_path
    assert loaded.database_url == f"sqlite:///{tmp_path / 'roomwise.sqlite'}"
    assert loaded.broker_url == f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    assert loaded.smtp_url == ""
    assert loaded.outbox_dir == tmp_path / "outbox"
    assert loaded.public_base_url == "http://127.0.0.1:5000"
    assert loaded.webhook_max_bytes == MIB
    assert loaded.webhook_tolerance_seconds == 300
    assert loaded.sweep_after_seconds == 60
    assert loaded.log_level == "INFO"


def test_relative_var_dir_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loaded = load_settings({"VAR_DIR": "data"})
    assert loaded.var_dir == tmp_path / "data"
    assert loaded.database_url == f"sqlite:///{tmp_path / 'data' / 'roomwise.sqlite'}"


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first = settings(tmp_path).secret_key
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert settings(tmp_path).secret_key == first
    assert settings(tmp_path, SECRET_KEY=GOOD_KEY).secret_key == GOOD_KEY


def test_broker_falls_back_to_redis_url(tmp_path):
    assert settings(tmp_path, REDIS_URL="redis://cache:6379/2").broker_url == "redis://cache:6379/2"


def test_broker_url_wins_over_redis_url(tmp_path):
    loaded = settings(tmp_path, REDIS_URL="redis://cache:6379/2", BROKER_URL="amqp://mq//")
    assert loaded.broker_url == "amqp://mq//"


def test_empty_values_mean_the_default(tmp_path):
    loaded = settings(tmp_path, DATABASE_URL="", BROKER_URL="", WEBHOOK_MAX_BYTES="")
    assert loaded.database_url.startswith("sqlite:///")
    assert loaded.broker_url.startswith("sqla+sqlite:///")
    assert loaded.webhook_max_bytes == MIB


def test_explicit_values_are_read_and_normalized(tmp_path):
    loaded = settings(
        tmp_path,
        ROOMWISE_ENV="production",
        SECRET_KEY=GOOD_KEY,
        DATABASE_URL="postgresql://roomwise@db/roomwise",
        SMTP_URL="smtps://mail.example.com:465",
        PUBLIC_BASE_URL="https://roomwise.example.com/",
        WEBHOOK_MAX_BYTES="2048",
        LOG_LEVEL="debug",
    )
    assert loaded.public_base_url == "https://roomwise.example.com"
    assert loaded.webhook_max_bytes == 2048
    assert loaded.log_level == "DEBUG"
    assert not (tmp_path / "secret_key").exists()


def test_overrides_replace_fields_and_are_validated(tmp_path):
    loaded = load_settings({"VAR_DIR": str(tmp_path)}, sweep_after_seconds=5)
    assert loaded.sweep_after_seconds == 5
    with pytest.raises(ConfigError, match="SWEEP_AFTER_SECONDS"):
        load_settings({"VAR_DIR": str(tmp_path)}, sweep_after_seconds=0)


def test_every_bad_setting_is_reported_in_one_error(tmp_path):
    found, message = problems(
        tmp_path,
        ROOMWISE_ENV="production",
        DATABASE_URL="mysql://roomwise:hunter2@db/roomwise",
        BROKER_URL="kafka://queue:9092",
        SMTP_URL="http://mail.example.com",
        PUBLIC_BASE_URL="roomwise.example.com",
        WEBHOOK_MAX_BYTES="1MB",
        LOG_LEVEL="chatty",
    )

    # One sentence per bad variable, each starting with the variable's name.
    assert sorted(problem.split()[0] for problem in found) == sorted(
        [
            "BROKER_URL",
            "DATABASE_URL",
            "LOG_LEVEL",
            "PUBLIC_BASE_URL",
            "SECRET_KEY",
            "SMTP_URL",
            "WEBHOOK_MAX_BYTES",
        ]
    )
    assert all(problem in message for problem in found)
    assert "'1MB'" in message
    assert "hunter2" not in message  # the database password is redacted


def test_production_requires_a_secret_key(tmp_path):
    found, _ = problems(tmp_path, ROOMWISE_ENV="production")
    assert found == ["SECRET_KEY must be set to at least 32 random characters"]
    found, _ = problems(tmp_path, ROOMWISE_ENV="production", SECRET_KEY="short")
    assert [p.split()[0] for p in found] == ["SECRET_KEY"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROOMWISE_ENV", "staging"),
        ("WEBHOOK_MAX_BYTES", "512"),
        ("WEBHOOK_MAX_BYTES", str(32 * MIB)),
        ("WEBHOOK_TOLERANCE_SECONDS", "10"),
        ("WEBHOOK_TOLERANCE_SECONDS", "soon"),
        ("SWEEP_AFTER_SECONDS", "0"),
        ("MAIL_LEASE_SECONDS", "5"),
        ("MAIL_SEND_CHUNK", "0"),
        ("MAIL_SEND_CHUNK", "5000"),
        ("MAIL_BATCH_SIZE", "0"),
        ("PUBLIC_BASE_URL", "ftp://roomwise.example.com"),
        ("PUBLIC_BASE_URL", "https://"),
    ],
)
def test_each_range_and_choice_is_checked(tmp_path, name, value):
    found, _ = problems(tmp_path, SECRET_KEY=GOOD_KEY, **{name: value})
    assert len(found) == 1
    assert found[0].startswith(name)


def test_setting_names_are_the_environment_variables():
    assert "DATABASE_URL" in setting_names()
    assert "WEBHOOK_MAX_BYTES" in setting_names()
    assert all(name.isupper() for name in setting_names())
