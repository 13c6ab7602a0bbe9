"""An attendee's recap of one gathering, and the answers they give to it through signed links.

The recap pages (`service/views/pages.py`) read what a person may see here: their confirmed
connections and the fellow attendees who agreed to be listed, by name and company, never by
email. Answers are recorded through the same functions as the API (`service.connections`), so
they are idempotent and mark the scores stale the same way; only the choices offered here are
narrower: an attendee may name only listed people who were at the gathering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integrations.base import ConnectionSource, OutcomeKind
from service.connections import (
    InvalidReport,
    Recorded,
    record_connection,
    record_outcome,
    require_checked_in,
    select_connections,
)
from service.mail.links import RecapLink
from service.models import (
    Attendance,
    Connection,
    Gathering,
    Group,
    GroupLeave,
    MemberStandingSnapshot,
    Organizer,
    Outcome,
    OutcomeSource,
    Person,
)
from service.upsert import insert_ignoring_conflict

# What "I got a lead / referral from this group" may report; closed business stays the API's.
ANSWERABLE_OUTCOMES = (OutcomeKind.LEAD, OutcomeKind.REFERRAL)


class InvalidAnswer(ValueError):
    """An answer that names something the attendee cannot choose; the message says what."""


@dataclass(frozen=True)
class Recap:
    """Whose recap, about which gathering, with what a page about it shows first."""

    person: Person
    gathering: Gathering
    organizer: Organizer
    group: Group | None

    @property
    def group_name(self) -> str:
        return self.group.name if self.group is not None else self.gathering.name


def load_recap(session: Session, link: RecapLink) -> Recap | None:
    """The recap a link names, or None when its person or gathering no longer exists."""
    person = session.get(Person, link.person_id)
    gathering = session.get(Gathering, link.gathering_id)
    if person is None or gathering is None or person.organizer_id != gathering.organizer_id:
        return None
    organizer = session.get(Organizer, gathering.organizer_id)
    if organizer is None:
        return None
    return Recap(person, gathering, organizer, gathering.group)


def standing(session: Session, recap: Recap) -> MemberStandingSnapshot | None:
    """The person's latest standing in the gathering's group, once it has been scored."""
    if recap.group is None:
        return None
    return session.get(MemberStandingSnapshot, (recap.group.id, recap.person.id))


def confirmed_connections(session: Session, recap: Recap) -> list[Person]:
    """The people the person connected with at the gathering, as the scores count them:
    confirmed, with both checked in."""
    person_id = recap.person.id
    query = select_connections(recap.organizer.id).where(
        Connection.gathering_id == recap.gathering.id,
        Connection.confirmed.is_(True),
        or_(Connection.person_low_id == person_id, Connection.person_high_id == person_id),
    )
    others = [
        row.person_high if row.person_low_id == person_id else row.person_low
        for row, both_checked_in in session.execute(query)
        if both_checked_in
    ]
    return sorted(others, key=lambda person: (person.name.lower(), person.id))


def listed_attendees(session: Session, recap: Recap) -> list[Person]:
    """Who else checked in to the gathering and agreed to be listed to fellow attendees."""
    query = (
        select(Person)
        .join(Attendance, Attendance.person_id == Person.id)
        .where(
            Attendance.gathering_id == recap.gathering.id,
            Attendance.checked_in_at.is_not(None),
            Person.listed.is_(True),
            Person.id != recap.person.id,
        )
        .order_by(Person.name, Person.id)
    )
    return list(session.scalars(query))


def has_left(session: Session, recap: Recap) -> bool:
    if recap.group is None:
        return False
    return session.get(GroupLeave, (recap.group.id, recap.person.id)) is not None


def set_listed(recap: Recap, listed: bool) -> None:
    """Let fellow attendees pick the person's name in "I talked with …", or stop it."""
    recap.person.listed = listed


def report_outcome(
    session: Session,
    recap: Recap,
    kind: str,
    counterpart_id: int | None,
    value: str | None,
) -> Recorded[Outcome]:
    """Record "I got a lead / referral from this group", at most once per kind and named person.

    The key is made from the link's ids, the kind and whom it names, so a double submit or a
    second visit to the same link returns the outcome stored the first time.
    """
    if recap.group is None:
        raise InvalidAnswer("This gathering does not belong to a group.")
    if kind not in ANSWERABLE_OUTCOMES:
        raise InvalidAnswer("Choose whether it was a lead or a referral.")
    counterpart = None
    if counterpart_id is not None:
        counterpart = _chosen(session, recap, [counterpart_id])[0]
    key = f"recap:{recap.person.id}:{recap.gathering.id}:{kind}:{counterpart_id or '-'}"
    return record_outcome(
        session,
        recap.organizer.id,
        recap.person,
        recap.group,
        kind,
        value=value,
        gathering=recap.gathering,
        counterpart=counterpart,
        key=key,
        source=OutcomeSource.RECAP_ANSWER,
    )


def report_talked_with(
    session: Session, recap: Recap, person_ids: Iterable[int]
) -> list[Recorded[Connection]]:
    """Record "I talked with …": one report by this person per chosen person. Each stays
    unconfirmed until the other side reports it too (`service.connections`)."""
    chosen = _chosen(session, recap, list(person_ids))
    if not chosen:
        raise InvalidAnswer("Choose at least one person you talked with.")
    try:
        require_checked_in(session, recap.gathering, [recap.person])
    except InvalidReport as err:
        raise InvalidAnswer(
            f"Only people who checked in to {recap.gathering.name} can say whom they talked with."
        ) from err
    return [
        record_connection(
            session,
            recap.organizer.id,
            recap.gathering,
            recap.person,
            other,
            ConnectionSource.RECAP_ANSWER,
            reported_by=recap.person,
        )
        for other in chosen
    ]


def leave_group(session: Session, recap: Recap) -> bool:
    """ "This group is not for me": stop the group's recaps to the person; True the first time."""
    if recap.group is None:
        raise InvalidAnswer("This gathering does not belong to a group.")
    values = {"group_id": recap.group.id, "person_id": recap.person.id}
    return insert_ignoring_conflict(session, GroupLeave, values, list(values)) is not None


def _chosen(session: Session, recap: Recap, person_ids: list[int]) -> list[Person]:
    """The people named, each of whom must be a listed fellow attendee of the gathering."""
    allowed = {person.id: person for person in listed_attendees(session, recap)}
    if unknown := [person_id for person_id in person_ids if person_id not in allowed]:
        raise InvalidAnswer(
            f"You can only choose people who were at {recap.gathering.name} and agreed to be "
            f"listed; {len(unknown)} of your choices {'is' if len(unknown) == 1 else 'are'} not."
        )
    return [allowed[person_id] for person_id in dict.fromkeys(person_ids)]
