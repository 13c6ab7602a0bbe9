"""Platform adapters: raw webhook requests in, normalized events out. No Flask, no database.

The registry is explicit: adding a platform means adding its module and one line here.
"""

from __future__ import annotations

from integrations.base import Adapter
from integrations.eventbrite import EventbriteAdapter
from integrations.luma import LumaAdapter
from integrations.pretix import PretixAdapter
from integrations.standard import StandardAdapter
from integrations.tito import TitoAdapter
from integrations.zoom import ZoomAdapter

REGISTRY: dict[str, type[Adapter]] = {
    PretixAdapter.platform: PretixAdapter,
    EventbriteAdapter.platform: EventbriteAdapter,
    StandardAdapter.platform: StandardAdapter,
    TitoAdapter.platform: TitoAdapter,
    ZoomAdapter.platform: ZoomAdapter,
    LumaAdapter.platform: LumaAdapter,
}


def adapter_for(platform: str, tolerance_seconds: int = 300) -> Adapter | None:
    """The adapter for `platform`, or None when Roomwise does not know it."""
    adapter_class = REGISTRY.get(platform)
    return adapter_class(tolerance_seconds) if adapter_class else None
