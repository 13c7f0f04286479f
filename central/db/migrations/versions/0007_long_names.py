"""Guests' names longer than the search column: kept whole in `stay_guests.full_name`.

`stay_guests.name` is the search key (at most 200 characters, so that every index over it,
B-tree entries included, stays within PostgreSQL's limits); until now a longer name was shown
cut at 200 characters on the stay page, in the API and in exports. The projection now also
writes the whole name here when it is longer (NULL otherwise, which costs nothing for the
names of real people), and what is shown is `full_name` when set. Stays delivered before this
revision get it when their next event arrives and the stay is folded again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("stay_guests", sa.Column("full_name", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("stay_guests") as batch:
        batch.drop_column("full_name")
