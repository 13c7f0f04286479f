"""Ingest writes two indexes fewer: no query reads them.

Every stored event and every folded guest pays for each index of its table (an insert into
each, WAL, vacuum), so indexes that no query uses go:

* `stay_guests_name` (btree on the name, both backends, since 0001): a name search is a
  substring match (`LIKE '%...%'`, central/police/search.py), which a btree cannot serve; the
  GIN indexes over trigrams and bigrams (0002, 0003) do, on PostgreSQL.
* `events_receipt_key` (UNIQUE (receipt, stay_month), PostgreSQL): a receipt is never looked
  up; it is 96 random bits made per stored event (central/devices/ingest.py), and the month in
  the key since 0015 already made the constraint per month only. Its random keys made it the
  index that grows costliest to insert into as the table grows. SQLite keeps its inline UNIQUE
  (dropping it means rebuilding the table with every payload; the embedded database is small).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.execute("DROP INDEX stay_guests_name")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events DROP CONSTRAINT events_receipt_key")


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("CREATE INDEX stay_guests_name ON stay_guests (name)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE events ADD CONSTRAINT events_receipt_key UNIQUE (receipt, stay_month)"
        )
