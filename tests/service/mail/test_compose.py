"""Composing the three emails from plain data: numbers, sentences and edge cases, no database."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from service.mail import compose, render
from service.mail.charts import HealthPoint, Stay
from service.mail.compose import (
    DigestInput,
    GatheringInfo,
    GroupWeekInput,
    HealthInput,
    HeldGathering,
    PersonCard,
    RecapInput,
    RecapLinks,
    ScoreInput,
    StandingInput,
    SummaryInput,
    UpcomingGathering,
)

START = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
INFO = GatheringInfo(
    id=1,
    name="Thursday Mixer",
    starts_at=START,
    ends_at=START + timedelta(hours=2),
    group_id=7,
    group_name="Mixers",
    organizer_name="Breakfast & Co",
    timezone="Europe/Berlin",
)
LINKS = RecapLinks(
    page="https://r.test/me/t",
    lead="https://r.test/me/t/outcome?kind=lead",
    referral="https://r.test/me/t/outcome?kind=referral",
    talked="https://r.test/me/t/talked",
    leave="https://r.test/me/t/leave",
)
ADA = PersonCard(1, "Ada Lovelace", "Analytical Engines")
BEN = PersonCard(2, "Ben <b>Bold</b>", "")


def score(**data):
    base = {
        "sentence": "A good size for this room.",
        "head_count": 3,
        "peak": 3,
        "band": {"low": 10, "high": 30, "best": 20, "best_value": 90, "sentence": "10–30."},
        "factors": [
            {"name": "pool", "value": 0.9, "sentence": "Someone worth meeting is likely here."},
            {"name": "time", "value": 1.0, "sentence": "Time for 8 conversations each."},
        ],
        "actions": [
            {"code": "more_time", "text": "Lengthen.", "reason": "Short.", "numbers": {}},
            {"code": "pods", "text": "Pods.", "reason": "Big.", "numbers": {}},
            {"code": "shorten", "text": "Shorten.", "reason": "Empty.", "numbers": {}},
            {"code": "cap_or_split", "text": "Cap.", "reason": "Loud.", "numbers": {}},
        ],
        "acoustic_capacity": 25.9,
        "first_timers": [3],
        "attendees": {
            "1": {"capacity": 8.0, "connections": 6, "utilization": 0.75, "new_connections": 2},
            "2": {"capacity": 8.0, "connections": None, "utilization": None},
        },
    }
    return ScoreInput(64, {**base, **data})


def stays(*minutes):
    return tuple(Stay(START + timedelta(minutes=m)) for m in minutes)


def standing(
    person, label="STAY", changed=START + timedelta(hours=1), attended=4, previous="give_it_time"
):
    return StandingInput(
        person,
        label.lower().replace(" ", "_"),
        label,
        ("You got 3 leads in 4 attendances.",),
        changed,
        attended,
        previous,
    )


# --- gathering summary ---


def test_summary_compares_the_head_count_with_the_band_and_explains_the_score():
    summary = compose.gathering_summary(
        SummaryInput(INFO, score(), stays(3, 10, 40), registered=5, first_gathering=False)
    )
    assert summary.head_count == 3
    assert summary.head_count_sentence == (
        "3 people checked in of 5 registered, below the recommended 10–30 (best 20)."
    )
    assert summary.score == 64
    assert summary.score_sentence == "Size score 64/100. A good size for this room."
    assert summary.reasons == (
        "Someone worth meeting is likely here.",
        "Time for 8 conversations each.",
    )
    assert [a.text for a in summary.actions] == ["Lengthen.", "Pods.", "Shorten.", "Cap."]
    # Clock times in the organizer's zone (Berlin is UTC+1 in March).
    assert summary.when == "Thu 5 Mar 2026, 19:00"
    assert summary.arrivals.sentence == (
        "Check-ins ran from 19:03 to 19:40; half had arrived by 19:10."
    )
    assert summary.arrivals.band == (10, 30)
    assert summary.arrivals.capacity == 26
    assert (summary.first_timers, summary.returning) == (1, 2)
    assert summary.newcomers_sentence == "1 first-timer and 2 returning (67% returning)."


def test_summary_names_standing_changes_and_counts_who_left():
    changes = (standing(BEN, "TIME TO MOVE ON"), standing(ADA))
    summary = compose.gathering_summary(
        SummaryInput(INFO, score(), stays(0, 5), 0, False, changes, leaves=2)
    )
    assert [(c.name, c.previous_label, c.label) for c in summary.standing_changes] == [
        ("Ada Lovelace", "GIVE IT TIME", "STAY"),
        ("Ben <b>Bold</b>", "GIVE IT TIME", "TIME TO MOVE ON"),
    ]
    assert summary.standing_sentence == (
        "2 members' standings changed since the previous gathering:"
    )
    assert summary.leaves_sentence == (
        '2 members said "this group is not for me" since the previous gathering.'
    )


def test_summary_of_a_gathering_not_scored_yet():
    summary = compose.gathering_summary(SummaryInput(INFO, None, stays(1), 0, False))
    assert summary.score is None
    assert summary.score_sentence == "This gathering has not been scored yet."
    assert summary.reasons == () and summary.actions == ()
    assert summary.first_timers is None
    assert summary.newcomers_sentence == "First-timers are counted once the gathering is scored."
    assert "no recommended size yet" in summary.head_count_sentence
    assert summary.arrivals.band is None


def test_summary_of_a_groups_first_gathering():
    summary = compose.gathering_summary(
        SummaryInput(INFO, score(first_timers=[1, 2]), stays(0, 1), 0, first_gathering=True)
    )
    assert summary.newcomers_sentence == (
        "This was the group's first gathering: all 2 were first-timers."
    )
    assert summary.standing_sentence.startswith("Standings start with this first gathering")
    assert summary.leaves_sentence == 'Nobody said "this group is not for me" so far.'


def test_summary_of_a_gathering_nobody_came_to():
    summary = compose.gathering_summary(SummaryInput(INFO, None, (), 4, False))
    assert summary.head_count == 0
    assert summary.head_count_sentence == "Nobody checked in of 4 registered."
    assert summary.arrivals.sentence == "Nobody checked in, so there are no arrivals to show."
    assert summary.newcomers_sentence == "Nobody checked in."
    # It still renders, with no chart.
    rendered = render.render("gathering_summary", summary, "https://r.test/u/x")
    assert "Nobody checked in" in rendered.text and "cid:" not in rendered.html


# --- weekly digest ---

PERIOD_END = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
PERIOD_START = PERIOD_END - timedelta(days=7)


def held(index, present, registered=0, came=0, score=None, actions=()):
    return HeldGathering(
        id=100 + index,
        name=f"Mixer {index}",
        starts_at=PERIOD_END - timedelta(days=7 * (9 - index), hours=-11),
        present=frozenset(present),
        registered=registered,
        registered_present=came,
        score=score,
        actions=tuple(actions),
    )


def week(gatherings, upcoming=None, health=None, left=frozenset(), people=None):
    group = GroupWeekInput(
        group_id=7,
        name="Mixers",
        health=health,
        gatherings=tuple(gatherings),
        next_gathering=upcoming,
        people=people or {p.id: p for p in (ADA, BEN)},
        left=left,
    )
    return compose.weekly_digest(
        DigestInput("Breakfast & Co", "Europe/Berlin", PERIOD_START, PERIOD_END, (group,))
    )


def test_retention_is_the_share_of_the_previous_gatherings_people_who_came_back():
    digest = week([held(1, {1, 2, 3, 4}), held(2, {1, 2, 5}), held(8, {1, 5, 6}, score=70)])
    [group] = digest.groups
    retention = group.retention
    assert retention is not None
    assert (retention.base, retention.came_back, retention.share) == (3, 2, 2 / 3)
    assert group.retention_sentence == "2 of the 3 people at Mixer 2 came back to Mixer 8 (67%)."
    # Only Mixer 8 was held in the period.
    assert [(line.name, line.head_count, line.score) for line in group.gatherings] == [
        ("Mixer 8", 3, 70)
    ]


def test_regulars_going_quiet_are_named_never_by_email():
    # Ada (1) came to 3 of the earlier gatherings and to neither of the last two; Ben (2) to 2.
    gatherings = [
        held(1, {1, 2, 9}),
        held(2, {1, 9}),
        held(3, {1, 2, 9}),
        held(4, {9}),
        held(5, {9}),
    ]
    [group] = week(gatherings).groups
    assert [p.name for p in group.quiet] == ["Ada Lovelace"]
    assert group.quiet_sentence == (
        "1 regular came to at least 3 of the earlier gatherings but to none of the last 2:"
    )
    assert "email" not in {f.name for f in fields(PersonCard)}
    # Someone who said "not for me" is not listed again.
    [group] = week(gatherings, left=frozenset({1})).groups
    assert group.quiet == ()
    assert group.quiet_sentence == "No regulars have gone quiet."


def test_expected_turnout_uses_registrations_times_the_measured_show_up_rate():
    gatherings = [held(1, {1, 2, 3}, registered=4, came=3), held(2, {1, 2}, registered=4, came=1)]
    upcoming = UpcomingGathering(200, "Mixer 10", PERIOD_END + timedelta(days=3), registered=20)
    [group] = week(gatherings, upcoming).groups
    assert group.turnout is not None
    assert group.turnout.expected == 10  # 20 × 4/8
    assert "20 registered, and 50% of those registered for recent gatherings came" in (
        group.turnout_sentence
    )


def test_expected_turnout_falls_back_to_the_recent_median_without_registrations():
    gatherings = [held(1, {1, 2, 3}), held(2, {1, 2, 3, 4, 5}), held(3, {1})]
    upcoming = UpcomingGathering(200, "Mixer 10", PERIOD_END + timedelta(days=3), registered=0)
    [group] = week(gatherings, upcoming).groups
    assert group.turnout is not None and group.turnout.expected == 3
    assert "the median of the last 3 gatherings (no registrations yet)" in group.turnout_sentence
    [group] = week(gatherings, None).groups
    assert group.turnout is None
    assert group.turnout_sentence == "No next gathering is scheduled yet."


def test_top_three_actions_come_from_the_latest_scored_gathering():
    older = compose.actions_of(score().data)
    latest = older[1:]
    [group] = week(
        [
            held(1, {1}, score=50, actions=older),
            held(2, {1}, score=60, actions=latest),
            held(3, {1}),
        ]
    ).groups
    assert [a.code for a in group.actions] == ["pods", "shorten", "cap_or_split"]


def test_health_and_its_trend():
    history = (HealthPoint(PERIOD_START.date(), 61.0), HealthPoint(PERIOD_END.date(), 72.4))
    health = HealthInput(72.4, "Working well.", "attendance grew 2.0% a gathering", history)
    [group] = week([held(1, {1})], health=health).groups
    assert group.health_sentence == "Health 72/100. Working well."
    assert group.trend_sentence == (
        "Health after each of the last 2 gatherings, recomputed from today's records, rose "
        "from 61 to 72. Trend: attendance grew 2.0% a gathering"
    )
    # The model's own sentences often state the value and say "Trend" already: once is enough.
    stated = HealthInput(72.4, "Group health 72/100 (weights …).", "Trend 0.65: grew", history)
    [group] = week([held(1, {1})], health=stated).groups
    assert group.health_sentence == "Group health 72/100 (weights …)."
    assert group.trend_sentence.endswith("rose from 61 to 72. Trend 0.65: grew")
    [group] = week([held(1, {1})]).groups
    assert group.health_sentence.startswith("Not scored yet")
    assert group.trend_sentence.startswith("The chart starts once")


def test_digest_of_a_group_with_nothing_held_yet():
    upcoming = UpcomingGathering(200, "First ever", PERIOD_END + timedelta(days=3), registered=0)
    digest = week([], upcoming)
    [group] = digest.groups
    assert group.retention is None and group.quiet == () and group.turnout is None
    assert group.turnout_sentence == "No gathering has been held yet."
    assert digest.period == "9 Mar to 16 Mar"
    rendered = render.render("weekly_digest", digest, "https://r.test/u/x")
    assert "Mixers" in rendered.text and "Mixers" in rendered.html


# --- attendee recap ---


def recap(**changes):
    facts = RecapInput(
        gathering=INFO,
        person=ADA,
        figures=score().figures(1),
        connections=(BEN,),
        standing=standing(ADA),
        links=LINKS,
    )
    return compose.attendee_recap(facts.__class__(**{**facts.__dict__, **changes}))


def test_recap_shows_connections_capacity_standing_and_answers():
    view = recap()
    assert view.greeting == "Hello Ada Lovelace,"
    assert view.connections == (BEN,)
    assert view.connections_sentence == "You connected with 1 person:"
    assert view.capacity_sentence == (
        "You used 75% of your conversation capacity: 6 confirmed connections, where you had "
        "time for about 8 real conversations."
    )
    assert view.standing_label == "STAY"
    assert view.standing_sentence == "Your standing in Mixers: STAY."
    assert view.standing_reasons == ("You got 3 leads in 4 attendances.",)
    assert len(view.etiquette) == 3
    assert any("48 hours" in line for line in view.etiquette)

    rendered = render.render("attendee_recap", view, "https://r.test/u/x")
    for url in (LINKS.lead, LINKS.referral, LINKS.talked, LINKS.leave, LINKS.page):
        assert url in rendered.text
        assert url.replace("&", "&amp;") in rendered.html
    # HTML is escaped; plain text is not HTML.
    assert "Ben &lt;b&gt;Bold&lt;/b&gt;" in rendered.html
    assert "<b>Bold</b>" not in rendered.html
    assert "Ben <b>Bold</b>" in rendered.text
    assert "<script" not in rendered.html


def test_recap_without_connections_score_or_standing():
    view = recap(connections=(), figures=None, standing=None)
    assert view.connections_sentence.startswith("No confirmed connections are recorded for you")
    assert (
        view.capacity_sentence == "Your conversation figures appear once the gathering is scored."
    )
    assert view.standing_sentence == "Your standing in Mixers appears once the group is scored."
    assert view.standing_label is None


def test_recap_where_conversations_were_not_logged():
    view = recap(figures=score().figures(2))
    assert view.capacity_sentence == (
        "Conversations were not logged at this gathering; you had time for about 8 real "
        "conversations."
    )


def test_recap_of_a_gathering_outside_any_group_offers_no_leave_link():
    outside = GatheringInfo(2, "One-off", START, None, None, None, "Org")
    view = recap(
        gathering=outside, standing=None, links=LINKS.__class__(**{**LINKS.__dict__, "leave": None})
    )
    assert view.standing_sentence.startswith("This gathering is not part of a group")
    rendered = render.render("attendee_recap", view, "https://r.test/u/x")
    assert "not for me" not in rendered.text and "not for me" not in rendered.html
