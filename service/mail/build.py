"""Building a ledger row's email, and the summary webhooks' payloads, from the same loaders.

`MailBuilder.build(row)` loads what the row is about (`service.digests`), composes it
(`service.mail.compose`), draws its charts (`service.mail.charts`) and renders the message
(`service.mail.render`). A builder lives for one sending batch and keeps what its rows share:
a gathering's bundle (the gathering, its score, attendance, connections and standings) serves
every recap of that gathering, and a summary or digest serves each of its recipients. The cache
holds plain data only, so the sender's commits between rows never make it reload anything.

`summary_payload` and `digest_payloads` give the `gathering.summary` and `group.digest` webhooks
the same figures the emails show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from service import serializers
from service.config import Settings
from service.digests import (
    GatheringBundle,
    digest_input,
    gathering_bundle,
    summary_input,
)
from service.mail import charts, compose, render
from service.mail.links import LinkSigner, RecapLink, UnsubscribeLink
from service.mail.mime import OutgoingMail
from service.models import (
    Gathering,
    GatheringScoreSnapshot,
    GroupHealthSnapshot,
    MailKind,
    MailMessage,
    utcnow,
)
from service.outbound import GatheringSummaryData, GroupDigestData, GroupRef

Content = tuple[Any, dict[str, charts.Chart]]  # a composed view and its charts by name


class MailBuilder:
    """Builds the messages of one sending batch; see the module docstring for the caching."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        signer: LinkSigner,
        recipients: Collection[int] | None = None,
    ) -> None:
        """`recipients`: the people whose recaps this builder will build, when known; a
        gathering's bundle then reads only what their recaps need, not the whole gathering's
        attendance and the whole group's standings."""
        self.session = session
        self.settings = settings
        self.signer = signer
        self.recipients = recipients
        self._bundles: dict[int, GatheringBundle | None] = {}
        self._content: dict[tuple[str, str], Content | None] = {}

    def build(self, row: MailMessage, now: datetime | None = None) -> OutgoingMail | None:
        """The message for a ledger row, or None when there is nothing to send any more: its
        gathering, person or organizer is gone, the person is no longer checked in or said the
        group is not for them, or a digest has no group to report on."""
        kind = MailKind(row.kind)
        content: Content | None
        if kind is MailKind.ATTENDEE_RECAP:
            content = self._recap(row)
        else:
            key = (kind.value, row.subject_key)
            if key not in self._content:
                self._content[key] = (
                    self._summary(row) if kind is MailKind.GATHERING_SUMMARY else self._digest(row)
                )
            content = self._content[key]
        if content is None:
            return None
        view, drawn = content
        images = {
            name: render.InlineImage(render.content_id(name, row.message_id), chart)
            for name, chart in drawn.items()
        }
        unsubscribe = self.signer.unsubscribe_token(UnsubscribeLink(row.id))
        unsubscribe_url = self.signer.unsubscribe_token_url(unsubscribe)
        rendered = render.render(kind.value, view, unsubscribe_url, images)
        envelope = render.Envelope(
            sender=self.settings.mail_from,
            recipient=row.recipient,
            message_id=row.message_id,
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=self.signer.unsubscribe_token_mailto(
                self.settings.sender_address, unsubscribe
            ),
            date=now or utcnow(),
        )
        return render.message(rendered, envelope, images)

    def _bundle(self, gathering_id: int) -> GatheringBundle | None:
        if gathering_id not in self._bundles:
            self._bundles[gathering_id] = gathering_bundle(
                self.session, gathering_id, self.recipients
            )
        return self._bundles[gathering_id]

    def _summary(self, row: MailMessage) -> Content | None:
        loaded = summary_input(self.session, int(row.context["gathering_id"]))
        if loaded is None:
            return None
        view = compose.gathering_summary(loaded[1])
        arrivals = view.arrivals
        chart = charts.arrivals_chart(
            arrivals.stays,
            view.tz,
            start=arrivals.start,
            end=arrivals.end,
            band=arrivals.band,
            capacity=arrivals.capacity,
        )
        return view, ({"arrivals": chart} if chart else {})

    def _digest(self, row: MailMessage) -> Content | None:
        start = datetime.fromisoformat(row.context["period_start"])
        end = datetime.fromisoformat(row.context["period_end"])
        facts = digest_input(self.session, row.organizer_id, start, end)
        if facts is None or not facts.groups:
            return None
        view = compose.weekly_digest(facts)
        drawn = {}
        for group in view.groups:
            chart = charts.health_trend_chart(group.history)
            if chart is not None:
                drawn[f"health-{group.group_id}"] = chart
        return view, drawn

    def _recap(self, row: MailMessage) -> Content | None:
        gathering_id = int(row.context["gathering_id"])
        bundle = self._bundle(gathering_id)
        person_id = row.person_id
        if bundle is None or person_id is None or person_id not in bundle.attendees:
            return None
        if person_id in bundle.left:
            return None
        token = self.signer.recap_token(RecapLink(person_id, gathering_id))
        url = self.signer.recap_token_url
        links = compose.RecapLinks(
            page=url(token),
            lead=url(token, "outcome") + "?kind=lead",
            referral=url(token, "outcome") + "?kind=referral",
            talked=url(token, "talked"),
            leave=url(token, "leave") if bundle.info.group_id else None,
        )
        facts = compose.RecapInput(
            gathering=bundle.info,
            person=bundle.attendees[person_id],
            figures=bundle.score.figures(person_id) if bundle.score else None,
            connections=tuple(
                bundle.attendees[other] for other in bundle.connections.get(person_id, ())
            ),
            standing=bundle.standings.get(person_id),
            links=links,
        )
        return compose.attendee_recap(facts), {}


# --- outbound webhook payloads -----------------------------------------------------------------


def summary_payload(session: Session, gathering_id: int) -> GatheringSummaryData | None:
    """`gathering.summary`: what the organizer's summary email says, as data; None when the
    gathering is gone."""
    loaded = summary_input(session, gathering_id)
    gathering = session.get(Gathering, gathering_id)
    if loaded is None or gathering is None:
        return None
    bundle, facts = loaded
    view = compose.gathering_summary(facts)
    data: GatheringSummaryData = {
        "gathering": serializers.gathering(gathering, view.head_count),
        "group": _group_ref(bundle.info),
        "score": serializers.score(session.get(GatheringScoreSnapshot, gathering_id)),
        "checked_in": view.head_count,
        "registered": facts.registered,
        "first_timers": view.first_timers,
        "returning": view.returning,
        "standings": dict(Counter(s.standing for s in bundle.standings.values())),
        "standing_changes": [
            {
                "person": {"id": change.person.id, "name": change.person.name},
                "old_standing": change.previous or "",
                "standing": change.standing,
                "label": change.label,
                "reasons": list(change.sentences),
                "changed_at": change.changed_at.isoformat(),
            }
            for change in sorted(facts.standing_changes, key=lambda c: c.person.id)
        ],
        "left_group": facts.leaves,
    }
    return data


def digest_payloads(
    session: Session, organizer_id: int, period_start: datetime, period_end: datetime
) -> list[tuple[int, GroupDigestData]]:
    """`group.digest`, one per group the weekly digest reports on, as (group id, data)."""
    facts = digest_input(session, organizer_id, period_start, period_end)
    if facts is None:
        return []
    view = compose.weekly_digest(facts)
    payloads = []
    for group in view.groups:
        retention = group.retention
        turnout = group.turnout
        data: GroupDigestData = {
            "group": {"id": group.group_id, "name": group.name},
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "health": serializers.health(session.get(GroupHealthSnapshot, group.group_id)),
            "health_history": [
                {"date": point.on.isoformat(), "value": point.value} for point in group.history
            ],
            "gatherings": [
                {
                    "id": line.id,
                    "name": line.name,
                    "starts_at": serializers.iso(line.starts_at),
                    "checked_in": line.head_count,
                    "score": line.score,
                }
                for line in group.gatherings
            ],
            "retention": None
            if retention is None
            else {
                "previous": retention.previous,
                "latest": retention.latest,
                "attended_previous": retention.base,
                "came_back": retention.came_back,
                "share": round(retention.share, 3),
            },
            "regulars_going_quiet": [{"id": p.id, "name": p.name} for p in group.quiet],
            "next_gathering": None
            if turnout is None
            else {
                "id": turnout.gathering_id,
                "name": turnout.gathering,
                "starts_at": serializers.iso(turnout.starts_at),
                "registered": turnout.registered,
                "expected": turnout.expected,
            },
            "actions": [
                {"code": a.code, "text": a.text, "reason": a.reason} for a in group.actions
            ],
        }
        payloads.append((group.group_id, data))
    return payloads


def _group_ref(info: compose.GatheringInfo) -> GroupRef | None:
    if info.group_id is None:
        return None
    return {"id": info.group_id, "name": info.group_name or ""}
