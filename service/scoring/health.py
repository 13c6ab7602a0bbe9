"""Group health H_group ∈ [0, 100] (SCORING.md §3): is this group working, over its window?

Four parts, each a `Factor` with its sentence: retention (do first-timers come back, is there a
core?), connections (do people use their conversation capacity, meeting a balance of new and
familiar faces?), outcomes (leads and referrals against the group's target rate θ, or follow-ups
in a social group) and trend. Business groups weigh outcomes most, social groups retention and
connections. A part without data is left out and the other weights scaled up, and the summary
names what is missing: a new group is scored on what it has, not penalised for what it has not
logged yet, and the organizer learns what to log next.

`measure_health` turns plain per-gathering records into `HealthInputs`, so the worker (from the
database) and the contract's test vectors (given as those measured figures) use the same score.

Where the contract leaves a choice: each part is capped at 1 (social vector A's 22% follow-ups
against a 20% target scores 1.00); retention falls back to the core share alone while no
first-timer can be followed yet; the window is whichever of "last 6 gatherings" and "last 90
days" holds more gatherings; β is relative to the median of the series it is fitted to.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations

from service.scoring.explain import Factor
from service.scoring.settings import GroupFormat, ScoringSettings

# Weights of the four parts by format (SCORING.md §3); the digest shows them.
HEALTH_WEIGHTS: Mapping[GroupFormat, Mapping[str, float]] = {
    GroupFormat.BUSINESS: {"retention": 0.25, "connections": 0.15, "outcomes": 0.45, "trend": 0.15},
    GroupFormat.SOCIAL: {"retention": 0.35, "connections": 0.30, "outcomes": 0.15, "trend": 0.20},
}

_SHARES = ("first_timer_return", "core_share", "median_utilization", "median_novelty")


@dataclass(frozen=True)
class HealthInputs:
    """What §3 measures over the window; None where the group has no data for it yet."""

    first_timer_return: float | None = None  # ρ_ret
    core_share: float | None = None  # s_core
    median_utilization: float | None = None  # median U_i over attendee-gatherings
    median_novelty: float | None = None  # median ν_i over attendee-gatherings with a connection
    outcome_rate: float | None = None  # λ_g, leads and referrals per attendee-gathering
    follow_up_share: float | None = None  # connections followed up within follow_up_days
    trend: float | None = None  # β, relative slope per gathering of attendance × median U

    def __post_init__(self) -> None:
        for name in (*_SHARES, "follow_up_share"):
            _check(name, getattr(self, name), 0.0, 1.0)
        _check("outcome_rate", self.outcome_rate, 0.0, math.inf)
        _check("trend", self.trend, -math.inf, math.inf)


@dataclass(frozen=True)
class GroupHealth:
    """H_group with its four parts; `weights` are the ones used, after leaving parts out."""

    value: float | None
    factors: tuple[Factor, ...]
    weights: Mapping[str, float]
    summary: str


def group_health(inputs: HealthInputs, settings: ScoringSettings) -> GroupHealth:
    """H_group = 100 · Σ w·S over the parts with data, the weights renormalised over them."""
    factors = (
        retention(inputs, settings),
        connections(inputs, settings),
        outcomes(inputs, settings),
        trend(inputs, settings),
    )
    defaults = HEALTH_WEIGHTS[settings.format]
    mean, weights = weighted_mean({f.name: (defaults[f.name], f.value) for f in factors})
    value = None if mean is None else 100 * mean
    return GroupHealth(value, factors, weights, _summary(value, factors, weights))


def retention(inputs: HealthInputs, settings: ScoringSettings) -> Factor:
    """S_ret: half first-timer return, half core share, each against its target (capped at 1).

    When no first-timer can be followed yet (a stable chapter has none), the core share carries
    retention alone rather than the whole part being dropped.
    """
    value, _ = weighted_mean(
        {
            "return": (0.5, _against(inputs.first_timer_return, settings.return_target)),
            "core": (0.5, _against(inputs.core_share, settings.core_target)),
        }
    )
    known: list[str] = []
    missing: list[str] = []
    within = settings.return_within_gatherings
    if inputs.first_timer_return is None:
        missing.append(f"no first-timer has had {within} more gatherings to come back in yet")
    else:
        known.append(
            f"{inputs.first_timer_return:.0%} of first-timers came back within their next "
            f"{within} gatherings (target {settings.return_target:.0%})"
        )
    if inputs.core_share is None:
        missing.append("no attendance recorded in the window yet")
    else:
        known.append(
            f"{inputs.core_share:.0%} of attendees came to at least "
            f"{settings.core_attendance_share:.0%} of the gatherings "
            f"(target {settings.core_target:.0%})"
        )
    used = {"first_timer_return": inputs.first_timer_return, "core_share": inputs.core_share}
    return _factor("retention", "Retention", value, known, missing, used)


def connections(inputs: HealthInputs, settings: ScoringSettings) -> Factor:
    """S_conn: median capacity use against its target, × 0.8 when new faces are off balance.

    All-familiar faces means cliques, all-new means no relationships forming; when nobody made
    a connection there is no novelty to judge and no multiplier.
    """
    utilization, novelty = inputs.median_utilization, inputs.median_novelty
    used = {"median_utilization": utilization, "median_novelty": novelty}
    if utilization is None:
        reason = "no connections logged yet"
        return _factor("connections", "Connections", None, [], [reason], used)
    known = [
        f"people used a median {utilization:.0%} of their conversation capacity "
        f"(target {settings.utilization_target:.0%})"
    ]
    missing: list[str] = []
    balance = 1.0
    band = f"{settings.novelty_low:.0%}–{settings.novelty_high:.0%}"
    if novelty is None:
        missing.append("nobody made a connection, so new and familiar faces cannot be told apart")
    elif novelty < settings.novelty_low:
        balance = settings.novelty_penalty
        known.append(
            f"only {novelty:.0%} of connections were with new faces, below {band}: "
            f"the room is closing into cliques (×{balance:g})"
        )
    elif novelty > settings.novelty_high:
        balance = settings.novelty_penalty
        known.append(
            f"{novelty:.0%} of connections were with new faces, above {band}: "
            f"few relationships are forming (×{balance:g})"
        )
    else:
        known.append(f"{novelty:.0%} of connections were with new faces, within {band}")
    value = min(1.0, utilization / settings.utilization_target) * balance
    return _factor("connections", "Connections", value, known, missing, used)


def outcomes(inputs: HealthInputs, settings: ScoringSettings) -> Factor:
    """S_out: business λ_g/θ; social follow-up share / its target; capped at 1.

    The cap is the contract's: social vector A (22% follow-ups against 20%) scores 1.00.
    A business group with no outcome reports is left out, not scored 0: no reports is not no
    business (SCORING.md §4).
    """
    if settings.format is GroupFormat.BUSINESS:
        name, measured, target = "outcome_rate", inputs.outcome_rate, settings.target_rate
        title, missing = "Outcomes", "no leads or referrals reported yet"
        known = (
            f"members got {measured:.2f} leads or referrals per attendance against this "
            f"group's target of {target:.2f}"
            if measured is not None
            else ""
        )
    else:
        name, measured, target = (
            "follow_up_share",
            inputs.follow_up_share,
            settings.follow_up_target,
        )
        days = settings.follow_up_days
        title, missing = "Follow-ups", f"no connection logged at least {days} days ago yet"
        known = (
            f"{measured:.0%} of connections had a follow-up or outcome within {days} days "
            f"(target {target:.0%})"
            if measured is not None
            else ""
        )
    value = _against(measured, target)
    return _factor(
        "outcomes",
        title,
        value,
        [known] if known else [],
        [] if known else [missing],
        {name: measured},
    )


def trend(inputs: HealthInputs, settings: ScoringSettings) -> Factor:
    """S_trend = 0.5 + 0.5·tanh(β/0.05): +5% a gathering scores 0.88, −5% scores 0.12."""
    beta = inputs.trend
    if beta is None:
        reason = "a trend needs connections logged at 2 or more gatherings"
        return _factor("trend", "Trend", None, [], [reason], {"trend": beta})
    value = 0.5 + 0.5 * math.tanh(beta / settings.trend_scale)
    change = f"{'grew' if beta > 0 else 'fell'} {abs(beta):.1%} a gathering" if beta else "held"
    known = [f"attendance × median capacity use {change}"]
    return _factor("trend", "Trend", value, known, [], {"trend": beta})


def weighted_mean(
    parts: Mapping[str, tuple[float, float | None]],
) -> tuple[float | None, dict[str, float]]:
    """Σ w·v over the parts with a value, the weights renormalised to sum to 1 over them."""
    present = {name: weight for name, (weight, value) in parts.items() if value is not None}
    total = sum(present.values())
    if total <= 0:
        return None, {}
    weights = {name: weight / total for name, weight in present.items()}
    mean = math.fsum(
        weights[name] * value for name, (_, value) in parts.items() if value is not None
    )
    return mean, weights


# --- measuring the inputs from plain records -------------------------------------------------


@dataclass(frozen=True)
class GatheringRecord:
    """One gathering as health needs it: who came, and what they logged.

    `utilization` and `novelty` hold U_i and ν_i (SCORING.md §2) of the attendees whose
    connections are logged (ν only for those with at least one connection); `follow_ups` has one
    flag per logged connection: followed up, or led to an outcome, within follow_up_days.
    """

    id: str
    starts_at: datetime
    present: frozenset[str]
    utilization: Mapping[str, float] = field(default_factory=dict)
    novelty: Mapping[str, float] = field(default_factory=dict)
    outcomes: int = 0
    follow_ups: tuple[bool, ...] = ()


def measure_health(
    gatherings: Iterable[GatheringRecord], settings: ScoringSettings, as_of: datetime
) -> HealthInputs:
    """HealthInputs over the window ending at `as_of`, in whatever order the records arrive.

    The window is the last `window_gatherings` gatherings or the last `window_days` days,
    whichever holds more: a monthly group gets its 6 gatherings, a weekly one its 13. Earlier
    gatherings only tell who is a first-timer. Follow-ups count only for connections made at
    least follow_up_days ago, which have had their full chance.
    """
    history = sorted(
        (g for g in gatherings if g.starts_at <= as_of), key=lambda g: (g.starts_at, g.id)
    )
    recent = sum(1 for g in history if g.starts_at > as_of - timedelta(days=settings.window_days))
    start = max(0, len(history) - max(recent, settings.window_gatherings))
    window = history[start:]
    attendances = sum(len(g.present) for g in window)
    reported = sum(g.outcomes for g in window)
    settled_before = as_of - timedelta(days=settings.follow_up_days)
    flags = [flag for g in window if g.starts_at <= settled_before for flag in g.follow_ups]
    return HealthInputs(
        first_timer_return=first_timer_return(
            [g.present for g in history], start, settings.return_within_gatherings
        ),
        core_share=core_share([g.present for g in window], settings.core_attendance_share),
        median_utilization=_median([u for g in window for u in g.utilization.values()]),
        median_novelty=_median([v for g in window for v in g.novelty.values()]),
        outcome_rate=reported / attendances if reported else None,
        follow_up_share=sum(flags) / len(flags) if flags else None,
        trend=relative_slope(
            [
                len(g.present) * statistics.median(g.utilization.values())
                for g in window
                if g.utilization
            ]
        ),
    )


def first_timer_return(
    attendance: Sequence[AbstractSet[str]], start: int = 0, within: int = 2
) -> float | None:
    """ρ_ret: of the people first seen at gathering `start` or later, the share present again at
    one of their next `within` gatherings.

    A first-timer counts once they have come back or `within` later gatherings have been held;
    until then whether they return is not known yet, so they are neither a yes nor a no.
    """
    seen: set[str] = set()
    returned = followed = 0
    for index, present in enumerate(attendance):
        newcomers = present - seen
        seen |= present
        if index < start:
            continue
        later = attendance[index + 1 : index + 1 + within]
        for person in newcomers:
            back = any(person in other for other in later)
            if back or len(later) == within:
                followed += 1
                returned += back
    return returned / followed if followed else None


def core_share(attendance: Sequence[AbstractSet[str]], share: float = 0.5) -> float | None:
    """s_core: the share of the window's attendees present at ≥ `share` of its gatherings."""
    counts = Counter(person for present in attendance for person in present)
    if not counts:
        return None
    core = sum(1 for count in counts.values() if count >= share * len(attendance))
    return core / len(counts)


def theil_sen_slope(values: Sequence[float]) -> float | None:
    """The median of the pairwise slopes (y_j − y_i)/(j − i), per step: one odd gathering (a
    holiday, a storm) cannot swing it the way it swings a least-squares fit."""
    slopes = [(values[j] - values[i]) / (j - i) for i, j in combinations(range(len(values)), 2)]
    return statistics.median(slopes) if slopes else None


def relative_slope(values: Sequence[float]) -> float | None:
    """β: the Theil–Sen slope as a share of the series' median level (0.02 = +2% a gathering)."""
    slope = theil_sen_slope(values)
    if slope is None:
        return None
    level = statistics.median(values)
    if level <= 0:
        return None
    beta = slope / level
    # A level so close to zero that the ratio overflows says nothing about a trend either.
    return beta if math.isfinite(beta) else None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _against(measured: float | None, target: float) -> float | None:
    return None if measured is None else min(1.0, measured / target)


def _check(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], not {value!r}")


def _factor(
    name: str,
    title: str,
    value: float | None,
    known: Sequence[str],
    missing: Sequence[str],
    used: Mapping[str, float | None],
) -> Factor:
    if value is None:
        sentence = f"{title} unknown: {'; '.join(missing)}."
    else:
        sentence = f"{title} {value:.2f}: {' and '.join(known)}"
        sentence += f" ({'; '.join(missing)})." if missing else "."
    return Factor(name, value, sentence, dict(used))


def _summary(value: float | None, factors: Sequence[Factor], weights: Mapping[str, float]) -> str:
    left_out = " ".join(f.sentence for f in factors if f.value is None)
    if value is None:
        return f"Group health unknown: nothing to score yet. {left_out}"
    used = ", ".join(f"{name} {weight:.0%}" for name, weight in weights.items())
    if not left_out:
        return f"Group health {value:.0f}/100 (weights: {used})."
    return (
        f"Group health {value:.0f}/100 from the parts with data, their weights scaled up to "
        f"{used}. {left_out}"
    )
