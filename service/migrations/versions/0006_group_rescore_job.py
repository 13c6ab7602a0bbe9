"""group rescore jobs: a group's health and standings fall due apart from its gatherings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_rescore_job",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["networking_group.id"],
            name=op.f("fk_group_rescore_job_group_id_networking_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_rescore_job")),
    )
    with op.batch_alter_table("group_rescore_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_rescore_job_due_at"), ["due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("group_rescore_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_rescore_job_due_at"))
    op.drop_table("group_rescore_job")
