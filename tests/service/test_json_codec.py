"""JSON columns are written by orjson, with the standard library deciding where they differ."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Integer, MetaData, Table, Text, cast, insert, select

from service import json_codec
from service.db import make_engine

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_json_value_reads_back_as_the_standard_library_writes_it(value):
    assert json.loads(json_codec.dumps(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_is_written_by_the_standard_library():
    assert json_codec.dumps({"big": 2**70}) == '{"big": 1180591620717411303424}'
    assert json_codec.dumps({1: "a", 2: "b"}) == '{"1": "a", "2": "b"}'


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value", [datetime(2026, 3, 5, 18, 0, tzinfo=UTC), date(2026, 3, 5), Point(1)]
)
def test_what_the_standard_library_refuses_is_still_refused(value):
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_codec.dumps({"value": value})


def test_nan_is_written_as_null_where_the_standard_library_wrote_an_invalid_token():
    assert json.loads(json_codec.dumps([math.nan, math.inf])) == [None, None]


def test_the_engine_writes_json_columns_with_the_codec(database_url):
    engine = make_engine(database_url)
    table = Table(
        f"json_codec_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("data", JSON, nullable=False),
    )
    snapshot = {"attendees": {"17": {"capacity": 6.67, "novelty": 1.5e-05}}}
    oversized = {"big": 2**70}
    try:
        table.create(engine)
        with engine.begin() as connection:
            connection.execute(
                insert(table), [{"id": 1, "data": snapshot}, {"id": 2, "data": oversized}]
            )
        with engine.connect() as connection:
            stored = dict(
                connection.execute(select(table.c.id, cast(table.c.data, Text))).tuples().all()
            )
            read = dict(connection.execute(select(table.c.id, table.c.data)).tuples().all())
        assert stored == {1: json_codec.dumps(snapshot), 2: json.dumps(oversized)}
        assert " " not in stored[1]  # json.dumps would separate the items with spaces
        assert read == {1: snapshot, 2: oversized}
    finally:
        table.drop(engine, checkfirst=True)
        engine.dispose()
