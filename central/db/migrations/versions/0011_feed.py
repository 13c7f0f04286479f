"""The change feed for police systems (central/feed/, docs/feed.md).

`feed_log`: one row per stored event, in commit order, holding the record served for it (the
event and its stay's state after it). `feed_tokens`: bearer tokens of the consuming systems,
apart from users' API tokens (a feed token cannot search, a search token cannot pull the feed).

A database that already holds stays gets one `snapshot` record per stay, its state as it
stands, in check-in order: written by central/migrate.py right after this upgrade, in the
same transaction (the records are built by application code, so not from here).

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "feed_log",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.String(length=27), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("feed_log_site", "feed_log", ["site_code", "position"])
    op.create_table(
        "feed_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=48), nullable=False),
        sa.Column("districts", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("revoked_at", sa.String(length=27), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("window_start_s", sa.Float(), nullable=False),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.String(length=27), nullable=True),
        sa.PrimaryKeyConstraint("token_sha256"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("feed_tokens")
    op.drop_index("feed_log_site", table_name="feed_log")
    op.drop_table("feed_log")
