"""Group health: the SCORING.md §3 test vectors, leaving out parts without data, measuring the
inputs from attendance records, and properties that must hold for any group."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring.health import (
    GatheringRecord,
    HealthInputs,
    core_share,
    first_timer_return,
    group_health,
    measure_health,
    relative_slope,
    theil_sen_slope,
)
from service.scoring.settings import GroupFormat, Structure
from service.scoring.settings import defaults_for as defaults

SOCIAL = defaults(GroupFormat.SOCIAL)
CHAPTER = defaults(GroupFormat.BUSINESS, Structure.PLENARY)
MIXER = defaults(GroupFormat.BUSINESS)
START = datetime(2026, 1, 6, 18, 0, tzinfo=UTC)


def social(ret, core, u, nu, follow_up, beta):
    return HealthInputs(ret, core, u, nu, follow_up_share=follow_up, trend=beta)


def business(ret, core, u, nu, rate, beta):
    return HealthInputs(ret, core, u, nu, outcome_rate=rate, trend=beta)


# --- the contract's vectors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "group", "parts", "expected"),
    [
        (social(0.38, 0.30, 0.70, 0.40, 0.22, 0.02), SOCIAL, (0.90, 0.93, 1.00, 0.69), 88),
        (social(0.15, 0.12, 0.45, 0.85, 0.08, -0.04), SOCIAL, (0.36, 0.48, 0.40, 0.17), 36),
        (business(0.50, 0.70, 0.80, 0.25, 0.55, 0.01), CHAPTER, (1.00, 1.00, 0.65, 0.60), 78),
        (business(0.20, 0.15, 0.60, 0.70, 0.05, -0.03), MIXER, (0.46, 0.64, 0.25, 0.23), 36),
    ],
    ids=["social A", "social B churning", "referral chapter C", "business mixer D"],
)
def test_contract_vectors(inputs, group, parts, expected):
    health = group_health(inputs, group)
    assert health.value == pytest.approx(expected, abs=1)
    assert [f.value for f in health.factors] == pytest.approx(parts, abs=0.01)
    assert f"Group health {expected}/100" in health.summary


def test_sentences_carry_the_numbers():
    sentences = [
        f.sentence
        for f in group_health(social(0.15, 0.12, 0.45, 0.85, 0.08, -0.04), SOCIAL).factors
    ]
    assert sentences == [
        "Retention 0.36: 15% of first-timers came back within their next 2 gatherings "
        "(target 40%) and 12% of attendees came to at least 50% of the gatherings (target 35%).",
        "Connections 0.48: people used a median 45% of their conversation capacity (target 75%) "
        "and 85% of connections were with new faces, above 20%–60%: few relationships are "
        "forming (×0.8).",
        "Follow-ups 0.40: 8% of connections had a follow-up or outcome within 14 days "
        "(target 20%).",
        "Trend 0.17: attendance × median capacity use fell 4.0% a gathering.",
    ]


def test_a_tight_clique_is_marked_down_like_a_crowd_of_strangers():
    clique = group_health(social(0.4, 0.4, 0.75, 0.1, 0.2, 0.0), SOCIAL).factors[1]
    assert clique.value == pytest.approx(0.8)
    assert "closing into cliques" in clique.sentence


# --- missing parts ------------------------------------------------------------------------------


def test_a_part_without_data_is_left_out_and_the_weights_renormalised():
    health = group_health(social(0.38, 0.30, None, None, 0.22, 0.02), SOCIAL)
    retention, connections, follow_ups, trend = health.factors
    assert connections.value is None
    assert health.weights == pytest.approx(
        {"retention": 0.5, "outcomes": 0.15 / 0.7, "trend": 0.2 / 0.7}
    )
    expected = 100 * (0.35 * retention.value + 0.15 * follow_ups.value + 0.2 * trend.value) / 0.7
    assert health.value == pytest.approx(expected)
    assert round(health.value) == 86
    assert "Connections unknown: no connections logged yet." in health.summary


def test_a_business_group_without_outcome_reports_is_not_scored_zero_for_it():
    health = group_health(business(0.5, 0.7, 0.8, 0.25, None, 0.01), CHAPTER)
    assert health.factors[2].value is None
    assert "Outcomes unknown: no leads or referrals reported yet." in health.summary
    assert health.value == pytest.approx(
        100 * (0.25 + 0.15 + 0.15 * health.factors[3].value) / 0.55
    )


def test_retention_rests_on_the_core_share_while_no_first_timer_can_be_followed():
    retention = group_health(business(None, 0.7, 0.8, 0.25, 0.55, 0.0), CHAPTER).factors[0]
    assert retention.value == 1.0
    assert "no first-timer has had 2 more gatherings to come back in yet" in retention.sentence


def test_nothing_to_score_says_so():
    health = group_health(HealthInputs(), SOCIAL)
    assert health.value is None
    assert health.weights == {}
    assert health.summary.startswith("Group health unknown")
    assert "no connections logged yet" in health.summary


def test_out_of_range_inputs_are_refused():
    with pytest.raises(ValueError, match="core_share"):
        HealthInputs(core_share=1.2)
    with pytest.raises(ValueError, match="trend"):
        HealthInputs(trend=math.nan)


# --- measuring the inputs ---------------------------------------------------------------------


def test_theil_sen_recovers_a_line():
    assert theil_sen_slope([1, 3, 5, 7, 9]) == 2
    assert relative_slope([1, 3, 5, 7, 9]) == pytest.approx(2 / 5)


def test_theil_sen_shrugs_off_one_odd_gathering():
    assert theil_sen_slope([1, 3, 5, 70, 9]) == 2
    assert theil_sen_slope([20, 20, 2, 20, 20]) == 0


def test_theil_sen_needs_two_points_and_a_level():
    assert theil_sen_slope([5]) is None
    assert relative_slope([]) is None
    assert relative_slope([0, 0, 0]) is None


def test_first_timer_return_counts_returns_within_the_next_two_gatherings():
    attendance = [
        {"ann", "bob"},  # before the window: both are regulars by the time it starts
        {"ann", "cat", "dan"},  # cat and dan are new
        {"ann", "eve"},  # eve is new; nobody from the last one came
        {"ann", "cat", "fay"},  # cat is back (2nd gathering after); fay new
        {"ann", "fay"},  # fay is back; eve never came back within 2
    ]
    # In the window: cat back, dan not, eve not, fay back; bob never was a first-timer here.
    assert first_timer_return(attendance, start=1, within=2) == pytest.approx(2 / 4)


def test_a_first_timer_who_has_not_had_two_more_gatherings_yet_is_not_counted():
    attendance = [{"ann"}, {"ann", "bob"}, {"ann", "cat"}]
    # bob has had only one later gathering and missed it; cat has had none.
    assert first_timer_return(attendance, start=1) is None
    assert first_timer_return([*attendance, {"cat"}], start=1) == pytest.approx(1 / 2)


def test_core_share_is_people_at_half_the_gatherings_or_more():
    attendance = [{"ann", "bob", "cat"}, {"ann", "bob"}, {"ann", "dan"}, {"ann", "bob", "eve"}]
    # ann 4, bob 3 of 4 (core); cat, dan, eve 1 each
    assert core_share(attendance) == pytest.approx(2 / 5)
    assert core_share([]) is None


def gathering(index, present, **logged):
    return GatheringRecord(
        id=f"g{index}",
        starts_at=START + timedelta(weeks=4 * index),
        present=frozenset(present),
        **logged,
    )


def test_measure_health_from_records():
    people = [f"p{i}" for i in range(12)]
    records = [
        gathering(
            i,
            people[: 6 + i],
            utilization={p: 0.6 for p in people[:4]},
            novelty={p: 0.5 for p in people[:4]},
            outcomes=i,
            follow_ups=(True, False, False, False),
        )
        for i in range(7)
    ]
    as_of = records[-1].starts_at + timedelta(days=1)
    measured = measure_health(records, MIXER, as_of)
    # The window is the last 6 gatherings (90 days holds fewer); gathering 0 only tells who is new.
    assert measured.core_share == pytest.approx(10 / 12)  # p0..p9 came to ≥ 3 of 6
    assert measured.first_timer_return == pytest.approx(1.0)  # everyone new stayed
    assert measured.median_utilization == 0.6
    assert measured.median_novelty == 0.5
    assert measured.outcome_rate == pytest.approx(sum(range(1, 7)) / sum(range(7, 13)))
    # Follow-ups count only for gatherings at least 14 days old: the last one is not.
    assert measured.follow_up_share == pytest.approx(0.25)
    # Attendance × median U grows by 0.6 a gathering from a median level of 0.6 × 9.5.
    assert measured.trend == pytest.approx(1 / 9.5)


def test_a_weekly_group_is_measured_over_90_days():
    records = [gathering(0, {"a"})] + [
        GatheringRecord(
            id=f"w{i}", starts_at=START + timedelta(weeks=i), present=frozenset({"a", f"n{i}"})
        )
        for i in range(1, 20)
    ]
    as_of = records[-1].starts_at
    measured = measure_health(records, SOCIAL, as_of)
    # 13 weekly gatherings fall within 90 days: a core of 1 ("a") among 14 people.
    assert measured.core_share == pytest.approx(1 / 14)


def test_nothing_logged_measures_nothing():
    measured = measure_health([gathering(0, {"a", "b"})], SOCIAL, START)
    assert measured == HealthInputs(core_share=1.0)


# --- properties ---------------------------------------------------------------------------------

shares = st.none() | st.floats(0, 1)
inputs = st.builds(
    HealthInputs,
    first_timer_return=shares,
    core_share=shares,
    median_utilization=shares,
    median_novelty=shares,
    outcome_rate=st.none() | st.floats(0, 50),
    follow_up_share=shares,
    trend=st.none() | st.floats(-1e6, 1e6),
)
groups = st.sampled_from([SOCIAL, CHAPTER, MIXER])


@given(inputs, groups)
def test_health_stays_between_0_and_100(measured, group):
    health = group_health(measured, group)
    assert health.value is None or 0 <= health.value <= 100
    assert health.value is None or sum(health.weights.values()) == pytest.approx(1)
    assert all(f.value is None or 0 <= f.value <= 1 for f in health.factors)


people = st.sampled_from([f"p{i}" for i in range(8)])
records = st.lists(
    st.builds(
        GatheringRecord,
        id=st.uuids().map(str),
        starts_at=st.integers(0, 400).map(lambda days: START + timedelta(days=days)),
        present=st.frozensets(people, min_size=1),
        utilization=st.dictionaries(people, st.floats(0, 1), max_size=4),
        novelty=st.dictionaries(people, st.floats(0, 1), max_size=4),
        outcomes=st.integers(0, 5),
        follow_ups=st.lists(st.booleans(), max_size=4).map(tuple),
    ),
    max_size=12,
)


@given(records, st.randoms(use_true_random=False), groups)
def test_measuring_does_not_depend_on_the_order_records_arrive_in(gatherings, rng, group):
    shuffled = list(gatherings)
    rng.shuffle(shuffled)
    as_of = START + timedelta(days=400)
    assert measure_health(shuffled, group, as_of) == measure_health(gatherings, group, as_of)
    health = group_health(measure_health(gatherings, group, as_of), group)
    assert health.value is None or 0 <= health.value <= 100
