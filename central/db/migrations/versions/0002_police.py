"""Police workspace: users, sessions, API tokens, site districts, the audit log, search indexes.

The audit log is append-only in the database itself, not only in the application:

* SQLite: BEFORE UPDATE / BEFORE DELETE triggers abort with "audit_log is append-only".
* PostgreSQL: the same refusal as a trigger function (it binds every role, the table owner and
  superusers included, since the server usually connects as the owner), a statement trigger
  against TRUNCATE, and UPDATE/DELETE/TRUNCATE revoked from PUBLIC and from the application
  role `anju_app` when that role exists (docs/police.md: run the server as that role).

PostgreSQL also gets a trigram index (pg_trgm) on guest names for partial-name search when the
extension can be created; without it the search still works, only slower.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.String(length=27)
APP_ROLE = "anju_app"
_REFUSE = "audit_log is append-only"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("password_set_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_s", sa.Float(), nullable=False),
        sa.Column("last_seen_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("user_sessions_user", "user_sessions", ["username"])
    op.create_table(
        "api_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("api_tokens_user", "api_tokens", ["username"])
    op.create_table(
        "site_districts",
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["site_code"], ["sites.code"]),
        sa.PrimaryKeyConstraint("site_code"),
    )
    op.create_index("site_districts_district", "site_districts", ["district"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("prev_sha256", sa.String(length=64), nullable=False),
        sa.Column("row_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("row_sha256"),
    )
    op.create_index("stays_checked_in", "stays", ["checked_in_at"])
    op.create_index("stays_site_room", "stays", ["site_code", "room", "checked_in_at"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _sqlite_guards() -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END")


def _postgresql_guards() -> None:
    op.execute(f"""CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_REFUSE}' USING ERRCODE = 'insufficient_privilege'; END $$""")
    op.execute("CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).first():
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {APP_ROLE}")
    # The trigram index is an optimisation: a database where the extension cannot be created
    # (no privilege) still migrates. A savepoint keeps the failure out of this transaction.
    nested = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
        bind.execute(sa.text("CREATE INDEX stay_guests_name_trgm ON stay_guests "
                             "USING gin (name public.gin_trgm_ops)"))
        nested.commit()
    except sa.exc.DBAPIError:
        nested.rollback()


def downgrade() -> None:
    """Downgrade schema (the audit log goes with it: only for a database being discarded)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS stay_guests_name_trgm")
        op.execute("DROP TABLE audit_log")
        op.execute("DROP FUNCTION audit_log_refuse()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.drop_table("audit_log")
    op.drop_index("stays_site_room", "stays")
    op.drop_index("stays_checked_in", "stays")
    for table in ("site_districts", "api_tokens", "user_sessions", "users"):
        op.drop_table(table)
