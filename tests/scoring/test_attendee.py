"""One attendee at one gathering: SCORING.md §2's Alice, Ben and Chris, and the edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring.attendee import AttendeeFigures, attendee_score, score_attendees
from service.scoring.settings import GroupFormat, Structure, defaults_for

SOCIAL = defaults_for(GroupFormat.SOCIAL)


@pytest.mark.parametrize(
    ("dwell", "connections", "new", "expected"),
    [
        # name: C, U, ν, K, R
        (2.0, 6, 2, (8, 0.75, 0.33, 0.18, 4)),  # Alice
        (0.75, 2, 2, (3, 0.67, 1.00, 0.06, 0)),  # Ben
        (2.0, 3, 0, (8, 0.38, 0.00, 0.09, 3)),  # Chris
    ],
    ids=["Alice", "Ben", "Chris"],
)
def test_scoring_md_example(
    dwell: float, connections: int, new: int, expected: tuple[float, ...]
) -> None:
    score = attendee_score(
        35, SOCIAL, hours=2, dwell_hours=dwell, connections=connections, new_connections=new
    )
    capacity, utilization, novelty, coverage, re_meetings = expected
    # SCORING.md shows two decimals, rounding half up (Chris's 3/8 = 0.375 shows as 0.38).
    shown = 0.0051
    assert score.capacity == capacity
    assert score.utilization.value == pytest.approx(utilization, abs=shown)
    assert score.novelty.value == pytest.approx(novelty, abs=shown)
    assert score.coverage.value == pytest.approx(coverage, abs=shown)
    assert score.re_meetings == re_meetings


def test_alice_reads_her_evening_in_two_sentences() -> None:
    alice = attendee_score(35, SOCIAL, hours=2, dwell_hours=2, connections=6, new_connections=2)
    assert alice.sentence == (
        "You had 6 real conversations out of a realistic 8 (75%). "
        "2 were new people, 4 were people you'd met before."
    )
    assert alice.coverage.sentence == (
        "You talked with 18% of the 34 other people here; nobody can meet a whole room, "
        "so this is shown, never scored."
    )


def test_ben_is_told_how_long_he_stayed() -> None:
    ben = attendee_score(35, SOCIAL, hours=2, dwell_hours=0.75, connections=2, new_connections=2)
    assert ben.sentence == (
        "You had 2 real conversations out of a realistic 3 in the 45 min you stayed (67%). "
        "Both were new people."
    )


def test_chris_only_met_people_he_knew() -> None:
    chris = attendee_score(35, SOCIAL, hours=2, dwell_hours=2, connections=3, new_connections=0)
    assert chris.sentence == (
        "You had 3 real conversations out of a realistic 8 (38%). "
        "All 3 were people you'd met before."
    )


@pytest.mark.parametrize(
    ("new", "sentence"), [(1, "It was a new person."), (0, "It was someone you'd met before.")]
)
def test_a_single_conversation_reads_naturally(new: int, sentence: str) -> None:
    score = attendee_score(35, SOCIAL, hours=2, connections=1, new_connections=new)
    assert score.novelty.sentence == sentence


@pytest.mark.parametrize("dwell", [None, 2.0, 5.0])
def test_no_check_out_or_a_long_stay_counts_as_the_open_networking_time(
    dwell: float | None,
) -> None:
    score = attendee_score(35, SOCIAL, hours=2, dwell_hours=dwell)
    assert (score.effective_hours, score.capacity) == (2, 8)


def test_no_connections_logged_shows_capacity_only() -> None:
    score = attendee_score(35, SOCIAL, hours=2, dwell_hours=0.5)
    assert (score.utilization.value, score.novelty.value, score.coverage.value) == (None,) * 3
    assert score.re_meetings is None
    assert score.sentence == (
        "No connections logged: you had time for a realistic 2 real conversations "
        "in the 30 min you stayed."
    )


def test_connections_without_knowing_which_were_new() -> None:
    score = attendee_score(35, SOCIAL, hours=2, connections=5)
    assert score.utilization.value == pytest.approx(0.625)
    assert score.novelty.value is None
    assert score.re_meetings is None
    assert score.sentence.endswith("Which of them were new people is not known yet.")


def test_no_conversations_at_all() -> None:
    score = attendee_score(35, SOCIAL, hours=2, connections=0, new_connections=0)
    assert score.utilization.value == 0
    assert score.novelty.value is None
    assert score.sentence == "You had no real conversations out of a realistic 8 (0%)."


def test_more_conversations_than_capacity_is_full_use() -> None:
    score = attendee_score(35, SOCIAL, hours=1, connections=7, new_connections=3)
    assert score.utilization.value == 1


def test_capacity_is_capped_by_the_people_present() -> None:
    rotating = defaults_for(GroupFormat.SOCIAL, Structure.ROTATING_TABLES)
    assert attendee_score(35, rotating, hours=2).capacity == 18
    assert attendee_score(5, rotating, hours=2, connections=4).utilization.value == 1


def test_coverage_is_capped_when_people_who_never_checked_in_were_met() -> None:
    score = attendee_score(3, SOCIAL, hours=2, connections=4, new_connections=4)
    assert score.coverage.value == 1


@pytest.mark.parametrize(
    ("head_count", "hours", "sentence"),
    [
        (1, 2.0, "You were the only one checked in: nobody to talk to."),
        (35, 0.0, "You had no open-networking time, so no conversations were expected of you."),
    ],
)
def test_zero_capacity_leaves_utilization_undefined(
    head_count: int, hours: float, sentence: str
) -> None:
    score = attendee_score(head_count, SOCIAL, hours=hours, connections=0, new_connections=0)
    assert score.capacity == 0
    assert score.utilization.value is None
    assert score.sentence == sentence


@pytest.mark.parametrize(
    "arguments",
    [
        {"connections": -1},
        {"connections": 2, "new_connections": 3},
        {"new_connections": 1},
        {"dwell_hours": -0.5},
        {"hours": float("nan")},
    ],
)
def test_impossible_inputs_are_rejected(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        attendee_score(35, SOCIAL, **{"hours": 2.0, **arguments})


def test_nobody_at_all_is_rejected() -> None:
    with pytest.raises(ValueError):
        attendee_score(0, SOCIAL, hours=2)


@given(
    head_count=st.integers(1, 500),
    hours=st.floats(0, 12),
    dwell=st.none() | st.floats(0, 24),
    connections=st.integers(0, 600),
    new_share=st.floats(0, 1),
    structure=st.sampled_from(Structure),
)
def test_shares_stay_between_zero_and_one(
    head_count: int,
    hours: float,
    dwell: float | None,
    connections: int,
    new_share: float,
    structure: Structure,
) -> None:
    score = attendee_score(
        head_count,
        defaults_for(GroupFormat.SOCIAL, structure),
        hours=hours,
        dwell_hours=dwell,
        connections=connections,
        new_connections=round(connections * new_share),
    )
    assert 0 <= score.capacity <= head_count - 1
    for part in (score.utilization, score.novelty, score.coverage):
        assert part.value is None or 0 <= part.value <= 1
        assert part.sentence


@given(
    head_count=st.integers(1, 500),
    hours=st.floats(0, 12),
    dwell=st.none() | st.floats(0, 24),
    connections=st.none() | st.integers(0, 600),
    new_share=st.none() | st.floats(0, 1),
    structure=st.sampled_from(Structure),
)
def test_figures_are_the_scores_numbers_and_sentence(
    head_count: int,
    hours: float,
    dwell: float | None,
    connections: int | None,
    new_share: float | None,
    structure: Structure,
) -> None:
    settings = defaults_for(GroupFormat.SOCIAL, structure)
    new = None if connections is None or new_share is None else round(connections * new_share)
    arguments: dict[str, Any] = {
        "hours": hours,
        "dwell_hours": dwell,
        "connections": connections,
        "new_connections": new,
    }
    score = attendee_score(head_count, settings, **arguments)
    (figures,) = score_attendees(head_count, settings, hours, [(dwell, connections, new)])
    assert figures == AttendeeFigures(
        dwell_hours=score.dwell_hours,
        capacity=score.capacity,
        connections=score.connections,
        new_connections=score.new_connections,
        re_meetings=score.re_meetings,
        utilization=score.utilization.value,
        novelty=score.novelty.value,
        coverage=score.coverage.value,
        sentence=score.sentence,
    )
    assert figures.novelty_value == score.novelty_value


def test_attendees_scored_together_are_scored_as_each_alone() -> None:
    inputs = [(2.0, 6, 2), (0.75, 2, 2), (None, 0, 0), (2.0, 6, 2), (1.5, 3, 0)]
    together = score_attendees(35, SOCIAL, 2.0, inputs)
    assert together == [score_attendees(35, SOCIAL, 2.0, [one])[0] for one in inputs]
    assert together[0] is together[3]  # the same inputs are scored once


def test_a_gathering_nobody_attended_has_no_figures() -> None:
    assert score_attendees(0, SOCIAL, 2.0, []) == []


def test_figures_reject_impossible_inputs_as_the_score_does() -> None:
    with pytest.raises(ValueError):
        score_attendees(35, SOCIAL, 2.0, [(2.0, 2, 3)])
