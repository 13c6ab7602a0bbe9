"""The JSON API: authentication, tenant isolation, paging, filters, replay, and its OpenAPI.

Every API response in this file is checked against the schema that `service/openapi.py` gives
for its path, method and status code, so the description cannot drift from what is served.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from integrations import standard
from service import inbox
from service.context import keyring
from service.db import ingest_engine_for, session_scope
from service.delivery_writer import DeliveryWriter
from service.errors import STATUS_BY_REASON
from service.models import Attendance, AttendanceEvent, Delivery
from service.openapi import OPENAPI_SPEC
from service.queue import PROCESS_DELIVERY
from tests.conftest import Tenant
from tests.support import signed_headers, standard_body

START = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
HOOK = "/hooks/{platform}/{key}"
GATHERINGS = "/api/v1/gatherings"
GATHERING = "/api/v1/gatherings/{gathering_id}"
DELIVERIES = "/api/v1/deliveries"
DELIVERY = "/api/v1/deliveries/{delivery_id}"
REPLAY = "/api/v1/deliveries/{delivery_id}/replay"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "standard"


# --- a small checker for the JSON Schema subset the description uses ------------------------

ANNOTATIONS = {"description", "format", "examples", "default", "title"}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = OPENAPI_SPEC["components"]["schemas"][name]
    return schema


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where `value` breaks `schema`; keywords this checker does not know fail loudly."""
    schema = resolve(schema)
    unknown = set(schema) - ANNOTATIONS - set(CHECKS)
    assert not unknown, f"schema keyword(s) {unknown} at {path} are not checked here"
    checked = [keyword for keyword in schema if keyword in CHECKS]
    return [error for keyword in checked for error in CHECKS[keyword](value, schema, path)]


def _type(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return [] if any(TYPES[name](value) for name in names) else [f"{path}: not {names}"]


def _properties(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    errors = [f"{path}: missing {key}" for key in schema.get("required", ()) if key not in value]
    if schema.get("additionalProperties") is False:
        errors += [f"{path}: unexpected {key}" for key in value if key not in schema["properties"]]
    for key, subschema in schema["properties"].items():
        if key in value:
            errors += schema_errors(value[key], subschema, f"{path}.{key}")
    return errors


def _items(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    if not isinstance(value, list):
        return []
    return [
        e
        for i, item in enumerate(value)
        for e in schema_errors(item, schema["items"], f"{path}[{i}]")
    ]


def _one_of(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    matching = [option for option in schema["oneOf"] if not schema_errors(value, option, path)]
    return [] if len(matching) == 1 else [f"{path}: matches {len(matching)} of oneOf"]


def _all_of(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    return [error for option in schema["allOf"] for error in schema_errors(value, option, path)]


def _rule(keyword: str, applies: type | tuple[type, ...], ok: Callable[[Any, Any], bool]) -> Any:
    """A keyword that constrains values of the `applies` types only (like JSON Schema)."""

    def check(value: Any, schema: dict[str, Any], path: str) -> list[str]:
        if (
            isinstance(value, applies)
            and not isinstance(value, bool)
            and not ok(value, schema[keyword])
        ):
            return [f"{path}: {value!r} breaks {keyword}={schema[keyword]!r}"]
        return []

    return check


CHECKS: dict[str, Callable[[Any, dict[str, Any], str], list[str]]] = {
    "$ref": lambda value, schema, path: [],  # resolved before the checks run
    "type": _type,
    "properties": _properties,
    "required": lambda value, schema, path: [],  # checked with the properties
    "additionalProperties": lambda value, schema, path: [],  # checked with the properties
    "items": _items,
    "oneOf": _one_of,
    "allOf": _all_of,
    "const": lambda value, schema, path: [] if value == schema["const"] else [f"{path}: {value!r}"],
    "enum": lambda value, schema, path: [] if value in schema["enum"] else [f"{path}: {value!r}"],
    "minimum": _rule("minimum", int, lambda v, bound: v >= bound),
    "maximum": _rule("maximum", int, lambda v, bound: v <= bound),
    "minLength": _rule("minLength", str, lambda v, bound: len(v) >= bound),
    "maxLength": _rule("maxLength", str, lambda v, bound: len(v) <= bound),
    "pattern": _rule("pattern", str, lambda v, pattern: re.search(pattern, v) is not None),
}


def documented(response: TestResponse, template: str, method: str) -> TestResponse:
    """Assert the response is one the description promises for this operation, and return it."""
    responses = OPENAPI_SPEC["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered {status}, undocumented"
    if "content" not in responses[status]:
        assert not response.data, f"{method.upper()} {template} {status} has an undocumented body"
        return response
    schema = responses[status]["content"]["application/json"]["schema"]
    errors = schema_errors(response.json, schema)
    assert not errors, f"{method.upper()} {template} {status}: {errors}\n{response.json}"
    return response


# --- helpers: talking to the API and producing processed data ------------------------------


class Api:
    """The API as one organizer sees it; every answer is checked against the description."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def get(self, template: str, params: dict[str, Any] | None = None, **ids: int) -> TestResponse:
        response = self.client.get(
            template.format(**ids), query_string=params, headers=self.headers
        )
        return documented(response, template, "get")

    def replay(self, delivery_id: int) -> TestResponse:
        response = self.client.post(REPLAY.format(delivery_id=delivery_id), headers=self.headers)
        return documented(response, REPLAY, "post")

    def gathering(self, gathering_id: int) -> dict[str, Any]:
        response = self.get(GATHERING, gathering_id=gathering_id)
        assert response.status_code == 200
        return response.json

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        response = self.get(DELIVERY, delivery_id=delivery_id)
        assert response.status_code == 200
        return response.json

    def listing(self, template: str, key: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(template, params)
        assert response.status_code == 200, response.json
        return response.json[key]


@pytest.fixture()
def api(client: FlaskClient, tenant: Tenant) -> Api:
    return Api(client, tenant.auth)


def hook(client: FlaskClient, tenant: Tenant, body: bytes, **headers: str) -> TestResponse:
    """POST a webhook signed with the tenant's secret (header overrides use `_` for `-`)."""
    signed = signed_headers(tenant.signing_secret, body)
    signed.update({name.replace("_", "-"): value for name, value in headers.items()})
    response = client.post(tenant.webhook_path, data=body, headers=signed)
    return documented(response, HOOK, "post")


def process(app: Flask, delivery_id: int) -> str:
    """Run the processing task in this process, as a worker would.

    A session worker may have taken the queued message first; either way the delivery ends
    processed exactly once, which is what the callers check.
    """
    outcome = app.extensions["celery"].tasks[PROCESS_DELIVERY](delivery_id)
    assert outcome in ("processed", "already_done", "failed"), outcome
    return outcome


def deliver(app: Flask, client: FlaskClient, tenant: Tenant, body: bytes) -> int:
    """Send one webhook and process it; return the delivery id."""
    response = hook(client, tenant, body)
    assert response.status_code == 202, response.json
    delivery_id: int = response.json["delivery"]
    process(app, delivery_id)
    return delivery_id


StoreOnly = Callable[[Tenant, bytes], int]


@pytest.fixture()
def store_only(app: Flask) -> Iterator[StoreOnly]:
    """Store deliveries through the inbox without queueing them, so no worker can touch them.

    Afterwards each is processed: a delivery left `received` would be picked up by any later
    test's sweep, which expects to find only its own.
    """
    stored: list[int] = []

    def store(tenant: Tenant, body: bytes) -> int:
        key = tenant.webhook_path.rsplit("/", 1)[1]
        headers = signed_headers(tenant.signing_secret, body)
        with app.app_context():
            # A writer without a broker: stored, not queued.
            writer = DeliveryWriter(ingest_engine_for(app), publish=None)
            result = inbox.receive(writer, keyring(), "standard", key, body, headers, 300)
        assert result.delivery_id is not None
        stored.append(result.delivery_id)
        return result.delivery_id

    yield store
    for delivery_id in stored:
        process(app, delivery_id)


def set_body(app: Flask, delivery_id: int, body: bytes) -> None:
    with app.app_context(), session_scope() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(body=body))


def failed_delivery(app: Flask, store_only: StoreOnly, tenant: Tenant) -> tuple[int, bytes]:
    """A delivery whose stored body became unreadable, processed into `failed`."""
    body = standard_body(attendee_id="att-failed", occurred_at=START)
    delivery_id = store_only(tenant, body)
    set_body(app, delivery_id, b"{not json")
    assert process(app, delivery_id) == "failed"
    return delivery_id, body


def only_gathering_id(api: Api) -> int:
    [gathering] = api.listing(GATHERINGS, "gatherings")
    return int(gathering["id"])


def event_count(app: Flask, gathering_id: int) -> int:
    """How many attendance events are stored for one gathering."""
    with app.app_context(), session_scope() as session:
        count = session.scalar(
            select(func.count())
            .select_from(AttendanceEvent)
            .join(Attendance, Attendance.id == AttendanceEvent.attendance_id)
            .where(Attendance.gathering_id == gathering_id)
        )
    return int(count or 0)


# --- the description itself ----------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """`/a/<int:b_id>` → `/a/{b_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_operations(app: Flask) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) → endpoint function name, for every route but static files and
    the HTML pages people read in a browser (`service.views.pages` and `service.views.admin`),
    which are no API."""
    return {
        (openapi_path(rule.rule), method.lower()): rule.endpoint.rsplit(".", 1)[-1]
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.startswith(("pages.", "admin."))
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def spec_operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in OPENAPI_SPEC["paths"].items()
        for method, operation in item.items()
    }


def test_openapi_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json == OPENAPI_SPEC
    assert response.json["openapi"].startswith("3.1")


def test_every_route_is_described_and_nothing_else(app):
    served = app_operations(app)
    described = spec_operations()

    assert set(served) == set(described)
    for key, endpoint in served.items():
        assert described[key]["operationId"] == endpoint, key
    assert {path for path, _ in served} >= {HOOK, GATHERINGS, GATHERING, DELIVERIES, REPLAY}


def test_every_path_parameter_is_declared(app):
    for (path, method), operation in spec_operations().items():
        in_path = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == declared, (path, method)


def test_every_reference_resolves():
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    schemas = OPENAPI_SPEC["components"]["schemas"]
    for reference in refs(OPENAPI_SPEC):
        assert reference.removeprefix("#/components/schemas/") in schemas, reference


def test_documented_error_reasons_have_the_documented_status():
    for (path, method), operation in spec_operations().items():
        for status, response in operation["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            for part in schema.get("allOf", []):
                for reason in part.get("properties", {}).get("reason", {}).get("enum", []):
                    assert STATUS_BY_REASON[reason] == int(status), (path, method, reason)


def test_operations_with_a_token_are_exactly_the_api_ones():
    for (path, _), operation in spec_operations().items():
        needs_token = path.startswith("/api/v1") and path != "/api/v1/openapi.json"
        assert bool(operation["security"]) == needs_token, path
        assert ("401" in operation["responses"]) == (needs_token or path == HOOK), path


def documented_limit(template: str) -> dict[str, Any]:
    [limit] = [
        p for p in OPENAPI_SPEC["paths"][template]["get"]["parameters"] if p["name"] == "limit"
    ]
    schema: dict[str, Any] = limit["schema"]
    return schema


MAX_LIMIT = documented_limit(GATHERINGS)["maximum"]


@pytest.mark.parametrize("template", [GATHERINGS, DELIVERIES])
def test_the_documented_page_limits_are_the_served_ones(api, template):
    schema = documented_limit(template)
    assert api.get(template, {"limit": schema["maximum"]}).status_code == 200
    assert api.get(template, {"limit": schema["maximum"] + 1}).status_code == 400
    assert api.get(template, {"limit": schema["minimum"]}).status_code == 200
    assert api.get(template, {"limit": schema["minimum"] - 1}).status_code == 400


@pytest.mark.parametrize(
    ("schema_name", "typed_dict"),
    [
        ("StandardPayload", standard.StandardPayload),
        ("StandardData", standard.StandardData),
        ("StandardGathering", standard.StandardGathering),
        ("StandardGroup", standard.StandardGroup),
        ("StandardAttendee", standard.StandardAttendee),
    ],
)
def test_standard_format_schemas_match_the_adapter_types(schema_name, typed_dict):
    schema = OPENAPI_SPEC["components"]["schemas"][schema_name]
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    optional = {key for key, hint in hints.items() if typing.get_origin(hint) is typing.NotRequired}
    assert set(schema["properties"]) == set(hints)
    assert set(schema["required"]) == set(hints) - optional


def test_example_payload_matches_the_request_schema():
    content = OPENAPI_SPEC["paths"][HOOK]["post"]["requestBody"]["content"]
    schema = content["application/json"]["schema"]
    assert schema_errors(json.loads(standard_body()), schema) == []
    assert schema_errors(json.loads(standard_body(group=None, email=None)), schema) == []
    assert schema_errors({"type": "attendee.checked_in"}, schema) != []
    for path in FIXTURES.glob("*.json"):
        if path.name != "unknown_type.json":
            assert schema_errors(json.loads(path.read_bytes()), schema) == [], path.name


def test_webhook_answers_match_the_description(client, tenant):
    body = standard_body()
    headers = signed_headers(tenant.signing_secret, body)
    assert client.post(tenant.webhook_path, data=body, headers=headers).status_code == 202
    duplicate = documented(
        client.post(tenant.webhook_path, data=body, headers=headers), HOOK, "post"
    )
    assert duplicate.json["status"] == "duplicate"

    ignored = hook(client, tenant, standard_body("attendee.badge_printed"))
    assert ignored.json["status"] == "ignored"
    assert hook(client, tenant, body, webhook_signature="v1,AAAA").status_code == 401
    assert hook(client, tenant, b"{").status_code == 400
    oversized = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert hook(client, tenant, oversized).status_code == 413
    unknown = client.post("/hooks/standard/nope", data=body, headers=headers)
    assert documented(unknown, HOOK, "post").status_code == 404


def test_health_answers_match_the_description(client):
    assert documented(client.get("/healthz"), "/healthz", "get").status_code == 200
    assert documented(client.get("/readyz"), "/readyz", "get").status_code == 200


# --- authentication --------------------------------------------------------------------------

PROTECTED = [
    ("get", GATHERINGS),
    ("get", "/api/v1/gatherings/1"),
    ("get", DELIVERIES),
    ("get", "/api/v1/deliveries/1"),
    ("post", "/api/v1/deliveries/1/replay"),
    ("get", "/api/v1/settings/mail"),
    ("patch", "/api/v1/settings/mail"),
    ("get", "/api/v1/suppressions"),
    ("post", "/api/v1/suppressions"),
    ("delete", "/api/v1/suppressions/ann@example.com"),
    ("get", "/api/v1/mail"),
    ("post", "/api/v1/mail/1/resend"),
]


@pytest.mark.parametrize(("method", "url"), PROTECTED)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "rw_token-alone"]
)
def test_missing_token_is_401(client, method, url, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.open(url, method=method.upper(), headers=headers)
    assert response.status_code == 401
    assert response.json == {
        "status": "error",
        "reason": "missing_token",
        "detail": "send Authorization: Bearer <api token>",
    }


@pytest.mark.parametrize(("method", "url"), PROTECTED)
def test_bad_token_is_401(client, tenant, method, url):
    for token in ("rw_not-a-real-token", tenant.api_token + "x", tenant.signing_secret):
        response = client.open(
            url, method=method.upper(), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert response.json["reason"] == "bad_token"


def test_token_scheme_is_case_insensitive(client, tenant):
    headers = {"Authorization": f"bearer {tenant.api_token}"}
    assert client.get(GATHERINGS, headers=headers).status_code == 200


# --- tenant isolation ----------------------------------------------------------------------


def test_another_organizers_objects_are_not_found(app, client, make_tenant):
    owner, stranger = make_tenant(), make_tenant()
    owner_api, stranger_api = Api(client, owner.auth), Api(client, stranger.auth)
    delivery_id = deliver(app, client, owner, standard_body(occurred_at=START))
    gathering_id = only_gathering_id(owner_api)

    for template, ids in (
        (GATHERING, {"gathering_id": gathering_id}),
        (DELIVERY, {"delivery_id": delivery_id}),
    ):
        response = stranger_api.get(template, **ids)
        assert response.status_code == 404
        assert response.json["reason"] == "not_found"
    replay = stranger_api.replay(delivery_id)
    assert replay.status_code == 404
    assert replay.json["reason"] == "not_found"

    # The refused replay changed nothing, and the owner still sees everything.
    assert owner_api.delivery(delivery_id)["status"] == "processed"
    assert owner_api.gathering(gathering_id)["checked_in"] == 1
    assert stranger_api.listing(GATHERINGS, "gatherings") == []
    assert stranger_api.listing(DELIVERIES, "deliveries") == []


def test_foreign_ids_answer_like_missing_ones(app, client, make_tenant):
    owner, stranger = make_tenant(), make_tenant()
    delivery_id = deliver(app, client, owner, standard_body(occurred_at=START))
    stranger_api = Api(client, stranger.auth)

    foreign = stranger_api.get(DELIVERY, delivery_id=delivery_id).json
    missing = stranger_api.get(DELIVERY, delivery_id=10**9).json
    assert foreign["reason"] == missing["reason"] == "not_found"
    assert foreign["detail"].replace(str(delivery_id), "N") == missing["detail"].replace(
        str(10**9), "N"
    )


def test_lists_show_only_the_tokens_organizer(app, client, make_tenant):
    first, second = make_tenant(), make_tenant()
    first_ids = {deliver(app, client, first, standard_body(gathering_id="g-first"))}
    second_ids = {deliver(app, client, second, standard_body(gathering_id="g-second"))}

    for tenant, own in ((first, first_ids), (second, second_ids)):
        api = Api(client, tenant.auth)
        assert {d["id"] for d in api.listing(DELIVERIES, "deliveries")} == own
        [gathering] = api.listing(GATHERINGS, "gatherings")
        assert api.gathering(gathering["id"])["attendance"][0]["source"] == "standard"


# --- paging and parameters -------------------------------------------------------------------


def three_gatherings(app: Flask, client: FlaskClient, tenant: Tenant) -> list[int]:
    return [
        deliver(app, client, tenant, standard_body(gathering_id=f"g-{n}", occurred_at=START))
        for n in range(3)
    ]


@pytest.mark.parametrize(
    ("template", "key"), [(GATHERINGS, "gatherings"), (DELIVERIES, "deliveries")]
)
def test_pages_cover_everything_once(app, client, tenant, api, template, key):
    three_gatherings(app, client, tenant)

    first = api.get(template, {"limit": 2}).json
    assert len(first[key]) == 2
    assert first["next_offset"] == 2
    second = api.get(template, {"limit": 2, "offset": first["next_offset"]}).json
    assert len(second[key]) == 1
    assert second["next_offset"] is None
    everything = api.get(template, {"limit": 200}).json
    assert everything["next_offset"] is None

    paged = [item["id"] for item in first[key] + second[key]]
    assert paged == [item["id"] for item in everything[key]]
    assert len(set(paged)) == 3
    assert api.get(template, {"offset": 3}).json == {key: [], "next_offset": None}


def test_exact_last_page_has_no_next_offset(app, client, tenant, api):
    three_gatherings(app, client, tenant)
    assert api.get(GATHERINGS, {"limit": 3}).json["next_offset"] is None
    assert api.get(GATHERINGS, {"limit": 1, "offset": 1}).json["next_offset"] == 2


@pytest.mark.parametrize(
    ("template", "params"),
    [
        (GATHERINGS, {"limit": "0"}),
        (GATHERINGS, {"limit": str(MAX_LIMIT + 1)}),
        (GATHERINGS, {"limit": "ten"}),
        (GATHERINGS, {"limit": "1.5"}),
        (GATHERINGS, {"offset": "-1"}),
        (GATHERINGS, {"offset": "x"}),
        (GATHERINGS, {"group_id": "abc"}),
        (DELIVERIES, {"limit": "-5"}),
        (DELIVERIES, {"offset": "two"}),
        (DELIVERIES, {"status": "bogus"}),
        (DELIVERIES, {"status": "PROCESSED"}),
    ],
)
def test_invalid_parameters_are_400(api, template, params):
    response = api.get(template, params)
    assert response.status_code == 400
    assert response.json["reason"] == "invalid_parameter"
    assert response.json["detail"]


# --- gatherings --------------------------------------------------------------------------------


def test_gathering_counts_only_people_who_checked_in(app, client, tenant, api):
    def event(kind: str, person: str, minutes: int, gathering: str = "g-main") -> bytes:
        return standard_body(
            f"attendee.{kind}",
            attendee_id=person,
            email=f"{person}@example.com",
            gathering_id=gathering,
            occurred_at=START + timedelta(minutes=minutes),
        )

    for body in (
        event("checked_in", "in", 0),
        event("checked_in", "left", 1),
        event("checked_out", "left", 60),
        event("registered", "registered-only", -600),
        event("checked_in", "reverted", 2),
        event("checkin_reverted", "reverted", 3),
        event("registered", "nobody-came", -600, gathering="g-empty"),
    ):
        deliver(app, client, tenant, body)

    listed = {g["id"]: g for g in api.listing(GATHERINGS, "gatherings")}
    assert sorted(g["checked_in"] for g in listed.values()) == [0, 2]
    for gathering_id, summary in listed.items():
        detail = api.gathering(gathering_id)
        assert detail["checked_in"] == summary["checked_in"]
        assert {k: v for k, v in detail.items() if k in summary} == summary

    [main] = [g for g in listed.values() if g["checked_in"] == 2]
    statuses = {
        row["person"]["email"]: row["status"] for row in api.gathering(main["id"])["attendance"]
    }
    assert statuses == {
        "in@example.com": "checked_in",
        "left@example.com": "checked_out",
        "registered-only@example.com": "registered",
        "reverted@example.com": "reverted",
    }


def test_gatherings_filter_by_group(app, client, tenant, api):
    deliver(app, client, tenant, standard_body(gathering_id="g-a"))
    deliver(
        app,
        client,
        tenant,
        standard_body(gathering_id="g-b", group={"id": "grp-lunch", "name": "Lunch Circle"}),
    )
    deliver(app, client, tenant, standard_body(gathering_id="g-c", group=None))

    everything = api.listing(GATHERINGS, "gatherings")
    assert len(everything) == 3
    assert sum(g["group"] is None for g in everything) == 1
    [lunch] = [g for g in everything if g["group"] and g["group"]["name"] == "Lunch Circle"]

    filtered = api.listing(GATHERINGS, "gatherings", group_id=lunch["group"]["id"])
    assert [g["id"] for g in filtered] == [lunch["id"]]
    assert api.listing(GATHERINGS, "gatherings", group_id=10**9) == []


def test_gathering_detail_shows_times_in_utc(app, client, tenant, api):
    deliver(app, client, tenant, standard_body(occurred_at=START + timedelta(minutes=7)))
    detail = api.gathering(only_gathering_id(api))
    assert detail["starts_at"] == "2026-11-26T07:30:00Z"
    assert detail["ends_at"] == "2026-11-26T09:30:00Z"
    assert detail["attendance"][0]["checked_in_at"] == "2026-11-26T07:37:00Z"


# --- deliveries and replay -------------------------------------------------------------------


def test_deliveries_filter_by_status(app, client, tenant, api, store_only):
    processed = deliver(app, client, tenant, standard_body(occurred_at=START))
    ignored = hook(client, tenant, standard_body("attendee.badge_printed")).json["delivery"]
    received = store_only(tenant, standard_body(attendee_id="att-waiting"))
    failed, _ = failed_delivery(app, store_only, tenant)

    expected = {"processed": processed, "ignored": ignored, "received": received, "failed": failed}
    for status, delivery_id in expected.items():
        listed = api.listing(DELIVERIES, "deliveries", status=status)
        assert [d["id"] for d in listed] == [delivery_id], status
        assert listed[0]["status"] == status
    everything = api.listing(DELIVERIES, "deliveries")
    assert [d["id"] for d in everything] == sorted(expected.values(), reverse=True)


def test_delivery_detail(app, client, tenant, api):
    delivery_id = deliver(app, client, tenant, standard_body(occurred_at=START))
    delivery = api.delivery(delivery_id)
    assert delivery["platform"] == "standard"
    assert delivery["integration_id"] == tenant.integration_id
    assert delivery["event_type"] == "attendee.checked_in"
    assert delivery["external_id"].startswith("msg_")
    assert delivery["attempts"] == 1
    assert delivery["reason"] is None
    assert delivery["processed_at"] is not None


def test_replaying_a_processed_delivery_changes_nothing(app, client, tenant, api):
    delivery_id = deliver(app, client, tenant, standard_body(occurred_at=START))
    gathering_id = only_gathering_id(api)
    before = api.gathering(gathering_id)
    events_before = event_count(app, gathering_id)

    replay = api.replay(delivery_id)
    assert replay.status_code == 202
    assert replay.json["id"] == delivery_id
    assert replay.json["status"] == "received"
    assert replay.json["processed_at"] is None
    process(app, delivery_id)

    after = api.delivery(delivery_id)
    assert after["status"] == "processed"
    assert after["attempts"] == 2
    assert api.gathering(gathering_id) == before
    assert before["checked_in"] == 1
    assert event_count(app, gathering_id) == events_before == 1


def test_replay_recovers_a_failed_delivery(app, client, tenant, api, store_only):
    delivery_id, good_body = failed_delivery(app, store_only, tenant)
    failed = api.delivery(delivery_id)
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("malformed_json")
    assert api.listing(GATHERINGS, "gatherings") == []

    set_body(app, delivery_id, good_body)  # e.g. after the bug that broke it is fixed
    assert api.replay(delivery_id).status_code == 202
    process(app, delivery_id)

    recovered = api.delivery(delivery_id)
    assert recovered["status"] == "processed"
    assert recovered["reason"] is None
    assert recovered["attempts"] == 2
    assert api.gathering(only_gathering_id(api))["checked_in"] == 1


def test_unknown_route_under_the_api_is_a_json_404(client, tenant):
    response = client.get("/api/v1/gatherings/not-a-number", headers=tenant.auth)
    assert response.status_code == 404
    assert response.json["reason"] == "not_found"
