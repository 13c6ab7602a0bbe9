"""One attendee at one gathering (SCORING.md §2): how much of a realistic evening they used.

Capacity C_i = min(N − 1, r_s·D_i) is what one person could do in the time they were there;
utilization, novelty and re-meetings describe what they did with it. Room coverage is shown
for context only: nobody can work a room of 100, so it is never held against anyone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

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

    @property
    def novelty_value(self) -> float | None:
        """ν_i, as the organizer advice reads it from either kind of attendee result."""
        return self.novelty.value


class AttendeeFigures(NamedTuple):
    """What a gathering's snapshot keeps of one attendee: `attendee_score`'s numbers and
    sentence, without the factors' inputs and their own sentences (`score_attendees`). A
    named tuple, because a full rescore makes a million of them."""

    dwell_hours: float | None
    capacity: float
    connections: int | None
    new_connections: int | None
    re_meetings: int | None
    utilization: float | None
    novelty: float | None
    coverage: float | None
    sentence: str

    @property
    def novelty_value(self) -> float | None:
        return self.novelty


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
    _check_gathering(head_count, hours)
    _check_attendee(dwell_hours, connections, new_connections)
    effective = hours if dwell_hours is None else min(dwell_hours, hours)
    capacity = conversation_capacity(head_count, settings.conversation_rate, effective)
    re_meetings = _re_meetings(connections, new_connections)
    utilization = _utilization(head_count, hours, effective, capacity, connections, settings)
    novelty = _novelty(connections, new_connections)
    coverage = _coverage(head_count, connections)
    sentence = _sentence(utilization.sentence, novelty.sentence, connections)
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


def score_attendees(
    head_count: int,
    settings: ScoringSettings,
    hours: float,
    attendees: Iterable[tuple[float | None, int | None, int | None]],
) -> list[AttendeeFigures]:
    """`attendee_score`'s numbers and sentence (not its factors) for every attendee of one
    gathering of `head_count` people, each given as (dwell hours, connections, new
    connections): the same values from the same formulas and sentence helpers. Attendees with
    the same three share one result, computed once. A gathering nobody attended has no
    attendees to score."""
    attendees = list(attendees)
    if not attendees:
        return []
    _check_gathering(head_count, hours)
    rate = settings.conversation_rate
    known: dict[tuple[float | None, int | None, int | None], AttendeeFigures] = {}
    figures = []
    for key in attendees:
        found = known.get(key)
        if found is None:
            dwell, connections, new = key
            _check_attendee(dwell, connections, new)
            found = known[key] = _figures(head_count, rate, hours, dwell, connections, new)
        figures.append(found)
    return figures


def _figures(
    head_count: int,
    rate: float,
    hours: float,
    dwell_hours: float | None,
    connections: int | None,
    new_connections: int | None,
) -> AttendeeFigures:
    effective = hours if dwell_hours is None else min(dwell_hours, hours)
    capacity = conversation_capacity(head_count, rate, effective)
    utilization = _utilization_value(head_count, capacity, connections)
    sentence = _sentence(
        _utilization_sentence(head_count, hours, effective, capacity, connections, utilization),
        _novelty_sentence(connections, new_connections),
        connections,
    )
    return AttendeeFigures(
        dwell_hours,
        capacity,
        connections,
        new_connections,
        _re_meetings(connections, new_connections),
        utilization,
        _novelty_value(connections, new_connections),
        _coverage_value(head_count, connections),
        sentence,
    )


def _sentence(utilization: str, novelty: str, connections: int | None) -> str:
    """The attendee's sentence: utilization's, then novelty's once they had a conversation."""
    return utilization if connections is None or connections == 0 else f"{utilization} {novelty}"


def _check_gathering(head_count: int, hours: float) -> None:
    """Reject inputs that cannot come from a real gathering, rather than score nonsense."""
    if head_count < 1:
        raise ValueError(f"an attendee's gathering has at least 1 person, not {head_count}")
    if not (math.isfinite(hours) and hours >= 0):
        raise ValueError(f"hours must be 0 or more, not {hours}")


def _check_attendee(
    dwell_hours: float | None, connections: int | None, new_connections: int | None
) -> None:
    if dwell_hours is not None and not (math.isfinite(dwell_hours) and dwell_hours >= 0):
        raise ValueError(f"dwell_hours must be 0 or more, not {dwell_hours}")
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
    value = _utilization_value(head_count, capacity, connections)
    sentence = _utilization_sentence(head_count, hours, effective, capacity, connections, value)
    return Factor("utilization", value, sentence, inputs)


def _utilization_sentence(
    head_count: int,
    hours: float,
    effective: float,
    capacity: float,
    connections: int | None,
    value: float | None,
) -> str:
    if head_count == 1:
        return "You were the only one checked in: nobody to talk to."
    if capacity == 0:
        return "You had no open-networking time, so no conversations were expected of you."
    stayed = f" in the {hours_text(effective)} you stayed" if effective < hours else ""
    realistic = f"a realistic {amount_text(capacity)}"
    if connections is None or value is None:
        return f"No connections logged: you had time for {realistic} real conversations{stayed}."
    return (
        f"You had {connections or 'no'} real {_plural(connections, 'conversation')} out of "
        f"{realistic}{stayed} ({value:.0%})."
    )


def _novelty(connections: int | None, new_connections: int | None) -> Factor:
    """ν_i = M_i^new/M_i, with the re-meetings R_i = M_i − M_i^new that build trust."""
    inputs = {"M": connections, "M_new": new_connections}
    value = _novelty_value(connections, new_connections)
    if value is not None:
        inputs["R"] = _re_meetings(connections, new_connections)
    return Factor("novelty", value, _novelty_sentence(connections, new_connections), inputs)


def _novelty_sentence(connections: int | None, new_connections: int | None) -> str:
    if connections is None:
        return "No connections logged."
    if connections == 0:
        return "No conversations logged, so nobody new or familiar."
    if new_connections is None:
        return "Which of them were new people is not known yet."
    return _who(new_connections, connections - new_connections)


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
    value = _coverage_value(head_count, connections)
    if value is None:
        return Factor("coverage", None, "No connections logged.", inputs)
    others = head_count - 1
    return Factor(
        "coverage",
        value,
        f"You talked with {value:.0%} of the {others} other {_plural(others, 'person', 'people')} "
        "here; nobody can meet a whole room, so this is shown, never scored.",
        inputs,
    )


# --- the figures' values, shared by the factors and the bulk figures ---------------------------


def _utilization_value(head_count: int, capacity: float, connections: int | None) -> float | None:
    """U_i = min(1, M_i/C_i); undefined alone, with no capacity or with nothing logged."""
    if head_count == 1 or capacity == 0 or connections is None:
        return None
    return min(1.0, connections / capacity)


def _novelty_value(connections: int | None, new_connections: int | None) -> float | None:
    """ν_i = M_i^new/M_i, once there was a conversation and we know which were new."""
    if connections is None or connections == 0 or new_connections is None:
        return None
    return new_connections / connections


def _coverage_value(head_count: int, connections: int | None) -> float | None:
    """K_i = M_i/(N − 1), capped at 1."""
    if connections is None or head_count == 1:
        return None
    return min(1.0, connections / (head_count - 1))


def _re_meetings(connections: int | None, new_connections: int | None) -> int | None:
    """R_i = M_i − M_i^new: the people met again, who build trust."""
    if connections is None or new_connections is None:
        return None
    return connections - new_connections


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or f"{one}s")


def _be(count: int) -> str:
    return "was" if count == 1 else "were"
