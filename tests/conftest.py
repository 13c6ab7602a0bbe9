"""Shared fixtures: a migrated database, the app, organizers, and a real Celery worker.

The suite runs against `DATABASE_URL` and `REDIS_URL` (or `BROKER_URL`) when they are set, as in
CI (PostgreSQL and Redis), and against embedded SQLite files otherwise. Nothing is mocked: the
worker is a real `celery worker` process consuming from the real broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import create_app, migrate
from service.accounts import create_organizer
from service.context import current_settings, secret_box
from service.db import dispose_engines, session_scope
from service.platforms import create_integration
from service.queue import QUEUES
from tests.smtp_sink import RunningSink, SmtpSink
from tests.support import wait_for

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-secret-key-" + "x" * 32


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def database_url(var_dir: Path) -> str:
    """A freshly migrated database: the configured PostgreSQL, or a SQLite file."""
    if os.environ.get("CI") and not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        pytest.exit("CI runs the suite on PostgreSQL: set DATABASE_URL", returncode=3)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir / 'test.sqlite'}"
    if make_url(url).get_backend_name() == "postgresql":
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def broker_url(var_dir: Path) -> str:
    """The configured Redis (emptied first, so no stale message reaches the worker) or SQLite."""
    url = os.environ.get("BROKER_URL") or os.environ.get("REDIS_URL")
    if os.environ.get("CI") and not (url or "").startswith("redis"):
        pytest.exit("CI runs the suite on Redis: set REDIS_URL", returncode=3)
    if not url:
        return f"sqla+sqlite:///{var_dir / 'broker.sqlite'}"
    if url.startswith("redis"):
        import redis

        with redis.Redis.from_url(url) as client:
            client.flushdb()
    return url


@pytest.fixture(scope="session")
def settings_overrides(var_dir: Path, database_url: str, broker_url: str) -> dict[str, Any]:
    return {
        "var_dir": var_dir,
        "database_url": database_url,
        "broker_url": broker_url,
        "secret_key": SECRET_KEY,
        "public_base_url": "http://roomwise.test",
        "sweep_after_seconds": 1,
    }


@pytest.fixture(scope="session")
def app(settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    with running_app(settings_overrides) as flask_app:
        yield flask_app


@contextmanager
def running_app(overrides: dict[str, Any]) -> Iterator[Flask]:
    """An app whose database pool is closed afterwards (no connection outlives the test)."""
    flask_app = create_app(overrides)
    # Register the task modules, as a worker would, so tests can call tasks directly.
    flask_app.extensions["celery"].loader.import_default_modules()
    try:
        yield flask_app
    finally:
        dispose_engines(flask_app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class Tenant:
    """An organizer with a `standard` integration, as the CLI would create it."""

    organizer_id: int
    api_token: str
    integration_id: int
    webhook_path: str
    signing_secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}


@pytest.fixture()
def make_tenant(app: Flask) -> Callable[[], Tenant]:
    def make() -> Tenant:
        with app.app_context(), session_scope() as session:
            suffix = uuid.uuid4().hex[:8]
            organizer = create_organizer(
                session, f"Org {suffix}", f"org-{suffix}@example.com", "correct horse"
            )
            integration = create_integration(
                session, secret_box(), current_settings(), organizer.organizer_id, "standard"
            )
        path = integration.webhook_url.removeprefix("http://roomwise.test")
        return Tenant(
            organizer.organizer_id,
            organizer.api_token,
            integration.integration_id,
            path,
            integration.signing_secret,
        )

    return make


@pytest.fixture()
def tenant(make_tenant: Callable[[], Tenant]) -> Tenant:
    return make_tenant()


class ServiceProcess:
    """One of the project's processes run as deployed (a Celery worker, gunicorn), in a
    session of its own so that stopping it stops its children; its log is kept for assertions
    and failure reports."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


class WorkerProcess(ServiceProcess):
    """A real `celery worker` subprocess."""

    def __init__(self, env: dict[str, str], log_path: Path, queue: str = ",".join(QUEUES)) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.worker",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--pool=prefork",
            "--without-mingle",
            "--without-gossip",
            "--queues",
            queue,
            "--hostname",
            f"test-{uuid.uuid4().hex[:6]}@%h",
        ]
        super().__init__(command, env, log_path)

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: " ready." in self.log() or self.process.poll() is not None, timeout)
        if self.process.poll() is not None:
            raise RuntimeError("celery worker exited during start-up:\n" + self.log())


def worker_env(settings_overrides: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings_overrides["database_url"],
        BROKER_URL=settings_overrides["broker_url"],
        SECRET_KEY=settings_overrides["secret_key"],
        VAR_DIR=str(settings_overrides["var_dir"]),
        PUBLIC_BASE_URL=settings_overrides["public_base_url"],
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture(scope="session")
def celery_worker(
    app: Flask, settings_overrides: dict[str, Any], var_dir: Path
) -> Iterator[WorkerProcess]:
    """One worker for the whole session, started on first use.

    Tasks that earlier tests enqueued (whose deliveries those tests processed in-process, or
    left for the sweep test) are purged first, so the worker starts with an empty queue.
    """
    with running_worker(app, settings_overrides, var_dir / "worker.log") as worker:
        yield worker


@contextmanager
def running_worker(
    app: Flask, settings_overrides: dict[str, Any], log_path: Path
) -> Iterator[WorkerProcess]:
    """A worker on every queue, started on an emptied queue and stopped when the block ends."""
    app.extensions["celery"].control.purge()
    worker = WorkerProcess(worker_env(settings_overrides), log_path)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture(autouse=True)
def _dump_worker_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "celery_worker" in request.fixturenames:
        worker: WorkerProcess = request.getfixturevalue("celery_worker")
        sys.stderr.write("\n--- celery worker log (tail) ---\n" + worker.log()[-6000:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[SmtpSink]:
    server = RunningSink()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture()
def smtp_sink(_smtp_server: SmtpSink) -> SmtpSink:
    """A real SMTP server (aiosmtpd), emptied for each test."""
    _smtp_server.clear()
    return _smtp_server
