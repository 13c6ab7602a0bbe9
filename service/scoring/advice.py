"""What organizers are told (SCORING.md §5): rules fired from computed values, never from taste.

Each rule names its action, the reason with the numbers that fired it, and those numbers. An
input that is unknown (no venue, no check-outs, no outcome reports) keeps its rule silent
rather than guessing. The same thresholds drive the alerts shown during a live gathering.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from service.scoring.settings import RATE_BY_STRUCTURE, GroupFormat, ScoringSettings, Structure
from service.scoring.size import (
    SizeBand,
    acoustic_capacity,
    amount_text,
    conversation_capacity,
    hours_text,
    plenary_capacity,
)

# A structured round that fixes too little time: 30 minutes of rotating tables (§3.5).
STRUCTURED_ROUND_HOURS = 0.5
# Pods re-meet when each is a same-faces subgroup of this size (§3.5).
POD_SIZE = (20, 30)
# Referral chapters: the membership to grow toward and the attendance rule (§3.5, BNI).
CHAPTER_SIZE = (20, 30)
ABSENCES_ALLOWED = 3
ABSENCE_WINDOW_MONTHS = 6
# How the too-little-time rule words each median it compares with k*.
MEDIAN_WORDS = {"median_C": "time for", "median_M": "logged"}


class ActionCode(StrEnum):
    CAP_OR_SPLIT = "cap_or_split"
    STRUCTURED_MIXING = "structured_mixing"
    MORE_TIME = "more_time"
    SHORTEN = "shorten"
    PODS = "pods"
    WELCOME_NEWCOMERS = "welcome_newcomers"
    REFERRAL_DISCIPLINE = "referral_discipline"
    ABOVE_ACOUSTIC_CAPACITY = "above_acoustic_capacity"
    ABOVE_SIZE_BAND = "above_size_band"


@dataclass(frozen=True)
class Action:
    """One thing to do (`text`), why (`reason`, with the numbers), and the numbers themselves."""

    code: ActionCode
    text: str
    reason: str
    numbers: Mapping[str, float | int]


class Attendee(Protocol):
    """What the advice reads of an attendee's §2 score: `AttendeeScore` or `AttendeeFigures`
    (`service.scoring.attendee`)."""

    @property
    def capacity(self) -> float: ...

    @property
    def connections(self) -> int | None: ...

    @property
    def dwell_hours(self) -> float | None: ...

    @property
    def novelty_value(self) -> float | None: ...


@dataclass(frozen=True)
class GatheringFacts:
    """What the advice is computed from. `attendees` are the §2 scores of everyone there and
    `first_timers` those of the people at their first gathering of the group; rates are shares
    in [0, 1] measured by the group (None: not measured yet)."""

    head_count: int
    hours: float
    scheduled_hours: float | None = None  # the whole event; defaults to `hours`
    peak: int | None = None  # defaults to `head_count`
    attendees: Sequence[Attendee] = field(default_factory=tuple)
    first_timers: Sequence[Attendee] = field(default_factory=tuple)
    show_up_rate: float | None = None
    first_timer_return: float | None = None  # ρ_ret
    outcome_rate: float | None = None  # λ_g, outcomes per attendee-gathering


def organizer_actions(facts: GatheringFacts, settings: ScoringSettings) -> list[Action]:
    """Every §5 rule that fires for this gathering, in the order SCORING.md lists them."""
    rules = (
        _cap_or_split(facts, settings),
        _structured_mixing(facts, settings),
        _more_time(facts, settings),
        _shorten(facts, settings),
        _pods(facts, settings),
        _welcome_newcomers(facts, settings),
        _referral_discipline(facts, settings),
    )
    return [action for action in rules if action is not None]


def live_alerts(
    head_count: int, peak: int | None, band: SizeBand, n_ac: float | None
) -> list[Action]:
    """Alerts while the gathering runs: the head count past the band's upper end, or the number
    in the room at once (`peak`, else the head count) past the acoustic capacity N_ac."""
    in_room = head_count if peak is None else peak
    alerts = []
    if n_ac is not None and in_room > n_ac:
        rooms = math.ceil(in_room / n_ac)
        where = "open the second room" if rooms == 2 else f"spread people over {rooms} rooms"
        alerts.append(
            Action(
                ActionCode.ABOVE_ACOUSTIC_CAPACITY,
                f"Above acoustic capacity: {where}.",
                f"{in_room} people are in a room that holds about {n_ac:.0f} in conversation.",
                {"in_room": in_room, "N_ac": round(n_ac, 1), "rooms": rooms},
            )
        )
    if band.low is not None and band.high is not None and head_count > band.high:
        alerts.append(
            Action(
                ActionCode.ABOVE_SIZE_BAND,
                "Above the recommended size: open the second room or start rotating tables of 4.",
                f"{head_count} have checked in; this group does best with {band.low}–{band.high}.",
                {"head_count": head_count, "band_low": band.low, "band_high": band.high},
            )
        )
    return alerts


def _cap_or_split(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """N_peak > N_ac: cap near N_ac, split the room, or add absorption."""
    n_ac = acoustic_capacity(settings)
    peak = facts.head_count if facts.peak is None else facts.peak
    if n_ac is None or peak <= n_ac:
        return None
    cap = round(n_ac)
    rooms = math.ceil(peak / n_ac)
    numbers: dict[str, float | int] = {
        "N_peak": peak,
        "N_ac": round(n_ac, 1),
        "cap": cap,
        "rooms": rooms,
    }
    lively = ""
    if settings.format is GroupFormat.SOCIAL:
        numbers["lively_cap"] = round(settings.lively_capacity_factor * n_ac)
        lively = f" (up to {numbers['lively_cap']} if your crowd likes it lively)"
    invite = ""
    if facts.show_up_rate is not None and facts.show_up_rate > 0:
        numbers["invitations"] = round(cap / facts.show_up_rate)
        invite = (
            f" To get {cap}, invite about {numbers['invitations']}: "
            f"{facts.show_up_rate:.0%} of those invited come."
        )
    return Action(
        ActionCode.CAP_OR_SPLIT,
        f"Cap attendance near {cap}{lively}, split into {rooms} rooms of about "
        f"{math.ceil(peak / rooms)}, or add absorption (curtains, carpet, panels, quieter music): "
        f"doubling it doubles the room's capacity to about {2 * n_ac:.0f}.{invite}",
        f"The peak of {peak} was above the {n_ac:.0f} people this room holds in conversation, "
        "so people had to shout to be heard.",
        numbers,
    )


def _structured_mixing(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """First-timers meeting few new people: mix them deliberately."""
    novelty = _median(a.novelty_value for a in facts.first_timers)
    if novelty is None or novelty >= settings.first_timer_novelty_floor:
        return None
    rate = RATE_BY_STRUCTURE[Structure.ROTATING_TABLES]
    return Action(
        ActionCode.STRUCTURED_MIXING,
        "Add rotating tables of 4, changing every 15–20 minutes (about "
        f"{rate:g} new people an hour), and have a host introduce first-timers.",
        f"The median first-timer spent only {novelty:.0%} of their conversations on new people "
        f"(the floor is {settings.first_timer_novelty_floor:.0%}).",
        {"median_first_timer_novelty": round(novelty, 2)},
    )


def _more_time(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """Median capacity or connections below k*. The target is min(k*, N − 1), because in a
    small gathering more time cannot buy conversations with people who are not there."""
    target = min(settings.target_conversations, facts.head_count - 1)
    medians = {
        "median_C": _median(a.capacity for a in facts.attendees),
        "median_M": _median(a.connections for a in facts.attendees),
    }
    short = {name: value for name, value in medians.items() if value is not None and value < target}
    if not short:
        return None
    rate = settings.conversation_rate
    needed = settings.target_conversations / rate
    extra = RATE_BY_STRUCTURE[Structure.ROTATING_TABLES] * STRUCTURED_ROUND_HOURS
    round_text = (
        f"add a {hours_text(STRUCTURED_ROUND_HOURS)} structured round "
        f"(about {amount_text(extra)} more conversations each)"
    )
    text = (
        f"Lengthen open networking to {hours_text(needed)} or {round_text}."
        if facts.hours < needed
        else f"{round_text[0].upper()}{round_text[1:]}."
    )
    said = " and ".join(
        f"{MEDIAN_WORDS[name]} {amount_text(value)}" for name, value in short.items()
    )
    return Action(
        ActionCode.MORE_TIME,
        text,
        f"The median attendee had {said} real conversations, short of {amount_text(target)}.",
        {**short, "k_star": target, "H": facts.hours, "hours_needed": round(needed, 2)},
    )


def _shorten(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """Half the room gone before 60% of the scheduled time: the tail is dead time. Attendees
    who never checked out count as staying to the end, so missing check-outs never fire it."""
    scheduled = facts.hours if facts.scheduled_hours is None else facts.scheduled_hours
    dwell = _median(
        scheduled if a.dwell_hours is None else min(a.dwell_hours, scheduled)
        for a in facts.attendees
    )
    if dwell is None or scheduled == 0 or dwell >= settings.short_dwell_share * scheduled:
        return None
    return Action(
        ActionCode.SHORTEN,
        f"Shorten the event to about {hours_text(dwell)}.",
        f"Half the attendees had left after {hours_text(dwell)} of the scheduled "
        f"{hours_text(scheduled)} ({dwell / scheduled:.0%}); the rest of the time is mostly empty.",
        {"median_dwell_hours": round(dwell, 2), "scheduled_hours": scheduled},
    )


def _pods(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """A recurring group too big to re-meet anyone: ρ = C/(N − 1) below the floor. Plenary
    meetings are left out: their members meet through pitches, not open networking."""
    n = facts.head_count
    if not settings.recurring or settings.structure is Structure.PLENARY or n < 2:
        return None
    capacity = conversation_capacity(n, settings.conversation_rate, facts.hours)
    rho = capacity / (n - 1)
    if rho >= settings.pod_reach_floor:
        return None
    pods = math.ceil(n / POD_SIZE[1])
    return Action(
        ActionCode.PODS,
        f"Run regular pods of {POD_SIZE[0]}–{POD_SIZE[1]} people, the same ones each time "
        f"({pods} pods for {n}), and keep the full gathering as an occasional event.",
        f"Each person can talk with only {amount_text(capacity)} of the other {n - 1} "
        f"({rho:.0%}, below {settings.pod_reach_floor:.0%}), so people rarely meet again.",
        {"rho": round(rho, 3), "C": capacity, "N": n, "pods": pods},
    )


def _welcome_newcomers(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """Few first-timers come back: new ties are what brings people back."""
    returned = facts.first_timer_return
    if returned is None or returned >= settings.first_timer_return_floor:
        return None
    return Action(
        ActionCode.WELCOME_NEWCOMERS,
        "Appoint a greeter, introduce each newcomer to two regulars, and follow up with every "
        "newcomer within 48 hours.",
        f"Only {returned:.0%} of first-timers come back within their next 2 gatherings "
        f"(the floor is {settings.first_timer_return_floor:.0%}).",
        {"first_timer_return": returned},
    )


def _referral_discipline(facts: GatheringFacts, settings: ScoringSettings) -> Action | None:
    """A referral chapter passing less business than its target rate λ*. The meeting's head
    count stands in for membership when saying whether to grow or to stay within N_plen."""
    rate = facts.outcome_rate
    if not settings.is_referral_chapter or rate is None or rate >= settings.target_rate:
        return None
    pitches = plenary_capacity(settings)
    low, high = CHAPTER_SIZE
    if facts.head_count < low:
        size = f", and grow toward {low}–{high} members (the meeting fits {pitches:.0f} pitches)"
    elif facts.head_count > pitches:
        size = f", and keep membership within the {pitches:.0f} pitches the meeting fits"
    else:
        size = ""
    return Action(
        ActionCode.REFERRAL_DISCIPLINE,
        f"Meet weekly, allow at most {ABSENCES_ALLOWED} absences in {ABSENCE_WINDOW_MONTHS} "
        f"months{size}.",
        f"Members receive {rate:.2f} referrals per meeting attended, below the chapter's target "
        f"of {settings.target_rate:.2f}.",
        {
            "outcome_rate": rate,
            "target_rate": settings.target_rate,
            "N": facts.head_count,
            "N_plen": pitches,
        },
    )


def _median(values: Iterable[float | int | None]) -> float | None:
    """The median of the known values; None when none is known."""
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None
