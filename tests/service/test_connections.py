"""Connections: the confirmation rule, the JSON API, the `connection.created` webhook, and the
rule for connections that arrive before the check-ins they name."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import AttendeeRef, ConnectionSource, GatheringRef
from service.attendance import resolve_person, upsert_gathering
from service.connections import (
    InvalidReport,
    connection_state,
    is_confirmed,
    record_connection,
)
from service.db import engine_for, session_scope, sessionmaker_for
from service.inbox import mark_for_replay
from service.models import Connection, Delivery, Gathering, Integration, Person
from tests.service.report_helpers import (
    CONNECTIONS,
    LUNCH,
    Api,
    attendee,
    check_in,
    connection_body,
    deliver,
    email,
    post_hook,
    process_delivery,
)
from tests.support import wait_until_a_lock_is_awaited


@pytest.fixture()
def api(client, tenant) -> Api:
    return Api(client, tenant)


@pytest.fixture()
def people(app, client, tenant, api) -> dict[str, int]:
    """Ada, Ben and Cy checked in to the breakfast; Dee only registered."""
    check_in(app, client, tenant, "ada", "ben", "cy")
    check_in(app, client, tenant, "dee", kind="registered")
    return api.person_ids()


def connect(api: Api, gathering: int, a: object, b: object, **extra: object):
    return api.post(CONNECTIONS, {"gathering": gathering, "people": [a, b], **extra})


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "by_low", "by_high", "confirmed"),
    [
        (ConnectionSource.RECAP_ANSWER, True, False, False),
        (ConnectionSource.PLATFORM, False, True, False),
        (ConnectionSource.RECAP_ANSWER, True, True, True),
        (ConnectionSource.SCAN, False, False, True),
        (ConnectionSource.API, False, False, True),
    ],
)
def test_confirmed_by_both_sides_or_a_trusted_source(source, by_low, by_high, confirmed):
    assert is_confirmed(source, by_low, by_high) is confirmed


REPORTS = [
    (ConnectionSource.RECAP_ANSWER, "a"),
    (ConnectionSource.PLATFORM, "b"),
    (ConnectionSource.SCAN, None),
]


def test_any_order_of_reports_ends_in_the_same_row(app, tenant):
    def apply(session: Session, order: tuple[tuple[ConnectionSource, str | None], ...], n: int):
        integration = session.get_one(Integration, tenant.integration_id)
        gathering = upsert_gathering(session, integration, GatheringRef(f"g-order-{n}", "Order"))
        a = resolve_person(session, integration, AttendeeRef("p-a", "a@example.com"))
        b = resolve_person(session, integration, AttendeeRef("p-b", "b@example.com"))
        by = {"a": a, "b": b, None: None}
        states = []
        for source, reporter in order:
            recorded = record_connection(
                session,
                tenant.organizer_id,
                gathering,
                a,
                b,
                source,
                by[reporter],
                require_attendance=False,
            )
            states.append(connection_state(recorded.row))
        return states

    finals = set()
    with app.app_context(), session_scope() as session:
        for n, order in enumerate(itertools.permutations(REPORTS)):
            states = apply(session, order, n)
            finals.add(states[-1])
            assert states[0][3] is (order[0][0] is ConnectionSource.SCAN)
    assert finals == {(ConnectionSource.SCAN, True, True, True)}


def test_two_workers_reporting_both_sides_at_once_confirm_it(app, tenant):
    """The second report waits for the first one's row lock and then folds over its side,
    rather than over the row it could read before: both flags set must mean confirmed."""
    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        gathering = upsert_gathering(session, integration, GatheringRef("g-race", "Race"))
        a = resolve_person(session, integration, AttendeeRef("p-a", "a@example.com"))
        b = resolve_person(session, integration, AttendeeRef("p-b", "b@example.com"))
        ids = (gathering.id, a.id, b.id)

    def report(session: Session, reporter: int | None) -> None:
        gathering = session.get_one(Gathering, ids[0])
        a, b = session.get_one(Person, ids[1]), session.get_one(Person, ids[2])
        by = {a.id: a, b.id: b}.get(reporter) if reporter is not None else None
        record_connection(
            session,
            tenant.organizer_id,
            gathering,
            a,
            b,
            ConnectionSource.RECAP_ANSWER,
            by,
            require_attendance=False,
        )

    with app.app_context(), session_scope() as session:
        report(session, None)  # known, but neither side has said so yet

    errors: list[BaseException] = []

    def second_worker() -> None:
        try:
            with app.app_context(), session_scope() as session:
                report(session, ids[2])
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    with app.app_context():
        first = sessionmaker_for(app)()
        try:
            report(first, ids[1])  # a's side, holding the row lock until commit
            worker = threading.Thread(target=second_worker)
            worker.start()
            wait_until_a_lock_is_awaited(engine_for(app))
            first.commit()
        finally:
            first.close()
        worker.join(timeout=30)
    assert not errors, errors

    with app.app_context(), session_scope() as session:
        row = session.scalars(select(Connection).where(Connection.gathering_id == ids[0])).one()
        assert (row.reported_by_low, row.reported_by_high, row.confirmed) == (True, True, True)


def test_the_domain_refuses_another_organizers_people(app, tenant, make_tenant):
    other = make_tenant()
    with app.app_context(), session_scope() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        gathering = upsert_gathering(session, integration, GatheringRef("g-x", "X"))
        a = resolve_person(session, integration, AttendeeRef("p-a", "a@example.com"))
        theirs = session.get_one(Integration, other.integration_id)
        b = resolve_person(session, theirs, AttendeeRef("p-b", "b@example.com"))
        with pytest.raises(InvalidReport) as raised:
            record_connection(session, tenant.organizer_id, gathering, a, b)
    assert (raised.value.field, raised.value.reason) == ("people", "not_found")


# --- the API ---------------------------------------------------------------------------------


def test_create_then_the_same_again(api, people):
    gathering = api.gathering_id()
    created = connect(api, gathering, people["ben"], people["ada"])
    assert created.status_code == 201
    connection = created.json
    assert connection["gathering"] == gathering
    assert [p["id"] for p in connection["people"]] == sorted([people["ada"], people["ben"]])
    assert {p["email"] for p in connection["people"]} == {email("ada"), email("ben")}
    assert connection["source"] == "api"
    assert connection["reported_by"] == []
    assert connection["confirmed"] is True  # the organizer's own system vouches for it
    assert connection["both_checked_in"] is True
    assert connection["followed_up_at"] is None

    again = connect(api, gathering, people["ben"], people["ada"])
    assert again.status_code == 200
    assert again.json == connection


def test_pair_order_is_irrelevant(api, people):
    gathering = api.gathering_id()
    first = connect(api, gathering, people["ada"], people["ben"])
    reversed_ = connect(api, gathering, people["ben"], people["ada"])
    assert (first.status_code, reversed_.status_code) == (201, 200)
    assert first.json["id"] == reversed_.json["id"]
    assert len(api.listing(CONNECTIONS, "connections")) == 1


def test_the_other_side_confirms_it(api, people):
    gathering, ada, ben = api.gathering_id(), people["ada"], people["ben"]
    claimed = connect(api, gathering, ada, ben, source="recap_answer", reported_by=ada)
    assert claimed.status_code == 201
    assert (claimed.json["confirmed"], claimed.json["reported_by"]) == (False, [ada])

    repeated = connect(api, gathering, ben, ada, source="recap_answer", reported_by=ada)
    assert repeated.status_code == 200
    assert repeated.json == claimed.json

    confirmed = connect(api, gathering, ben, ada, source="recap_answer", reported_by=ben)
    assert confirmed.status_code == 200
    assert confirmed.json["confirmed"] is True
    assert confirmed.json["reported_by"] == sorted([ada, ben])
    assert confirmed.json["id"] == claimed.json["id"]


def test_a_mutual_tap_is_both_sides_and_the_strongest_source_stays(api, people):
    gathering, ada, cy = api.gathering_id(), people["ada"], people["cy"]
    connect(api, gathering, ada, cy, source="recap_answer", reported_by=cy)
    tapped = connect(api, gathering, ada, cy, source="mutual_tap")
    assert tapped.json["source"] == "mutual_tap"
    assert tapped.json["reported_by"] == sorted([ada, cy])
    assert tapped.json["confirmed"] is True
    later = connect(api, gathering, ada, cy, source="platform", reported_by=ada)
    assert later.status_code == 200
    assert later.json["source"] == "mutual_tap"


def test_people_by_email_in_any_case(api, people):
    gathering = api.gathering_id()
    by_email = connect(api, gathering, "  ADA@Example.com ", email("ben"))
    assert by_email.status_code == 201
    by_id = connect(api, gathering, people["ben"], people["ada"])
    assert by_id.status_code == 200
    assert by_id.json["id"] == by_email.json["id"]


@pytest.mark.parametrize(
    ("who", "elsewhere"),
    [("dee", None), ("eve", LUNCH)],
    ids=["registered only", "checked in at another gathering"],
)
def test_people_who_did_not_check_in_are_refused(app, client, tenant, api, people, who, elsewhere):
    if elsewhere is not None:
        check_in(app, client, tenant, who, gathering=elsewhere)
    response = connect(api, api.gathering_id(), people["ada"], email(who))
    assert response.status_code == 400
    assert response.json["reason"] == "invalid_parameter"
    assert response.json["field"] == "people"
    assert "checked in" in response.json["detail"]
    assert email(who) in response.json["detail"]
    assert api.listing(CONNECTIONS, "connections") == []


def test_a_reverted_check_in_is_not_attendance(app, client, tenant, api, people):
    check_in(app, client, tenant, "cy", kind="checkin_reverted")
    response = connect(api, api.gathering_id(), people["ada"], people["cy"])
    assert (response.status_code, response.json["field"]) == (400, "people")


@pytest.mark.parametrize("second", ["same id", "same person by email"])
def test_connecting_with_oneself_is_refused(api, people, second):
    other = people["ada"] if second == "same id" else "Ada@example.com"
    response = connect(api, api.gathering_id(), people["ada"], other)
    assert response.status_code == 400
    assert (response.json["reason"], response.json["field"]) == ("invalid_parameter", "people")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"people": ["ada"]}, "people"),
        ({"people": "ada@example.com,ben@example.com"}, "people"),
        ({"people": [1, 2, 3]}, "people"),
        ({"people": [None, "ben@example.com"]}, "people"),
        ({"people": ["ada", "ben@example.com"]}, "people"),
        ({"people": [True, "ben@example.com"]}, "people"),
        ({"gathering": "1"}, "gathering"),
        ({"gathering": None}, "gathering"),
        ({"source": "telepathy"}, "source"),
        ({"source": None}, "source"),
        ({"reported_by": "cy@example.com"}, "reported_by"),
        ({"reported_by": 1.5}, "reported_by"),
        ({"note": "met at the coffee"}, "note"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(api, people, payload, field):
    body = {"gathering": api.gathering_id(), "people": [email("ada"), email("ben")], **payload}
    response = api.post(CONNECTIONS, body)
    assert response.status_code == 400, response.json
    assert (response.json["reason"], response.json["field"]) == ("invalid_parameter", field)
    assert field in response.json["detail"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_malformed_json_is_400(api, body):
    response = api.post_raw(CONNECTIONS, body)
    assert (response.status_code, response.json["reason"]) == (400, "malformed_json")


def test_another_organizers_ids_are_404(app, client, tenant, make_tenant, api, people):
    other = make_tenant()
    check_in(app, client, other, "ada", "zed")
    theirs = Api(client, other)
    their_gathering, their_people = theirs.gathering_id(), theirs.person_ids()
    mine = api.gathering_id()

    for payload, field in [
        ({"gathering": their_gathering, "people": [email("ada"), email("zed")]}, "gathering"),
        ({"gathering": mine, "people": [people["ada"], their_people["zed"]]}, "people"),
        ({"gathering": mine, "people": [people["ada"], email("zed")]}, "people"),
        ({"gathering": 10**9, "people": [people["ada"], people["ben"]]}, "gathering"),
        (
            {"gathering": mine, "people": [people["ada"], people["ben"]], "reported_by": 10**9},
            "reported_by",
        ),
    ]:
        response = api.post(CONNECTIONS, payload)
        assert response.status_code == 404, payload
        assert (response.json["reason"], response.json["field"]) == ("not_found", field)
    assert api.get(CONNECTIONS, gathering=their_gathering).status_code == 404
    assert theirs.listing(CONNECTIONS, "connections") == []


def test_list_filters_by_gathering_and_pages(app, client, tenant, api, people):
    check_in(app, client, tenant, "ada", "ben", gathering=LUNCH)
    breakfast, lunch = api.gathering_id(), api.gathering_id(LUNCH)
    ids = [
        connect(api, breakfast, people["ada"], people["ben"]).json["id"],
        connect(api, breakfast, people["ada"], people["cy"]).json["id"],
        connect(api, lunch, email("ada"), email("ben")).json["id"],
    ]

    assert [c["id"] for c in api.listing(CONNECTIONS, "connections")] == ids[::-1]
    assert [c["id"] for c in api.listing(CONNECTIONS, "connections", gathering=lunch)] == ids[2:]
    first = api.get(CONNECTIONS, gathering=breakfast, limit=1).json
    assert [c["id"] for c in first["connections"]] == [ids[1]]
    second = api.get(CONNECTIONS, gathering=breakfast, limit=1, offset=first["next_offset"]).json
    assert ([c["id"] for c in second["connections"]], second["next_offset"]) == ([ids[0]], None)
    for params in ({"gathering": "x"}, {"limit": 0}):
        assert api.get(CONNECTIONS, **params).status_code == 400


# --- the `connection.created` webhook ----------------------------------------------------------


def test_a_webhook_connection_waits_for_the_other_side(app, client, tenant, api, people):
    deliver(app, client, tenant, connection_body("ada", "ben"))
    [claimed] = api.listing(CONNECTIONS, "connections")
    assert claimed["source"] == "platform"
    assert claimed["reported_by"] == [people["ada"]]
    assert (claimed["confirmed"], claimed["both_checked_in"]) == (False, True)

    deliver(app, client, tenant, connection_body("ben", "ada"))
    [confirmed] = api.listing(CONNECTIONS, "connections")
    assert confirmed["id"] == claimed["id"]
    assert confirmed["confirmed"] is True
    assert confirmed["reported_by"] == sorted([people["ada"], people["ben"]])


def test_a_webhook_scan_is_confirmed_at_once(app, client, tenant, api, people):
    deliver(app, client, tenant, connection_body("cy", "ada", source="scan"))
    [connection] = api.listing(CONNECTIONS, "connections")
    assert (connection["source"], connection["confirmed"]) == ("scan", True)


def test_a_connection_before_its_check_ins_counts_once_they_land(app, client, tenant, api):
    """Out of order: the connection is kept, and counts only while both are checked in."""
    deliver(app, client, tenant, connection_body("fay", "gus", source="mutual_tap"))
    [early] = api.listing(CONNECTIONS, "connections")
    assert (early["confirmed"], early["both_checked_in"]) == (True, False)
    assert {p["email"] for p in early["people"]} == {email("fay"), email("gus")}

    check_in(app, client, tenant, "fay")
    assert api.listing(CONNECTIONS, "connections")[0]["both_checked_in"] is False
    check_in(app, client, tenant, "gus")
    [counted] = api.listing(CONNECTIONS, "connections")
    assert counted == {**early, "both_checked_in": True}
    # The people the connection created are the ones who checked in, not copies.
    assert sorted(api.person_ids().values()) == sorted(p["id"] for p in early["people"])

    check_in(app, client, tenant, "gus", kind="checkin_reverted")
    assert api.listing(CONNECTIONS, "connections")[0]["both_checked_in"] is False


def test_replaying_a_connection_delivery_changes_nothing(app, client, tenant, api, people):
    delivery_id = deliver(app, client, tenant, connection_body("ada", "cy"))
    before = api.listing(CONNECTIONS, "connections")
    with app.app_context(), session_scope() as session:
        mark_for_replay(session, session.get_one(Delivery, delivery_id))
    assert process_delivery(app, delivery_id) == "processed"
    assert api.listing(CONNECTIONS, "connections") == before
    assert api.delivery(delivery_id)["summary"] == {"events": 1, "applied": 0}


def test_a_resent_webhook_is_a_duplicate(app, client, tenant, api, people):
    body = connection_body("ada", "ben")
    first = post_hook(client, tenant, body, msg_id="msg_conn_1")
    again = post_hook(client, tenant, body, msg_id="msg_conn_1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json == {"status": "duplicate"}
    assert process_delivery(app, first.json["delivery"]) == "processed"
    assert len(api.listing(CONNECTIONS, "connections")) == 1


def test_two_platform_ids_for_one_person_fail_the_delivery_with_the_reason(
    app, client, tenant, api, people
):
    twin = {**attendee("ada"), "id": "att-ada-second-ticket"}
    body = connection_body("ada", "ben", counterpart=twin)
    response = post_hook(client, tenant, body)
    assert response.status_code == 202
    assert process_delivery(app, response.json["delivery"]) == "failed"
    delivery = api.get("/api/v1/deliveries").json["deliveries"][0]
    assert delivery["status"] == "failed"
    assert "people" in delivery["reason"]
    assert api.listing(CONNECTIONS, "connections") == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"counterpart": None}, "data.counterpart"),
        ({"counterpart": attendee("ada")}, "data.counterpart"),
        ({"counterpart": {"id": ""}}, "data.counterpart.id"),
        ({"counterpart": {"id": "x", "email": "nope"}}, "data.counterpart.email"),
        ({"source": "telepathy"}, "data.source"),
        ({"gathering": {"id": "g-1"}}, "data.gathering.name"),
    ],
)
def test_malformed_connection_bodies_are_400_at_the_door(client, tenant, changes, named):
    response = post_hook(client, tenant, connection_body(**changes))
    assert (response.status_code, response.json["reason"]) == (400, "malformed_payload")
    assert named in response.json["detail"]


def test_unsigned_stale_and_oversized_connection_webhooks_are_refused(client, tenant):
    body = connection_body()
    unsigned = client.post(tenant.webhook_path, data=body, headers={"content-type": "x/json"})
    assert (unsigned.status_code, unsigned.json["reason"]) == (401, "missing_signature")
    stale = post_hook(client, tenant, body, at=datetime.now(UTC) - timedelta(minutes=6))
    assert (stale.status_code, stale.json["reason"]) == (401, "stale_timestamp")
    oversized = connection_body(note="x" * (1024 * 1024))
    assert post_hook(client, tenant, oversized).status_code == 413
