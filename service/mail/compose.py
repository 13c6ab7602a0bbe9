"""What each email says: plain data in, a view model out, one function per email.

The loaders (`service.digests`) read the database into the frozen dataclasses below; the
functions here turn them into the numbers and sentences an email shows, and the templates
(`service/templates/email/<kind>/`) only lay them out. Nothing here touches the database, Flask
or Celery, so every sentence is tested on plain values.

A person appears in these inputs as a `PersonCard` (id, name, company) and never with an email
address: an attendee's recap can only show fellow attendees by name, because the address is not
there to show.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from service.mail.charts import HealthPoint, Stay
from service.scoring.standing import Standing

# Regulars going quiet: at least REGULAR_MIN of the REGULAR_WINDOW gatherings before the
# last QUIET_AFTER, and none of those last QUIET_AFTER.
REGULAR_WINDOW = 6
REGULAR_MIN = 3
QUIET_AFTER = 2
# The gatherings whose registrations and check-ins measure the show-up rate.
SHOW_UP_WINDOW = 6
TOP_ACTIONS = 3

# In the spirit of seed/social-vs-business-networking.txt: business etiquette at every
# gathering, whatever its format; the person you chat with may be your next client.
ETIQUETTE = (
    "Follow up within 48 hours with the people you met, while the conversation is fresh.",
    "Give before you ask: an introduction or a useful contact builds more trust than a pitch, "
    "and listen more than you talk about yourself.",
    "Social or business, keep to business etiquette: the person you shared a drink with could "
    "be your next client.",
)


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonCard:
    """A person as an email may name them: never with an email address."""

    id: int
    name: str
    company: str = ""

    @property
    def display_name(self) -> str:
        return self.name or "Someone without a name on record"


@dataclass(frozen=True)
class GatheringInfo:
    id: int
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    group_id: int | None
    group_name: str | None
    organizer_name: str
    timezone: str = "UTC"  # the organizer's, for dates and clock times

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ScoreInput:
    """A gathering's score snapshot: its value and stored data (`service.rescoring`)."""

    value: int
    data: Mapping[str, Any]

    def figures(self, person_id: int) -> Mapping[str, Any] | None:
        """The attendee figures of SCORING.md §2 for one person (capacity, connections, …)."""
        attendees: Mapping[str, Any] = self.data.get("attendees", {})
        return attendees.get(str(person_id))


@dataclass(frozen=True)
class StandingInput:
    """A member's latest standing (`MemberStandingSnapshot`) and the one before its last change."""

    person: PersonCard
    standing: str
    label: str
    sentences: tuple[str, ...]
    changed_at: datetime
    attended: int = 0  # gatherings of the group attended
    previous: str | None = None  # None: the standing has not changed since it was first given


@dataclass(frozen=True)
class SummaryInput:
    """A gathering as its organizer summary needs it.

    `standing_changes` and `leaves` cover the window since the group's previous gathering
    (see `service.digests.summary_input`); `first_gathering` is True when the group had none.
    """

    gathering: GatheringInfo
    score: ScoreInput | None
    stays: tuple[Stay, ...]  # everyone checked in, reverted check-ins excluded
    registered: int
    first_gathering: bool
    standing_changes: tuple[StandingInput, ...] = ()
    leaves: int = 0


@dataclass(frozen=True)
class HeldGathering:
    """One past gathering of a group, for the digest."""

    id: int
    name: str
    starts_at: datetime
    present: frozenset[int]  # checked in
    registered: int  # attendance rows with a registration
    registered_present: int  # of those, how many checked in
    score: int | None = None
    actions: tuple[ActionView, ...] = ()


@dataclass(frozen=True)
class UpcomingGathering:
    id: int
    name: str
    starts_at: datetime
    registered: int


@dataclass(frozen=True)
class HealthInput:
    """A group's latest health snapshot and its health as of each recent gathering."""

    value: float | None
    summary: str
    trend: str | None  # the trend factor's sentence, when it has one
    history: tuple[HealthPoint, ...] = ()


@dataclass(frozen=True)
class GroupWeekInput:
    """One group for the weekly digest. `gatherings` are its gatherings started before the
    period's end, oldest first, as far back as the digest looks; `people` names everyone in
    them; `left` are those who said "not for me"."""

    group_id: int
    name: str
    health: HealthInput | None
    gatherings: tuple[HeldGathering, ...]
    next_gathering: UpcomingGathering | None
    people: Mapping[int, PersonCard] = field(default_factory=dict)
    left: frozenset[int] = frozenset()


@dataclass(frozen=True)
class DigestInput:
    organizer_name: str
    timezone: str
    period_start: datetime
    period_end: datetime
    groups: tuple[GroupWeekInput, ...]


@dataclass(frozen=True)
class RecapLinks:
    """The signed one-click answers (`service.mail.links`), made by the builder."""

    page: str
    lead: str
    referral: str
    talked: str
    leave: str | None  # None for a gathering outside any group: there is nothing to leave


@dataclass(frozen=True)
class RecapInput:
    gathering: GatheringInfo
    person: PersonCard
    figures: Mapping[str, Any] | None  # from the score snapshot; None until scored
    connections: tuple[PersonCard, ...]  # confirmed, both checked in
    standing: StandingInput | None
    links: RecapLinks


# --- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionView:
    code: str
    text: str
    reason: str


@dataclass(frozen=True)
class StandingView:
    name: str
    company: str
    label: str
    reasons: tuple[str, ...]
    previous_label: str = ""  # as members read it, e.g. GIVE IT TIME


@dataclass(frozen=True)
class ArrivalsView:
    """What the arrivals chart is drawn from (`charts.arrivals_chart`), and a sentence for
    readers who see no image."""

    stays: tuple[Stay, ...]
    start: datetime | None
    end: datetime | None
    band: tuple[int, int] | None
    capacity: int | None
    sentence: str


@dataclass(frozen=True)
class GatheringSummary:
    subject: str
    gathering: str
    group: str | None
    when: str
    head_count: int
    head_count_sentence: str
    score: int | None
    score_sentence: str
    reasons: tuple[str, ...]
    actions: tuple[ActionView, ...]
    arrivals: ArrivalsView
    tz: tzinfo
    first_timers: int | None
    returning: int | None
    newcomers_sentence: str
    standing_changes: tuple[StandingView, ...]
    standing_sentence: str
    leaves: int
    leaves_sentence: str
    why: str


@dataclass(frozen=True)
class Retention:
    """Of the people at the group's previous gathering, how many came to its latest."""

    previous: str
    latest: str
    base: int
    came_back: int

    @property
    def share(self) -> float:
        return self.came_back / self.base


@dataclass(frozen=True)
class Turnout:
    gathering_id: int
    gathering: str
    starts_at: datetime
    when: str
    registered: int
    expected: int
    sentence: str


@dataclass(frozen=True)
class GatheringLine:
    id: int
    name: str
    starts_at: datetime
    when: str
    head_count: int
    score: int | None


@dataclass(frozen=True)
class GroupWeek:
    group_id: int
    name: str
    health: float | None
    health_sentence: str
    trend_sentence: str
    history: tuple[HealthPoint, ...]
    gatherings: tuple[GatheringLine, ...]  # held in the period
    retention: Retention | None
    retention_sentence: str
    quiet: tuple[PersonCard, ...]
    quiet_sentence: str
    turnout: Turnout | None
    turnout_sentence: str
    actions: tuple[ActionView, ...]


@dataclass(frozen=True)
class WeeklyDigest:
    subject: str
    period: str
    groups: tuple[GroupWeek, ...]
    why: str


@dataclass(frozen=True)
class AttendeeRecap:
    subject: str
    greeting: str
    gathering: str
    group: str | None
    when: str
    connections: tuple[PersonCard, ...]
    connections_sentence: str
    capacity: float | None
    connections_made: int | None
    utilization: float | None
    capacity_sentence: str
    standing_label: str | None
    standing_reasons: tuple[str, ...]
    standing_sentence: str
    links: RecapLinks
    etiquette: tuple[str, ...]
    why: str


# --- organizer gathering summary ---------------------------------------------------------------


def gathering_summary(facts: SummaryInput) -> GatheringSummary:
    """The organizer's summary of one gathering: head count against the recommended band, the
    size score with its reasons and actions, arrivals, first-timers and returning members,
    standing changes and "not for me" answers since the previous gathering."""
    info, score = facts.gathering, facts.score
    head_count = len(facts.stays)
    data: Mapping[str, Any] = score.data if score else {}
    band = _band(data.get("band"))
    first_timers = len(data["first_timers"]) if score and "first_timers" in data else None
    if score is None:
        score_sentence = "This gathering has not been scored yet."
        reasons: tuple[str, ...] = ()
    else:
        score_sentence = f"Size score {score.value}/100. {data.get('sentence', '')}".strip()
        reasons = tuple(factor["sentence"] for factor in data.get("factors", ()))
    changes = tuple(
        StandingView(
            change.person.display_name,
            change.person.company,
            change.label,
            change.sentences,
            Standing(change.previous).label if change.previous else "",
        )
        for change in sorted(facts.standing_changes, key=lambda c: c.person.display_name.lower())
    )
    return GatheringSummary(
        subject=f"Summary: {info.name}, {head_count} checked in",
        gathering=info.name,
        group=info.group_name,
        when=_when(info.starts_at, info.tz),
        head_count=head_count,
        head_count_sentence=_head_count_sentence(head_count, facts.registered, band, data),
        score=score.value if score else None,
        score_sentence=score_sentence,
        reasons=reasons,
        actions=actions_of(data),
        arrivals=ArrivalsView(
            stays=facts.stays,
            start=info.starts_at,
            end=info.ends_at,
            band=(band[0], band[1]) if band else None,
            capacity=_capacity(data.get("acoustic_capacity")),
            sentence=_arrivals_sentence(facts.stays, info.tz),
        ),
        tz=info.tz,
        first_timers=first_timers,
        returning=head_count - first_timers if first_timers is not None else None,
        newcomers_sentence=_newcomers_sentence(head_count, first_timers, facts.first_gathering),
        standing_changes=changes,
        standing_sentence=_standing_changes_sentence(len(changes), facts.first_gathering),
        leaves=facts.leaves,
        leaves_sentence=_leaves_sentence(facts.leaves, facts.first_gathering),
        why=f"You get this summary because you organize {info.group_name or info.name} "
        f"with Roomwise for {info.organizer_name}.",
    )


def actions_of(data: Mapping[str, Any]) -> tuple[ActionView, ...]:
    """The organizer actions stored with a gathering's score (`service.scoring.advice`)."""
    return tuple(ActionView(a["code"], a["text"], a["reason"]) for a in data.get("actions", ()))


def _band(raw: Mapping[str, Any] | None) -> tuple[int, int, int | None, str] | None:
    if not raw or raw.get("low") is None or raw.get("high") is None:
        return None
    return raw["low"], raw["high"], raw.get("best"), raw.get("sentence", "")


def _capacity(raw: float | None) -> int | None:
    return None if raw is None else round(raw)


def _head_count_sentence(
    head_count: int,
    registered: int,
    band: tuple[int, int, int | None, str] | None,
    data: Mapping[str, Any],
) -> str:
    came = f"{_people(head_count)} checked in"
    if registered:
        came += f" of {registered} registered"
    if head_count == 0:
        return f"Nobody checked in{f' of {registered} registered' if registered else ''}."
    if band is None:
        raw = data.get("band") or {}
        why = raw.get("sentence") or "no recommended size yet: the gathering is not scored"
        return f"{came}; {why[0].lower()}{why[1:]}".rstrip(".") + "."
    low, high, best, _ = band
    where = "above" if head_count > high else "below" if head_count < low else "within"
    best_text = f" (best {best})" if best is not None else ""
    return f"{came}, {where} the recommended {low}–{high}{best_text}."


def _arrivals_sentence(stays: Sequence[Stay], tz: tzinfo) -> str:
    if not stays:
        return "Nobody checked in, so there are no arrivals to show."
    arrivals = sorted(stay.arrived for stay in stays)
    half = arrivals[(len(arrivals) - 1) // 2]
    if len(arrivals) == 1:
        return f"The one check-in was at {_clock(arrivals[0], tz)}."
    return (
        f"Check-ins ran from {_clock(arrivals[0], tz)} to {_clock(arrivals[-1], tz)}; "
        f"half had arrived by {_clock(half, tz)}."
    )


def _newcomers_sentence(head_count: int, first_timers: int | None, first: bool) -> str:
    if head_count == 0:
        return "Nobody checked in."
    if first:
        return f"This was the group's first gathering: all {head_count} were first-timers."
    if first_timers is None:
        return "First-timers are counted once the gathering is scored."
    returning = head_count - first_timers
    return (
        f"{_count(first_timers, 'first-timer')} and {returning} returning "
        f"({returning / head_count:.0%} returning)."
    )


def _standing_changes_sentence(changes: int, first: bool) -> str:
    if changes:
        who = "member's standing" if changes == 1 else "members' standings"
        return f"{changes} {who} changed since the previous gathering:"
    if first:
        return "Standings start with this first gathering; changes show from the next one."
    return "No member's standing changed since the previous gathering."


def _leaves_sentence(leaves: int, first: bool) -> str:
    since = "so far" if first else "since the previous gathering"
    if not leaves:
        return f'Nobody said "this group is not for me" {since}.'
    return f'{_count(leaves, "member")} said "this group is not for me" {since}.'


# --- organizer weekly digest -------------------------------------------------------------------


def weekly_digest(facts: DigestInput) -> WeeklyDigest:
    """The organizer's weekly digest: for each group, its health and trend, retention, regulars
    going quiet, the next gathering's expected turnout and the top three actions."""
    tz = ZoneInfo(facts.timezone)
    period = f"{_day(facts.period_start, tz)} to {_day(facts.period_end, tz)}"
    groups = tuple(
        group_week(group, facts.period_start, facts.period_end, tz) for group in facts.groups
    )
    return WeeklyDigest(
        subject=f"Your week with Roomwise: {period}",
        period=period,
        groups=groups,
        why=f"You get this weekly digest because you organize groups for "
        f"{facts.organizer_name} with Roomwise.",
    )


def group_week(
    group: GroupWeekInput, period_start: datetime, period_end: datetime, tz: tzinfo
) -> GroupWeek:
    """One group's part of the digest (also the `group.digest` webhook's figures)."""
    held = [g for g in group.gatherings if g.starts_at < period_end]
    in_period = [g for g in held if g.starts_at >= period_start]
    retention = retention_of(held)
    quiet = quiet_regulars(held, group.left)
    health = group.health
    latest_scored = next((g for g in reversed(held) if g.score is not None), None)
    return GroupWeek(
        group_id=group.group_id,
        name=group.name,
        health=health.value if health else None,
        health_sentence=_health_sentence(health),
        trend_sentence=_trend_sentence(health),
        history=health.history if health else (),
        gatherings=tuple(
            GatheringLine(
                g.id, g.name, g.starts_at, _when(g.starts_at, tz), len(g.present), g.score
            )
            for g in in_period
        ),
        retention=retention,
        retention_sentence=_retention_sentence(retention),
        quiet=tuple(
            sorted(
                (group.people.get(p, PersonCard(p, "")) for p in quiet),
                key=lambda person: (person.display_name.lower(), person.id),
            )
        ),
        quiet_sentence=_quiet_sentence(len(quiet)),
        turnout=(turnout := expected_turnout(held, group.next_gathering, tz)),
        turnout_sentence=turnout.sentence if turnout else _no_next(held),
        actions=latest_scored.actions[:TOP_ACTIONS] if latest_scored else (),
    )


def retention_of(held: Sequence[HeldGathering]) -> Retention | None:
    """Retention: of the people checked in at the group's previous gathering, the share checked
    in at its latest one (both before the period's end). Per gathering rather than per week, so
    a monthly group reads the same as a weekly one. None until two gatherings had people."""
    with_people = [g for g in held if g.present]
    if len(with_people) < 2:
        return None
    previous, latest = with_people[-2], with_people[-1]
    return Retention(
        previous.name,
        latest.name,
        len(previous.present),
        len(previous.present & latest.present),
    )


def quiet_regulars(held: Sequence[HeldGathering], left: frozenset[int] = frozenset()) -> list[int]:
    """Regulars going quiet: people at ≥ REGULAR_MIN of the REGULAR_WINDOW gatherings before the
    last QUIET_AFTER, and at none of those last QUIET_AFTER. Members who said "not for me" are
    left out: they told the organizer already. Gatherings nobody came to do not count."""
    with_people = [g for g in held if g.present]
    if len(with_people) < QUIET_AFTER + REGULAR_MIN:
        return []
    recent = with_people[-QUIET_AFTER:]
    earlier = with_people[-QUIET_AFTER - REGULAR_WINDOW : -QUIET_AFTER]
    seen_lately = frozenset().union(*(g.present for g in recent))
    counts: dict[int, int] = {}
    for gathering in earlier:
        for person in gathering.present:
            counts[person] = counts.get(person, 0) + 1
    return sorted(
        person
        for person, count in counts.items()
        if count >= REGULAR_MIN and person not in seen_lately and person not in left
    )


def show_up_rate(held: Sequence[HeldGathering]) -> float | None:
    """Of the people registered for the last SHOW_UP_WINDOW gatherings that took
    registrations, the share who checked in. None when none took registrations."""
    measured = [g for g in held if g.registered][-SHOW_UP_WINDOW:]
    registered = sum(g.registered for g in measured)
    if not registered:
        return None
    return sum(g.registered_present for g in measured) / registered


def expected_turnout(
    held: Sequence[HeldGathering], upcoming: UpcomingGathering | None, tz: tzinfo
) -> Turnout | None:
    """The next gathering's expected head count: its registrations × the measured show-up
    rate when both are known, else the median head count of the last SHOW_UP_WINDOW
    gatherings people came to. None without a next gathering or anything to go on."""
    if upcoming is None:
        return None
    when = _when(upcoming.starts_at, tz)
    rate = show_up_rate(held)
    if upcoming.registered and rate is not None:
        expected = round(upcoming.registered * rate)
        return Turnout(
            upcoming.id,
            upcoming.name,
            upcoming.starts_at,
            when,
            upcoming.registered,
            expected,
            f"About {expected} expected at {upcoming.name} ({when}): {upcoming.registered} "
            f"registered, and {rate:.0%} of those registered for recent gatherings came.",
        )
    recent = [len(g.present) for g in held if g.present][-SHOW_UP_WINDOW:]
    if not recent:
        return None
    expected = round(statistics.median(recent))
    basis = (
        f"no show-up rate measured yet with {upcoming.registered} registered"
        if upcoming.registered
        else "no registrations yet"
    )
    return Turnout(
        upcoming.id,
        upcoming.name,
        upcoming.starts_at,
        when,
        upcoming.registered,
        expected,
        f"About {expected} expected at {upcoming.name} ({when}), the median of the last "
        f"{_count(len(recent), 'gathering')} ({basis}).",
    )


def _health_sentence(health: HealthInput | None) -> str:
    if health is None:
        return "Not scored yet: health needs a gathering with check-ins."
    if health.value is None:
        return health.summary
    value = f"{health.value:.0f}/100"
    # The model's own sentence usually states the value already; say it once.
    return health.summary if value in health.summary else f"Health {value}. {health.summary}"


def _trend_sentence(health: HealthInput | None) -> str:
    points = health.history if health else ()
    if len(points) < 2:
        return "The chart starts once the group has held two scored gatherings."
    first, last = points[0], points[-1]
    direction = (
        "rose" if last.value > first.value else "fell" if last.value < first.value else "held"
    )
    moved = (
        f"{direction} from {first.value:.0f} to {last.value:.0f}"
        if direction != "held"
        else f"held at {last.value:.0f}"
    )
    text = (
        f"Health after each of the last {len(points)} gatherings, recomputed from today's "
        f"records, {moved}."
    )
    if health and health.trend:
        trend = health.trend
        text += f" {trend}" if trend.lower().startswith("trend") else f" Trend: {trend}"
    return text


def _retention_sentence(retention: Retention | None) -> str:
    if retention is None:
        return "Retention shows once two gatherings have had people."
    return (
        f"{retention.came_back} of the {_people(retention.base)} at {retention.previous} came "
        f"back to {retention.latest} ({retention.share:.0%})."
    )


def _quiet_sentence(count: int) -> str:
    if not count:
        return "No regulars have gone quiet."
    return (
        f"{_count(count, 'regular')} came to at least {REGULAR_MIN} of the earlier gatherings "
        f"but to none of the last {QUIET_AFTER}:"
    )


def _no_next(held: Sequence[HeldGathering]) -> str:
    if not held:
        return "No gathering has been held yet."
    return "No next gathering is scheduled yet."


# --- attendee recap ----------------------------------------------------------------------------


def attendee_recap(facts: RecapInput) -> AttendeeRecap:
    """An attendee's recap: the people they connected with (confirmed only, by name and
    company), the conversation capacity they used, their standing in the group with its
    reasons, and the one-click answers."""
    info, figures, standing = facts.gathering, facts.figures, facts.standing
    connections = tuple(
        sorted(facts.connections, key=lambda person: (person.display_name.lower(), person.id))
    )
    greeting = f"Hello {facts.person.name}," if facts.person.name else "Hello,"
    capacity = figures.get("capacity") if figures else None
    made = figures.get("connections") if figures else None
    utilization = figures.get("utilization") if figures else None
    return AttendeeRecap(
        subject=f"Your recap of {info.name}",
        greeting=greeting,
        gathering=info.name,
        group=info.group_name,
        when=_when(info.starts_at, info.tz),
        connections=connections,
        connections_sentence=_connections_sentence(len(connections)),
        capacity=capacity,
        connections_made=made,
        utilization=utilization,
        capacity_sentence=_capacity_sentence(figures),
        standing_label=standing.label if standing else None,
        standing_reasons=standing.sentences if standing else (),
        standing_sentence=_standing_sentence(standing, info.group_name),
        links=facts.links,
        etiquette=ETIQUETTE,
        why=f"You get this recap because you checked in at {info.name}, organized by "
        f"{info.organizer_name}.",
    )


def _connections_sentence(count: int) -> str:
    if not count:
        return (
            "No confirmed connections are recorded for you yet. Tell us whom you talked with: "
            "a connection counts once both of you confirm it."
        )
    return f"You connected with {_people(count)}:"


def _capacity_sentence(figures: Mapping[str, Any] | None) -> str:
    if figures is None:
        return "Your conversation figures appear once the gathering is scored."
    capacity = figures["capacity"]
    made, utilization = figures.get("connections"), figures.get("utilization")
    had_time = f"you had time for about {capacity:g} real conversations"
    if made is None or utilization is None:
        return f"Conversations were not logged at this gathering; {had_time}."
    return (
        f"You used {utilization:.0%} of your conversation capacity: "
        f"{_count(made, 'confirmed connection')}, where {had_time}."
    )


def _standing_sentence(standing: StandingInput | None, group: str | None) -> str:
    if group is None:
        return "This gathering is not part of a group, so there is no standing to show."
    if standing is None:
        return f"Your standing in {group} appears once the group is scored."
    return f"Your standing in {group}: {standing.label}."


# --- shared wording ----------------------------------------------------------------------------


def _when(moment: datetime | None, tz: tzinfo) -> str:
    """'Thu 26 Nov 2026, 18:00' in the organizer's time zone, English whatever the locale."""
    if moment is None:
        return "date not set"
    local = moment.astimezone(tz)
    return f"{_WEEKDAYS[local.weekday()]} {_day(moment, tz)} {local.year}, {local:%H:%M}"


def _day(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {_MONTHS[local.month - 1]}"


def _clock(moment: datetime, tz: tzinfo) -> str:
    return f"{moment.astimezone(tz):%H:%M}"


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
