"""The contract every platform adapter passes, at the adapter level and through the endpoint.

Each `tests/integrations/test_<platform>.py` defines one `AdapterContract` subclass that fills
in the hooks below with that platform's fixtures (byte-exact files under
`tests/fixtures/<platform>/` where a signature covers the bytes). `test_registry.py` checks that
every platform in the registry has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from integrations import adapter_for
from integrations.base import (
    Adapter,
    EventKind,
    MalformedPayload,
    NormalizedEvent,
    SecretSource,
    VerificationError,
)
from service.context import current_settings, secret_box
from service.db import session_scope
from service.models import Integration
from service.platforms import create_integration, rotate_signing_secret
from tests.conftest import Tenant

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Request = tuple[bytes, dict[str, str]]


class AdapterContract:
    """Subclass per platform; set `platform` and implement the hooks marked "hook"."""

    platform: ClassVar[str]
    secret: ClassVar[str] = "contract-secret-one"
    other_secret: ClassVar[str] = "contract-secret-two"
    # The event kinds the valid fixture parses to, in order.
    expected_kinds: ClassVar[list[EventKind]]

    # --- hooks -------------------------------------------------------------------------

    def valid_body(self) -> bytes:
        """hook: a byte-exact delivery of a check-in as the platform sends it."""
        raise NotImplementedError

    def unknown_type_body(self) -> bytes:
        """hook: a delivery of an event type Roomwise does not handle."""
        raise NotImplementedError

    def malformed_body(self) -> bytes:
        """hook: a body the platform could never have sent (defaults to broken JSON)."""
        return b'{"this is": not json'

    def sign(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        """hook: the headers the platform would send with `body` (unsigned platforms: none)."""
        return {"content-type": "application/json"}

    def check_events(self, events: list[NormalizedEvent]) -> None:
        """hook: assert the platform-specific fields of the parsed valid fixture."""

    def integration_options(self) -> dict[str, Any]:
        """hook: extra keyword arguments for `create_integration` (settings, credentials)."""
        return {}

    # --- helpers -----------------------------------------------------------------------

    @property
    def adapter(self) -> Adapter:
        adapter = adapter_for(self.platform)
        assert adapter is not None, f"{self.platform} is not in the registry"
        return adapter

    def fixture(self, name: str) -> bytes:
        return (FIXTURES / self.platform / name).read_bytes()

    def request(
        self, body: bytes, secret: str | None = None, at: datetime | None = None
    ) -> Request:
        return body, self.sign(body, secret or self.secret, at or datetime.now(UTC))

    def secrets(self) -> list[str]:
        return [] if self.adapter.secret_source is SecretSource.NONE else [self.secret]

    # --- adapter-level contract ----------------------------------------------------------

    def test_valid_delivery_parses_to_normalized_events(self) -> None:
        body, headers = self.request(self.valid_body())
        self.adapter.verify(body, headers, self.secrets())
        events = self.adapter.parse(body, headers)
        assert [event.kind for event in events] == self.expected_kinds
        self.check_events(events)

    def test_delivery_id_is_stable_across_retries(self) -> None:
        body, first = self.request(self.valid_body())
        _, second = self.request(self.valid_body(), at=datetime.now(UTC) + timedelta(seconds=30))
        assert self.adapter.delivery_id(body, first) == self.adapter.delivery_id(body, second)

    def test_unknown_event_type_parses_to_unknown(self) -> None:
        body, headers = self.request(self.unknown_type_body())
        events = self.adapter.parse(body, headers)
        assert events and all(event.kind is EventKind.UNKNOWN for event in events)

    def test_malformed_body_is_refused(self) -> None:
        body, headers = self.request(self.malformed_body())
        with pytest.raises(MalformedPayload):
            self.adapter.parse(body, headers)

    # --- through the endpoint --------------------------------------------------------------

    @pytest.fixture()
    def connected(self, app: Flask, make_tenant: Callable[[], Tenant]) -> str:
        """A new integration of this platform, verifying with `secret`; returns its webhook path."""
        tenant = make_tenant()
        source = self.adapter.secret_source
        with app.app_context(), session_scope() as session:
            created = create_integration(
                session,
                secret_box(),
                current_settings(),
                tenant.organizer_id,
                self.platform,
                signing_secret=self.secret if source is SecretSource.PLATFORM else None,
                register=False,
                **self.integration_options(),
            )
            if source is SecretSource.ROOMWISE:
                integration = session.get_one(Integration, created.integration_id)
                rotate_signing_secret(session, secret_box(), integration, new_secret=self.secret)
        return created.webhook_url.removeprefix("http://roomwise.test")

    def post(self, client: FlaskClient, path: str, request: Request) -> Any:
        body, headers = request
        return client.post(path, data=body, headers=headers)

    def test_endpoint_accepts_then_dedupes_a_valid_delivery(self, client, connected) -> None:
        request = self.request(self.valid_body())
        first = self.post(client, connected, request)
        again = self.post(client, connected, request)
        assert first.status_code == 202, first.json
        assert (again.status_code, again.json["status"]) == (200, "duplicate")

    def test_endpoint_answers_404_for_a_wrong_key(self, client, connected) -> None:
        response = self.post(client, connected + "x", self.request(self.valid_body()))
        assert response.status_code == 404
        assert response.json["reason"] == "unknown_integration"

    def test_endpoint_ignores_unknown_types_with_200(self, client, connected) -> None:
        response = self.post(client, connected, self.request(self.unknown_type_body()))
        assert (response.status_code, response.json["status"]) == (200, "ignored")

    def test_endpoint_answers_400_for_a_malformed_body(self, client, connected) -> None:
        response = self.post(client, connected, self.request(self.malformed_body()))
        assert response.status_code == 400
        assert response.json["reason"] in ("malformed_json", "malformed_payload")


class SignedAdapterContract(AdapterContract):
    """The contract for platforms that sign their webhooks."""

    def test_tampered_body_is_rejected(self) -> None:
        body, headers = self.request(self.valid_body())
        with pytest.raises(VerificationError) as caught:
            self.adapter.verify(body + b" ", headers, self.secrets())
        assert caught.value.reason == "bad_signature"

    def test_wrong_secret_is_rejected(self) -> None:
        body, headers = self.request(self.valid_body(), secret=self.other_secret)
        with pytest.raises(VerificationError) as caught:
            self.adapter.verify(body, headers, self.secrets())
        assert caught.value.reason == "bad_signature"

    def test_missing_signature_is_rejected(self) -> None:
        with pytest.raises(VerificationError) as caught:
            self.adapter.verify(
                self.valid_body(), {"content-type": "application/json"}, self.secrets()
            )
        assert caught.value.reason == "missing_signature"

    def test_second_secret_passes_during_rotation(self) -> None:
        body, headers = self.request(self.valid_body(), secret=self.other_secret)
        self.adapter.verify(body, headers, [self.secret, self.other_secret])

    def test_endpoint_answers_401_with_a_reason_for_a_forgery(self, client, connected) -> None:
        body, headers = self.request(self.valid_body())
        response = self.post(client, connected, (body + b" ", headers))
        assert response.status_code == 401
        assert response.json["reason"] == "bad_signature"


class TimestampedAdapterContract(SignedAdapterContract):
    """The contract for platforms that sign a timestamp, so old requests cannot be replayed."""

    def test_stale_timestamp_is_rejected(self) -> None:
        old = datetime.now(UTC) - timedelta(minutes=10)
        body, headers = self.request(self.valid_body(), at=old)
        with pytest.raises(VerificationError) as caught:
            self.adapter.verify(body, headers, self.secrets())
        assert caught.value.reason == "stale_timestamp"


def registry_contracts() -> Mapping[str, type[AdapterContract]]:
    """Every contract subclass defined in the `tests.integrations.test_*` modules."""
    import importlib
    import pkgutil

    import tests.integrations as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("test_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return {cls.platform: cls for cls in _subclasses(AdapterContract) if "platform" in vars(cls)}


def _subclasses(cls: type[AdapterContract]) -> list[type[AdapterContract]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found
