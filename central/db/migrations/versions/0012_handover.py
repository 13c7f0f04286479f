"""Hand-over and decommissioning: a replaced device, its replacement, its revocation.

`devices.replaced_by` / `replaced_at`: the replacement that delivered the device's undelivered
events (POST /api/v1/handover); `revoked_at`: when it was revoked (by that hand-over, by its own
`anju wipe`, or by `anju central devices revoke`). `handovers`: one row per replaced device.
Nullable columns: existing devices are neither replaced nor revoked.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("replaced_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("replaced_at", sa.String(length=27), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.String(length=27), nullable=True))
    op.create_table(
        "handovers",
        sa.Column("old_device_id", sa.String(length=64), primary_key=True),
        sa.Column("new_device_id", sa.String(length=64), nullable=False),
        sa.Column("first_at", sa.String(length=27), nullable=False),
        sa.Column("last_at", sa.String(length=27), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("handovers")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("replaced_at")
        batch.drop_column("replaced_by")
