"""Helpers for the connection and outcome tests: `standard` bodies, signed deliveries processed
in this process, and the API with every answer checked against its OpenAPI description."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.context import secret_box
from service.db import session_scope
from service.inbox import process
from tests.conftest import Tenant
from tests.service.test_api import documented
from tests.support import GROUP, signed_headers

START = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
BREAKFAST = {"id": "g-2026-11-26", "name": "Breakfast, 26 Nov", "group": GROUP}
LUNCH_GROUP = {"id": "grp-lunch", "name": "Lunch Circle"}
LUNCH = {"id": "g-lunch-27", "name": "Lunch, 27 Nov", "group": LUNCH_GROUP}
CONNECTIONS = "/api/v1/connections"
OUTCOMES = "/api/v1/outcomes"


def attendee(name: str) -> dict[str, str]:
    return {"id": f"att-{name}", "email": f"{name}@example.com", "name": name.title()}


def email(name: str) -> str:
    return attendee(name)["email"]


def report_body(event_type: str, data: dict[str, Any], minutes: int = 30) -> bytes:
    occurred = (START + timedelta(minutes=minutes)).isoformat()
    return json.dumps(
        {"type": event_type, "timestamp": occurred, "data": {**data, "occurred_at": occurred}}
    ).encode()


def connection_body(
    name: str = "ada", other: str = "ben", gathering: dict[str, Any] = BREAKFAST, **data: Any
) -> bytes:
    """`name` reports having connected with `other`; `data` adds or replaces fields."""
    return report_body(
        "connection.created",
        {
            "gathering": gathering,
            "attendee": attendee(name),
            "counterpart": attendee(other),
            **data,
        },
    )


def outcome_body(name: str = "ada", **data: Any) -> bytes:
    return report_body(
        "outcome.reported",
        {"group": GROUP, "attendee": attendee(name), "kind": "referral", **data},
        minutes=60 * 24 * 7,
    )


def post_hook(client: FlaskClient, tenant: Tenant, body: bytes, **signing: Any) -> TestResponse:
    """POST a body signed with the tenant's secret, and check the answer is a documented one."""
    headers = signed_headers(tenant.signing_secret, body, **signing)
    response = client.post(tenant.webhook_path, data=body, headers=headers)
    return documented(response, "/hooks/{platform}/{key}", "post")


def process_delivery(app: Flask, delivery_id: int) -> str:
    with app.app_context(), session_scope() as session:
        return str(process(session, secret_box(), delivery_id))


def deliver(app: Flask, client: FlaskClient, tenant: Tenant, body: bytes) -> int:
    """Send one signed webhook and process it here, as a worker would; return its delivery id."""
    response = post_hook(client, tenant, body)
    assert response.status_code == 202, response.json
    delivery_id: int = response.json["delivery"]
    assert process_delivery(app, delivery_id) == "processed"
    return delivery_id


def check_in(
    app: Flask,
    client: FlaskClient,
    tenant: Tenant,
    *names: str,
    kind: str = "checked_in",
    gathering: dict[str, Any] = BREAKFAST,
) -> None:
    """Deliver an `attendee.<kind>` event for each person (a check-in by default)."""
    minutes = {"registered": -600, "checked_in": 5, "checkin_reverted": 20}[kind]
    for name in names:
        data = {"gathering": gathering, "attendee": attendee(name)}
        deliver(app, client, tenant, report_body(f"attendee.{kind}", data, minutes))


class Api:
    """The API as one organizer sees it; every answer is checked against the description."""

    def __init__(self, client: FlaskClient, tenant: Tenant) -> None:
        self.client = client
        self.headers = tenant.auth

    def post(self, template: str, payload: Any) -> TestResponse:
        response = self.client.post(template, json=payload, headers=self.headers)
        return documented(response, template, "post")

    def post_raw(self, template: str, data: bytes) -> TestResponse:
        headers = {**self.headers, "Content-Type": "application/json"}
        return documented(self.client.post(template, data=data, headers=headers), template, "post")

    def get(self, template: str, **params: Any) -> TestResponse:
        response = self.client.get(template, query_string=params, headers=self.headers)
        return documented(response, template, "get")

    def listing(self, template: str, key: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(template, **params)
        assert response.status_code == 200, response.json
        items: list[dict[str, Any]] = response.json[key]
        return items

    def gathering(self, ref: dict[str, Any] = BREAKFAST) -> dict[str, Any]:
        """The gathering the `standard` gathering `ref` became, with its attendance.

        Read only for its ids: the gathering endpoints have their own tests.
        """
        gatherings = self.client.get("/api/v1/gatherings", headers=self.headers).json
        [gathering_id] = [g["id"] for g in gatherings["gatherings"] if g["name"] == ref["name"]]
        url = f"/api/v1/gatherings/{gathering_id}"
        detail: dict[str, Any] = self.client.get(url, headers=self.headers).json
        return detail

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        template = "/api/v1/deliveries/{delivery_id}"
        response = self.client.get(template.format(delivery_id=delivery_id), headers=self.headers)
        detail: dict[str, Any] = documented(response, template, "get").json
        return detail

    def gathering_id(self, ref: dict[str, Any] = BREAKFAST) -> int:
        return int(self.gathering(ref)["id"])

    def group_id(self, ref: dict[str, Any] = BREAKFAST) -> int:
        return int(self.gathering(ref)["group"]["id"])

    def person_ids(self, ref: dict[str, Any] = BREAKFAST) -> dict[str, int]:
        """Roomwise's person ids by first name, for everyone the gathering has seen."""
        return {
            row["person"]["name"].lower(): row["person"]["id"]
            for row in self.gathering(ref)["attendance"]
        }
