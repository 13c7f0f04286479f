"""Initial schema: sites, tokens, devices, nonces, events, chain faults, boot anchors, stays,
heartbeats and day reports (generated from central/db/tables.py, then reviewed).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "boot_anchors",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=False),
        sa.Column("server_ns", sa.BigInteger(), nullable=False),
        sa.Column("monotonic_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "boot_id"),
    )
    op.create_table(
        "chain_faults",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("detected_at", sa.String(length=27), nullable=False),
        sa.Column("resolved_at", sa.String(length=27), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chain_faults", schema=None) as batch_op:
        batch_op.create_index(
            "chain_faults_device", ["device_id", "kind", "first_sequence"], unique=False
        )

    op.create_table(
        "day_reports",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("check_ins", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "day"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("receipt", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("target_event_id", sa.String(length=36), nullable=True),
        sa.Column("wall_time", sa.String(length=27), nullable=False),
        sa.Column("clock_synchronised", sa.Boolean(), nullable=False),
        sa.Column("monotonic_ns", sa.BigInteger(), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("withheld", sa.String(length=16), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_chain_sha256", sa.String(length=64), nullable=False),
        sa.Column("chain_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.String(length=27), nullable=False),
        sa.Column("clock_offset_ms", sa.BigInteger(), nullable=True),
        sa.Column("corrected_time", sa.String(length=27), nullable=False),
        sa.Column("time_source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("receipt"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("events_device_sequence", ["device_id", "sequence"], unique=False)
        batch_op.create_index("events_stay", ["stay_id"], unique=False)

    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.String(length=27), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("backlog", sa.BigInteger(), nullable=False),
        sa.Column("oldest_queued_age_s", sa.Float(), nullable=True),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("reader_status", sa.String(length=32), nullable=False),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("clock_synchronised", sa.Boolean(), nullable=False),
        sa.Column("clock_offset_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.create_index("heartbeats_device", ["device_id", "received_at"], unique=False)

    op.create_table(
        "nonces",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "nonce"),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index("nonces_expiry", ["expires_at"], unique=False)

    op.create_table(
        "sites",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "stay_guests",
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("guest_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("document_type", sa.String(length=8), nullable=True),
        sa.Column("document_number", sa.String(length=64), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=True),
        sa.Column("checked_in_at", sa.String(length=27), nullable=True),
        sa.Column("checked_out_at", sa.String(length=27), nullable=True),
        sa.PrimaryKeyConstraint("stay_id", "guest_id"),
    )
    with op.batch_alter_table("stay_guests", schema=None) as batch_op:
        batch_op.create_index("stay_guests_document", ["document_number"], unique=False)
        batch_op.create_index("stay_guests_name", ["name"], unique=False)

    op.create_table(
        "stays",
        sa.Column("stay_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("checked_in_at", sa.String(length=27), nullable=True),
        sa.Column("checked_out_at", sa.String(length=27), nullable=True),
        sa.Column("voided_at", sa.String(length=27), nullable=True),
        sa.Column("time_corrected", sa.Boolean(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("stay_id"),
    )
    with op.batch_alter_table("stays", schema=None) as batch_op:
        batch_op.create_index("stays_site_time", ["site_code", "checked_in_at"], unique=False)

    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("installation_id", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.String(length=27), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", sa.String(length=27), nullable=True),
        sa.Column("last_heartbeat_at", sa.String(length=27), nullable=True),
        sa.Column("clock_offset_ms", sa.BigInteger(), nullable=True),
        sa.Column("max_sequence", sa.BigInteger(), nullable=False),
        sa.Column("events_stored", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
        ),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_table(
        "enrol_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.String(length=27), nullable=False),
        sa.Column("expires_at", sa.String(length=27), nullable=False),
        sa.Column("used_at", sa.String(length=27), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("installation_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_code"],
            ["sites.code"],
        ),
        sa.PrimaryKeyConstraint("token_sha256"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("enrol_tokens")
    op.drop_table("devices")
    with op.batch_alter_table("stays", schema=None) as batch_op:
        batch_op.drop_index("stays_site_time")

    op.drop_table("stays")
    with op.batch_alter_table("stay_guests", schema=None) as batch_op:
        batch_op.drop_index("stay_guests_name")
        batch_op.drop_index("stay_guests_document")

    op.drop_table("stay_guests")
    op.drop_table("sites")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index("nonces_expiry")

    op.drop_table("nonces")
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.drop_index("heartbeats_device")

    op.drop_table("heartbeats")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("events_stay")
        batch_op.drop_index("events_device_sequence")

    op.drop_table("events")
    op.drop_table("day_reports")
    with op.batch_alter_table("chain_faults", schema=None) as batch_op:
        batch_op.drop_index("chain_faults_device")

    op.drop_table("chain_faults")
    op.drop_table("boot_anchors")
