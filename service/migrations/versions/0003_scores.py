"""scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "group_health",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["networking_group.id"],
            name=op.f("fk_group_health_group_id_networking_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_health")),
    )
    op.create_table(
        "member_standing",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("standing", sa.String(length=20), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["networking_group.id"],
            name=op.f("fk_member_standing_group_id_networking_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_member_standing_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "person_id", name=op.f("pk_member_standing")),
    )
    with op.batch_alter_table("member_standing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_standing_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "gathering_score",
        sa.Column("gathering_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gathering.id"],
            name=op.f("fk_gathering_score_gathering_id_gathering"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gathering_id", name=op.f("pk_gathering_score")),
    )
    op.create_table(
        "rescore_job",
        sa.Column("gathering_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gathering_id"],
            ["gathering.id"],
            name=op.f("fk_rescore_job_gathering_id_gathering"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gathering_id", name=op.f("pk_rescore_job")),
    )
    with op.batch_alter_table("rescore_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rescore_job_due_at"), ["due_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rescore_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rescore_job_due_at"))

    op.drop_table("rescore_job")
    op.drop_table("gathering_score")
    with op.batch_alter_table("member_standing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_standing_person_id"))

    op.drop_table("member_standing")
    op.drop_table("group_health")
