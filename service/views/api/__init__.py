"""The JSON API under `/api/v1/`: one blueprint, one module per resource.

Every object is scoped to the token's organizer. An object that belongs to another organizer
answers 404, exactly like one that does not exist, so ids leak nothing across tenants.
"""

from __future__ import annotations

from service.views.api import (
    connections,
    deliveries,
    docs,
    endpoints,
    gatherings,
    groups,
    imports,
    integrations,
    mail,
    outcomes,
    scores,
)
from service.views.api.common import bp

__all__ = [
    "bp",
    "connections",
    "deliveries",
    "docs",
    "endpoints",
    "gatherings",
    "groups",
    "imports",
    "integrations",
    "mail",
    "outcomes",
    "scores",
]
