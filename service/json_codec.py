"""How the database's JSON columns are written.

A full rescore writes every gathering's snapshot, a million attendees' figures in all: with
the standard library's `json`, encoding them was the largest single cost of the full rescore
(BENCHMARKS.md). orjson writes the same text about seven times faster. Where the two would
differ, the standard library decides:

- values orjson refuses (integers beyond 64 bits, dictionary keys that are not strings) are
  encoded by `json`, which accepts them;
- dates and dataclasses, which `json` refuses and orjson would encode on its own, go to
  `json` too, which raises `TypeError` for them as before (UUIDs and plain enums, which no
  column is given, orjson writes as their text and value).

What is left differs only where JSON allows it or `json` wrote what PostgreSQL refuses: no
spaces between items, the same digits of a float in another notation at times (`0.000015`
for `1.5e-05`, `1e-7` for `1e-07`), and NaN or infinity, which `json` writes as tokens no
JSON reader accepts, written as `null`. Reading stays with the
standard library: orjson reads integers beyond 64 bits as floats.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Dates and dataclasses reach `_refuse` instead of being encoded.
_AS_JSON_DOES = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """`value` as JSON text, as `json.dumps` would give it, only faster."""
    try:
        return orjson.dumps(value, default=_refuse, option=_AS_JSON_DOES).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)
