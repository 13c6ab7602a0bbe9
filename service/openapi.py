"""The OpenAPI 3.1 description served at `/api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

OPENAPI_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Roomwise API", "version": "1"},
    "paths": {},
}
