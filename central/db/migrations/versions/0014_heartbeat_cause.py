"""Heartbeats say why a terminal is not delivering; devices keep their last refused request.

`heartbeats.sync_state` is the terminal's delivery state (sync/diagnosis.py: ok,
server_failing, events_rejected, backlog_stuck, ...) and `sync_since` since when, in server time
(the terminal sends an age on its monotonic clock); `disk_min_free_bytes` is the threshold below
which the terminal refuses check-ins; `doctor_class` / `doctor_at` the worst class of the
terminal's last full `anju doctor` run (or "ok") and when it ran.

`devices.refused_at` / `refused_code` / `refused_first_at`: the last (and the first since the
device was last heard) signed request refused with a bad signature or a clock outside the
window: a terminal whose credential is refused cannot send a heartbeat, so the fleet page shows
the refusal beside "not heard from since". Nullable: older terminals send none, and a device
never refused has none.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("heartbeats") as batch:
        batch.add_column(sa.Column("sync_state", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("sync_since", sa.String(length=27), nullable=True))
        batch.add_column(sa.Column("disk_min_free_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("doctor_class", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("doctor_at", sa.String(length=27), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("refused_at", sa.String(length=27), nullable=True))
        batch.add_column(sa.Column("refused_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("refused_first_at", sa.String(length=27), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("refused_first_at")
        batch.drop_column("refused_code")
        batch.drop_column("refused_at")
    with op.batch_alter_table("heartbeats") as batch:
        batch.drop_column("doctor_at")
        batch.drop_column("doctor_class")
        batch.drop_column("disk_min_free_bytes")
        batch.drop_column("sync_since")
        batch.drop_column("sync_state")
