"""API tokens expire and say why they were revoked (central/accounts/api_tokens.py).

`expires_at`: a token is refused from then on. Tokens issued before this revision had no end;
they are given one 90 days from the upgrade (the default lifetime), so integrations keep working
while their owners are told to replace them. `revoked_reason`: revoked (one by one), reset (the
password was reset), disabled (the user was disabled); re-enabling a user revives none.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from sync.fields import format_utc

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.String(length=27), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.String(length=16), nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.String),
                      sa.column("revoked_at", sa.String), sa.column("revoked_reason", sa.String))
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None))
               .values(expires_at=format_utc(datetime.now(UTC) + timedelta(days=90))))
    op.execute(tokens.update().where(tokens.c.revoked_at.is_not(None))
               .values(revoked_reason="revoked"))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_reason")
        batch.drop_column("expires_at")
