"""PostgreSQL: an index of name bigrams, for partial-name searches of two characters.

A Chinese name is two to four characters, so officers often search with two; the trigram index
(pg_trgm, migration 0002) needs three. `anju_bigrams(name)` is the set of lower-cased
two-character substrings; a GIN index over it answers `anju_bigrams(name) @> anju_bigrams('王伟')`
and the LIKE rechecks the exact substring (central/police/search.py). Plain SQL: no extension,
no superuser. SQLite has no such index (the embedded default scans; see docs/police.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""CREATE FUNCTION anju_bigrams(value text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
        SELECT coalesce(array_agg(DISTINCT lower(substr(value, i, 2))), '{}')
        FROM generate_series(1, length(value) - 1) AS i $$""")
    op.execute("CREATE INDEX stay_guests_name_bigrams ON stay_guests "
               "USING gin (anju_bigrams(name))")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX stay_guests_name_bigrams")
    op.execute("DROP FUNCTION anju_bigrams(text)")
