"""Login throttling: failed password attempts per username and per client address (as SHA-256
keys), kept in the database so every server process counts the same
(central/accounts/login_throttle.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "login_throttle",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start_s", sa.Float(), nullable=False),
        sa.Column("locked_until_s", sa.Float(), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("expires_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key_sha256"),
    )
    op.create_index("login_throttle_expiry", "login_throttle", ["expires_s"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("login_throttle_expiry", table_name="login_throttle")
    op.drop_table("login_throttle")
