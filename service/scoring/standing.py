"""Member standing (SCORING.md §4): STAY, GIVE IT TIME or TIME TO MOVE ON, and why.

The question a member asks is "is my time here producing what I came for, at a worthwhile
rate?". The benchmark B is the group's target rate θ times the member's exposure (business), or
half the re-meetings random mixing would give (social), never the group's own rate: a group
where nobody gets business must be able to tell its members so. Exposure is discounted during
the ramp, because nobody gets referrals at their first meeting. The test is a Poisson tail,
"how likely is this few if the group were working for you?", and says "move on" only below 10%.

The rules run in the contract's order and the first that applies decides. Every number is
computed whichever rule fires, so the member always sees where they stand.

Where the contract leaves a choice, this module takes the reading that keeps every §4 test
vector and states it:
- "No outcomes reported by anyone in a business group → never move on" outranks everything,
  the "immediate business" override included; it is checked after rules 1–3 (they are about
  the member and need no outcome data) and answers in place of rules 4–6.
- A social group without logged connections counts familiar faces (co-presence) as the
  outcome and takes k*, the typical conversations per gathering, for the unknown M̄_i.
- Rule 6's "how many more attendances would settle it" is the number of further attendances
  without a single outcome after which rule 5 would fire, plus how many outcomes now would
  clear the bar.
- Numbers in sentences are rounded half up from their shortest decimal form, as the
  contract's tables are (B = 0.85 × 13.5 = 11.475 reads 11.48), and p to two significant
  figures (0.34%).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from service.scoring.settings import GroupFormat, ScoringSettings

# How far ahead "how many more attendances would settle it" looks: ten years of weekly meetings.
SETTLE_HORIZON = 520


class Standing(StrEnum):
    STAY = "stay"
    GIVE_IT_TIME = "give_it_time"
    MOVE_ON = "time_to_move_on"

    @property
    def label(self) -> str:
        """As members read it: STAY, GIVE IT TIME, TIME TO MOVE ON."""
        return self.value.replace("_", " ").upper()


class Rule(StrEnum):
    """The rule that decided, in the order they are tried."""

    PURPOSE = "purpose"  # "immediate business": the base rate cannot deliver in time
    GRACE = "grace"  # 1. fewer attendances than the grace period
    ATTENDANCE = "attendance"  # 2. attendance below 75%
    UTILIZATION = "utilization"  # 3. under half the conversation capacity used
    NO_REPORTS = "no_reports"  # business group where nobody has reported an outcome
    ENOUGH = "enough"  # 4. outcomes reach the bar
    UNLIKELY = "unlikely"  # 5. so few outcomes would be rare if the group worked for you
    UNSETTLED = "unsettled"  # 6. not rare enough yet


class Purpose(StrEnum):
    BUILD_RELATIONSHIPS = "build_relationships"
    IMMEDIATE_BUSINESS = "immediate_business"


@dataclass(frozen=True)
class Member:
    """One member's record in one group.

    `outcomes` is O_i: leads and referrals received (business) or re-meetings R_i (social).
    `mean_connections` (M̄_i) is None when the group logs no connections; a social standing then
    counts `familiar_faces`, the others present at ≥ co_presence_gatherings of the member's
    gatherings (`familiar_faces` below computes it).
    """

    attended: int  # n_i
    attendance_rate: float  # a_i: attended ÷ held since first attendance
    outcomes: int = 0
    utilization: float | None = None  # U_i; None when the member's connections are not logged
    mean_connections: float | None = None
    familiar_faces: int | None = None
    purpose: Purpose = Purpose.BUILD_RELATIONSHIPS
    horizon: int | None = None  # gatherings the member will wait, for "immediate business"

    def __post_init__(self) -> None:
        if self.attended < 1:
            raise ValueError("a standing needs at least one attendance")
        if not 0 <= self.attendance_rate <= 1 or not 0 <= (self.utilization or 0) <= 1:
            raise ValueError("attendance_rate and utilization are shares in [0, 1]")
        if min(self.outcomes, self.mean_connections or 0, self.familiar_faces or 0) < 0:
            raise ValueError("outcomes, mean_connections and familiar_faces cannot be negative")
        if self.purpose is Purpose.IMMEDIATE_BUSINESS and (self.horizon or 0) < 1:
            raise ValueError("'immediate business' needs a horizon of at least one gathering")


@dataclass(frozen=True)
class GroupRecord:
    """What the standing needs to know about the rest of the group.

    `outcomes_reported` counts leads and referrals reported by anyone, the member included;
    `outcome_rate` is λ_g, outcomes per attendance among members past the ramp (None while
    nobody is). `head_count` (N) and `others_attendance` (a) are for social groups.
    """

    outcomes_reported: int = 0
    outcome_rate: float | None = None
    head_count: int = 0
    others_attendance: float = 0.0


@dataclass(frozen=True)
class StandingNumbers:
    """The figures behind a standing.

    E is the ramp-discounted exposure, μ the re-meetings random mixing would give (social only),
    B the benchmark (θ·E business, 0.5·μ social), `bar` the outcomes that mean STAY (0.5·B
    business, B social), p = P(Poisson(B) ≤ O), q the chance of business within the horizon
    ("immediate business" only), `settle_in` the further attendances without outcomes after
    which it would be time to move on (GIVE IT TIME on the numbers only).
    """

    outcomes: int
    exposure: float
    expected: float | None
    benchmark: float
    bar: float
    p: float
    q: float | None
    settle_in: int | None = None


@dataclass(frozen=True)
class MemberStanding:
    standing: Standing
    rule: Rule
    numbers: StandingNumbers
    sentences: tuple[str, ...]
    estimated: bool = False  # social group without logged connections: co-presence stood in

    @property
    def label(self) -> str:
        return f"{self.standing.label} (estimated)" if self.estimated else self.standing.label


def member_standing(
    member: Member, group: GroupRecord, settings: ScoringSettings
) -> MemberStanding:
    """The first rule of SCORING.md §4 that applies, with its numbers and sentences."""
    case = _Case(member, group, settings)
    verdict = next(v for v in (rule(case) for rule in _RULES) if v is not None)
    sentences = verdict.sentences
    if case.estimated:
        sentences += (
            f"Estimated: no conversations are logged in this group, so people you have been at "
            f"{settings.co_presence_gatherings} or more gatherings with stand in for "
            f"re-meetings, and {case.mean_connections:g} conversations a gathering for yours.",
        )
    numbers = case.numbers(member.attended)
    if verdict.settle_in is not None:
        numbers = replace(numbers, settle_in=verdict.settle_in)
    return MemberStanding(verdict.standing, verdict.rule, numbers, sentences, case.estimated)


def exposure(attended: int, ramp: int) -> float:
    """E = Σ_{k=1..n} min(1, k/n_ramp), in closed form: the ramp's triangle, then 1 each."""
    on_ramp = min(attended, ramp)
    return on_ramp * (on_ramp + 1) / (2 * ramp) + (attended - on_ramp)


def expected_re_meetings(
    attended: int, mean_connections: float, others_attendance: float, head_count: int
) -> float:
    """μ = Σ_{k=2..n} M̄·a·min(1, (k−1)·M̄/(N−1)): re-meetings under random mixing, where the
    chance a conversation partner is someone already met grows with the people met so far."""
    if head_count < 2:
        raise ValueError("a social standing needs the group's head count N ≥ 2")
    per_gathering = mean_connections * others_attendance
    return math.fsum(
        per_gathering * min(1.0, k * mean_connections / (head_count - 1))
        for k in range(1, attended)
    )


def poisson_cdf(count: int, mean: float) -> float:
    """P(X ≤ count) for X ~ Poisson(mean), summed in log space so large means cannot
    underflow e^(−mean) to zero."""
    if mean <= 0:
        return 1.0
    logs = [k * math.log(mean) - mean - math.lgamma(k + 1) for k in range(count + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(log - top) for log in logs))


def familiar_faces(
    member_id: str, attendance: Iterable[AbstractSet[str]], min_shared: int = 3
) -> int:
    """Co-presence: how many others were at ≥ `min_shared` of the gatherings the member was at."""
    shared = Counter(
        other
        for present in attendance
        if member_id in present
        for other in present
        if other != member_id
    )
    return sum(1 for count in shared.values() if count >= min_shared)


# --- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    standing: Standing
    rule: Rule
    sentences: tuple[str, ...]
    settle_in: int | None = None


@dataclass(frozen=True)
class _Case:
    member: Member
    group: GroupRecord
    settings: ScoringSettings
    # `numbers` by attendances: every rule and sentence asks for the member's own, and rule 6
    # for each count ahead.
    _numbers: dict[int, StandingNumbers] = field(default_factory=dict, compare=False, repr=False)

    @property
    def business(self) -> bool:
        return self.settings.format is GroupFormat.BUSINESS

    @property
    def estimated(self) -> bool:
        return not self.business and self.member.mean_connections is None

    @property
    def no_reports(self) -> bool:
        """No outcomes reported by anyone in a business group: no reports is not no business."""
        return self.business and self.group.outcomes_reported + self.member.outcomes == 0

    @property
    def outcomes(self) -> int:
        if not self.estimated:
            return self.member.outcomes
        if self.member.familiar_faces is None:
            raise ValueError("without logged connections a social standing needs familiar_faces")
        return self.member.familiar_faces

    @property
    def mean_connections(self) -> float:
        """M̄_i, or k* (the typical conversations per gathering) when none are logged."""
        logged = self.member.mean_connections
        return self.settings.target_conversations if logged is None else logged

    @property
    def rate(self) -> float:
        """λ for the purpose test: the group's own rate, θ until it has one."""
        measured = self.group.outcome_rate
        return self.settings.target_rate if measured is None else measured

    def numbers(self, attended: int) -> StandingNumbers:
        """Every figure of §4 as it would stand after `attended` attendances."""
        if attended not in self._numbers:
            self._numbers[attended] = self._compute(attended)
        return self._numbers[attended]

    def _compute(self, attended: int) -> StandingNumbers:
        settings = self.settings
        exposed = exposure(attended, settings.ramp_gatherings)
        expected = None if self.business else self.expected(attended)
        if expected is None:
            benchmark = settings.target_rate * exposed
            bar = settings.stay_share * benchmark
        else:
            benchmark = bar = settings.social_expectation_share * expected
        horizon = self.member.horizon
        q = None if horizon is None else 1 - math.exp(-self.rate * horizon)
        p = poisson_cdf(self.outcomes, benchmark)
        return StandingNumbers(self.outcomes, exposed, expected, benchmark, bar, p, q)

    def expected(self, attended: int) -> float:
        """μ after `attended` attendances (social groups)."""
        group = self.group
        return expected_re_meetings(
            attended, self.mean_connections, group.others_attendance, group.head_count
        )

    def noun(self, count: int) -> str:
        """What counts as an outcome here, as the member reads it."""
        if self.business:
            return "lead or referral" if count == 1 else "leads or referrals"
        noun = "familiar face" if self.estimated else "re-meeting"
        return noun if count == 1 else f"{noun}s"

    def record(self) -> str:
        """'0 leads or referrals in 18 attendances, where the target rate of 0.20 …'."""
        member, settings = self.member, self.settings
        numbers = self.numbers(member.attended)
        done = (
            f"{numbers.outcomes} {self.noun(numbers.outcomes)} in "
            f"{_count(member.attended, 'attendance')}"
        )
        if self.business:
            return (
                f"{done}, where the target rate of {_fixed(settings.target_rate)} per attendance "
                f"gives {_fixed(numbers.benchmark)}, ramping up over your first "
                f"{settings.ramp_gatherings}"
            )
        return (
            f"{done}, where random mixing would give {_fixed(self.expected(member.attended))} with "
            f"{self.mean_connections:g} conversations a gathering among "
            f"{self.group.head_count} people who come {self.group.others_attendance:.0%} of "
            f"the time; Roomwise expects half of that, {_fixed(numbers.benchmark)}"
        )

    def odds(self) -> str:
        p = self.numbers(self.member.attended).p
        return f"So few would happen {_percent(p)} of the time if the group were working for you"


def _purpose(case: _Case) -> _Verdict | None:
    """'Immediate business': q = 1 − e^(−λ·h) < 0.5 moves on at any n, except where nobody has
    reported an outcome (then `_no_reports` answers, mentioning q)."""
    q = case.numbers(case.member.attended).q
    if q is None or q >= case.settings.purpose_probability or case.no_reports:
        return None
    return _Verdict(
        Standing.MOVE_ON,
        Rule.PURPOSE,
        (
            "This group's base rate cannot deliver business on your timetable.",
            _chance(case, q, "is"),
        ),
    )


def _grace(case: _Case) -> _Verdict | None:
    attended, grace = case.member.attended, case.settings.grace_gatherings
    if attended >= grace:
        return None
    return _Verdict(
        Standing.GIVE_IT_TIME,
        Rule.GRACE,
        (
            f"{_count(attended, 'attendance')} so far and this group's grace period is {grace}: "
            f"judge it after {grace - attended} more.",
        ),
    )


def _attendance(case: _Case) -> _Verdict | None:
    rate, floor = case.member.attendance_rate, case.settings.consistent_attendance
    if rate >= floor:
        return None
    return _Verdict(
        Standing.GIVE_IT_TIME,
        Rule.ATTENDANCE,
        (
            f"Attend consistently first: you came to {rate:.0%} of the gatherings since you "
            f"joined, and under {floor:.0%} what you get here is not a fair test of the group.",
        ),
    )


def _utilization(case: _Case) -> _Verdict | None:
    used, floor = case.member.utilization, case.settings.low_utilization
    if used is None or used >= floor:
        return None
    return _Verdict(
        Standing.GIVE_IT_TIME,
        Rule.UTILIZATION,
        (
            f"Engage more first: you used {used:.0%} of your conversation capacity, under "
            f"{floor:.0%}. Arrive alone, stay the full time and book one follow-up, then judge "
            f"the group.",
        ),
    )


def _no_reports(case: _Case) -> _Verdict | None:
    if not case.no_reports:
        return None
    sentences: tuple[str, ...] = (
        "Nobody in this group has reported a lead or referral yet, and no reports is not no "
        "business: the group needs outcome reports before Roomwise can tell whether it works "
        "for you.",
    )
    q = case.numbers(case.member.attended).q
    if q is not None:
        sentences += (_chance(case, q, "would be"),)
    return _Verdict(Standing.GIVE_IT_TIME, Rule.NO_REPORTS, sentences)


def _enough(case: _Case) -> _Verdict | None:
    numbers = case.numbers(case.member.attended)
    if numbers.outcomes < numbers.bar:
        return None
    bar = f"{numbers.outcomes} ≥ {_fixed(numbers.bar)}"
    return _Verdict(
        Standing.STAY,
        Rule.ENOUGH,
        (f"{case.record()}: {bar + ', half of that' if case.business else bar}.",),
    )


def _unlikely(case: _Case) -> _Verdict | None:
    numbers = case.numbers(case.member.attended)
    if numbers.p >= case.settings.move_on_probability:
        return None
    return _Verdict(
        Standing.MOVE_ON,
        Rule.UNLIKELY,
        (f"{case.record()}.", f"{case.odds()}.", _diagnosis(case)),
    )


def _unsettled(case: _Case) -> _Verdict:
    numbers = case.numbers(case.member.attended)
    settle_in = next(
        (
            more
            for more in range(1, SETTLE_HORIZON + 1)
            if case.numbers(case.member.attended + more).p < case.settings.move_on_probability
        ),
        None,
    )
    needed = math.ceil(numbers.bar - numbers.outcomes)
    still = f"{needed} more {case.noun(needed)} now would clear the bar of {_fixed(numbers.bar)}"
    if settle_in is None:
        later = f"Even {SETTLE_HORIZON} more attendances without any would not settle it; "
    else:
        ahead = "your next attendance brings" if settle_in == 1 else f"the next {settle_in} bring"
        later = f"If {ahead} no more {case.noun(2)}, it will be time to move on; "
    return _Verdict(
        Standing.GIVE_IT_TIME,
        Rule.UNSETTLED,
        (f"{case.record()}.", f"{case.odds()}: not rare enough to call.", f"{later}{still}."),
        settle_in,
    )


_RULES: tuple[Callable[[_Case], _Verdict | None], ...] = (
    _purpose,
    _grace,
    _attendance,
    _utilization,
    _no_reports,
    _enough,
    _unlikely,
    _unsettled,
)


def _diagnosis(case: _Case) -> str:
    """Why so few: the whole group is weak, or it is a fit problem (business); no familiarity
    forming (social)."""
    if not case.business:
        return "Familiarity is not forming for you here."
    rate, target = case.group.outcome_rate, case.settings.target_rate
    if rate is None:
        return (
            f"No member is past the {case.settings.ramp_gatherings}-attendance ramp yet, so it "
            f"is too early to tell whether the group or the fit is the problem."
        )
    if rate < case.settings.weak_group_share * target:
        return (
            f"This group produces little business for anyone: members past the ramp get "
            f"{_fixed(rate)} leads or referrals per attendance against the target of "
            f"{_fixed(target)}."
        )
    return (
        f"Others get business here and you do not: members past the ramp get {_fixed(rate)} "
        f"leads or referrals per attendance, so this is a fit problem. Ask the organizer for "
        f"introductions to members who serve your clients, or look for groups closer to them."
    )


def _chance(case: _Case, q: float, verb: str) -> str:
    """q as a sentence: 'At this group's 0.30 leads or referrals per attendance, the chance of
    business within your 1 gathering is 26%.'"""
    source = (
        f"the target rate of {_fixed(case.rate)} leads or referrals per attendance "
        f"(no measured rate yet)"
        if case.group.outcome_rate is None
        else f"this group's {_fixed(case.rate)} leads or referrals per attendance"
    )
    within = _count(case.member.horizon or 0, "gathering")
    return f"At {source}, the chance of business within your {within} {verb} {_percent(q)}."


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _fixed(value: float, places: int = 2) -> str:
    """Rounded half up from the shortest decimal form, as people round: 11.475 reads 11.48."""
    return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def _percent(share: float) -> str:
    """A probability as a percentage to two significant figures: 50%, 4.5%, 0.34%."""
    percent = Decimal(repr(share)) * 100
    if not percent:
        return "0%"
    quantum = Decimal(1).scaleb(percent.adjusted() - 1)
    return f"{percent.quantize(quantum, ROUND_HALF_UP):f}%"
