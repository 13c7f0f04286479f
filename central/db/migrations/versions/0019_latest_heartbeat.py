"""Each device's latest heartbeat named on its row; heartbeat ids 64-bit on PostgreSQL.

The fleet page, every `/metrics` scrape and the purge found each device's latest heartbeat
with `SELECT device_id, max(id) FROM heartbeats GROUP BY device_id`: a read of the whole table,
which a province fills at 14 M rows a day (about 100 M held with the default retention of 7
days). `devices.last_heartbeat_id` is written with the device row that each heartbeat updates
anyway (central/devices/heartbeat.py), and those queries join on it (central/fleet.py,
central/devices/history.py). Filled here from the heartbeats held.

`heartbeats.id` was a 32-bit integer on PostgreSQL: 2.1 G ids, 149 days of a province's
heartbeats. It becomes bigint, and so does its sequence (SQLite's INTEGER PRIMARY KEY is
64-bit already). On PostgreSQL the type change rewrites the table under an exclusive lock:
seconds for a city's few million rows; plan a window for more (docs/operations.md).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("devices", sa.Column("last_heartbeat_id", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE heartbeats ALTER COLUMN id TYPE bigint")
        op.execute("DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS bigint', "
                   "pg_get_serial_sequence('heartbeats', 'id')); END $$")
    op.execute("UPDATE devices SET last_heartbeat_id = "
               "(SELECT max(h.id) FROM heartbeats h WHERE h.device_id = devices.device_id)")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        # The sequence restarts after the ids held, so that it fits 32 bits if they do (ids
        # beyond 32 bits make this downgrade fail: it cannot be undone then).
        op.execute("SELECT setval(pg_get_serial_sequence('heartbeats', 'id'), "
                   "coalesce(max(id), 0) + 1, false) FROM heartbeats")
        op.execute("DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS integer', "
                   "pg_get_serial_sequence('heartbeats', 'id')); END $$")
        op.execute("ALTER TABLE heartbeats ALTER COLUMN id TYPE integer")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("last_heartbeat_id")
