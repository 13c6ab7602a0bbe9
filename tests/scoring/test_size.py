"""Gathering-size score: every SCORING.md §1 test vector, the recommended band, and properties
that must hold for any group, room and head count."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scoring.explain import Factor
from service.scoring.settings import GroupFormat, ScoringSettings, Structure, Venue, VenueType
from service.scoring.settings import defaults_for as defaults
from service.scoring.size import acoustic_capacity, recommended_band, size_score

SOCIAL_BAR = replace(
    defaults(GroupFormat.SOCIAL),
    venue=Venue(floor_area_m2=150, ceiling_height_m=3.0, reverberation_s=0.8),
)
BALLROOM = replace(
    defaults(GroupFormat.BUSINESS, recurring=False),
    venue=Venue(floor_area_m2=600, ceiling_height_m=5.0, reverberation_s=1.2),
)
CHAPTER = defaults(GroupFormat.BUSINESS, Structure.PLENARY)


def factor(score_settings: ScoringSettings, n: int, name: str, hours: float = 2.0) -> Factor:
    return next(f for f in size_score(n, score_settings, hours=hours).factors if f.name == name)


# SCORING.md §1 test vectors: (settings, open-networking hours, {N: S_size}).
VECTORS = {
    "recurring social bar": (
        SOCIAL_BAR,
        2.0,
        {20: 86, 26: 93, 40: 70, 60: 44, 80: 29, 120: 14, 160: 6},
    ),
    "same bar, rotating tables": (
        replace(SOCIAL_BAR, structure=Structure.ROTATING_TABLES),
        2.0,
        {40: 78},
    ),
    "one-off business ballroom": (BALLROOM, 1.5, {50: 92, 100: 99, 150: 87, 250: 63, 400: 40}),
    "referral chapter": (CHAPTER, 1.5, {12: 48, 22: 88, 30: 100, 45: 100, 70: 86}),
}


@pytest.mark.parametrize(
    ("group", "hours", "n", "expected"),
    [
        pytest.param(group, hours, n, expected, id=f"{case} {n}->{expected}")
        for case, (group, hours, table) in VECTORS.items()
        for n, expected in table.items()
    ],
)
def test_scoring_md_vectors(group: ScoringSettings, hours: float, n: int, expected: int) -> None:
    assert abs(size_score(n, group, hours=hours).value - expected) <= 1


@pytest.mark.parametrize(("group", "n_ac"), [(SOCIAL_BAR, 25.9), (BALLROOM, 115)])
def test_acoustic_capacity_of_the_vector_rooms(group: ScoringSettings, n_ac: float) -> None:
    assert acoustic_capacity(group) == pytest.approx(n_ac, abs=0.05)


def test_a_bar_without_a_measured_reverberation_uses_the_bar_default() -> None:
    bar = replace(SOCIAL_BAR, venue=Venue(floor_area_m2=150, venue_type=VenueType.BAR))
    assert acoustic_capacity(bar) == pytest.approx(25.9, abs=0.05)


def test_over_capacity_reports_snr_and_capacity_in_inputs_and_sentence() -> None:
    acoustics = factor(SOCIAL_BAR, 40, "acoustics")
    assert acoustics.value == pytest.approx(0.79, abs=0.005)
    assert acoustics.inputs["N_ac"] == 25.9
    assert acoustics.inputs["snr_1m_db"] == -4.9
    assert "1.5× the 26 people" in acoustics.sentence
    assert "-4.9 dB" in acoustics.sentence


def test_within_capacity_acoustics_are_perfect() -> None:
    acoustics = factor(SOCIAL_BAR, 20, "acoustics")
    assert acoustics.value == 1
    assert "about 26 people in conversation" in acoustics.sentence


@pytest.mark.parametrize(
    ("venue", "missing"),
    [
        (Venue(), "the venue's floor area"),
        (Venue(floor_area_m2=150), "the venue's type or its reverberation time"),
    ],
)
def test_unknown_acoustics_say_what_to_add_and_do_not_penalise(venue: Venue, missing: str) -> None:
    acoustics = factor(replace(SOCIAL_BAR, venue=venue), 160, "acoustics")
    assert acoustics.value == 1
    assert acoustics.sentence == f"Acoustics unknown: add {missing}."


def test_peak_concurrency_not_head_count_drives_acoustics() -> None:
    all_at_once = size_score(40, SOCIAL_BAR, hours=2)
    staggered = size_score(40, SOCIAL_BAR, n_peak=25, hours=2)
    assert staggered.value == 89
    assert staggered.value > all_at_once.value


def test_the_overall_sentence_names_what_holds_the_score_back() -> None:
    score = size_score(40, SOCIAL_BAR, hours=2)
    assert score.sentence.startswith("40 people score 70 of 100 for size; held back by acoustics")
    assert "re-meeting (91%)" in score.sentence
    assert [f.name for f in score.factors] == ["pool", "acoustics", "time", "reach"]


def test_nothing_holding_a_score_back_is_said_so() -> None:
    assert size_score(30, CHAPTER, hours=1.5).sentence == (
        "30 people score 100 of 100 for size: nothing holds it back."
    )


def test_pool_sentence_names_the_assumed_share_worth_meeting() -> None:
    assert factor(SOCIAL_BAR, 20, "pool").sentence == (
        "With 20 people, each has a 86% chance that someone here is worth following up "
        "(if 1 in 10 is)."
    )
    assert "(if 1 in 20 is)" in factor(BALLROOM, 50, "pool", 1.5).sentence


def test_time_is_short_with_an_hour_of_open_networking() -> None:
    time = factor(SOCIAL_BAR, 20, "time", hours=1.0)
    assert time.value == pytest.approx(4 / 6)
    assert time.inputs["C"] == 4
    assert time.sentence.startswith("1 h of open networking at about 4 real conversations an hour")


def test_in_a_small_group_time_is_capped_by_the_people_present() -> None:
    time = factor(SOCIAL_BAR, 5, "time")
    assert time.inputs["C"] == 4
    assert time.sentence.startswith("With 5 people, each can talk with at most 4 others")


def test_one_off_gatherings_ignore_re_meeting() -> None:
    reach = factor(BALLROOM, 400, "reach", 1.5)
    assert reach.value == 1
    assert reach.sentence.startswith("A one-off gathering")


def test_plenary_meetings_replace_time_and_reach_with_pitch_time() -> None:
    score = size_score(70, CHAPTER, hours=0)
    assert [f.name for f in score.factors] == ["pool", "acoustics", "plenary"]
    assert score.factors[2].inputs["N_plen"] == 60
    assert score.factors[2].sentence == (
        "A 90-minute meeting with 30 fixed minutes leaves time for 60 pitches of 1 min: "
        "only 86% of 70 can pitch."
    )


@pytest.mark.parametrize(
    ("n", "sentence"),
    [
        (0, "Nobody has checked in, so there is no one to meet. The size score is 0."),
        (1, "Only 1 person has checked in, so there is no one to meet. The size score is 0."),
    ],
)
def test_fewer_than_two_people_score_zero(n: int, sentence: str) -> None:
    for group in (SOCIAL_BAR, CHAPTER):
        score = size_score(n, group, hours=2)
        assert (score.value, score.sentence) == (0, sentence)


def test_no_open_networking_time_scores_zero_with_a_reason() -> None:
    score = size_score(20, SOCIAL_BAR, hours=0)
    assert score.value == 0
    assert score.sentence == (
        "No open-networking time is scheduled, so nobody has time for a real conversation. "
        "The size score is 0."
    )


@pytest.mark.parametrize(
    ("n", "n_peak", "hours"), [(-1, None, 2.0), (10, 11, 2.0), (10, -1, 2.0), (10, None, -1.0)]
)
def test_impossible_inputs_are_rejected(n: int, n_peak: int | None, hours: float) -> None:
    with pytest.raises(ValueError):
        size_score(n, SOCIAL_BAR, n_peak=n_peak, hours=hours)


@pytest.mark.parametrize(
    ("group", "hours", "band"),
    [
        (SOCIAL_BAR, 2.0, (19, 33, 26, 93)),
        (BALLROOM, 1.5, (46, 142, 115, 100)),
        (CHAPTER, 1.5, (23, 66, 25, 100)),
    ],
)
def test_recommended_band(
    group: ScoringSettings, hours: float, band: tuple[int, int, int, int]
) -> None:
    result = recommended_band(group, hours)
    assert (result.low, result.high, result.best, result.best_value) == band


def test_band_sentence() -> None:
    assert recommended_band(SOCIAL_BAR, 2.0).sentence == (
        "For this group, 19–33 people score at least 90% of the best size score; 26 is best (93)."
    )


def test_band_edges_are_where_the_score_crosses_the_band_fraction() -> None:
    def exact(n: int) -> float:
        product = 1.0
        for f in size_score(n, SOCIAL_BAR, hours=2).factors:
            product *= f.value or 0.0
        return product

    best = exact(26)
    assert all(exact(n) >= 0.9 * best for n in range(19, 34))
    assert exact(18) < 0.9 * best
    assert exact(34) < 0.9 * best


def test_a_large_current_head_count_widens_the_scan() -> None:
    hall = replace(
        BALLROOM, venue=Venue(floor_area_m2=5000, ceiling_height_m=5, reverberation_s=1.2)
    )
    assert acoustic_capacity(hall) == pytest.approx(958.3, abs=0.05)
    assert recommended_band(hall, 1.5).high == 500
    widened = recommended_band(hall, 1.5, head_count=400)
    assert widened.best is not None and widened.best > 500
    assert widened.high == 1179


def test_no_band_without_open_networking_time() -> None:
    band = recommended_band(SOCIAL_BAR, 0)
    assert (band.low, band.high, band.best, band.best_value) == (None, None, None, 0)
    assert band.sentence == (
        "No head count scores above 0: no open-networking time is scheduled, so nobody has "
        "time for a real conversation."
    )


venues = st.one_of(
    st.just(Venue()),
    st.builds(
        Venue,
        floor_area_m2=st.floats(1, 5000),
        ceiling_height_m=st.floats(1.5, 12),
        reverberation_s=st.floats(0.1, 5),
    ),
    st.builds(Venue, floor_area_m2=st.floats(1, 5000), venue_type=st.sampled_from(VenueType)),
)
groups = st.builds(
    lambda format, structure, recurring, venue, minutes: replace(
        defaults(format, structure, recurring), venue=venue, plenary_minutes=minutes
    ),
    st.sampled_from(GroupFormat),
    st.sampled_from(Structure),
    st.booleans(),
    venues,
    st.floats(10, 600),
)
hours = st.floats(0, 12)


@given(group=groups, n=st.integers(0, 2000), share=st.floats(0, 1), open_hours=hours)
def test_scores_and_factors_stay_in_range(
    group: ScoringSettings, n: int, share: float, open_hours: float
) -> None:
    score = size_score(n, group, n_peak=round(n * share), hours=open_hours)
    assert 0 <= score.value <= 100
    assert all(f.value is not None and 0 <= f.value <= 1 for f in score.factors)
    assert score.sentence


@given(
    group=groups,
    over=st.floats(1.0, 20),
    more=st.integers(1, 500),
    open_hours=hours,
)
def test_acoustics_never_improve_as_the_crowd_grows_past_capacity(
    group: ScoringSettings, over: float, more: int, open_hours: float
) -> None:
    n_ac = acoustic_capacity(group)
    if n_ac is None:
        return
    first = max(2, int(n_ac * over) + 1)

    def acoustics(n: int) -> tuple[float, float]:
        f = factor(group, n, "acoustics", open_hours)
        return f.value or 0.0, float(f.inputs.get("snr_1m_db", 0.0) or 0.0)

    (before, snr_before), (after, snr_after) = acoustics(first), acoustics(first + more)
    assert after <= before
    assert snr_after <= snr_before


@settings(max_examples=15, deadline=None)
@given(group=groups, open_hours=st.floats(0.25, 6), head_count=st.integers(0, 166))
def test_band_holds_the_best_and_does_not_depend_on_a_head_count_inside_the_scan(
    group: ScoringSettings, open_hours: float, head_count: int
) -> None:
    band = recommended_band(group, open_hours)
    assert band == recommended_band(group, open_hours, head_count=head_count)
    if band.best is not None:
        assert band.low is not None and band.high is not None
        assert band.low <= band.best <= band.high
        assert size_score(band.best, group, hours=open_hours).value == band.best_value
