"""Organizer advice: each SCORING.md §5 rule fires on the numbers that should fire it, stays
silent just short of them and when its input is unknown; and the live alerts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring.advice import (
    Action,
    ActionCode,
    GatheringFacts,
    live_alerts,
    organizer_actions,
)
from service.scoring.attendee import AttendeeScore, attendee_score
from service.scoring.settings import GroupFormat, ScoringSettings, Structure, Venue
from service.scoring.settings import defaults_for as defaults
from service.scoring.size import SizeBand, recommended_band

BAR = Venue(floor_area_m2=150, ceiling_height_m=3.0, reverberation_s=0.8)  # N_ac 25.9
SOCIAL = defaults(GroupFormat.SOCIAL)
SOCIAL_BAR = replace(SOCIAL, venue=BAR)
MIXER_BAR = replace(defaults(GroupFormat.BUSINESS), venue=BAR)
CHAPTER = defaults(GroupFormat.BUSINESS, Structure.PLENARY)
BAND = recommended_band(SOCIAL_BAR, 2.0)  # 19–33


def fired(facts: GatheringFacts, settings: ScoringSettings = SOCIAL) -> dict[ActionCode, Action]:
    return {action.code: action for action in organizer_actions(facts, settings)}


def people(
    count: int,
    *,
    head_count: int = 24,
    hours: float = 2.0,
    dwell: float | None = None,
    connections: int | None = None,
    new: int | None = None,
) -> tuple[AttendeeScore, ...]:
    one = attendee_score(
        head_count,
        SOCIAL,
        hours=hours,
        dwell_hours=dwell,
        connections=connections,
        new_connections=new,
    )
    return (one,) * count


def test_nothing_known_beyond_a_comfortable_head_count_fires_nothing() -> None:
    assert organizer_actions(GatheringFacts(head_count=24, hours=2), SOCIAL_BAR) == []


def test_above_acoustic_capacity_cap_split_or_absorb() -> None:
    facts = GatheringFacts(head_count=40, hours=2, show_up_rate=0.6)
    action = organizer_actions(facts, SOCIAL_BAR)[0]
    assert action.code is ActionCode.CAP_OR_SPLIT
    assert dict(action.numbers) == {
        "N_peak": 40,
        "N_ac": 25.9,
        "cap": 26,
        "rooms": 2,
        "lively_cap": 39,
        "invitations": 43,
    }
    assert action.text == (
        "Cap attendance near 26 (up to 39 if your crowd likes it lively), split into 2 rooms of "
        "about 20, or add absorption (curtains, carpet, panels, quieter music): doubling it "
        "doubles the room's capacity to about 52. To get 26, invite about 43: 60% of those "
        "invited come."
    )
    assert action.reason == (
        "The peak of 40 was above the 26 people this room holds in conversation, so people had "
        "to shout to be heard."
    )


def test_a_business_group_gets_no_lively_cap_and_no_invitations_without_a_show_up_rate() -> None:
    action = fired(GatheringFacts(head_count=80, hours=2), MIXER_BAR)[ActionCode.CAP_OR_SPLIT]
    assert dict(action.numbers) == {"N_peak": 80, "N_ac": 25.9, "cap": 26, "rooms": 4}


@pytest.mark.parametrize(
    ("facts", "settings"),
    [
        (GatheringFacts(head_count=25, hours=2), SOCIAL_BAR),
        (GatheringFacts(head_count=40, peak=25, hours=2), SOCIAL_BAR),
        (GatheringFacts(head_count=400, hours=2), SOCIAL),
    ],
    ids=["within capacity", "staggered arrivals", "no venue"],
)
def test_acoustic_rule_stays_silent(facts: GatheringFacts, settings: ScoringSettings) -> None:
    assert ActionCode.CAP_OR_SPLIT not in fired(facts, settings)


def test_first_timers_meeting_few_new_people_get_rotating_tables() -> None:
    first_timers = people(2, connections=4, new=1) + people(1, connections=4, new=2)
    action = fired(GatheringFacts(head_count=24, hours=2, first_timers=first_timers))[
        ActionCode.STRUCTURED_MIXING
    ]
    assert action.reason == (
        "The median first-timer spent only 25% of their conversations on new people "
        "(the floor is 30%)."
    )
    assert "rotating tables of 4, changing every 15–20 minutes" in action.text


@pytest.mark.parametrize(
    "first_timers",
    [people(3, connections=10, new=3), people(3, connections=4), ()],
    ids=["at the floor", "novelty unknown", "no first-timers"],
)
def test_mixing_rule_stays_silent(first_timers: tuple[AttendeeScore, ...]) -> None:
    facts = GatheringFacts(head_count=24, hours=2, first_timers=first_timers)
    assert ActionCode.STRUCTURED_MIXING not in fired(facts)


def test_too_little_open_networking_is_lengthened_to_k_star_over_r() -> None:
    facts = GatheringFacts(head_count=24, hours=1, attendees=people(5, hours=1))
    action = fired(facts)[ActionCode.MORE_TIME]
    assert action.text == (
        "Lengthen open networking to 1 h 30 min or add a 30 min structured round "
        "(about 4.5 more conversations each)."
    )
    assert action.reason == ("The median attendee had time for 4 real conversations, short of 6.")


def test_enough_time_but_few_conversations_asks_for_a_structured_round() -> None:
    facts = GatheringFacts(head_count=24, hours=2, attendees=people(5, connections=3))
    action = fired(facts)[ActionCode.MORE_TIME]
    assert action.text == ("Add a 30 min structured round (about 4.5 more conversations each).")
    assert action.numbers["median_M"] == 3
    assert "median_C" not in action.numbers


@pytest.mark.parametrize(
    "facts",
    [
        GatheringFacts(head_count=24, hours=2, attendees=people(5, connections=6)),
        GatheringFacts(head_count=4, hours=2, attendees=people(3, head_count=4, connections=3)),
        GatheringFacts(head_count=24, hours=1),
    ],
    ids=["six conversations", "everyone met everyone", "no attendee data"],
)
def test_time_rule_stays_silent(facts: GatheringFacts) -> None:
    assert ActionCode.MORE_TIME not in fired(facts)


def test_people_leaving_early_shortens_the_event() -> None:
    leavers = people(3, dwell=1.0) + people(2)
    facts = GatheringFacts(head_count=24, hours=2, scheduled_hours=3, attendees=leavers)
    action = fired(facts)[ActionCode.SHORTEN]
    assert action.text == "Shorten the event to about 1 h."
    assert action.reason == (
        "Half the attendees had left after 1 h of the scheduled 3 h (33%); the rest of the time "
        "is mostly empty."
    )


@pytest.mark.parametrize(
    "attendees",
    [people(3, dwell=1.8) + people(2), people(5), ()],
    ids=["at 60%", "no check-outs", "no attendee data"],
)
def test_shorten_rule_stays_silent(attendees: tuple[AttendeeScore, ...]) -> None:
    facts = GatheringFacts(head_count=24, hours=2, scheduled_hours=3, attendees=attendees)
    assert ActionCode.SHORTEN not in fired(facts)


def test_a_recurring_crowd_too_big_to_re_meet_gets_pods() -> None:
    action = fired(GatheringFacts(head_count=80, hours=2))[ActionCode.PODS]
    assert dict(action.numbers) == {"rho": 0.101, "C": 8, "N": 80, "pods": 3}
    assert action.text == (
        "Run regular pods of 20–30 people, the same ones each time (3 pods for 80), and keep "
        "the full gathering as an occasional event."
    )


@pytest.mark.parametrize(
    ("head_count", "settings"),
    [
        (54, SOCIAL),  # ρ = 8/53 = 0.151
        (80, defaults(GroupFormat.SOCIAL, recurring=False)),
        (80, CHAPTER),
    ],
    ids=["at the floor", "one-off", "plenary"],
)
def test_pods_rule_stays_silent(head_count: int, settings: ScoringSettings) -> None:
    assert ActionCode.PODS not in fired(GatheringFacts(head_count=head_count, hours=2), settings)


@pytest.mark.parametrize(("returned", "fires"), [(0.2, True), (0.25, False), (None, False)])
def test_newcomers_who_do_not_return_get_a_welcome(returned: float | None, fires: bool) -> None:
    facts = GatheringFacts(head_count=24, hours=2, first_timer_return=returned)
    assert (ActionCode.WELCOME_NEWCOMERS in fired(facts)) is fires


def test_welcome_action_wording() -> None:
    action = fired(GatheringFacts(head_count=24, hours=2, first_timer_return=0.2))[
        ActionCode.WELCOME_NEWCOMERS
    ]
    assert action.reason == (
        "Only 20% of first-timers come back within their next 2 gatherings (the floor is 25%)."
    )
    assert "introduce each newcomer to two regulars" in action.text
    assert "within 48 hours" in action.text


@pytest.mark.parametrize(
    ("head_count", "size_advice"),
    [
        (14, ", and grow toward 20–30 members (the meeting fits 60 pitches)"),
        (30, ""),
        (70, ", and keep membership within the 60 pitches the meeting fits"),
    ],
)
def test_a_referral_chapter_below_target_tightens_up(head_count: int, size_advice: str) -> None:
    facts = GatheringFacts(head_count=head_count, hours=0.5, outcome_rate=0.4)
    action = fired(facts, CHAPTER)[ActionCode.REFERRAL_DISCIPLINE]
    assert action.text == f"Meet weekly, allow at most 3 absences in 6 months{size_advice}."
    assert action.reason == (
        "Members receive 0.40 referrals per meeting attended, below the chapter's target of 0.85."
    )


@pytest.mark.parametrize(
    ("rate", "settings"),
    [(0.85, CHAPTER), (None, CHAPTER), (0.05, defaults(GroupFormat.BUSINESS))],
    ids=["at target", "no outcome reports", "a mixer"],
)
def test_referral_rule_stays_silent(rate: float | None, settings: ScoringSettings) -> None:
    facts = GatheringFacts(head_count=14, hours=0.5, outcome_rate=rate)
    assert ActionCode.REFERRAL_DISCIPLINE not in fired(facts, settings)


def test_rules_fire_together_in_scoring_md_order() -> None:
    facts = GatheringFacts(
        head_count=80,
        hours=1,
        scheduled_hours=3,
        attendees=people(3, head_count=80, hours=1, dwell=0.5, connections=2, new=0),
        first_timers=people(2, head_count=80, hours=1, connections=2, new=0),
        first_timer_return=0.1,
    )
    assert [action.code for action in organizer_actions(facts, SOCIAL_BAR)] == [
        ActionCode.CAP_OR_SPLIT,
        ActionCode.STRUCTURED_MIXING,
        ActionCode.MORE_TIME,
        ActionCode.SHORTEN,
        ActionCode.PODS,
        ActionCode.WELCOME_NEWCOMERS,
    ]


attendee_scores = st.builds(
    lambda dwell, connections, new_share: attendee_score(
        40,
        SOCIAL,
        hours=2,
        dwell_hours=dwell,
        connections=connections,
        new_connections=None if connections is None else round(connections * new_share),
    ),
    st.none() | st.floats(0, 3),
    st.none() | st.integers(0, 12),
    st.floats(0, 1),
)


@given(
    attendees=st.lists(attendee_scores, max_size=12),
    first_timers=st.lists(attendee_scores, max_size=6),
    data=st.data(),
)
def test_advice_does_not_depend_on_the_order_attendees_are_listed(
    attendees: list[AttendeeScore], first_timers: list[AttendeeScore], data: st.DataObject
) -> None:
    def facts(people: list[AttendeeScore], newcomers: list[AttendeeScore]) -> GatheringFacts:
        return GatheringFacts(
            head_count=40, hours=2, scheduled_hours=3, attendees=people, first_timers=newcomers
        )

    shuffled = data.draw(st.permutations(attendees))
    shuffled_first = data.draw(st.permutations(first_timers))
    assert organizer_actions(facts(attendees, first_timers), SOCIAL_BAR) == organizer_actions(
        facts(shuffled, shuffled_first), SOCIAL_BAR
    )


def test_live_alert_above_acoustic_capacity_opens_the_second_room() -> None:
    alerts = live_alerts(30, 30, BAND, 25.875)
    assert [(a.code, a.text) for a in alerts] == [
        (ActionCode.ABOVE_ACOUSTIC_CAPACITY, "Above acoustic capacity: open the second room.")
    ]
    assert alerts[0].reason == "30 people are in a room that holds about 26 in conversation."


def test_live_alerts_past_the_band_and_far_past_capacity() -> None:
    alerts = live_alerts(60, 60, BAND, 25.875)
    assert [(a.code, a.text) for a in alerts] == [
        (
            ActionCode.ABOVE_ACOUSTIC_CAPACITY,
            "Above acoustic capacity: spread people over 3 rooms.",
        ),
        (
            ActionCode.ABOVE_SIZE_BAND,
            "Above the recommended size: open the second room or start rotating tables of 4.",
        ),
    ]
    assert alerts[1].reason == "60 have checked in; this group does best with 19–33."


@pytest.mark.parametrize(
    ("head_count", "peak", "band", "n_ac"),
    [
        (25, None, BAND, 25.875),  # within both
        (33, 20, BAND, 25.875),  # many checked in, few at once
        (33, None, BAND, None),  # no venue data
        (100, None, SizeBand(None, None, None, 0, "No head count scores above 0."), None),
    ],
)
def test_no_live_alert(
    head_count: int, peak: int | None, band: SizeBand, n_ac: float | None
) -> None:
    assert live_alerts(head_count, peak, band, n_ac) == []


def test_live_head_count_stands_in_for_an_unknown_peak() -> None:
    assert [a.code for a in live_alerts(34, None, BAND, None)] == [ActionCode.ABOVE_SIZE_BAND]
