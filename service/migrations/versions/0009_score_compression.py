"""score compression: a gathering score's JSON compressed with lz4 on PostgreSQL

A gathering's score holds every attendee's figures and sentence, some 60 kB for a gathering of
a thousand, and a full rescore rewrites all of them: PostgreSQL's default compression of such
values (pglz) took as long as writing them, lz4 about half. It needs PostgreSQL 14 built with
lz4; elsewhere, and on SQLite, nothing changes. Rows already stored keep their compression
until they are next written.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LZ4_AVAILABLE = sa.text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE gathering_score ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE gathering_score ALTER COLUMN data SET COMPRESSION default")


def _lz4_available() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bool(bind.scalar(LZ4_AVAILABLE))
