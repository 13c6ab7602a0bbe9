"""An organizer's scoring settings for a group or one gathering: validated, stored, resolved.

A group stores only what the organizer changed; `effective_settings` lays those changes over
SCORING.md's defaults for the group's kind (`service.scoring.settings.defaults_for`), and a
gathering's own overrides (its room, its timing) over those. Validation names the field, so
an organizer fixes a request in one go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from enum import Enum
from typing import Any

from service.models import Gathering, Group
from service.scoring.settings import (
    GroupFormat,
    ScoringSettings,
    Structure,
    Venue,
    VenueType,
    defaults_for,
)

# Settings a gathering may override: the room and the timing of that one occurrence.
GATHERING_FIELDS = frozenset({"open_minutes", "plenary_minutes", "venue"})
# Settings kept in columns of their own, because they decide the other defaults.
KIND_FIELDS = frozenset({"format", "structure", "recurring"})
# Settings about mail, kept in columns of their own: changing them changes no score.
MAIL_FIELDS = frozenset({"attendee_recaps"})

# (minimum, maximum) for every numeric setting; probabilities and shares are in (0, 1].
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "open_minutes": (1, 720),
    "plenary_minutes": (10, 600),
    "pool_probability": (0.001, 1),
    "pool_target": (2, 1000),
    "target_conversations": (1, 50),
    "reach_target": (0.01, 1),
    "reach_exponent": (0, 2),
    "plenary_fixed_minutes": (0, 300),
    "pitch_minutes": (0.25, 30),
    "absorption_per_person_m2": (0.5, 20),
    "band_fraction": (0.5, 1),
    "window_gatherings": (2, 100),
    "window_days": (7, 730),
    "return_target": (0.01, 1),
    "core_target": (0.01, 1),
    "utilization_target": (0.05, 1),
    "novelty_low": (0, 1),
    "novelty_high": (0, 1),
    "follow_up_days": (1, 90),
    "follow_up_target": (0.01, 1),
    "trend_scale": (0.005, 1),
    "target_rate": (0.001, 20),
    "ramp_gatherings": (1, 200),
    "grace_gatherings": (0, 200),
    "consistent_attendance": (0, 1),
    "low_utilization": (0, 1),
    "move_on_probability": (0.001, 0.5),
    "social_expectation_share": (0.05, 1),
    "novelty_penalty": (0, 1),
    "core_attendance_share": (0.05, 1),
    "return_within_gatherings": (1, 20),
    "stay_share": (0.05, 1),
    "weak_group_share": (0.05, 1),
    "purpose_probability": (0.05, 0.95),
    "co_presence_gatherings": (1, 50),
    "lively_capacity_factor": (1, 3),
    "first_timer_novelty_floor": (0, 1),
    "short_dwell_share": (0.05, 1),
    "pod_reach_floor": (0, 1),
    "first_timer_return_floor": (0, 1),
}
WHOLE_NUMBERS = frozenset(
    {
        "window_gatherings",
        "window_days",
        "follow_up_days",
        "ramp_gatherings",
        "grace_gatherings",
        "return_within_gatherings",
        "co_presence_gatherings",
    }
)
VENUE_RANGES: dict[str, tuple[float, float]] = {
    "floor_area_m2": (1, 100_000),
    "ceiling_height_m": (1.5, 50),
    "reverberation_s": (0.1, 10),
}


class SettingsError(ValueError):
    """A setting that cannot be saved; `field` names it (dotted for venue fields)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def validate_changes(payload: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The checked changes from a PATCH body; `None` for a field resets it to the default."""
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise SettingsError(unknown[0], "is not a setting that can be changed here")
    return {name: _checked(name, value) for name, value in payload.items()}


def group_fields() -> frozenset[str]:
    """Every setting a group may change."""
    return frozenset(field.name for field in fields(ScoringSettings)) | MAIL_FIELDS


def apply_group_changes(group: Group, changes: Mapping[str, Any]) -> None:
    """Store checked changes: kind fields in their columns, the rest as overrides.

    Raises `SettingsError` when the result would be inconsistent (a novelty band whose low end
    is above its high end), before anything is changed.
    """
    columns = {"format", "structure", *MAIL_FIELDS}
    overrides = _merged(group.settings, {k: v for k, v in changes.items() if k not in columns})
    defaults = ScoringSettings()
    low = overrides.get("novelty_low", defaults.novelty_low)
    high = overrides.get("novelty_high", defaults.novelty_high)
    if low >= high:
        raise SettingsError("novelty_low", f"must be below novelty_high ({high:g})")
    if "format" in changes:
        group.format = changes["format"] or GroupFormat.SOCIAL.value
    if "structure" in changes:
        group.structure = changes["structure"] or Structure.OPEN.value
    if "attendee_recaps" in changes:  # null switches them back on, the default
        group.attendee_recaps = changes["attendee_recaps"] is not False
    group.settings = overrides


def apply_gathering_changes(gathering: Gathering, changes: Mapping[str, Any]) -> None:
    gathering.settings = _merged(gathering.settings, changes)


def effective_settings(group: Group | None, gathering: Gathering | None = None) -> ScoringSettings:
    """The settings that score a group (and one of its gatherings): defaults, then overrides."""
    overrides: dict[str, Any] = dict(group.settings) if group else {}
    if gathering is not None:
        overrides.update(gathering.settings)
    base = defaults_for(
        GroupFormat(group.format) if group else GroupFormat.SOCIAL,
        Structure(group.structure) if group else Structure.OPEN,
        bool(overrides.get("recurring", True)),
    )
    venue = overrides.pop("venue", None)
    overrides.pop("recurring", None)
    settings = replace(base, **overrides)
    if venue:
        kind = venue.get("venue_type")
        settings = replace(
            settings,
            venue=Venue(
                floor_area_m2=venue.get("floor_area_m2"),
                ceiling_height_m=venue.get("ceiling_height_m") or 3.0,
                reverberation_s=venue.get("reverberation_s"),
                venue_type=VenueType(kind) if kind else None,
            ),
        )
    return settings


def settings_json(settings: ScoringSettings) -> dict[str, Any]:
    """Effective settings as plain JSON values (enums as their names)."""
    plain: dict[str, Any] = json_ready(settings)
    return plain


def json_ready(value: Any) -> Any:
    """Plain JSON values: dataclasses as mappings of their fields (what `asdict` gives, without
    its deep copy), mappings and sequences walked, enums as their values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: json_ready(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**current, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def _checked(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "format":
        return _choice(name, value, GroupFormat)
    if name == "structure":
        return _choice(name, value, Structure)
    if name in ("recurring", "attendee_recaps"):
        if not isinstance(value, bool):
            raise SettingsError(name, "must be true or false")
        return value
    if name == "venue":
        return _venue(value)
    if name in NUMBER_RANGES:
        return _number(name, value, NUMBER_RANGES[name], whole=name in WHOLE_NUMBERS)
    raise SettingsError(name, "is not a setting that can be changed here")


def _choice(name: str, value: Any, choices: type[GroupFormat] | type[Structure]) -> str:
    allowed = [choice.value for choice in choices]
    if value not in allowed:
        raise SettingsError(name, f"must be one of {', '.join(allowed)}")
    return str(value)


def _number(name: str, value: Any, bounds: tuple[float, float], whole: bool = False) -> float:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(name, "must be a number")
    if whole and value != int(value):
        raise SettingsError(name, "must be a whole number")
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low:g} and {high:g}")
    return int(value) if whole else float(value)


def _venue(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError("venue", "must be an object")
    unknown = sorted(set(value) - {*VENUE_RANGES, "venue_type"})
    if unknown:
        raise SettingsError(f"venue.{unknown[0]}", "is not a venue field")
    venue: dict[str, Any] = {}
    for name, bounds in VENUE_RANGES.items():
        if value.get(name) is not None:
            venue[name] = _number(f"venue.{name}", value[name], bounds)
    if value.get("venue_type") is not None:
        allowed = [kind.value for kind in VenueType]
        if value["venue_type"] not in allowed:
            raise SettingsError("venue.venue_type", f"must be one of {', '.join(allowed)}")
        venue["venue_type"] = value["venue_type"]
    return venue
