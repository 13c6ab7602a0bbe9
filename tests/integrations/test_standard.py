"""The `standard` adapter and Standard Webhooks signing, against byte-exact fixture bodies.

Bodies are read as bytes from `tests/fixtures/standard/` and signed with the independent
`standardwebhooks` package, so a verifier that re-serialized JSON, or a signer that differed
from the reference implementation in any byte, would fail here.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from integrations import REGISTRY, adapter_for, signatures
from integrations.base import (
    AttendeeRef,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
    VerificationError,
)
from integrations.standard import StandardAdapter
from tests.integrations.contract import TimestampedAdapterContract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "standard"
SECRET = "whsec_" + base64.b64encode(b"a fixed secret for fixtures, 32b").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone else's secret, also 32b!").decode()
NOW = datetime(2026, 11, 26, 7, 36, tzinfo=UTC)
MSG_ID = "msg_2Xp9fixture"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def reference_headers(
    body: bytes, secret: str = SECRET, at: datetime = NOW, msg_id: str = MSG_ID
) -> dict[str, str]:
    """Headers as the reference `standardwebhooks` implementation signs them."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


def verify(body: bytes, headers: dict[str, str], secrets: list[str] | None = None) -> None:
    StandardAdapter(tolerance_seconds=300).verify(
        body, headers, [SECRET] if secrets is None else secrets, now=NOW
    )


def rejection(body: bytes, headers: dict[str, str], secrets: list[str] | None = None) -> str:
    with pytest.raises(VerificationError) as raised:
        verify(body, headers, secrets)
    assert raised.value.detail
    return raised.value.reason


def parse(body: bytes) -> list[NormalizedEvent]:
    return StandardAdapter().parse(body, {})


BREAKFAST_GROUP = GroupRef("grp-breakfast", "Thursday Breakfast Club")
EXPECTED = {
    "checked_in.json": NormalizedEvent(
        kind=EventKind.CHECKED_IN,
        platform_type="attendee.checked_in",
        occurred_at=datetime(2026, 11, 26, 7, 35, tzinfo=UTC),
        gathering=GatheringRef(
            external_id="g-2026-11-26",
            name="Breakfast, 26 Nov",
            starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
            ends_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
            group=BREAKFAST_GROUP,
        ),
        attendee=AttendeeRef(
            external_id="att-1",
            email="Zoe.Angstrom@Example.com",
            name="Zoë Ångström",
            company="Ørsted & Søn",
        ),
    ),
    # No occurred_at: the top-level timestamp counts, converted from +02:00 to UTC.
    # Integer ids are read as their decimal strings.
    "checked_out_offset.json": NormalizedEvent(
        kind=EventKind.CHECKED_OUT,
        platform_type="attendee.checked_out",
        occurred_at=datetime(2026, 11, 26, 9, 15, tzinfo=UTC),
        gathering=GatheringRef(external_id="20261126", name="Breakfast, 26 Nov"),
        attendee=AttendeeRef(external_id="42", name="Ada Lovelace"),
    ),
    # Timestamps without an offset are taken as UTC.
    "registered_naive.json": NormalizedEvent(
        kind=EventKind.REGISTERED,
        platform_type="attendee.registered",
        occurred_at=datetime(2026, 11, 20, 18, 0, 0, 250000, tzinfo=UTC),
        gathering=GatheringRef(
            external_id="g-2026-11-26",
            name="Breakfast, 26 Nov",
            starts_at=datetime(2026, 11, 26, 7, 30, tzinfo=UTC),
        ),
        attendee=AttendeeRef(external_id="att-2", email="grace@example.com"),
    ),
    "checkin_reverted.json": NormalizedEvent(
        kind=EventKind.CHECKIN_REVERTED,
        platform_type="attendee.checkin_reverted",
        occurred_at=datetime(2026, 11, 26, 7, 39, 30, tzinfo=UTC),
        gathering=GatheringRef(
            external_id="g-2026-11-26", name="Breakfast, 26 Nov", group=BREAKFAST_GROUP
        ),
        attendee=AttendeeRef(
            external_id="att-1", email="Zoe.Angstrom@Example.com", name="Zoë Ångström"
        ),
    ),
}
ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))


def test_every_fixture_is_covered():
    assert set(ALL_FIXTURES) == {*EXPECTED, "unknown_type.json"}


def test_the_registry_serves_the_standard_adapter():
    assert REGISTRY["standard"] is StandardAdapter
    adapter = adapter_for("standard", tolerance_seconds=60)
    assert isinstance(adapter, StandardAdapter)
    assert adapter.tolerance_seconds == 60
    assert adapter_for("nosuchplatform") is None


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_signed_fixture_verifies_and_parses(name):
    body = fixture(name)
    verify(body, reference_headers(body))

    events = parse(body)

    assert events == [EXPECTED[name]]
    [event] = events
    assert event.occurred_at is not None
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.raw == json.loads(body)


def test_unknown_type_is_one_unknown_event():
    body = fixture("unknown_type.json")
    verify(body, reference_headers(body))

    [event] = parse(body)

    assert event.kind is EventKind.UNKNOWN
    assert event.platform_type == "attendee.badge_printed"
    assert (event.occurred_at, event.gathering, event.attendee) == (None, None, None)
    assert event.raw == json.loads(body)


def test_unknown_type_needs_no_data():
    [event] = parse(b'{"type": "group.renamed"}')
    assert event.kind is EventKind.UNKNOWN


def _with(path: str, value: object) -> bytes:
    """The checked-in fixture with one field (dotted path) replaced, or removed for `...`."""
    payload = json.loads(fixture("checked_in.json"))
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "reason", "names"),
    [
        (b"", "malformed_json", "JSON"),
        (b'{"type": "attendee.checked_in", "data": ', "malformed_json", "JSON"),
        (b'{"type": "attendee.\xff"}', "malformed_json", "JSON"),
        (b"[1, 2, 3]", "malformed_payload", "object"),
        (b'"attendee.checked_in"', "malformed_payload", "object"),
        (b"{}", "malformed_payload", "type"),
        (b'{"type": ""}', "malformed_payload", "type"),
        (b'{"type": 7}', "malformed_payload", "type"),
        (_with("data", ...), "malformed_payload", "data"),
        (_with("data", []), "malformed_payload", "data"),
        (_with("data.gathering", ...), "malformed_payload", "data.gathering"),
        (_with("data.attendee", "att-1"), "malformed_payload", "data.attendee"),
        (_with("data.gathering.id", ""), "malformed_payload", "data.gathering.id"),
        (_with("data.gathering.id", True), "malformed_payload", "data.gathering.id"),
        (_with("data.gathering.id", 1.5), "malformed_payload", "data.gathering.id"),
        (_with("data.gathering.id", "g" * 201), "malformed_payload", "data.gathering.id"),
        (_with("data.gathering.name", ...), "malformed_payload", "data.gathering.name"),
        (_with("data.gathering.name", "n" * 301), "malformed_payload", "data.gathering.name"),
        (_with("data.gathering.group", "grp"), "malformed_payload", "data.gathering.group"),
        (_with("data.gathering.group.name", ""), "malformed_payload", "group.name"),
        (_with("data.gathering.starts_at", 1764142200), "malformed_payload", "starts_at"),
        (_with("data.attendee.id", ...), "malformed_payload", "data.attendee.id"),
        (_with("data.attendee.email", "not-an-email"), "malformed_payload", "email"),
        (_with("data.attendee.email", ["a@b.c"]), "malformed_payload", "email"),
        (_with("data.attendee.name", "Ada\u0000Lovelace"), "malformed_payload", "name"),
        (_with("data.attendee.company", 12), "malformed_payload", "company"),
        (_with("data.occurred_at", "last Tuesday"), "malformed_payload", "occurred_at"),
        (_with("data.occurred_at", None), "malformed_payload", "occurred_at"),
        # Text a database cannot store is refused here, not by a 500 or a failed delivery
        # later: NUL (PostgreSQL text) and unpaired surrogates (no UTF-8 encoding at all).
        (_with("type", "attendee.x\u0000"), "malformed_payload", "type"),
        (b'{"type": "attendee.\\ud800"}', "malformed_payload", "type"),
        (_with("data.attendee.name", "Ada \ud800"), "malformed_payload", "data.attendee.name"),
        (_with("data.gathering.id", "g-\udfff"), "malformed_payload", "data.gathering.id"),
        (_with("data.attendee.email", "a\ud83d@b.c"), "malformed_payload", "email"),
    ],
)
def test_malformed_bodies_are_refused_naming_the_problem(body, reason, names):
    with pytest.raises(MalformedPayload) as raised:
        parse(body)
    assert raised.value.reason == reason
    assert names in raised.value.detail


def test_paired_surrogates_are_ordinary_text():
    body = _with("data.attendee.name", "Ada 🎉")
    assert b"\\ud83c\\udf89" in body  # JSON escapes it as a surrogate pair
    [event] = parse(body)
    assert event.attendee is not None
    assert event.attendee.name == "Ada 🎉"


# --- verification ------------------------------------------------------------------------------


def test_a_list_of_signatures_passes_when_one_is_valid():
    body = fixture("checked_in.json")
    headers = reference_headers(body)
    valid = headers["webhook-signature"]
    wrong = reference_headers(body, secret=OTHER_SECRET)["webhook-signature"]
    headers["webhook-signature"] = f"{wrong} v1a,c29tZSBhc3ltbWV0cmljIHNpZw== v1 {valid}"
    verify(body, headers)


def test_any_current_secret_verifies_during_rotation():
    body = fixture("checked_in.json")
    verify(body, reference_headers(body, secret=OTHER_SECRET), [SECRET, OTHER_SECRET])


def test_header_names_are_case_insensitive():
    body = fixture("checked_in.json")
    headers = {name.title(): value for name, value in reference_headers(body).items()}
    verify(body, headers)


def test_tampered_body_is_a_bad_signature():
    body = fixture("checked_in.json")
    headers = reference_headers(body)
    assert rejection(body.replace(b"att-1", b"att-9"), headers) == "bad_signature"
    # Re-serializing the same JSON changes bytes, so it must not verify either.
    assert rejection(json.dumps(json.loads(body)).encode(), headers) == "bad_signature"


def test_tampered_id_or_timestamp_is_a_bad_signature():
    body = fixture("checked_in.json")
    headers = reference_headers(body)
    assert rejection(body, {**headers, "webhook-id": "msg_other"}) == "bad_signature"
    later = str(int(NOW.timestamp()) + 1)
    assert rejection(body, {**headers, "webhook-timestamp": later}) == "bad_signature"


def test_wrong_secret_is_a_bad_signature():
    body = fixture("checked_in.json")
    assert rejection(body, reference_headers(body, secret=OTHER_SECRET)) == "bad_signature"


def test_no_configured_secret_is_a_bad_signature():
    body = fixture("checked_in.json")
    assert rejection(body, reference_headers(body), secrets=[]) == "bad_signature"


@pytest.mark.parametrize(
    "signature", ["v1,", "v1", "v1,not base64!", "v2,abc", "", "   ", "v1a,abc v2,def"]
)
def test_unusable_signature_values_are_refused_not_crashed(signature):
    body = fixture("checked_in.json")
    headers = {**reference_headers(body), "webhook-signature": signature}
    assert rejection(body, headers) in ("bad_signature", "missing_signature")


def test_stale_timestamp():
    body = fixture("checked_in.json")
    headers = reference_headers(body, at=NOW - timedelta(seconds=301))
    assert rejection(body, headers) == "stale_timestamp"


def test_future_timestamp():
    body = fixture("checked_in.json")
    headers = reference_headers(body, at=NOW + timedelta(seconds=301))
    assert rejection(body, headers) == "future_timestamp"


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_inside_the_tolerance_verify(offset):
    body = fixture("checked_in.json")
    verify(body, reference_headers(body, at=NOW + timedelta(seconds=offset)))


def test_the_tolerance_is_the_adapters():
    body = fixture("checked_in.json")
    headers = reference_headers(body, at=NOW - timedelta(seconds=100))
    with pytest.raises(VerificationError) as raised:
        StandardAdapter(tolerance_seconds=60).verify(body, headers, [SECRET], now=NOW)
    assert raised.value.reason == "stale_timestamp"


def test_unparseable_timestamp():
    body = fixture("checked_in.json")
    headers = {**reference_headers(body), "webhook-timestamp": "2026-11-26T07:36:00Z"}
    assert rejection(body, headers) == "bad_timestamp"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header(missing):
    body = fixture("checked_in.json")
    headers = reference_headers(body)
    assert rejection(body, {k: v for k, v in headers.items() if k != missing}) == (
        "missing_signature"
    )
    assert rejection(body, {**headers, missing: ""}) == "missing_signature"


def test_message_id_with_a_dot_is_refused():
    body = fixture("checked_in.json")
    assert rejection(body, reference_headers(body, msg_id="msg.1")) == "bad_signature"


# --- interoperability with the reference implementation ----------------------------------------


def test_known_answer_from_the_specification():
    """The example in the Standard Webhooks test suites, byte for byte."""
    signature = signatures.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_our_signature_equals_the_reference_one(name):
    body = fixture(name)
    timestamp = int(NOW.timestamp())
    ours = signatures.sign(SECRET, MSG_ID, timestamp, body)
    assert ours == Webhook(SECRET).sign(MSG_ID, NOW, body.decode())


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_the_reference_verifies_what_we_sign(name):
    body = fixture(name)
    headers = StandardAdapter().sign(body, SECRET, f"msg_{name.removesuffix('.json')}")
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    # … and so do we, with the wall clock.
    StandardAdapter().verify(body, headers, [SECRET])


def test_the_reference_rejects_what_we_sign_with_another_secret():
    body = fixture("checked_in.json")
    headers = signatures.signed_headers(OTHER_SECRET, MSG_ID, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_generated_secrets_work_with_the_reference():
    secret = signatures.generate_secret()
    assert secret.startswith("whsec_")
    assert len(signatures.secret_bytes(secret)) == 32
    assert signatures.generate_secret() != secret

    body = fixture("checked_in.json")
    verify(body, reference_headers(body, secret=secret), [secret])
    Webhook(secret).verify(body, signatures.signed_headers(secret, MSG_ID, body))


def test_the_secret_prefix_is_optional():
    body = fixture("checked_in.json")
    bare = SECRET.removeprefix("whsec_")
    assert signatures.sign(bare, MSG_ID, 1, body) == signatures.sign(SECRET, MSG_ID, 1, body)


def test_invalid_secret_is_a_clear_error():
    with pytest.raises(ValueError, match="base64"):
        signatures.sign("whsec_a", MSG_ID, 1, b"{}")


# --- what is kept of the request ---------------------------------------------------------------


def test_delivery_id_is_the_webhook_id():
    body = fixture("checked_in.json")
    headers = {name.upper(): value for name, value in reference_headers(body).items()}
    assert StandardAdapter().delivery_id(body, headers) == MSG_ID


def test_only_harmless_headers_are_kept():
    body = fixture("checked_in.json")
    headers = {
        **reference_headers(body),
        "Authorization": "Bearer secret",
        "Cookie": "session=1",
        "X-Forwarded-For": "203.0.113.9",
    }
    assert StandardAdapter().headers_to_keep(headers) == {
        "content-type": "application/json",
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(NOW.timestamp())),
    }


class TestStandardContract(TimestampedAdapterContract):
    """The shared adapter contract, for Roomwise's own format."""

    platform = "standard"
    secret = signatures.generate_secret()
    other_secret = signatures.generate_secret()
    expected_kinds: ClassVar[list[EventKind]] = [EventKind.CHECKED_IN]

    def valid_body(self) -> bytes:
        return fixture("checked_in.json")

    def unknown_type_body(self) -> bytes:
        return fixture("unknown_type.json")

    def sign(self, body: bytes, secret: str, at: datetime) -> dict[str, str]:
        return {
            **StandardAdapter().sign(body, secret, "msg_contract", at),
            "content-type": "application/json",
        }

    def check_events(self, events: list[NormalizedEvent]) -> None:
        [event] = events
        assert event.gathering is not None and event.attendee is not None
        assert event.gathering.group is not None
