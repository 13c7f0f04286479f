"""Searches in the order they show results, newest check-in first, straight from indexes, so
that a search matching many guests walks newest first and stops at one page instead of sorting
every match (central/police/search.py).

* `stays_newest`, `stays_site_newest`: stays by (check-in, stay id), replacing
  `stays_checked_in` and `stays_site_time`, which they cover.
* `stay_guests.stay_checked_in_at`: the stay's check-in time copied onto each of its guests
  (the projection writes both together), and `stay_guests_newest` over it, covering the guest
  columns a walk filters on: a name found in 10 % of guests is then a walk over one index,
  without touching either table until a page is found.

Searches order by `checked_in_at DESC NULLS LAST, stay_id DESC` (a stay whose check-in has not
arrived yet goes last). SQLite sorts NULL lowest, so an ascending index read backwards gives
exactly that order; PostgreSQL sorts NULL highest, so its indexes are declared in that order
(an ascending one read backwards would put those stays first and the planner would sort).
These indexes differ by dialect, so they live here and not in central/db/tables.py.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_COVERED = "name, nationality, document_type"


def upgrade() -> None:
    """Upgrade schema."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("stay_guests", sa.Column("stay_checked_in_at", sa.String(length=27)))
    op.execute("UPDATE stay_guests SET stay_checked_in_at = (SELECT checked_in_at FROM stays "
               "WHERE stays.stay_id = stay_guests.stay_id)")
    op.drop_index("stays_checked_in", table_name="stays")
    op.drop_index("stays_site_time", table_name="stays")
    if postgresql:
        order = "checked_in_at DESC NULLS LAST, stay_id DESC"
        op.execute(f"CREATE INDEX stays_newest ON stays ({order})")
        op.execute(f"CREATE INDEX stays_site_newest ON stays (site_code, {order})")
        op.execute("CREATE INDEX stay_guests_newest ON stay_guests "
                   f"(stay_checked_in_at DESC NULLS LAST, stay_id DESC) INCLUDE ({_COVERED})")
    else:
        op.execute("CREATE INDEX stays_newest ON stays (checked_in_at, stay_id)")
        op.execute("CREATE INDEX stays_site_newest ON stays (site_code, checked_in_at, stay_id)")
        op.execute("CREATE INDEX stay_guests_newest ON stay_guests "
                   f"(stay_checked_in_at, stay_id, {_COVERED})")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("stay_guests_newest", table_name="stay_guests")
    op.drop_index("stays_site_newest", table_name="stays")
    op.drop_index("stays_newest", table_name="stays")
    op.create_index("stays_site_time", "stays", ["site_code", "checked_in_at"])
    op.create_index("stays_checked_in", "stays", ["checked_in_at"])
    with op.batch_alter_table("stay_guests") as batch_op:
        batch_op.drop_column("stay_checked_in_at")
