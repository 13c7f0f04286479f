"""Ownership of stays: the device that first wrote a stay_id owns it (central/stays/ownership.py).

`stay_owners` records it once per stay; ingest refuses any other device's event for the stay,
or naming another device's event as its target, and keeps the refused event whole in
`foreign_events` (never folded). Until now a stay was folded from every stored event with its
stay_id, whichever device sent it, so another site's device could rewrite, void or move it.

Existing stays get as owner the device of their first event received (ties: device id, then
sequence): the rule ingest applies from now on. Events of other devices stored before this
revision stay in `events` but are no longer folded; the stays they touched are folded again by
central/migrate.py right after this upgrade, in the same transaction (the projection is
application code, so it is not run from here).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "stay_owners",
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("stay_id"),
    )
    op.create_table(
        "foreign_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.String(length=27), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("foreign_events_stay", "foreign_events", ["stay_id"])
    op.execute(
        "INSERT INTO stay_owners (stay_id, device_id, site_code, claimed_at) "
        "SELECT stay_id, device_id, site_code, received_at FROM ("
        " SELECT stay_id, device_id, site_code, received_at, ROW_NUMBER() OVER ("
        "  PARTITION BY stay_id ORDER BY received_at, device_id, sequence) AS n"
        " FROM events) AS firsts WHERE n = 1"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("foreign_events_stay", table_name="foreign_events")
    op.drop_table("foreign_events")
    op.drop_table("stay_owners")
