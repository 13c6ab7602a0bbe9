"""The web role as it is deployed: gunicorn with `gunicorn.conf.py` (gevent workers), serving
webhooks from many connections at once into the database and broker the tests use."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import ServiceProcess, Tenant, WorkerProcess, running_worker, worker_env
from tests.support import signed_headers, standard_body, wait_for

pytestmark = pytest.mark.worker

CONCURRENT_SENDERS = 24
DELIVERIES = 96


class WebServer(ServiceProcess):
    """`gunicorn -c gunicorn.conf.py 'service:create_app()'` on a free local port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_ACCESS_LOG": "",
        }
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        super().__init__([*command, "service:create_app()"], env, log_path)

    def wait_ready(self) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up:\n" + self.log())
            try:
                return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(answers, timeout=60)


@pytest.fixture(scope="module")
def worker(
    app: Flask, settings_overrides: dict[str, Any], var_dir: Path
) -> Iterator[WorkerProcess]:
    """A worker of this module's own, stopped when the module ends: later modules process
    deliveries in-process and must not race a running worker for them (the session's worker
    starts with the end-to-end tests under `tests/tasks`)."""
    with running_worker(app, settings_overrides, var_dir / "web-role-worker.log") as started:
        yield started


@pytest.fixture(scope="module")
def web_server(settings_overrides: dict[str, Any], var_dir: Path) -> Iterator[WebServer]:
    server = WebServer(worker_env(settings_overrides), var_dir / "gunicorn.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def post(session: requests.Session, url: str, secret: str, body: bytes, msg_id: str):
    headers = signed_headers(secret, body, msg_id=msg_id)
    return session.post(url, data=body, headers=headers, timeout=30)


def test_the_web_role_runs_gevent_workers(web_server):
    assert "Using worker: gevent" in web_server.log()
    assert requests.get(web_server.base_url + "/readyz", timeout=5).status_code == 200


def test_many_connections_at_once_are_each_stored_queued_and_processed(
    worker, web_server, tenant: Tenant
):
    url = web_server.base_url + tenant.webhook_path
    bodies = [
        standard_body(attendee_id=f"att-{n}", email=f"guest{n}@example.com")
        for n in range(DELIVERIES)
    ]
    message_ids = [f"msg_{uuid.uuid4().hex}" for _ in bodies]

    def send(share: int) -> list[tuple[int, dict[str, Any]]]:
        with requests.Session() as session:
            answers = []
            for n in range(share, DELIVERIES, CONCURRENT_SENDERS):
                response = post(
                    session, url, tenant.signing_secret, bodies[n], msg_id=message_ids[n]
                )
                answers.append((response.status_code, response.json()))
            return answers

    with ThreadPoolExecutor(CONCURRENT_SENDERS) as pool:
        answers = [
            answer for share in pool.map(send, range(CONCURRENT_SENDERS)) for answer in share
        ]

    assert {status for status, _ in answers} == {202}
    delivery_ids = {body["delivery"] for _, body in answers}
    assert len(delivery_ids) == DELIVERIES

    with requests.Session() as session:
        again = post(session, url, tenant.signing_secret, bodies[0], msg_id=message_ids[0])
        tampered = session.post(
            url,
            data=bodies[1] + b" ",
            headers=signed_headers(tenant.signing_secret, bodies[1]),
            timeout=30,
        )
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
        assert tampered.status_code == 401
        assert tampered.json()["reason"] == "bad_signature"

        def processed() -> bool:
            listed = session.get(
                web_server.base_url + "/api/v1/deliveries",
                params={"limit": 200},
                headers=tenant.auth,
                timeout=10,
            ).json()["deliveries"]
            done = {item["id"] for item in listed if item["status"] == "processed"}
            return delivery_ids <= done

        wait_for(processed, timeout=60)
        gatherings = session.get(
            web_server.base_url + "/api/v1/gatherings", headers=tenant.auth, timeout=10
        ).json()["gatherings"]
    assert [gathering["checked_in"] for gathering in gatherings] == [DELIVERIES]
