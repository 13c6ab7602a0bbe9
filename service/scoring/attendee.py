"""One attendee at one gathering (SCORING.md §2): how much of a realistic evening they used.

Capacity C_i = min(N − 1, r_s·D_i) is what one person could do in the time they were there;
utilization, novelty and re-meetings describe what they did with it. Room coverage is shown
for context only: nobody can work a room of 100, so it is never held against anyone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.scoring.explain import Factor
from service.scoring.settings import ScoringSettings
from service.scoring.size import amount_text, conversation_capacity, hours_text


@dataclass(frozen=True)
class AttendeeScore:
    """What one attendee's gathering looked like, each part with its sentence.

    `dwell_hours` is as recorded (None: no check-out); `effective_hours` is D_i, the part of the
    open-networking time they were there for. Factors are None where connections were not logged.
    """

    head_count: int
    hours: float
    dwell_hours: float | None
    effective_hours: float
    capacity: float
    connections: int | None
    new_connections: int | None
    re_meetings: int | None
    utilization: Factor
    novelty: Factor
    coverage: Factor
    sentence: str


def attendee_score(
    head_count: int,
    settings: ScoringSettings,
    *,
    hours: float,
    dwell_hours: float | None = None,
    connections: int | None = None,
    new_connections: int | None = None,
) -> AttendeeScore:
    """Score one attendee: `head_count` N people at the gathering, `hours` H of open networking,
    their `dwell_hours` (None when they never checked out, counted as the whole H), the
    `connections` M_i they logged there (None: not logged) and how many were `new_connections`.

    When capacity is 0 (they were alone, or had no networking time) utilization is undefined
    and left as None, with a sentence saying why, even if connections were logged.
    """
    _check(head_count, hours, dwell_hours, connections, new_connections)
    effective = hours if dwell_hours is None else min(dwell_hours, hours)
    capacity = conversation_capacity(head_count, settings.conversation_rate, effective)
    re_meetings = (
        None if connections is None or new_connections is None else connections - new_connections
    )
    utilization = _utilization(head_count, hours, effective, capacity, connections, settings)
    novelty = _novelty(connections, new_connections)
    coverage = _coverage(head_count, connections)
    sentence = (
        utilization.sentence
        if connections is None or connections == 0
        else f"{utilization.sentence} {novelty.sentence}"
    )
    return AttendeeScore(
        head_count=head_count,
        hours=hours,
        dwell_hours=dwell_hours,
        effective_hours=effective,
        capacity=capacity,
        connections=connections,
        new_connections=new_connections,
        re_meetings=re_meetings,
        utilization=utilization,
        novelty=novelty,
        coverage=coverage,
        sentence=sentence,
    )


def _check(
    head_count: int,
    hours: float,
    dwell_hours: float | None,
    connections: int | None,
    new_connections: int | None,
) -> None:
    """Reject inputs that cannot come from a real gathering, rather than score nonsense."""
    if head_count < 1:
        raise ValueError(f"an attendee's gathering has at least 1 person, not {head_count}")
    for name, value in (("hours", hours), ("dwell_hours", dwell_hours)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be 0 or more, not {value}")
    if connections is not None and connections < 0:
        raise ValueError(f"connections cannot be negative, not {connections}")
    if new_connections is not None and (connections is None or new_connections < 0):
        raise ValueError("new connections need the logged connections, and cannot be negative")
    if new_connections is not None and connections is not None and new_connections > connections:
        raise ValueError(f"{new_connections} new connections out of only {connections}")


def _utilization(
    head_count: int,
    hours: float,
    effective: float,
    capacity: float,
    connections: int | None,
    settings: ScoringSettings,
) -> Factor:
    """U_i = min(1, M_i/C_i): how much of a realistic capacity this person used."""
    inputs = {
        "M": connections,
        "C": round(capacity, 2),
        "D": effective,
        "H": hours,
        "N": head_count,
        "r": settings.conversation_rate,
    }
    stayed = f" in the {hours_text(effective)} you stayed" if effective < hours else ""
    if head_count == 1:
        return Factor(
            "utilization", None, "You were the only one checked in: nobody to talk to.", inputs
        )
    if capacity == 0:
        return Factor(
            "utilization",
            None,
            "You had no open-networking time, so no conversations were expected of you.",
            inputs,
        )
    realistic = f"a realistic {amount_text(capacity)}"
    if connections is None:
        return Factor(
            "utilization",
            None,
            f"No connections logged: you had time for {realistic} real conversations{stayed}.",
            inputs,
        )
    value = min(1.0, connections / capacity)
    return Factor(
        "utilization",
        value,
        f"You had {connections or 'no'} real {_plural(connections, 'conversation')} out of "
        f"{realistic}{stayed} ({value:.0%}).",
        inputs,
    )


def _novelty(connections: int | None, new_connections: int | None) -> Factor:
    """ν_i = M_i^new/M_i, with the re-meetings R_i = M_i − M_i^new that build trust."""
    inputs = {"M": connections, "M_new": new_connections}
    if connections is None:
        return Factor("novelty", None, "No connections logged.", inputs)
    if connections == 0:
        return Factor(
            "novelty", None, "No conversations logged, so nobody new or familiar.", inputs
        )
    if new_connections is None:
        return Factor("novelty", None, "Which of them were new people is not known yet.", inputs)
    value = new_connections / connections
    return Factor(
        "novelty",
        value,
        _who(new_connections, connections - new_connections),
        {**inputs, "R": connections - new_connections},
    )


def _who(new: int, familiar: int) -> str:
    """ "2 were new people, 4 were people you'd met before.", said naturally for 1, 2 or all."""
    new_part = "a new person" if new == 1 else "new people"
    familiar_part = "someone you'd met before" if familiar == 1 else "people you'd met before"
    total = new + familiar
    if total == 1:
        return f"It was {new_part if new else familiar_part}."
    if new == 0 or familiar == 0:
        everyone = "Both" if total == 2 else f"All {total}"
        return f"{everyone} were {familiar_part if new == 0 else new_part}."
    return f"{new} {_be(new)} {new_part}, {familiar} {_be(familiar)} {familiar_part}."


def _coverage(head_count: int, connections: int | None) -> Factor:
    """K_i = M_i/(N − 1): shown for context, never part of a score. Capped at 1, because a
    connection with someone who never checked in can push M_i past N − 1."""
    inputs = {"M": connections, "N": head_count}
    if connections is None or head_count == 1:
        return Factor("coverage", None, "No connections logged.", inputs)
    others = head_count - 1
    value = min(1.0, connections / others)
    return Factor(
        "coverage",
        value,
        f"You talked with {value:.0%} of the {others} other {_plural(others, 'person', 'people')} "
        "here; nobody can meet a whole room, so this is shown, never scored.",
        inputs,
    )


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or f"{one}s")


def _be(count: int) -> str:
    return "was" if count == 1 else "were"
