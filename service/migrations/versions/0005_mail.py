"""mail: the message ledger, suppressions, group leaves and mail preferences

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_suppression",
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizer.id"],
            name=op.f("fk_mail_suppression_organizer_id_organizer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organizer_id", "email_normalized", name=op.f("pk_mail_suppression")
        ),
    )
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject_key", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(length=40), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizer.id"],
            name=op.f("fk_mail_message_organizer_id_organizer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_mail_message_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_message")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_message_message_id")),
        sa.UniqueConstraint(
            "organizer_id",
            "kind",
            "recipient",
            "subject_key",
            name=op.f("uq_mail_message_organizer_id_kind_recipient_subject_key"),
        ),
    )
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_message_claim"), ["claim"], unique=False)
        batch_op.create_index("ix_mail_message_status_due_at", ["status", "due_at"], unique=False)

    op.create_table(
        "group_leave",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["networking_group.id"],
            name=op.f("fk_group_leave_group_id_networking_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_group_leave_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "person_id", name=op.f("pk_group_leave")),
    )
    with op.batch_alter_table("group_leave", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_leave_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("gathering", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("networking_group", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attendee_recaps", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("organizer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mail_settings", sa.JSON(), nullable=False, server_default="{}")
        )

    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("listed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("listed")

    with op.batch_alter_table("organizer", schema=None) as batch_op:
        batch_op.drop_column("mail_settings")

    with op.batch_alter_table("networking_group", schema=None) as batch_op:
        batch_op.drop_column("attendee_recaps")

    with op.batch_alter_table("gathering", schema=None) as batch_op:
        batch_op.drop_column("summarized_at")

    with op.batch_alter_table("group_leave", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_leave_person_id"))

    op.drop_table("group_leave")
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_message_status_due_at")
        batch_op.drop_index(batch_op.f("ix_mail_message_claim"))

    op.drop_table("mail_message")
    op.drop_table("mail_suppression")
