"""Per-group scoring settings: every constant of SCORING.md, with its default, in one place.

Each default is the prior SCORING.md gives; a group may override any of them (and a gathering
may override its group's venue and timing). `defaults_for` picks the defaults that depend on
the kind of group: a business group meeting in plenary is a referral chapter, any other
business group is a mixer, and social groups have their own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any


class GroupFormat(StrEnum):
    BUSINESS = "business"
    SOCIAL = "social"


class Structure(StrEnum):
    OPEN = "open"
    ROTATING_TABLES = "rotating_tables"
    SPEED_1TO1 = "speed_1to1"
    PLENARY = "plenary"


class VenueType(StrEnum):
    TREATED = "treated"
    BAR = "bar"
    HARD = "hard"
    HALL = "hall"


# Reverberation time T by venue type, seconds (SCORING.md, Inputs).
REVERBERATION_BY_VENUE = {
    VenueType.TREATED: 0.6,
    VenueType.BAR: 0.8,
    VenueType.HARD: 1.0,
    VenueType.HALL: 1.5,
}

# Meaningful conversations per hour by structure, r_s (SCORING.md §1, Q_time).
RATE_BY_STRUCTURE = {
    Structure.OPEN: 4.0,
    Structure.ROTATING_TABLES: 9.0,
    Structure.SPEED_1TO1: 10.0,
    Structure.PLENARY: 4.0,
}


@dataclass(frozen=True)
class Venue:
    """A room: floor area A_f (m²), ceiling height h (m), reverberation T (s) or a venue type."""

    floor_area_m2: float | None = None
    ceiling_height_m: float = 3.0
    reverberation_s: float | None = None
    venue_type: VenueType | None = None

    @property
    def reverberation(self) -> float | None:
        """T: as measured, else the venue type's default, else unknown."""
        if self.reverberation_s is not None:
            return self.reverberation_s
        if self.venue_type is not None:
            return REVERBERATION_BY_VENUE[self.venue_type]
        return None


@dataclass(frozen=True)
class ScoringSettings:
    """Everything the model needs to know about a group, with SCORING.md's defaults."""

    format: GroupFormat = GroupFormat.SOCIAL
    structure: Structure = Structure.OPEN
    recurring: bool = True
    # Open-networking minutes H; None means the gathering's scheduled duration.
    open_minutes: float | None = None
    plenary_minutes: float = 90.0
    venue: Venue = Venue()

    # §1 size score
    pool_probability: float = 0.10  # p: 0.10 social, 0.05 business
    pool_target: float = 25.0  # N* for referral / plenary groups
    target_conversations: float = 6.0  # k*
    reach_target: float = 0.25  # ρ*
    reach_exponent: float = 0.5  # c: 0.5 social, 0.25 business, 0 one-off
    plenary_fixed_minutes: float = 30.0
    pitch_minutes: float = 1.0
    absorption_per_person_m2: float = 3.5
    band_fraction: float = 0.9

    # §3 group health
    window_gatherings: int = 6
    window_days: int = 90
    return_target: float = 0.40
    core_target: float = 0.35
    utilization_target: float = 0.75
    novelty_low: float = 0.2
    novelty_high: float = 0.6
    follow_up_days: int = 14
    follow_up_target: float = 0.20
    trend_scale: float = 0.05
    novelty_penalty: float = 0.8  # S_conn multiplier when median ν is outside the band
    core_attendance_share: float = 0.5  # core = present at ≥ this share of the window's gatherings
    return_within_gatherings: int = 2  # a first-timer returns within their next 2 gatherings

    # §4 member standing
    target_rate: float = 0.2  # θ: outcomes per attendance (0.85 referral chapter)
    ramp_gatherings: int = 4  # n_ramp: 26 referral, 6 mixer, 4 social
    grace_gatherings: int = 4  # n_grace: 12 referral, 3 mixer, 4 social
    consistent_attendance: float = 0.75
    low_utilization: float = 0.5
    move_on_probability: float = 0.10
    social_expectation_share: float = 0.5
    stay_share: float = 0.5  # business: STAY when O ≥ this share of B = θ·E
    weak_group_share: float = 0.5  # λ_g below this share of θ: the group is weak, not the fit
    purpose_probability: float = 0.5  # "immediate business": move on when q is below this
    co_presence_gatherings: int = 3  # social, no connections logged: a familiar face shares ≥ 3

    # §5 organizer advice: the thresholds that fire each rule
    lively_capacity_factor: float = 1.5  # a lively social crowd may go to 1.5·N_ac
    first_timer_novelty_floor: float = 0.3  # median novelty of first-timers
    short_dwell_share: float = 0.6  # median dwell as a share of the scheduled time
    pod_reach_floor: float = 0.15  # ρ below which a recurring group should run pods
    first_timer_return_floor: float = 0.25  # ρ_ret below which newcomers need a welcome

    @property
    def is_referral_chapter(self) -> bool:
        return self.format is GroupFormat.BUSINESS and self.structure is Structure.PLENARY

    @property
    def conversation_rate(self) -> float:
        """r_s, meaningful conversations per hour in this structure."""
        return RATE_BY_STRUCTURE[self.structure]


def defaults_for(
    format: GroupFormat, structure: Structure = Structure.OPEN, recurring: bool = True
) -> ScoringSettings:
    """SCORING.md's defaults for this kind of group, before any per-group override."""
    base = ScoringSettings(format=format, structure=structure, recurring=recurring)
    if format is GroupFormat.SOCIAL:
        kind: dict[str, Any] = {"pool_probability": 0.10, "reach_exponent": 0.5}
    elif structure is Structure.PLENARY:  # referral chapter
        kind = {
            "pool_probability": 0.05,
            "reach_exponent": 0.25,
            "target_rate": 0.85,
            "ramp_gatherings": 26,
            "grace_gatherings": 12,
        }
    else:  # business mixer
        kind = {
            "pool_probability": 0.05,
            "reach_exponent": 0.25,
            "target_rate": 0.2,
            "ramp_gatherings": 6,
            "grace_gatherings": 3,
        }
    if not recurring:
        kind["reach_exponent"] = 0.0
    return replace(base, **kind)


def setting_names() -> list[str]:
    """Every overridable setting's name, for validation and documentation."""
    return [field.name for field in fields(ScoringSettings)]
