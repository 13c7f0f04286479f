"""Retention by month: events, stays and stay_guests carry `stay_month`; partitioned on PostgreSQL.

`stay_month` ("YYYY-MM") is the month the server first saw the stay: its owner's claimed_at
(central/stays/ownership.py), else its first event's received_at, else the stay's updated_at.
A stay, its guests and its events share it, so a purge removes them together
(central/stays/retention.py).

* PostgreSQL: each table is rebuilt as a declarative partitioned table, PARTITION BY RANGE
  (stay_month), one partition per month present in the data and for the current month and the
  next two, plus a DEFAULT partition; its primary key and unique constraints gain stay_month
  (a partitioned table's unique constraints must hold its key); its other indexes are created
  again, as they were (pg_indexes), on the partitioned table. A purge then drops partitions.
* SQLite: a plain column, filled in; a purge deletes rows.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("events", "stays", "stay_guests")
KEYS = {"events": ("event_id",), "stays": ("stay_id",), "stay_guests": ("stay_id", "guest_id")}
UNIQUE = {"events": ("receipt",)}
AHEAD = 2  # months created ahead of the current one (central/stays/retention.py keeps it so)


def _month_after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _months_from_now() -> list[str]:
    month = datetime.now(UTC).strftime("%Y-%m")
    months = [month]
    for _ in range(AHEAD):
        months.append(_month_after(months[-1]))
    return months


_STAY_MONTHS = """
CREATE TEMPORARY TABLE anju_stay_months ON COMMIT DROP AS
SELECT s.stay_id,
       substr(coalesce(o.claimed_at, e.first_received, st.updated_at, :now), 1, 7) AS month
FROM (SELECT stay_id FROM events UNION SELECT stay_id FROM stays
      UNION SELECT stay_id FROM stay_guests) AS s
LEFT JOIN stay_owners AS o ON o.stay_id = s.stay_id
LEFT JOIN (SELECT stay_id, min(received_at) AS first_received FROM events GROUP BY stay_id)
     AS e ON e.stay_id = s.stay_id
LEFT JOIN stays AS st ON st.stay_id = s.stay_id
"""


def upgrade() -> None:
    """Upgrade schema."""
    bind = op.get_bind()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if bind.dialect.name != "postgresql":
        for table in TABLES:
            with op.batch_alter_table(table) as batch:
                batch.add_column(
                    sa.Column("stay_month", sa.String(7), nullable=False, server_default="")
                )
        bind.execute(sa.text(_STAY_MONTHS.replace(" ON COMMIT DROP", "")), {"now": now})
        for table in TABLES:
            bind.execute(
                sa.text(
                    f"UPDATE {table} SET stay_month = (SELECT month FROM anju_stay_months AS m "
                    f"WHERE m.stay_id = {table}.stay_id)"
                )
            )
        bind.execute(sa.text("DROP TABLE anju_stay_months"))
        return
    bind.execute(sa.text(_STAY_MONTHS), {"now": now})
    bind.execute(sa.text("CREATE INDEX ON anju_stay_months (stay_id)"))
    present = bind.execute(sa.text("SELECT DISTINCT month FROM anju_stay_months")).scalars()
    months = sorted(set(present) | set(_months_from_now()))
    for table in TABLES:
        _partition(bind, table, months)


def _indexes(bind: sa.Connection, table: str) -> list[str]:
    """CREATE INDEX statements of `table`'s indexes that no constraint owns."""
    return list(
        bind.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = :t AND indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass)) ORDER BY indexname"
            ),
            {"t": table},
        ).scalars()
    )


def _partition(bind: sa.Connection, table: str, months: list[str]) -> None:
    indexes = _indexes(bind, table)
    new = f"{table}_partitioned"
    statements = [
        f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS, "
        "stay_month varchar(7) NOT NULL) PARTITION BY RANGE (stay_month)",
        f"ALTER TABLE {new} ADD CONSTRAINT {new}_pkey "
        f"PRIMARY KEY ({', '.join(KEYS[table])}, stay_month)",
    ]
    for column in UNIQUE.get(table, ()):
        statements.append(
            f"ALTER TABLE {new} ADD CONSTRAINT {new}_{column}_key UNIQUE ({column}, stay_month)"
        )
    for month in months:
        statements.append(
            f"CREATE TABLE {table}_{month.replace('-', '_')} PARTITION OF {new} "
            f"FOR VALUES FROM ('{month}') TO ('{_month_after(month)}')"
        )
    statements += [
        f"CREATE TABLE {table}_default PARTITION OF {new} DEFAULT",
        f"INSERT INTO {new} SELECT t.*, m.month FROM {table} AS t "
        "JOIN anju_stay_months AS m ON m.stay_id = t.stay_id",
        f"DROP TABLE {table}",
        f"ALTER TABLE {new} RENAME TO {table}",
        f"ALTER TABLE {table} RENAME CONSTRAINT {new}_pkey TO {table}_pkey",
    ]
    for column in UNIQUE.get(table, ()):
        statements.append(
            f"ALTER TABLE {table} RENAME CONSTRAINT {new}_{column}_key TO {table}_{column}_key"
        )
    for statement in statements + indexes:
        bind.execute(sa.text(statement))


def downgrade() -> None:
    """Downgrade schema."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for table in TABLES:
            with op.batch_alter_table(table) as batch:
                batch.drop_column("stay_month")
        return
    for table in TABLES:
        indexes = _indexes(bind, table)
        plain = f"{table}_plain"
        columns = [
            c
            for c in bind.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = current_schema() AND table_name = :t "
                    "AND column_name <> 'stay_month' ORDER BY ordinal_position"
                ),
                {"t": table},
            ).scalars()
        ]
        listed = ", ".join(columns)
        statements = [
            f"CREATE TABLE {plain} (LIKE {table} INCLUDING DEFAULTS)",
            f"ALTER TABLE {plain} DROP COLUMN stay_month",
            f"INSERT INTO {plain} ({listed}) SELECT {listed} FROM {table}",
            f"DROP TABLE {table}",
            f"ALTER TABLE {plain} RENAME TO {table}",
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY "
            f"({', '.join(KEYS[table])})",
        ]
        for column in UNIQUE.get(table, ()):
            statements.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_key UNIQUE ({column})"
            )
        for statement in statements + [i.replace(" ON ONLY ", " ON ") for i in indexes]:
            bind.execute(sa.text(statement))
