"""Software rollouts: the version each device is ordered to run, and each updater's outcome.

`rollouts`: one row per `anju central rollout set` (all, a district, sites or a percentage of
the fleet, spread over `spread_s`); the newest active one that matches a device wins
(central/rollout.py). `update_reports`: each device's updater's last outcome, from its
heartbeat. New tables only: an older server ignores them.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("targets", sa.Text(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("spread_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("cancelled_at", sa.String(length=27), nullable=True),
    )
    op.create_table(
        "update_reports",
        sa.Column("device_id", sa.String(length=64), primary_key=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("at", sa.String(length=27), nullable=True),
        sa.Column("received_at", sa.String(length=27), nullable=False),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("update_reports")
    op.drop_table("rollouts")
