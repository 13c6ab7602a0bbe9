"""Member standing: every SCORING.md §4 test vector (label, rule and numbers to the precision the
contract states), the explanations each rule gives, and properties that must hold for anyone."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring.settings import GroupFormat, Structure
from service.scoring.settings import defaults_for as defaults
from service.scoring.standing import (
    GroupRecord,
    Member,
    Purpose,
    Rule,
    Standing,
    expected_re_meetings,
    exposure,
    familiar_faces,
    member_standing,
    poisson_cdf,
)

MIXER = defaults(GroupFormat.BUSINESS)
CHAPTER = defaults(GroupFormat.BUSINESS, Structure.PLENARY)
SOCIAL = defaults(GroupFormat.SOCIAL)
# Groups that report outcomes at their target rate: whether they fit is the member's question.
WORKING_MIXER = GroupRecord(outcomes_reported=60, outcome_rate=0.2)
WORKING_CHAPTER = GroupRecord(outcomes_reported=400, outcome_rate=0.85)
MONTHLY_SOCIAL = GroupRecord(head_count=40, others_attendance=0.5)
STAY, GIVE, MOVE_ON = Standing.STAY, Standing.GIVE_IT_TIME, Standing.MOVE_ON


def dan(attended, re_meetings, conversations=6.0, utilization=0.75):
    return Member(
        attended,
        0.9,
        re_meetings,
        utilization=utilization,
        mean_connections=conversations,
    )


def hurried(attended, horizon):
    return Member(attended, 0.9, purpose=Purpose.IMMEDIATE_BUSINESS, horizon=horizon)


def reads(value, stated):
    """`value`, rounded half up to as many places as `stated` has, is `stated`."""
    quantum = Decimal(stated)
    return Decimal(repr(value)).quantize(quantum, ROUND_HALF_UP) == quantum


VECTORS = [
    # group, member, record, standing, rule, {number: as the contract states it}
    (
        MIXER,
        Member(6, 0.9, 0),
        WORKING_MIXER,
        GIVE,
        Rule.UNSETTLED,
        {"benchmark": "0.70", "p": ".50"},
    ),
    (
        MIXER,
        Member(12, 0.9, 0),
        WORKING_MIXER,
        GIVE,
        Rule.UNSETTLED,
        {"benchmark": "1.90", "p": ".15"},
    ),
    (MIXER, Member(12, 0.9, 1), WORKING_MIXER, STAY, Rule.ENOUGH, {"outcomes": "1", "bar": "0.95"}),
    (
        MIXER,
        Member(18, 0.9, 0),
        WORKING_MIXER,
        MOVE_ON,
        Rule.UNLIKELY,
        {"benchmark": "3.10", "p": ".045"},
    ),
    (MIXER, Member(18, 0.9, 1), WORKING_MIXER, GIVE, Rule.UNSETTLED, {"p": ".18"}),
    (CHAPTER, Member(8, 0.9, 0), WORKING_CHAPTER, GIVE, Rule.GRACE, {}),
    (CHAPTER, Member(12, 0.95, 2), WORKING_CHAPTER, STAY, Rule.ENOUGH, {"benchmark": "2.55"}),
    (
        CHAPTER,
        Member(26, 0.95, 3),
        WORKING_CHAPTER,
        MOVE_ON,
        Rule.UNLIKELY,
        {"benchmark": "11.48", "p": ".0034"},
    ),
    (
        CHAPTER,
        Member(26, 0.95, 7),
        WORKING_CHAPTER,
        STAY,
        Rule.ENOUGH,
        {"outcomes": "7", "bar": "5.74"},
    ),
    (CHAPTER, Member(26, 0.6, 3), WORKING_CHAPTER, GIVE, Rule.ATTENDANCE, {}),
    (CHAPTER, Member(40, 0.95, 14), WORKING_CHAPTER, STAY, Rule.ENOUGH, {"benchmark": "23.38"}),
    (
        SOCIAL,
        dan(9, 2),
        MONTHLY_SOCIAL,
        MOVE_ON,
        Rule.UNLIKELY,
        {"expected": "15.69", "benchmark": "7.85", "p": ".016"},
    ),
    (
        SOCIAL,
        dan(6, 4),
        MONTHLY_SOCIAL,
        STAY,
        Rule.ENOUGH,
        {"expected": "6.92", "benchmark": "3.46"},
    ),
    (
        SOCIAL,
        dan(6, 1, conversations=2, utilization=0.25),
        MONTHLY_SOCIAL,
        GIVE,
        Rule.UTILIZATION,
        {},
    ),
    *(
        (MIXER, hurried(n, 1), GroupRecord(60, 0.3), MOVE_ON, Rule.PURPOSE, {"q": ".26"})
        for n in (1, 6, 18)
    ),
]
IDS = [
    "mixer n6 0 leads",
    "mixer n12 0 leads",
    "mixer n12 1 lead",
    "mixer n18 0 leads",
    "mixer n18 1 lead",
    "chapter n8 grace",
    "chapter n12 2 referrals",
    "chapter n26 3 referrals",
    "chapter n26 7 referrals",
    "chapter n26 attendance 60%",
    "chapter n40 14 referrals",
    "social n9 2 re-meetings",
    "social n6 4 re-meetings",
    "social M̄ 2 engage more",
    *(f"immediate λ .3 h1 n{n}" for n in (1, 6, 18)),
]


@pytest.mark.parametrize(
    ("group", "member", "record", "standing", "rule", "numbers"), VECTORS, ids=IDS
)
def test_contract_vectors(group, member, record, standing, rule, numbers):
    result = member_standing(member, record, group)
    assert (result.standing, result.rule) == (standing, rule)
    for name, stated in numbers.items():
        assert reads(getattr(result.numbers, name), stated), (name, getattr(result.numbers, name))


@pytest.mark.parametrize("attended", [1, 12, 26, 40])
def test_a_base_rate_that_can_deliver_in_time_does_not_override(attended):
    member = Member(attended, 0.95, 5, purpose=Purpose.IMMEDIATE_BUSINESS, horizon=3)
    result = member_standing(member, WORKING_CHAPTER, CHAPTER)
    assert reads(result.numbers.q, ".92")
    unhurried = member_standing(
        replace(member, purpose=Purpose.BUILD_RELATIONSHIPS), WORKING_CHAPTER, CHAPTER
    )
    assert (result.standing, result.rule) == (unhurried.standing, unhurried.rule)
    assert result.rule is not Rule.PURPOSE


def test_the_vectors_numbers_are_the_ones_the_member_reads():
    result = member_standing(Member(26, 0.95, 3), WORKING_CHAPTER, CHAPTER)
    assert result.sentences[:2] == (
        "3 leads or referrals in 26 attendances, where the target rate of 0.85 per attendance "
        "gives 11.48, ramping up over your first 26.",
        "So few would happen 0.34% of the time if the group were working for you.",
    )
    assert result.label == "TIME TO MOVE ON"
    stay = member_standing(Member(12, 0.9, 1), WORKING_MIXER, MIXER)
    assert stay.sentences[0].endswith(": 1 ≥ 0.95, half of that.")


# --- the explanations -------------------------------------------------------------------------


def test_moving_on_from_a_group_that_produces_little_business_for_anyone():
    result = member_standing(Member(18, 0.9, 0), GroupRecord(12, 0.05), MIXER)
    assert result.standing is MOVE_ON
    assert result.sentences[-1] == (
        "This group produces little business for anyone: members past the ramp get 0.05 leads "
        "or referrals per attendance against the target of 0.20."
    )


def test_moving_on_from_a_group_where_others_get_business_is_a_fit_problem():
    result = member_standing(Member(18, 0.9, 0), GroupRecord(90, 0.3), MIXER)
    assert result.standing is MOVE_ON
    assert result.sentences[-1].startswith("Others get business here and you do not")
    assert "introductions" in result.sentences[-1]
    assert "groups closer to them" in result.sentences[-1]


def test_giving_it_time_says_how_many_more_attendances_would_settle_it():
    result = member_standing(Member(18, 0.9, 1), WORKING_MIXER, MIXER)
    assert result.numbers.settle_in == 4
    assert result.sentences[-1] == (
        "If the next 4 bring no more leads or referrals, it will be time to move on; "
        "1 more lead or referral now would clear the bar of 1.55."
    )
    # Four more without one: rule 5 fires; three more: still open.
    assert member_standing(Member(22, 0.9, 1), WORKING_MIXER, MIXER).standing is MOVE_ON
    assert member_standing(Member(21, 0.9, 1), WORKING_MIXER, MIXER).standing is GIVE


def test_the_grace_period_says_how_long_it_lasts():
    result = member_standing(Member(8, 0.9, 0), WORKING_CHAPTER, CHAPTER)
    assert result.sentences == (
        "8 attendances so far and this group's grace period is 12: judge it after 4 more.",
    )


def test_a_business_group_without_outcome_reports_never_says_move_on():
    result = member_standing(Member(18, 0.9, 0), GroupRecord(), MIXER)
    assert (result.standing, result.rule) == (GIVE, Rule.NO_REPORTS)
    assert "the group needs outcome reports" in result.sentences[0]
    assert reads(result.numbers.p, ".045")  # the numbers would have said move on


def test_no_reports_also_holds_back_the_immediate_business_override():
    result = member_standing(hurried(5, 1), GroupRecord(), MIXER)
    assert (result.standing, result.rule) == (GIVE, Rule.NO_REPORTS)
    assert result.sentences[1] == (
        "At the target rate of 0.20 leads or referrals per attendance (no measured rate yet), "
        "the chance of business within your 1 gathering would be 18%."
    )


def test_a_social_group_without_logged_connections_is_estimated_from_co_presence():
    member = Member(9, 0.9, familiar_faces=3)
    result = member_standing(member, MONTHLY_SOCIAL, SOCIAL)
    assert result.estimated
    assert result.label == "TIME TO MOVE ON (estimated)"
    assert result.numbers.outcomes == 3
    assert reads(result.numbers.expected, "15.69")  # k* = 6 conversations stands in for M̄
    assert result.sentences[-1].startswith("Estimated: no conversations are logged")
    regular = member_standing(replace(member, familiar_faces=12), MONTHLY_SOCIAL, SOCIAL)
    assert (regular.label, regular.rule) == ("STAY (estimated)", Rule.ENOUGH)


def test_a_social_standing_needs_connections_or_co_presence():
    with pytest.raises(ValueError, match="familiar_faces"):
        member_standing(Member(9, 0.9), MONTHLY_SOCIAL, SOCIAL)


def test_familiar_faces_counts_others_at_three_or_more_shared_gatherings():
    attendance = [
        {"me", "ann", "bob"},
        {"me", "ann"},
        {"ann", "bob"},
        {"me", "ann", "bob"},
        {"me", "cat"},
    ]
    assert familiar_faces("me", attendance) == 1  # ann 3 shared; bob 2 (one without me); cat 1
    assert familiar_faces("me", attendance, min_shared=2) == 2


def test_members_are_validated():
    with pytest.raises(ValueError, match="one attendance"):
        Member(0, 1.0)
    with pytest.raises(ValueError, match="horizon"):
        Member(3, 1.0, purpose=Purpose.IMMEDIATE_BUSINESS)
    with pytest.raises(ValueError, match="shares"):
        Member(3, 1.5)


# --- the pieces ---------------------------------------------------------------------------------


@given(st.integers(1, 300), st.integers(1, 60))
def test_exposure_is_the_ramp_discounted_sum(attended, ramp):
    assert exposure(attended, ramp) == pytest.approx(
        math.fsum(min(1, k / ramp) for k in range(1, attended + 1))
    )


def test_expected_re_meetings_is_the_random_mixing_sum():
    direct = sum(6 * 0.5 * min(1, (k - 1) * 6 / 39) for k in range(2, 10))
    assert expected_re_meetings(9, 6, 0.5, 40) == pytest.approx(direct)
    assert expected_re_meetings(1, 6, 0.5, 40) == 0


def test_poisson_cdf():
    assert poisson_cdf(0, 0.7) == pytest.approx(math.exp(-0.7))
    assert poisson_cdf(1, 3.1) == pytest.approx(math.exp(-3.1) * 4.1)
    assert poisson_cdf(3, 0) == 1
    # e^-900 underflows to 0 in floating point; the log-space sum does not.
    assert 0 < poisson_cdf(800, 900) < 0.001
    assert poisson_cdf(900, 900) == pytest.approx(0.5089, abs=0.001)


# --- properties ---------------------------------------------------------------------------------

business_groups = st.builds(
    replace,
    st.sampled_from([MIXER, CHAPTER]),
    target_rate=st.floats(0.01, 5),
    ramp_gatherings=st.integers(1, 52),
    grace_gatherings=st.integers(0, 20),
)
members = st.builds(
    Member,
    attended=st.integers(1, 200),
    attendance_rate=st.floats(0, 1),
    utilization=st.none() | st.floats(0, 1),
    purpose=st.sampled_from(Purpose),
    horizon=st.integers(1, 24),
)


@given(members, business_groups, st.none() | st.floats(0, 5))
def test_no_move_on_without_outcome_data_in_a_business_group(member, group, rate):
    result = member_standing(member, GroupRecord(outcome_rate=rate), group)
    assert result.standing is not MOVE_ON
    assert result.numbers.outcomes == 0


@given(members, business_groups, st.integers(0, 60), st.floats(0, 5))
def test_another_outcome_never_makes_a_standing_worse(member, group, outcomes, rate):
    record = GroupRecord(outcomes_reported=1000, outcome_rate=rate)
    rank = {MOVE_ON: 0, GIVE: 1, STAY: 2}
    before = member_standing(replace(member, outcomes=outcomes), record, group)
    after = member_standing(replace(member, outcomes=outcomes + 1), record, group)
    assert rank[after.standing] >= rank[before.standing]


attendance_rows = st.lists(
    st.frozensets(st.sampled_from(["me", "a", "b", "c", "d"]), min_size=1), max_size=15
)


@given(attendance_rows, st.randoms(use_true_random=False))
def test_co_presence_does_not_depend_on_the_order_rows_arrive_in(rows, rng):
    shuffled = list(rows)
    rng.shuffle(shuffled)
    assert familiar_faces("me", shuffled) == familiar_faces("me", rows)
