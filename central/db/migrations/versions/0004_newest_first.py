"""Stays in the order searches show them: newest check-in first, then stay id, straight from an
index, so that a search whose filter matches many guests walks stays newest first and stops at
one page instead of sorting every match (central/police/search.py).

Searches order by `checked_in_at DESC NULLS LAST, stay_id DESC` (a stay whose check-in has not
arrived yet goes last). SQLite sorts NULL lowest, so an ascending index read backwards gives
exactly that order; PostgreSQL sorts NULL highest, so its index is declared in that order (an
ascending one read backwards would put those stays first, and the planner would sort instead).
The two indexes replace `stays_checked_in` and `stays_site_time`, which they cover.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ORDER = {"postgresql": "checked_in_at DESC NULLS LAST, stay_id DESC",
          "sqlite": "checked_in_at, stay_id"}


def upgrade() -> None:
    """Upgrade schema."""
    order = _ORDER.get(op.get_bind().dialect.name, _ORDER["sqlite"])
    op.drop_index("stays_checked_in", table_name="stays")
    op.drop_index("stays_site_time", table_name="stays")
    op.execute(f"CREATE INDEX stays_newest ON stays ({order})")
    op.execute(f"CREATE INDEX stays_site_newest ON stays (site_code, {order})")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("stays_site_newest", table_name="stays")
    op.drop_index("stays_newest", table_name="stays")
    op.create_index("stays_site_time", "stays", ["site_code", "checked_in_at"])
    op.create_index("stays_checked_in", "stays", ["checked_in_at"])
