"""Heartbeats: the ID card reader's reason and times (the terminal service's last word on it).

`reader_status` says connected / no_reader / fault / stale / unknown; these say why
(`reader_detail`), since when (`reader_since`) and when the terminal service last confirmed it
(`reader_seen_at`), both in server time: the terminal sends ages on its monotonic clock and the
server subtracts them from its own receive time. Nullable: older terminals send none of them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("heartbeats") as batch:
        batch.add_column(sa.Column("reader_detail", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reader_since", sa.String(length=27), nullable=True))
        batch.add_column(sa.Column("reader_seen_at", sa.String(length=27), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("heartbeats") as batch:
        batch.drop_column("reader_seen_at")
        batch.drop_column("reader_since")
        batch.drop_column("reader_detail")
