"""connections and outcomes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("gathering_id", sa.Integer(), nullable=False),
        sa.Column("person_low_id", sa.Integer(), nullable=False),
        sa.Column("person_high_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("reported_by_low", sa.Boolean(), nullable=False),
        sa.Column("reported_by_high", sa.Boolean(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "person_low_id < person_high_id", name=op.f("ck_connection_pair_order")
        ),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gathering.id"],
            name=op.f("fk_connection_gathering_id_gathering"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizer.id"],
            name=op.f("fk_connection_organizer_id_organizer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_high_id"],
            ["person.id"],
            name=op.f("fk_connection_person_high_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_low_id"],
            ["person.id"],
            name=op.f("fk_connection_person_low_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection")),
        sa.UniqueConstraint(
            "gathering_id",
            "person_low_id",
            "person_high_id",
            name=op.f("uq_connection_gathering_id_person_low_id_person_high_id"),
        ),
    )
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connection_organizer_id"), ["organizer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_connection_person_high_id"), ["person_high_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_connection_person_low_id"), ["person_low_id"], unique=False
        )

    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("gathering_id", sa.Integer(), nullable=True),
        sa.Column("counterpart_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_outcome_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["counterpart_id"],
            ["person.id"],
            name=op.f("fk_outcome_counterpart_id_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gathering.id"],
            name=op.f("fk_outcome_gathering_id_gathering"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["networking_group.id"],
            name=op.f("fk_outcome_group_id_networking_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizer.id"],
            name=op.f("fk_outcome_organizer_id_organizer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_outcome_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome")),
        sa.UniqueConstraint("organizer_id", "key", name=op.f("uq_outcome_organizer_id_key")),
    )
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcome_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcome_person_id"), ["person_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcome_person_id"))
        batch_op.drop_index(batch_op.f("ix_outcome_group_id"))

    op.drop_table("outcome")
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connection_person_low_id"))
        batch_op.drop_index(batch_op.f("ix_connection_person_high_id"))
        batch_op.drop_index(batch_op.f("ix_connection_organizer_id"))

    op.drop_table("connection")
