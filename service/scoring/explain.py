"""What every score carries: its factors, each with the sentence that explains it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Stored with every snapshot, so a score can always be traced to the model that made it.
MODEL_VERSION = 1


@dataclass(frozen=True)
class Factor:
    """One part of a score: a value in [0, 1] (None when its inputs are missing), the inputs
    it was computed from, and one plain-English sentence an organizer or attendee can read."""

    name: str
    value: float | None
    sentence: str
    inputs: Mapping[str, float | int | str | None] = field(default_factory=dict)
