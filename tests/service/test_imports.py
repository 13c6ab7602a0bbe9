"""CSV attendance imports: parsing, the API, re-imports, errors, time zones and tenants.

The API tests upload through the real app into the real database and read the result back
through the JSON API, as an organizer would.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from service.accounts import create_organizer
from service.context import secret_box
from service.db import session_scope
from service.imports import MAX_ROWS, InvalidRows, parse_rows
from service.inbox import process

IMPORTS = "/api/v1/imports"
BERLIN = ZoneInfo("Europe/Berlin")
HEADER = "gathering,date,name,email,company,checked_in,checked_in_at,checked_out_at"
MEETUP_HEADER = (
    "Name,Attendance,User ID,Title,Event Host,RSVP,Guests,RSVPed on,Joined Group on,"
    "URL of Member Profile,Notes"
)


def csv_file(header: str, *rows: str) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


class Organizer:
    """One organizer's view of the API: uploads, and what the API shows afterwards."""

    def __init__(self, app: Flask, client: FlaskClient, token: str) -> None:
        self.app = app
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def upload(self, body: bytes, content_type: str = "text/csv", **params: str) -> TestResponse:
        """Upload; an accepted import is then processed as the worker would, and the delivery
        it became is attached to the response as `delivery`."""
        headers = {**self.headers, "Content-Type": content_type}
        response = self.client.post(IMPORTS, data=body, headers=headers, query_string=params)
        if response.status_code == 202:
            import_id = response.json["import"]
            with self.app.app_context(), session_scope() as session:
                process(session, secret_box(), import_id)
            response.delivery = self.get(f"/api/v1/deliveries/{import_id}")
        return response

    def upload_form(self, body: bytes, **fields: str) -> TestResponse:
        # Encoded in memory: the test client spools large forms to a file it never closes.
        file = FileStorage(io.BytesIO(body), "attendance.csv", content_type="text/csv")
        boundary, data = encode_multipart({"file": file, **fields})
        content_type = f"multipart/form-data; boundary={boundary}"
        return self.upload(data, content_type=content_type)

    def get(self, url: str, **params: Any) -> Any:
        response = self.client.get(url, headers=self.headers, query_string=params)
        assert response.status_code == 200, response.json
        return response.json

    def gatherings(self, **params: Any) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/gatherings", limit=200, **params)["gatherings"])

    def gathering(self, name: str) -> dict[str, Any]:
        [summary] = [g for g in self.gatherings() if g["name"] == name]
        return dict(self.get(f"/api/v1/gatherings/{summary['id']}"))

    def attendance(self, name: str) -> dict[str, dict[str, Any]]:
        """The gathering's attendance by email (or name, for people without one)."""
        rows = self.gathering(name)["attendance"]
        return {row["person"]["email"] or row["person"]["name"]: row for row in rows}

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/deliveries")["deliveries"])

    def csv_integration_id(self) -> int:
        integrations = self.get("/api/v1/integrations")["integrations"]
        [integration] = [i for i in integrations if i["platform"] == "csv"]
        return int(integration["id"])


@pytest.fixture()
def make_organizer(app: Flask, client: FlaskClient) -> Callable[[str], Organizer]:
    def make(timezone: str = "Europe/Berlin") -> Organizer:
        suffix = uuid.uuid4().hex[:8]
        with app.app_context(), session_scope() as session:
            created = create_organizer(
                session, f"Harbour {suffix}", f"csv-{suffix}@example.com", "correct horse", timezone
            )
        return Organizer(app, client, created.api_token)

    return make


@pytest.fixture()
def berlin(make_organizer: Callable[[str], Organizer]) -> Organizer:
    return make_organizer("Europe/Berlin")


def imported(response: TestResponse) -> dict[str, Any]:
    """The answer to an accepted upload, with the counts its processing recorded."""
    assert response.status_code == 202, response.json
    assert response.json["status"] == "accepted"
    assert isinstance(response.json["import"], int)
    delivery = response.delivery
    assert delivery["status"] == "processed", delivery
    assert delivery["summary"]["rows"] == response.json["rows"]
    return {**response.json, **delivery["summary"]}


def counts(response: TestResponse) -> dict[str, int]:
    body = imported(response)
    return {key: body[key] for key in ("rows", "gatherings", "people", "check_ins", "unchanged")}


def rejected(response: TestResponse) -> set[tuple[int, str]]:
    """The (row, field) pairs of a 400 `invalid_rows` answer."""
    assert response.status_code == 400, response.json
    body = response.json
    assert body["reason"] == "invalid_rows"
    assert body["detail"].startswith("nothing was imported")
    assert body["error_count"] == len(body["errors"])
    assert all(error["message"] for error in body["errors"])
    return {(error["row"], error["field"]) for error in body["errors"]}


# --- a valid import ----------------------------------------------------------------------------

BREAKFAST = csv_file(
    HEADER,
    "Breakfast Club,2026-11-26T07:30,Ada Lovelace,ada@example.com,Analytical Engines,yes,"
    "2026-11-26T07:35,2026-11-26T09:10",
    "Breakfast Club,2026-11-26T07:30,Charles Babbage,charles@example.com,,yes,,",
    "Breakfast Club,2026-11-26T07:30,Grace Hopper,grace@example.com,,no,,",
    "Lunch Circle,2026-11-27,Ada Lovelace,ADA@Example.com,,1,,",
)


def test_import_records_gatherings_people_and_times(berlin):
    assert counts(berlin.upload(BREAKFAST)) == {
        "rows": 4,
        "gatherings": 2,
        "people": 3,
        "check_ins": 3,
        "unchanged": 0,
    }

    listed = {g["name"]: g for g in berlin.gatherings()}
    assert {name: (g["starts_at"], g["checked_in"]) for name, g in listed.items()} == {
        "Breakfast Club": ("2026-11-26T06:30:00Z", 2),
        "Lunch Circle": ("2026-11-26T23:00:00Z", 1),  # midnight in Berlin
    }
    breakfast = berlin.attendance("Breakfast Club")
    ada = breakfast["ada@example.com"]
    assert (ada["status"], ada["registered_at"], ada["checked_in_at"], ada["checked_out_at"]) == (
        "checked_out",
        "2026-11-26T06:30:00Z",
        "2026-11-26T06:35:00Z",
        "2026-11-26T08:10:00Z",
    )
    assert ada["person"]["company"] == "Analytical Engines"
    assert ada["source"] == "csv"
    # A check-in without a time is at the gathering's start.
    assert breakfast["charles@example.com"]["checked_in_at"] == "2026-11-26T06:30:00Z"
    assert breakfast["grace@example.com"]["status"] == "registered"
    assert breakfast["grace@example.com"]["checked_in_at"] is None

    [lunch] = berlin.attendance("Lunch Circle").values()
    assert lunch["person"]["id"] == ada["person"]["id"]  # one person per normalized email


def test_the_import_is_listed_with_the_deliveries(berlin):
    import_id = imported(berlin.upload(BREAKFAST))["import"]
    [delivery] = berlin.deliveries()
    assert delivery["id"] == import_id
    assert delivery["platform"] == "csv"
    assert delivery["status"] == "processed"
    assert delivery["event_type"] == "import"
    assert delivery["external_id"] == "sha256:" + hashlib.sha256(BREAKFAST).hexdigest()
    assert delivery["processed_at"] is not None


def test_naive_times_are_in_the_organizers_zone(berlin, make_organizer):
    body = csv_file(
        HEADER,
        "Summer Mixer,2026-07-02T18:00,Ada,ada@example.com,,,2026-07-02T18:05,",
        "Winter Mixer,2026-12-03T18:00,Ada,ada@example.com,,,2026-12-03T18:05:00+00:00,"
        "2026-12-03T20:00Z",
        "Picnic,2026-07-04,Ada,ada@example.com,,yes,,",
    )
    imported(berlin.upload(body))
    utc = make_organizer("UTC")
    imported(utc.upload(body))

    def times(organizer: Organizer) -> dict[str, tuple[str, str, str | None]]:
        result = {}
        for gathering in organizer.gatherings():
            [row] = organizer.attendance(gathering["name"]).values()
            result[gathering["name"]] = (
                gathering["starts_at"],
                row["checked_in_at"],
                row["checked_out_at"],
            )
        return result

    assert times(berlin) == {
        "Summer Mixer": ("2026-07-02T16:00:00Z", "2026-07-02T16:05:00Z", None),  # CEST, +2
        "Winter Mixer": ("2026-12-03T17:00:00Z", "2026-12-03T18:05:00Z", "2026-12-03T20:00:00Z"),
        "Picnic": ("2026-07-03T22:00:00Z", "2026-07-03T22:00:00Z", None),
    }
    assert times(utc) == {
        "Summer Mixer": ("2026-07-02T18:00:00Z", "2026-07-02T18:05:00Z", None),
        "Winter Mixer": ("2026-12-03T18:00:00Z", "2026-12-03T18:05:00Z", "2026-12-03T20:00:00Z"),
        "Picnic": ("2026-07-04T00:00:00Z", "2026-07-04T00:00:00Z", None),
    }


def test_groups_come_from_the_group_column_or_the_name_prefix_rules(berlin):
    imported(berlin.upload(csv_file("gathering,date,name", "Kickoff,2026-11-01,Ada")))
    integration_id = berlin.csv_integration_id()
    rules = [{"prefix": "breakfast", "group": "Harbourside Breakfast"}]
    response = berlin.client.patch(
        f"/api/v1/integrations/{integration_id}",
        json={"group_rules": rules},
        headers=berlin.headers,
    )
    assert response.status_code == 200, response.json

    body = csv_file(
        "gathering,date,group,name",
        "Breakfast 3 Dec,2026-12-03,,Ada",
        "Lunch 4 Dec,2026-12-04,Harbourside Breakfast,Ada",
        "Mixer 5 Dec,2026-12-05,After Work,Ada",
        "Kickoff 2,2026-12-06,,Ada",
    )
    imported(berlin.upload(body))

    groups = {g["name"]: g["group"] for g in berlin.gatherings()}
    assert groups["Breakfast 3 Dec"]["name"] == "Harbourside Breakfast"
    assert groups["Lunch 4 Dec"] == groups["Breakfast 3 Dec"]  # the column and the rule agree
    assert groups["Mixer 5 Dec"]["name"] == "After Work"
    assert groups["Kickoff 2"] is None
    in_group = berlin.gatherings(group_id=groups["Breakfast 3 Dec"]["id"])
    assert {g["name"] for g in in_group} == {"Breakfast 3 Dec", "Lunch 4 Dec"}


def test_a_meetup_attendee_export_imports_with_the_event_given_once(berlin):
    body = csv_file(
        MEETUP_HEADER,
        "Sam K.,Y,user 101,Organizer,Yes,Yes,0,11/01/2026,01/02/2024,"
        "https://www.meetup.com/harbour-tech/members/101/,",
        "Sam K.,,user 102,,No,Yes,0,11/02/2026,05/06/2025,"
        "https://www.meetup.com/harbour-tech/members/102/,",
        "Alex P.,Y,user 103,,No,Yes,1,11/03/2026,07/08/2025,"
        "https://www.meetup.com/harbour-tech/members/103/,brings a friend",
    )
    assert rejected(berlin.upload(body)) == {(0, "gathering"), (0, "date")}

    event = {"gathering": "Harbour Tech Night", "date": "2026-11-26T19:00"}
    assert counts(berlin.upload(body, **event)) == {
        "rows": 3,
        "gatherings": 1,
        "people": 3,  # the two "Sam K." are told apart by their Meetup user id
        "check_ins": 2,
        "unchanged": 0,
    }
    [gathering] = berlin.gatherings()
    assert (gathering["name"], gathering["starts_at"]) == (
        "Harbour Tech Night",
        "2026-11-26T18:00:00Z",
    )
    rows = berlin.gathering("Harbour Tech Night")["attendance"]
    statuses = sorted(row["status"] for row in rows)
    assert statuses == ["checked_in", "checked_in", "registered"]

    # The same export for another night is another import, not a duplicate.
    next_night = berlin.upload(body, gathering="Harbour Tech Night", date="2026-12-03T19:00")
    assert counts(next_night)["check_ins"] == 2
    assert len(berlin.gatherings()) == 2
    assert rejected(berlin.upload(body, gathering="Harbour", date="26.11.2026")) == {(0, "date")}


def test_multipart_upload_with_form_fields(berlin):
    assert counts(berlin.upload_form(BREAKFAST))["rows"] == 4
    body = csv_file("Name,Attendance", "Ada,Y")
    response = berlin.upload_form(body, gathering="Harbour Tech Night", date="2026-11-26")
    assert counts(response)["check_ins"] == 1
    assert "Harbour Tech Night" in {g["name"] for g in berlin.gatherings()}


# --- re-imports --------------------------------------------------------------------------------


def snapshot(organizer: Organizer) -> dict[str, Any]:
    """Everything an import can change, without ids (which differ between organizers)."""
    result = {}
    for gathering in organizer.gatherings():
        rows = organizer.attendance(gathering["name"])
        result[gathering["name"]] = (
            gathering["starts_at"],
            gathering["checked_in"],
            {
                " ".join(key.split()).casefold(): (
                    row["status"],
                    row["registered_at"],
                    row["checked_in_at"],
                    row["checked_out_at"],
                )
                for key, row in rows.items()
            },
        )
    return result


def test_an_identical_reupload_is_a_duplicate_and_changes_nothing(berlin):
    first = imported(berlin.upload(BREAKFAST))
    before = snapshot(berlin)

    again = berlin.upload(BREAKFAST)
    assert again.status_code == 200
    assert again.json == {"status": "duplicate", "import": first["import"]}
    as_form = berlin.upload_form(BREAKFAST)
    assert as_form.status_code == 200
    assert as_form.json["import"] == first["import"]

    assert snapshot(berlin) == before
    assert [d["id"] for d in berlin.deliveries()] == [first["import"]]


FIRST_EXPORT = [
    "Breakfast Club,2026-11-26,Ada,ada@example.com,,yes,2026-11-26T07:40,",
    "Breakfast Club,2026-11-26,Bob,bob@example.com,,no,,",
    "Breakfast Club,2026-11-26,Cleo (no email),,,yes,,",
]
SECOND_EXPORT = [
    FIRST_EXPORT[0],
    "Breakfast Club,2026-11-26,Bob,bob@example.com,,yes,,",  # came after all
    "Breakfast Club,2026-11-26,cleo  (NO EMAIL),,,yes,,",  # the same person, spelled anew
    "Breakfast Club,2026-11-26,Dee,dee@example.com,,yes,2026-11-26T08:15,",
]


def test_an_edited_reupload_counts_only_what_is_new_and_converges(berlin, make_organizer):
    imported(berlin.upload(csv_file(HEADER, *FIRST_EXPORT)))
    assert counts(berlin.upload(csv_file(HEADER, *SECOND_EXPORT))) == {
        "rows": 4,
        "gatherings": 1,
        "people": 4,
        "check_ins": 2,  # Bob and Dee
        "unchanged": 2,  # Ada and Cleo
    }
    assert len(berlin.deliveries()) == 2

    fresh = make_organizer("Europe/Berlin")
    imported(fresh.upload(csv_file(HEADER, *SECOND_EXPORT)))
    assert snapshot(berlin) == snapshot(fresh)
    assert len(berlin.attendance("Breakfast Club")) == 4


# --- rejected files ----------------------------------------------------------------------------


def test_every_row_error_is_reported_and_nothing_is_applied(berlin):
    body = csv_file(
        HEADER + ",notes",
        "Breakfast,2026-11-26,Ada,ada@example.com,,yes,,,",  # 1: fine
        "Breakfast,2026-13-01,Bob,bob@example.com,,yes,,,",  # 2: no 13th month
        "Breakfast,2026-11-26,Cleo,cleo@,,yes,,,",  # 3: bad email
        "Breakfast,2026-11-26,Dee,dee@example.com,,maybe,,,",  # 4: not yes or no
        "Breakfast,2026-11-26,,,ACME,yes,,,",  # 5: neither name nor email
        "",  # 6: blank, skipped but counted
        f"Breakfast,2026-11-26,{'E' * 301},,,yes,,,",  # 7: too long
        "Breakfast,2026-11-26,Fay\0,,,yes,,,",  # 8: NUL
        "Breakfast,2026-11-26,Gus,,,yes,2026-11-26T09:00,2026-11-26T08:00,",  # 9: out before in
        ",2026-11-26T25:00,Hal,,,no,2026-11-26T09:00,,",  # 10: three problems
        "Breakfast,2026-11-26,Ivy,,,yes,2026-11-26,,",  # 11: a check-in time needs a time
        "Breakfast,2026-11-26,Jo,,,yes,,,\0",  # 12: NUL in a column Roomwise ignores
        "Breakfast,2026-11-26,Kim,,,yes,,,,surplus",  # 13: more cells than columns
    )
    response = berlin.upload(body)
    assert rejected(response) == {
        (2, "date"),
        (3, "email"),
        (4, "checked_in"),
        (5, "name"),
        (7, "name"),
        (8, "name"),
        (9, "checked_out_at"),
        (10, "gathering"),
        (10, "date"),
        (10, "checked_in"),
        (11, "checked_in_at"),
        (12, "notes"),
        (13, ""),
    }
    assert [error["row"] for error in response.json["errors"]] == sorted(
        error["row"] for error in response.json["errors"]
    )
    assert berlin.gatherings() == []
    assert berlin.deliveries() == []
    assert berlin.get("/api/v1/integrations")["integrations"] == []


def test_the_error_list_is_capped_but_counted(berlin):
    body = csv_file("gathering,date,name", *[f"G,not-a-date,P{n}" for n in range(150)])
    response = berlin.upload(body)
    assert response.status_code == 400
    assert len(response.json["errors"]) == 100
    assert response.json["error_count"] == 150


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "gathering,date,name\nCafé,2026-01-01,Zoë\n".encode("latin-1"), {(0, "")}, id="latin-1"
        ),
        pytest.param(bytes(range(256)) * 8, {(0, "")}, id="binary"),
        pytest.param(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", {(0, "")}, id="png"),
        pytest.param(b"gathering,date,name\n", {(0, "")}, id="header-only"),
        pytest.param(b"\n \n\n", {(0, "")}, id="blank-lines"),
        pytest.param(
            b"name,email\nAda,ada@example.com\n", {(0, "gathering"), (0, "date")}, id="missing"
        ),
        pytest.param(
            b"event,gathering,date,name\nA,B,2026-01-01,Ada\n", {(0, "gathering")}, id="twice"
        ),
        pytest.param(
            b"gathering,date,na\0me\nG,2026-01-01,Ada\n", {(0, "na\0me")}, id="nul-header"
        ),
        pytest.param(b"gathering,date,name\nG,2026-01-01,A\0da\n", {(1, "name")}, id="nul-cell"),
    ],
)
def test_malformed_files_are_rejected(berlin, body, expected):
    assert rejected(berlin.upload(body)) == expected
    assert berlin.gatherings() == []


def test_too_many_rows_are_rejected(berlin):
    body = csv_file("gathering,date,name", *[f"G,2026-01-01,P{n}" for n in range(MAX_ROWS + 1)])
    response = berlin.upload(body)
    assert rejected(response) == {(0, "")}
    assert "20,000" in response.json["errors"][0]["message"]
    assert berlin.gatherings() == []


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("text/csv", b"", "empty_body"),
        ("application/json", b'{"rows": []}', "wrong_content_type"),
        ("application/x-www-form-urlencoded", b"file=a", "wrong_content_type"),
        ("", BREAKFAST, "wrong_content_type"),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--\r\n", "empty_body"),
    ],
)
def test_an_upload_without_a_csv_file_is_400(berlin, content_type, body, reason):
    response = berlin.upload(body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["reason"] == reason
    assert response.json["detail"]


def test_a_multipart_form_without_the_file_field_is_400(berlin):
    response = berlin.client.post(
        IMPORTS, data={"other": "x"}, headers=berlin.headers, content_type="multipart/form-data"
    )
    assert (response.status_code, response.json["reason"]) == (400, "empty_body")
    empty = berlin.upload_form(b"")
    assert (empty.status_code, empty.json["reason"]) == (400, "empty_body")


def test_an_oversized_body_is_413(berlin):
    body = BREAKFAST + b"x" * (1024 * 1024)
    for response in (berlin.upload(body), berlin.upload_form(body)):
        assert response.status_code == 413
        assert response.json["reason"] == "payload_too_large"
    assert berlin.gatherings() == []


@pytest.mark.parametrize("authorization", [None, "Bearer rw_not-a-real-token"])
def test_an_upload_without_a_valid_token_is_401(client, authorization):
    headers = {"Content-Type": "text/csv"}
    if authorization:
        headers["Authorization"] = authorization
    response = client.post(IMPORTS, data=BREAKFAST, headers=headers)
    assert response.status_code == 401
    assert response.json["reason"] in ("missing_token", "bad_token")


# --- tenants -----------------------------------------------------------------------------------


def test_another_organizers_data_is_never_touched_or_shown(app, client, make_tenant):
    owner_tenant, stranger_tenant = make_tenant(), make_tenant()
    owner = Organizer(app, client, owner_tenant.api_token)
    stranger = Organizer(app, client, stranger_tenant.api_token)
    owner_import = imported(owner.upload(BREAKFAST))["import"]
    before = snapshot(owner)

    # The same file from another organizer is that organizer's own first import.
    stranger_import = imported(stranger.upload(BREAKFAST))["import"]
    assert stranger_import != owner_import
    assert snapshot(owner) == before
    [owner_delivery] = owner.deliveries()
    assert owner_delivery["id"] == owner_import
    assert owner_delivery["integration_id"] != owner_tenant.integration_id  # not the webhook one
    assert [d["id"] for d in stranger.deliveries()] == [stranger_import]

    owner_ids = {g["id"] for g in owner.gatherings()}
    assert owner_ids.isdisjoint(g["id"] for g in stranger.gatherings())
    for gathering_id in owner_ids:
        response = client.get(f"/api/v1/gatherings/{gathering_id}", headers=stranger.headers)
        assert response.status_code == 404
    owner_people = {r["person"]["id"] for r in owner.attendance("Breakfast Club").values()}
    stranger_people = {r["person"]["id"] for r in stranger.attendance("Breakfast Club").values()}
    assert owner_people.isdisjoint(stranger_people)


# --- parsing on its own ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "attended"),
    [
        *[
            (v, True)
            for v in ("yes", "Y", "TRUE", "1", "x", "attended", "Present", "checked in", "✓")
        ],
        *[
            (v, False)
            for v in ("", "no", "N", "false", "0", "absent", "no-show", "No Show", "noshow")
        ],
    ],
)
def test_checked_in_values(value, attended):
    [row] = parse_rows(
        csv_file("gathering,date,name,checked_in", f"G,2026-01-01,Ada,{value}"), BERLIN
    )
    assert (row.checked_in_at is not None) is attended


def test_headers_are_matched_loosely():
    body = "\ufeff Event Name ;Event Date;Full Name;E-Mail;CHECKED_IN;Check-in time\n".encode()
    body += b"Breakfast;2026-11-26;Ada;ada@example.com;Yes;2026-11-26T07:35\n"
    [row] = parse_rows(body, BERLIN)
    assert (row.gathering, row.name, row.email) == ("Breakfast", "Ada", "ada@example.com")
    assert row.checked_in_at is not None
    assert row.checked_in_at.isoformat() == "2026-11-26T07:35:00+01:00"


def test_a_gathering_starts_at_the_earliest_time_its_rows_give():
    rows = parse_rows(
        csv_file(
            "gathering,date,name",
            "Breakfast,2026-11-26,Ada",
            "Breakfast,2026-11-26T07:45,Bob",
            "breakfast,2026-11-26T07:30,Cleo",
        ),
        BERLIN,
    )
    assert {row.starts_at.isoformat() for row in rows} == {"2026-11-26T07:30:00+01:00"}


def test_exactly_the_row_limit_parses():
    body = csv_file("gathering,date,name", *[f"G,2026-01-01,P{n}" for n in range(MAX_ROWS)])
    assert len(parse_rows(body, BERLIN)) == MAX_ROWS


def test_parse_errors_cover_the_whole_file():
    body = csv_file("gathering,date,name", *[f"G,2026-01-{n:02},P" for n in range(40)])
    with pytest.raises(InvalidRows) as caught:
        parse_rows(body, BERLIN)
    # Days 00 and 32..39 do not exist; every one of them is reported, not just the first.
    assert [error.row for error in caught.value.errors] == [1, *range(33, 41)]


def test_an_import_can_be_replayed_and_counts_nothing_twice(berlin):
    first = imported(berlin.upload(BREAKFAST))
    before = snapshot(berlin)
    replay = berlin.client.post(
        f"/api/v1/deliveries/{first['import']}/replay", headers=berlin.headers
    )
    assert replay.status_code == 202
    with berlin.app.app_context(), session_scope() as session:
        process(session, secret_box(), first["import"])
    delivery = berlin.get(f"/api/v1/deliveries/{first['import']}")
    assert delivery["status"] == "processed"
    assert delivery["summary"]["check_ins"] == 0
    assert delivery["summary"]["unchanged"] == first["rows"]
    assert snapshot(berlin) == before
