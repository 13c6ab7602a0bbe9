"""The `standard` adapter's connection and outcome bodies: parsing, refusals, and their schemas."""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from integrations import standard
from integrations.base import (
    AttendeeRef,
    ConnectionSource,
    EventKind,
    GatheringRef,
    GroupRef,
    MalformedPayload,
    NormalizedEvent,
    OutcomeKind,
    OutcomeRef,
)
from integrations.standard import StandardAdapter
from service.openapi import OPENAPI_SPEC
from tests.service.test_api import schema_errors

AT = "2026-11-26T08:10:00Z"
OCCURRED = datetime(2026, 11, 26, 8, 10, tzinfo=UTC)
GROUP = {"id": "harbourside", "name": "Harbourside Business Breakfast"}
GATHERING = {"id": "bb-2026-11-26", "name": "Breakfast, 26 Nov", "group": GROUP}
ADA = {"id": "a-481", "email": "ada@example.com", "name": "Ada Lovelace"}
BEN = {"id": "a-502", "email": "ben@example.com"}


def body(event_type: str, **data: Any) -> bytes:
    return json.dumps({"type": event_type, "timestamp": AT, "data": data}).encode()


def connection(**changes: Any) -> dict[str, Any]:
    return {"gathering": GATHERING, "attendee": ADA, "counterpart": BEN, **changes}


def outcome(**changes: Any) -> dict[str, Any]:
    return {"group": GROUP, "attendee": ADA, "kind": "referral", **changes}


def parse(raw: bytes) -> NormalizedEvent:
    [event] = StandardAdapter().parse(raw, {})
    return event


ADA_REF = AttendeeRef("a-481", "ada@example.com", "Ada Lovelace")
BEN_REF = AttendeeRef("a-502", "ben@example.com")
GROUP_REF = GroupRef("harbourside", "Harbourside Business Breakfast")
GATHERING_REF = GatheringRef("bb-2026-11-26", "Breakfast, 26 Nov", group=GROUP_REF)


def test_a_connection_parses_with_its_counterpart_and_source():
    event = parse(body("connection.created", **connection(source="mutual_tap")))
    assert event == NormalizedEvent(
        kind=EventKind.CONNECTION,
        platform_type="connection.created",
        occurred_at=OCCURRED,
        gathering=GATHERING_REF,
        attendee=ADA_REF,
        counterpart=BEN_REF,
        connection_source=ConnectionSource.MUTUAL_TAP,
    )


def test_a_connection_without_a_source_comes_from_the_platform():
    event = parse(body("connection.created", **connection()))
    assert event.connection_source is ConnectionSource.PLATFORM


def test_an_outcome_parses_with_everything():
    lone_gathering = {"id": "bb-2026-11-26", "name": "Breakfast, 26 Nov"}
    raw = body(
        "outcome.reported",
        **outcome(gathering=lone_gathering, counterpart=BEN, value="1200.5", occurred_at=AT),
    )
    assert parse(raw) == NormalizedEvent(
        kind=EventKind.OUTCOME,
        platform_type="outcome.reported",
        occurred_at=OCCURRED,
        gathering=GATHERING_REF,  # the outcome's group, since the gathering named none
        attendee=ADA_REF,
        counterpart=BEN_REF,
        outcome=OutcomeRef(OutcomeKind.REFERRAL, GROUP_REF, Decimal("1200.50")),
    )


def test_an_outcome_needs_no_gathering_counterpart_or_value():
    event = parse(body("outcome.reported", **outcome(kind="lead")))
    assert (event.gathering, event.counterpart) == (None, None)
    assert event.outcome == OutcomeRef(OutcomeKind.LEAD, GROUP_REF)


def test_existing_events_keep_their_shape():
    """New fields default to None, so check-ins are what they were."""
    event = parse(body("attendee.checked_in", gathering=GATHERING, attendee=ADA))
    assert (event.counterpart, event.connection_source, event.outcome) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (body("connection.created", **connection(counterpart=None)), "data.counterpart"),
        (body("connection.created", **connection(counterpart=ADA)), "data.counterpart"),
        (body("connection.created", **connection(counterpart={"id": 7.5})), "counterpart.id"),
        (body("connection.created", **connection(source=3)), "data.source"),
        (body("connection.created", **connection(gathering=None)), "data.gathering"),
        (body("outcome.reported", **outcome(group=[])), "data.group"),
        (body("outcome.reported", **outcome(kind="Referral")), "data.kind"),
        (body("outcome.reported", **outcome(value=float("nan"))), "data.value"),
        (body("outcome.reported", **outcome(value="NaN")), "data.value"),
        (body("outcome.reported", **outcome(value=-0.01)), "data.value"),
        (body("outcome.reported", **outcome(value=10**12)), "data.value"),
        (body("outcome.reported", **outcome(value=False)), "data.value"),
        (body("outcome.reported", **outcome(gathering="bb")), "data.gathering"),
        (
            body("outcome.reported", **outcome(gathering={**GATHERING, "group": {"id": "x"}})),
            "data.gathering.group.name",
        ),
        (
            body(
                "outcome.reported",
                **outcome(gathering={**GATHERING, "group": {"id": "other", "name": "Other"}}),
            ),
            "data.gathering.group",
        ),
        (body("outcome.reported", **outcome(counterpart={"id": "a-481"})), "data.counterpart"),
        (body("outcome.reported", **outcome(occurred_at="soon")), "data.occurred_at"),
    ],
)
def test_malformed_reports_are_refused_naming_the_field(raw, named):
    with pytest.raises(MalformedPayload) as raised:
        parse(raw)
    assert raised.value.reason == "malformed_payload"
    assert named in raised.value.detail


@pytest.mark.parametrize(
    ("schema_name", "typed_dict"),
    [
        ("StandardConnectionData", standard.StandardConnectionData),
        ("StandardOutcomeData", standard.StandardOutcomeData),
    ],
)
def test_report_schemas_match_the_adapter_types(schema_name, typed_dict):
    schema = OPENAPI_SPEC["components"]["schemas"][schema_name]
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    optional = {key for key, hint in hints.items() if typing.get_origin(hint) is typing.NotRequired}
    assert set(schema["properties"]) == set(hints)
    assert set(schema["required"]) == set(hints) - optional


def test_report_bodies_match_the_request_schema():
    request = OPENAPI_SPEC["paths"]["/hooks/{platform}/{key}"]["post"]["requestBody"]
    schema = request["content"]["application/json"]["schema"]
    for raw in (
        body("connection.created", **connection(source="scan", occurred_at=AT)),
        body("outcome.reported", **outcome(gathering=GATHERING, counterpart=BEN)),
    ):
        assert schema_errors(json.loads(raw), schema) == []
    assert schema_errors(json.loads(body("outcome.reported", **outcome(kind="hug"))), schema)
