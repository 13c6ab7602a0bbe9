"""Gathering-size score (SCORING.md §1): is this head count right for this room, time and group?

S_size = 100 · P · Q_ac · Q_time · Q_reach, and for plenary (referral) meetings
100 · P · Q_ac · Q_plen. The pool rewards more people; acoustics, time to talk and the chance
of meeting the same people again penalise too many. Their product peaks at a moderate head
count in an ordinary room and a much larger one in a big, treated hall, which is why the
recommended band is computed per group rather than given as one number.

The per-person conversation capacity C = min(N − 1, r·H) and the sentence formatting of hours
and amounts live here too, because the per-attendee score (§2) and the organizer advice (§5)
use exactly the same quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from service.scoring.explain import MODEL_VERSION, Factor
from service.scoring.settings import ScoringSettings, Structure

# Sabine's constant (s/m): absorption A = 0.161·V/T.
SABINE = 0.161

# The band scan's upper end is rounded up to a multiple of this, so that gatherings of one
# group with different head counts share one scan (`_band_products`).
BAND_SCAN_STEP = 500

# How each structure's conversation time reads in a sentence.
STRUCTURE_WORDS = {
    Structure.OPEN: "open networking",
    Structure.ROTATING_TABLES: "rotating tables",
    Structure.SPEED_1TO1: "one-to-one rounds",
    Structure.PLENARY: "open networking",
}

# How each factor is named in the overall sentence.
FACTOR_LABELS = {
    "pool": "the pool of people",
    "acoustics": "acoustics",
    "time": "time to talk",
    "reach": "re-meeting",
    "plenary": "pitch time",
}


@dataclass(frozen=True)
class SizeScore:
    """S_size for one head count: 100 × the product of its factors to the nearest point, the
    factors (only the pool when fewer than 2 people came), and one sentence."""

    value: int
    head_count: int
    peak: int
    factors: tuple[Factor, ...]
    sentence: str
    model_version: int = MODEL_VERSION


@dataclass(frozen=True)
class SizeBand:
    """The head counts scoring at least `band_fraction` of the best, and the best one.

    `low`, `high` and `best` are None when no head count scores above 0 (no open-networking
    time, or no time for pitches); the sentence then says why.
    """

    low: int | None
    high: int | None
    best: int | None
    best_value: int
    sentence: str


def hours_text(hours: float) -> str:
    """A duration as people say it: "45 min", "2 h", "1 h 30 min"."""
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    whole, rest = divmod(minutes, 60)
    return f"{whole} h" if rest == 0 else f"{whole} h {rest} min"


def amount_text(amount: float) -> str:
    """A count that may be fractional, to one decimal and without a trailing ".0": 8, 2.7."""
    return f"{round(amount, 1):g}"


def conversation_capacity(head_count: int, rate: float, hours: float) -> float:
    """C = min(N − 1, r·H): real conversations one person has time for, and people to have
    them with. Shared by the size score (H = open-networking time) and the per-attendee score
    (H = that person's time in the room)."""
    return max(0.0, min(float(head_count - 1), rate * hours))


def acoustic_capacity(settings: ScoringSettings) -> float | None:
    """N_ac = A / 3.5 with A = 0.161·V/T: the head count at which a partner 1 m away is still
    heard at −3 dB against the crowd (Rindel). None when the floor area or reverberation is
    unknown, so nothing downstream guesses."""
    venue = settings.venue
    reverberation = venue.reverberation
    if venue.floor_area_m2 is None or reverberation is None:
        return None
    absorption = SABINE * venue.floor_area_m2 * venue.ceiling_height_m / reverberation
    return absorption / settings.absorption_per_person_m2


def plenary_capacity(settings: ScoringSettings) -> float:
    """N_plen: how many one-minute pitches fit once the fixed agenda is done."""
    free_minutes = max(0.0, settings.plenary_minutes - settings.plenary_fixed_minutes)
    return free_minutes / settings.pitch_minutes


def size_score(
    n: int, settings: ScoringSettings, *, n_peak: int | None = None, hours: float
) -> SizeScore:
    """S_size for `n` people checked in, `n_peak` of them at once (default `n`), with `hours`
    of open networking. Plenary groups ignore `hours`: their time limit is the meeting's
    pitches (`settings.plenary_minutes`), not open networking."""
    peak = n if n_peak is None else n_peak
    if n < 0 or not 0 <= peak <= n:
        raise ValueError(f"head count {n} and peak {peak} must satisfy 0 ≤ peak ≤ head count")
    if not (math.isfinite(hours) and hours >= 0):
        raise ValueError(f"open-networking hours must be 0 or more, not {hours}")
    if n < 2:
        nobody = (Factor("pool", 0.0, _nobody_sentence(n), {"N": n}),)
        return SizeScore(0, n, peak, nobody, _overall_sentence(n, 0, nobody))
    factors = (_pool(n, settings), _acoustics(peak, settings), *_time_factors(n, hours, settings))
    value = round(100 * _product(factors))
    return SizeScore(value, n, peak, factors, _overall_sentence(n, value, factors))


def recommended_band(
    settings: ScoringSettings, hours: float, *, head_count: int | None = None
) -> SizeBand:
    """The N range where S_size ≥ band_fraction × its maximum, scanning N = 2…max(500, 3·N)
    with the peak equal to N (a plan, not a record), and the single best N.

    `head_count` is the gathering's current N, which only widens the scan. The band is the
    unbroken run of head counts around the best one, and the best is the smallest head count
    reaching the maximum (a plateau, as in a referral chapter, has no reason to grow).
    """
    top = max(500, 3 * (head_count or 0))
    scan_to = math.ceil(top / BAND_SCAN_STEP) * BAND_SCAN_STEP
    exact = _band_products(settings, hours, scan_to)[: top - 1]
    peak = max(exact)
    if peak == 0:
        first = size_score(2, settings, hours=hours)
        reason = next(f.sentence for f in first.factors if f.value == 0)
        return SizeBand(None, None, None, 0, f"No head count scores above 0: {_lower(reason)}")
    best = exact.index(peak)
    floor = settings.band_fraction * peak
    low = best
    while low > 0 and exact[low - 1] >= floor:
        low -= 1
    high = best
    while high + 1 < len(exact) and exact[high + 1] >= floor:
        high += 1
    low_n, high_n, best_n = low + 2, high + 2, best + 2
    best_value = round(100 * peak)
    return SizeBand(
        low_n,
        high_n,
        best_n,
        best_value,
        f"For this group, {low_n}–{high_n} people score at least "
        f"{settings.band_fraction:.0%} of the best size score; {best_n} is best ({best_value}).",
    )


@lru_cache(maxsize=256)
def _band_products(settings: ScoringSettings, hours: float, top: int) -> tuple[float, ...]:
    """The unrounded S_size/100 for N = 2…`top`, peak equal to N: the numbers the band scan
    compares, without the sentences. The scan is the same for every gathering of a group with
    the same settings and hours, so it is kept; `top` comes in steps of BAND_SCAN_STEP and each
    caller takes the part it scans, which is the same whatever lies beyond it."""
    n_ac = acoustic_capacity(settings)
    products = []
    for n in range(2, top + 1):
        values = [_pool_value(n, settings), 1.0 if n_ac is None else _acoustics_value(n, n_ac)]
        if settings.structure is Structure.PLENARY:
            values.append(_plenary_value(n, settings))
        else:
            capacity = conversation_capacity(n, settings.conversation_rate, hours)
            values += [_time_value(capacity, settings), _reach_value(n, capacity, settings)]
        products.append(math.prod(values))
    return tuple(products)


def _product(factors: tuple[Factor, ...]) -> float:
    """The unrounded score in [0, 1]; size factors are always known, so None never occurs."""
    return math.prod(factor.value or 0.0 for factor in factors)


def _nobody_sentence(n: int) -> str:
    if n == 0:
        return "Nobody has checked in, so there is no one to meet."
    return "Only 1 person has checked in, so there is no one to meet."


def _pool(n: int, settings: ScoringSettings) -> Factor:
    """P: the chance that someone here is worth meeting."""
    if settings.structure is Structure.PLENARY:
        target = settings.pool_target
        value = _pool_value(n, settings)
        enough = (
            f"reach the {target:g} a referral group needs"
            if value == 1
            else f"are {value:.0%} of the {target:g} a referral group needs"
        )
        return Factor(
            "pool",
            value,
            f"{n} members {enough} to pass each other enough business.",
            {"N": n, "N_star": target},
        )
    p = settings.pool_probability
    value = _pool_value(n, settings)
    return Factor(
        "pool",
        value,
        f"With {n} people, each has a {value:.0%} chance that someone here is worth following "
        f"up (if 1 in {round(1 / p)} is).",
        {"N": n, "p": p},
    )


def _acoustics(peak: int, settings: ScoringSettings) -> Factor:
    """Q_ac: can people hear each other at the busiest moment?"""
    venue = settings.venue
    n_ac = acoustic_capacity(settings)
    if n_ac is None:
        missing = (
            "the venue's floor area"
            if venue.floor_area_m2 is None
            else "the venue's type or its reverberation time"
        )
        return Factor("acoustics", 1.0, f"Acoustics unknown: add {missing}.", {"N_peak": peak})
    room = (
        f"the room ({venue.floor_area_m2:g} m², {venue.ceiling_height_m:g} m ceiling, "
        f"reverberation {venue.reverberation:g} s)"
    )
    inputs = {
        "N_peak": peak,
        "N_ac": round(n_ac, 1),
        "floor_area_m2": venue.floor_area_m2,
        "ceiling_m": venue.ceiling_height_m,
        "reverberation_s": venue.reverberation,
    }
    if peak <= n_ac:
        return Factor(
            "acoustics",
            1.0,
            f"At the peak of {peak}, {room} lets everyone talk at a normal voice: it holds "
            f"about {n_ac:.0f} people in conversation.",
            inputs,
        )
    ratio = peak / n_ac
    snr = -3 - 10 * math.log10(ratio)
    value = _acoustics_value(peak, n_ac)
    return Factor(
        "acoustics",
        value,
        f"The peak of {peak} is {ratio:.1f}× the {n_ac:.0f} people {room} holds in "
        f"conversation: a partner 1 m away is heard at about {snr:.1f} dB against the crowd, "
        f"so people have to raise their voices (acoustics {value:.0%}).",
        {**inputs, "snr_1m_db": round(snr, 1)},
    )


def _time_factors(n: int, hours: float, settings: ScoringSettings) -> tuple[Factor, ...]:
    """Q_time·Q_reach for mingling formats; Q_plen for plenary meetings, which replaces both."""
    if settings.structure is Structure.PLENARY:
        return (_plenary(n, settings),)
    capacity = conversation_capacity(n, settings.conversation_rate, hours)
    return _time(n, hours, capacity, settings), _reach(n, capacity, settings)


def _time(n: int, hours: float, capacity: float, settings: ScoringSettings) -> Factor:
    """Q_time: is there time for enough real conversations?"""
    rate = settings.conversation_rate
    target = settings.target_conversations
    value = _time_value(capacity, settings)
    inputs = {"r": rate, "H": hours, "C": capacity, "k_star": target}
    if hours == 0:
        return Factor(
            "time",
            0.0,
            "No open-networking time is scheduled, so nobody has time for a real conversation.",
            inputs,
        )
    verdict = (
        f"enough for the {target:g} real conversations that make a gathering worthwhile"
        if value == 1
        else f"short of the {target:g} real conversations that make a gathering worthwhile "
        f"(time {value:.0%})"
    )
    if capacity == n - 1 < rate * hours:
        start = f"With {n} people, each can talk with at most {n - 1} others"
    else:
        start = (
            f"{hours_text(hours)} of {STRUCTURE_WORDS[settings.structure]} at about {rate:g} "
            f"real conversations an hour gives each person time for {amount_text(capacity)}"
        )
    return Factor("time", value, f"{start}: {verdict}.", inputs)


def _reach(n: int, capacity: float, settings: ScoringSettings) -> Factor:
    """Q_reach: in a recurring group, will people meet the same faces again?"""
    if not settings.recurring:
        return Factor(
            "reach",
            1.0,
            "A one-off gathering: nobody needs to meet the same people again, so re-meeting "
            "does not count.",
            {"c": 0},
        )
    rho = capacity / (n - 1)
    target = settings.reach_target
    exponent = settings.reach_exponent
    value = _reach_value(n, capacity, settings)
    verdict = (
        "so familiar faces come back"
        if value == 1
        else f"so familiarity builds slowly (re-meeting {value:.0%})"
    )
    return Factor(
        "reach",
        value,
        f"Each person can talk with {amount_text(capacity)} of the other {n - 1} ({rho:.0%}); "
        f"meeting the same people again next time needs about {target:.0%}, {verdict}.",
        {"C": capacity, "N": n, "rho": round(rho, 3), "rho_star": target, "c": exponent},
    )


def _plenary(n: int, settings: ScoringSettings) -> Factor:
    """Q_plen: in a plenary meeting one person speaks at a time, so do all pitches fit?"""
    fits = plenary_capacity(settings)
    value = _plenary_value(n, settings)
    verdict = f"all {n} members can pitch" if value == 1 else f"only {value:.0%} of {n} can pitch"
    return Factor(
        "plenary",
        value,
        f"A {settings.plenary_minutes:g}-minute meeting with {settings.plenary_fixed_minutes:g} "
        f"fixed minutes leaves time for {amount_text(fits)} pitches of "
        f"{settings.pitch_minutes:g} min: {verdict}.",
        {
            "meeting_minutes": settings.plenary_minutes,
            "fixed_minutes": settings.plenary_fixed_minutes,
            "pitch_minutes": settings.pitch_minutes,
            "N_plen": round(fits, 1),
            "N": n,
        },
    )


def _pool_value(n: int, settings: ScoringSettings) -> float:
    if settings.structure is Structure.PLENARY:
        return min(1.0, n / settings.pool_target)
    return 1 - (1 - settings.pool_probability) ** (n - 1)


def _acoustics_value(peak: int, n_ac: float) -> float:
    if peak <= n_ac:
        return 1.0
    return max(0.0, 1 - math.log2(peak / n_ac) / 3)


def _time_value(capacity: float, settings: ScoringSettings) -> float:
    return min(1.0, capacity / settings.target_conversations)


def _reach_value(n: int, capacity: float, settings: ScoringSettings) -> float:
    if not settings.recurring:
        return 1.0
    value: float = min(1.0, capacity / (n - 1) / settings.reach_target) ** settings.reach_exponent
    return value


def _plenary_value(n: int, settings: ScoringSettings) -> float:
    return min(1.0, plenary_capacity(settings) / n)


def _overall_sentence(n: int, value: int, factors: tuple[Factor, ...]) -> str:
    """Names what holds the score back, weakest first, so the organizer knows what to fix; a
    factor at 0 (nobody to meet, no time) is the whole story and is told alone."""
    blocker = next((f for f in factors if f.value == 0), None)
    if blocker is not None:
        return f"{blocker.sentence} The size score is 0."
    limits = sorted(
        (f for f in factors if round(100 * (f.value or 0.0)) < 100), key=lambda f: f.value or 0.0
    )
    if not limits:
        return f"{n} people score {value} of 100 for size: nothing holds it back."
    named = ", ".join(f"{FACTOR_LABELS[f.name]} ({f.value or 0.0:.0%})" for f in limits)
    return f"{n} people score {value} of 100 for size; held back by {named}."


def _lower(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]
