"""The database schema: SQLAlchemy 2 models for Roomwise's domain.

Natural keys are unique constraints, so every upsert can rely on the database (not on process
memory) to stay idempotent when several web processes and workers write at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Roomwise stores aware UTC datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Organizer(Base):
    """The tenant: everything else belongs to exactly one organizer."""

    __tablename__ = "organizer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Who gets summaries and digests and when; validated by `service.mail.preferences`.
    mail_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """An organizer's admin login."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="default")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class Integration(Base):
    """A connected platform: the secret URL key, signing secrets and API credentials.

    `secrets_encrypted` and `credentials_encrypted` hold Fernet tokens (see `service.crypto`);
    several signing secrets may be valid at once so an organizer can rotate without downtime.
    `settings` holds plain values: API base URL, platform slugs, name-prefix → group rules.
    """

    __tablename__ = "integration"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secrets_encrypted: Mapped[str] = mapped_column(Text, default="")
    credentials_encrypted: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the platform's API answered 401/403; cleared when new credentials are saved.
    credentials_invalid_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class Group(Base):
    """A recurring networking group; gatherings are its occurrences."""

    __tablename__ = "networking_group"
    __table_args__ = (UniqueConstraint("integration_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integration.id", ondelete="SET NULL")
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    format: Mapped[str] = mapped_column(String(20), default="social")
    structure: Mapped[str] = mapped_column(String(30), default="open")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The organizer's switch for the recap every attendee gets after each gathering.
    attendee_recaps: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Gathering(Base):
    """One occurrence of a group, as the platform describes it."""

    __tablename__ = "gathering"
    __table_args__ = (UniqueConstraint("integration_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("networking_group.id", ondelete="SET NULL"), index=True
    )
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integration.id", ondelete="SET NULL")
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once its summary, recaps and `gathering.summary` webhook have been queued.
    summarized_at: Mapped[datetime | None]

    group: Mapped[Group | None] = relationship(lazy="joined")


class Person(Base):
    """Someone who attends; one row per organizer and normalized email, across platforms."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("organizer_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id", ondelete="CASCADE"))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(300), default="")
    company: Mapped[str] = mapped_column(String(300), default="")
    # Agreed (on their recap page) that fellow attendees may pick their name in "I talked with".
    listed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """A person's id on one integration, so platform ids without an email still resolve."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("integration_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))


class AttendanceKind(StrEnum):
    REGISTERED = "registered"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    CHECKIN_REVERTED = "checkin_reverted"


class Attendance(Base):
    """A person at a gathering. Its times are a fold over `AttendanceEvent` rows.

    Keeping every event and recomputing the fold is what makes delivery order irrelevant: a
    check-out that arrives before its check-in lands in the same state as the reverse.
    """

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("gathering_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gathering_id: Mapped[int] = mapped_column(ForeignKey("gathering.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    registered_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    reverted_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(lazy="joined")


class AttendanceEvent(Base):
    """One check-in, check-out, revert or registration as the platform reported it."""

    __tablename__ = "attendance_event"
    __table_args__ = (UniqueConstraint("attendance_id", "kind", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime]
    # Indexed: processing a delivery looks up the gatherings its events touched.
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery.id", ondelete="SET NULL"), index=True
    )


class Connection(Base):
    """Two people who met at a gathering, stored once per unordered pair.

    The pair is kept ordered (`person_low_id` < `person_high_id`), so "Ada met Ben" and "Ben met
    Ada" land on one row. `confirmed` follows the rule in `service.connections`: both sides
    reported it, or a report came from a source that does not rest on one person's word.
    """

    __tablename__ = "connection"
    __table_args__ = (
        UniqueConstraint("gathering_id", "person_low_id", "person_high_id"),
        CheckConstraint("person_low_id < person_high_id", name="pair_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    gathering_id: Mapped[int] = mapped_column(ForeignKey("gathering.id", ondelete="CASCADE"))
    person_low_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    person_high_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # The most trusted source that reported it, so any arrival order ends in the same row.
    source: Mapped[str] = mapped_column(String(20))
    reported_by_low: Mapped[bool] = mapped_column(default=False)
    reported_by_high: Mapped[bool] = mapped_column(default=False)
    confirmed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the two followed up after the gathering: a social group's outcome (SCORING.md §3).
    followed_up_at: Mapped[datetime | None]

    person_low: Mapped[Person] = relationship(foreign_keys=[person_low_id], lazy="joined")
    person_high: Mapped[Person] = relationship(foreign_keys=[person_high_id], lazy="joined")


class OutcomeSource(StrEnum):
    API = "api"
    RECAP_ANSWER = "recap_answer"
    PLATFORM = "platform"


class Outcome(Base):
    """A lead, referral or closed deal that a member received through a group (SCORING.md §4).

    `key` is the reporter's idempotency key, unique per organizer: a retried report with the same
    key is the outcome already stored, so it is never counted twice.
    """

    __tablename__ = "outcome"
    __table_args__ = (
        UniqueConstraint("organizer_id", "key"),
        CheckConstraint("value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("networking_group.id", ondelete="CASCADE"), index=True
    )
    gathering_id: Mapped[int | None] = mapped_column(
        ForeignKey("gathering.id", ondelete="SET NULL")
    )
    counterpart_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    source: Mapped[str] = mapped_column(String(20))
    key: Mapped[str | None] = mapped_column(String(200))
    reported_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")
    counterpart: Mapped[Person | None] = relationship(foreign_keys=[counterpart_id], lazy="joined")


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class Delivery(Base):
    """The inbox: one row per webhook request, stored before the platform gets its 2xx."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("integration_id", "external_id"),
        Index("ix_delivery_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100), default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.RECEIVED)
    reason: Mapped[str | None] = mapped_column(Text)
    # What processing did, e.g. an import's counts; shown with the delivery.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class RescoreJob(Base):
    """A gathering whose scores are stale, and when to recompute them.

    One row per gathering: marking a gathering that is already marked keeps the earlier due
    time, so a burst of check-ins becomes one rescore, at most the debounce after the first.
    Beat picks due rows up; nothing waits in a Celery countdown.
    """

    __tablename__ = "rescore_job"

    gathering_id: Mapped[int] = mapped_column(
        ForeignKey("gathering.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(index=True)


class GroupRescoreJob(Base):
    """A group whose health and member standings are stale, and when to recompute them.

    Rescoring a gathering marks its group; a group already marked keeps its earlier due time,
    so a busy group is rescored once per debounce however many of its gatherings change, and
    a gathering's own score never waits for its group's.
    """

    __tablename__ = "group_rescore_job"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("networking_group.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[datetime] = mapped_column(index=True)


class GatheringScoreSnapshot(Base):
    """The latest size score of a gathering, its per-attendee figures and the organizer's actions,
    as the scoring model of `model_version` computed them (`data` holds factors and sentences)."""

    __tablename__ = "gathering_score"

    gathering_id: Mapped[int] = mapped_column(
        ForeignKey("gathering.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[int]
    value: Mapped[int]
    data: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupHealthSnapshot(Base):
    """The latest health of a group over its window (value None when nothing is measurable)."""

    __tablename__ = "group_health"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("networking_group.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[int]
    value: Mapped[float | None]
    data: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberStandingSnapshot(Base):
    """A member's latest standing in a group; `changed_at` is when the standing last changed,
    which is what digests and `member.standing_changed` webhooks report."""

    __tablename__ = "member_standing"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("networking_group.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    model_version: Mapped[int]
    standing: Mapped[str] = mapped_column(String(20))
    # What the standing was before its last change; None while it has never changed.
    previous_standing: Mapped[str | None] = mapped_column(String(20))
    estimated: Mapped[bool] = mapped_column(default=False)
    data: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundEventType(StrEnum):
    """The events an organizer's endpoint can subscribe to."""

    GATHERING_SUMMARY = "gathering.summary"
    GROUP_DIGEST = "group.digest"
    MEMBER_STANDING_CHANGED = "member.standing_changed"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DISABLED = "disabled"


class OutboundEndpoint(Base):
    """An organizer's own URL that receives signed webhooks for the events it subscribed to.

    `secret_encrypted` is a Fernet token of its `whsec_…` signing secret (see `service.crypto`):
    one secret per endpoint, as Standard Webhooks asks. A 410 answer disables the endpoint.
    """

    __tablename__ = "outbound_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundMessage(Base):
    """One event for one endpoint, and where its delivery stands.

    Unique on (endpoint, event key), so emitting the same event twice never sends it twice.
    `webhook_id` is what the receiver dedupes on: it never changes, retries and replays included.
    A message waiting for its next attempt is a row with a due time (`next_attempt_at`) that
    beat picks up, never a Celery countdown.
    """

    __tablename__ = "outbound_message"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_key"),
        Index("ix_outbound_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("outbound_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(100))
    event_key: Mapped[str] = mapped_column(String(300))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The whole body the receiver gets: {"type", "timestamp", "data"}.
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default=OutboundStatus.PENDING)
    # Attempts since the message was created or last replayed; each is in `outbound_attempt`.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[OutboundEndpoint] = relationship(lazy="joined")


class OutboundAttempt(Base):
    """One try at delivering a message: the receiver's status code, or why there was none."""

    __tablename__ = "outbound_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_message.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]


class MailKind(StrEnum):
    GATHERING_SUMMARY = "gathering_summary"
    WEEKLY_DIGEST = "weekly_digest"
    ATTENDEE_RECAP = "attendee_recap"


class MailStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time (new, or a 4xx retry)
    CLAIMED = "claimed"  # taken by a worker's batch (`claim`), not yet at the server
    SENDING = "sending"  # the one message of its batch that is at the server right now
    SENT = "sent"
    SUPPRESSED = "suppressed"  # the server refused the address for good (5xx)
    SKIPPED = "skipped"  # nothing to send any more: opted out, switched off, subject gone
    FAILED = "failed"  # temporary refusals until the retries ran out
    UNCERTAIN = "uncertain"  # its worker died mid-send; never sent again, so never twice


class MailMessage(Base):
    """The mail ledger: one row per kind × recipient × subject, claimed before sending.

    The unique constraint is what makes every email go out once: planning the same summary
    twice, from a retried task or two overlapping beats, inserts nothing the second time.
    `subject_key` names what the message is about (`gathering:<id>` or `week:<date>`);
    `context` holds the ids its composer needs. `message_id` is fixed at creation, so a retry
    after a temporary refusal carries the same `Message-ID` header.
    """

    __tablename__ = "mail_message"
    __table_args__ = (
        UniqueConstraint("organizer_id", "kind", "recipient", "subject_key"),
        Index("ix_mail_message_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(320))
    subject_key: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=MailStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(40), index=True)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Suppression(Base):
    """An address an organizer's mail no longer goes to: it unsubscribed, bounced for good, or
    the organizer stopped it by hand."""

    __tablename__ = "mail_suppression"

    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), primary_key=True
    )
    email_normalized: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))  # unsubscribed | bounced | manual
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupLeave(Base):
    """A member said "this group is not for me": no recaps from it any more; organizers see it."""

    __tablename__ = "group_leave"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("networking_group.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    left_at: Mapped[datetime] = mapped_column(default=utcnow)
