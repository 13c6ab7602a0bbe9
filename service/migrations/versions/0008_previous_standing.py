"""previous standing: what a member's standing was before its last change

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member_standing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_standing", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member_standing", schema=None) as batch_op:
        batch_op.drop_column("previous_standing")
