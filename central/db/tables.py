"""The central database as SQLAlchemy Core tables (the same on SQLite and PostgreSQL).

Times are UTC text in the terminal's fixed-width format (`2025-03-01T02:00:00.000000Z`), so
text order is time order on both engines; expiries used in arithmetic are Unix seconds.
The Alembic migrations in central/db/migrations create exactly this (a test compares them).

    sites ─< enrol_tokens            one-time tokens, stored as SHA-256 only
    sites ─< devices ─< nonces       per-device HMAC secret; nonces kept until they expire
                     ─< handovers    a replaced device's events delivered by its replacement
                     ─< events       idempotent by event_id; receipt per stored event
                     ─< chain_faults gaps (resolved when filled), link/hash/fork breaks
                     ─< boot_anchors one (server time, monotonic) pair per boot: time correction
                     ─< heartbeats, day_reports (nil reports)
    stays ─< stay_guests             current state folded from each stay's events (search)
    stay_owners                      the device that first wrote each stay_id
                                     (central/stays/ownership.py)
    foreign_events                   events refused for a stay or target of another device, kept
    users ─< user_sessions, api_tokens   police accounts (central/accounts/principals.py);
                                     hashes only
    audit_log                        append-only, hash-chained (central/accounts/audit.py)
    site_districts                   optional district of a site (officers limited to one)
    login_throttle                   failed logins per username / address hash
                                     (central/accounts/login_throttle.py)
    feed_log                         stays and changes in commit order, for police systems (feed/)
    feed_tokens                      bearer tokens of those systems, district-limited, rate-limited
    rollouts, update_reports         rollouts and each updater's last outcome
                                     (central/rollout.py)
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

TIME = String(27)
metadata = MetaData()
# Indexes that migrations create outside this metadata because they differ by dialect: GIN
# indexes on guest names for PostgreSQL (migrations 0002, 0003); newest-first orders, descending
# with NULLS LAST on PostgreSQL, covering on both (migration 0004).
MIGRATION_ONLY_INDEXES = frozenset({"stay_guests_name_trgm", "stay_guests_name_bigrams",
                                    "stays_newest", "stays_site_newest", "stay_guests_newest"})

# Retention (migration 0015, central/stays/retention.py): a stay, its guests and its events
# carry the month the server first saw the stay (`stay_month`, "YYYY-MM" of
# stay_owners.claimed_at), so they are purged together. On PostgreSQL these tables are
# partitioned by that month (declarative RANGE partitions `<table>_YYYY_MM`, and
# `<table>_default`; the key joins each primary key and unique constraint there), and a purge
# drops partitions; SQLite keeps plain tables.
PARTITIONED = ("events", "stays", "stay_guests")

sites = Table(
    "sites", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", TIME, nullable=False),
)

enrol_tokens = Table(
    "enrol_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("site_code", String(32), ForeignKey("sites.code"), nullable=False),
    Column("issued_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("used_at", TIME),
    Column("device_id", String(64)),
    Column("installation_id", String(64)),
)

devices = Table(
    "devices", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("site_code", String(32), ForeignKey("sites.code"), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("installation_id", String(64), nullable=False),
    Column("enrolled_at", TIME, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("software_version", String(64)),
    Column("last_seen_at", TIME),
    Column("last_heartbeat_at", TIME),
    Column("clock_offset_ms", BigInteger),
    Column("max_sequence", BigInteger, nullable=False, default=0),
    Column("events_stored", BigInteger, nullable=False, default=0),
    # Hand-over and decommissioning (migration 0012, central/devices/handover.py): the
    # replacement that delivered this device's undelivered events, and when the device was revoked.
    Column("replaced_by", String(64)),
    Column("replaced_at", TIME),
    Column("revoked_at", TIME),
    # Signed requests refused before they could be heard (migration 0013, central/auth.py): a
    # terminal whose secret is wrong cannot heartbeat, so the server keeps the last refusal.
    Column("refused_at", TIME),
    Column("refused_code", String(32)),
    Column("refused_first_at", TIME),  # the first refusal since the device was last heard
    # Its latest heartbeat, written with each (migration 0019): the fleet page, /metrics and
    # the purge read it instead of a max() over every heartbeat held.
    Column("last_heartbeat_id", BigInteger),
)

# One hand-over per replaced device: which device delivered its events, and how many.
handovers = Table(
    "handovers", metadata,
    Column("old_device_id", String(64), primary_key=True),
    Column("new_device_id", String(64), nullable=False),
    Column("first_at", TIME, nullable=False),
    Column("last_at", TIME, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
)

nonces = Table(
    "nonces", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("nonce", String(32), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Index("nonces_expiry", "expires_at"),
)

events = Table(
    "events", metadata,
    Column("event_id", String(36), primary_key=True),
    # Unique by construction (96 random bits). SQLite keeps a UNIQUE constraint; PostgreSQL
    # dropped its per-month one (migration 0017): no query reads receipts.
    Column("receipt", String(40), nullable=False, unique=True),
    Column("device_id", String(64), nullable=False),
    Column("site_code", String(32), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stay_id", String(36), nullable=False),
    Column("target_event_id", String(36)),
    Column("wall_time", TIME, nullable=False),
    Column("clock_synchronised", Boolean, nullable=False),
    Column("monotonic_ns", BigInteger, nullable=False),
    Column("boot_id", String(64), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("payload", Text),
    Column("withheld", String(16)),
    Column("payload_sha256", String(64), nullable=False),
    Column("prev_chain_sha256", String(64), nullable=False),
    Column("chain_sha256", String(64), nullable=False),
    Column("received_at", TIME, nullable=False),
    Column("clock_offset_ms", BigInteger),
    Column("corrected_time", TIME, nullable=False),
    Column("time_source", String(16), nullable=False),  # device | monotonic | uncorrected
    Column("stay_month", String(7), nullable=False),  # retention: see PARTITIONED
    Index("events_device_sequence", "device_id", "sequence"),
    Index("events_stay", "stay_id"),
)

chain_faults = Table(
    "chain_faults", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # gap | link | hash | fork
    Column("first_sequence", BigInteger, nullable=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("event_id", String(36)),
    Column("detected_at", TIME, nullable=False),
    Column("resolved_at", TIME),
    Column("detail", String(500), nullable=False),
    Index("chain_faults_device", "device_id", "kind", "first_sequence"),
)

boot_anchors = Table(
    "boot_anchors", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("boot_id", String(64), primary_key=True),
    Column("server_ns", BigInteger, nullable=False),
    Column("monotonic_ns", BigInteger, nullable=False),
)

stays = Table(
    "stays", metadata,
    Column("stay_id", String(36), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("site_code", String(32), nullable=False),
    Column("room", String(64)),
    Column("status", String(16), nullable=False),  # in_house | checked_out | voided
    Column("complete", Boolean, nullable=False),  # its check-in has arrived
    Column("checked_in_at", TIME),
    Column("checked_out_at", TIME),
    Column("voided_at", TIME),
    Column("time_corrected", Boolean, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("stay_month", String(7), nullable=False),
    Index("stays_site_room", "site_code", "room", "checked_in_at"),  # room search, co-stay
)

# Who may write a stay: the first device to write its stay_id (migration 0008). Kept apart from
# `stays`, which the projection deletes and rebuilds.
stay_owners = Table(
    "stay_owners", metadata,
    Column("stay_id", String(36), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("site_code", String(32), nullable=False),
    Column("claimed_at", TIME, nullable=False),
)

# Events refused as foreign_stay / foreign_target, whole (the wire event's JSON): never folded,
# kept so that an owner who lost its stay_id to another device loses no registration.
foreign_events = Table(
    "foreign_events", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("stay_id", String(36), nullable=False),
    Column("code", String(32), nullable=False),  # foreign_stay | foreign_target
    Column("received_at", TIME, nullable=False),
    Column("event", Text, nullable=False),
    Index("foreign_events_stay", "stay_id"),
)

stay_guests = Table(
    "stay_guests", metadata,
    Column("stay_id", String(36), primary_key=True),
    Column("guest_id", String(36), primary_key=True),
    Column("role", String(16)),
    Column("name", String(200)),
    Column("document_type", String(8)),
    Column("document_number", String(64)),
    Column("nationality", String(3)),
    Column("checked_in_at", TIME),
    Column("checked_out_at", TIME),
    Column("stay_checked_in_at", TIME),  # the stay's, for newest-first walks (migration 0004)
    Column("full_name", Text),  # the whole name when longer than `name` (migration 0007)
    Column("stay_month", String(7), nullable=False),
    Index("stay_guests_document", "document_number"),
    # No btree on name: a name search is a substring match (GIN indexes on PostgreSQL;
    # migration 0017 dropped the btree no query used).
)

heartbeats = Table(
    "heartbeats", metadata,
    # 64-bit: a province sends 14 M a day (migration 0019); SQLite's rowid is 64-bit already.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("received_at", TIME, nullable=False),
    Column("software_version", String(64), nullable=False),
    Column("backlog", BigInteger, nullable=False),
    Column("oldest_queued_age_s", Float),
    Column("rejected", BigInteger, nullable=False),
    Column("reader_status", String(32), nullable=False),
    Column("disk_free_bytes", BigInteger, nullable=False),
    Column("clock_synchronised", Boolean, nullable=False),
    Column("clock_offset_ms", BigInteger, nullable=False),
    Column("last_error", String(500)),
    Column("reader_detail", String(200)),  # why no_reader / fault / stale
    Column("reader_since", TIME),  # server time: receive time minus the reported age
    Column("reader_seen_at", TIME),  # when the terminal service last confirmed the state
    # Why events are not being delivered, and since when in server time (migration 0013).
    Column("sync_state", String(32)),
    Column("sync_since", TIME),
    Column("disk_min_free_bytes", BigInteger),
    Column("doctor_class", String(32)),  # `anju doctor`'s last full run: worst class, or ok
    Column("doctor_at", TIME),  # when it ran, in server time
    Index("heartbeats_device", "device_id", "received_at"),
    Index("heartbeats_received", "received_at"),  # the purge's cut-off (migration 0016)
)

day_reports = Table(
    "day_reports", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("check_ins", Integer, nullable=False),
    Column("reported_at", TIME, nullable=False),
)

users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # officer | supervisor | technician | administrator
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("disabled", Boolean, nullable=False, default=False),
    Column("district", String(64)),  # officers: only the sites of this district
    Column("created_at", TIME, nullable=False),
    Column("password_set_at", TIME, nullable=False),
)

user_sessions = Table(
    "user_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_s", Float, nullable=False),
    Column("last_seen_s", Float, nullable=False),
    Index("user_sessions_user", "username"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("revoked_at", TIME),
    Column("expires_at", TIME),  # refused from then on (migration 0009; always set since)
    Column("revoked_reason", String(16)),  # revoked | reset | disabled
    Index("api_tokens_user", "username"),
)

site_districts = Table(
    "site_districts", metadata,
    Column("site_code", String(32), ForeignKey("sites.code"), primary_key=True),
    Column("district", String(64), nullable=False),
    Index("site_districts_district", "district"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", TIME, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(16), nullable=False),  # search | view | ... | user_add | token_issue
    Column("reason", String(500), nullable=False),
    Column("query", Text, nullable=False),  # canonical JSON of the parameters
    Column("result_count", Integer, nullable=False),
    Column("prev_sha256", String(64), nullable=False),
    Column("row_sha256", String(64), nullable=False, unique=True),
)

# Software rollouts (migration 0013, central/rollout.py): the newest active rollout that
# matches a device names the version its heartbeat answer orders; `update_reports` keeps each
# device's updater's last outcome (pending, updated, rolled_back, failed ...) as its heartbeat
# reported it.
rollouts = Table(
    "rollouts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(64), nullable=False),
    Column("scope", String(16), nullable=False),  # all | district | sites | percent
    Column("targets", Text),  # JSON list of districts or site codes; NULL for all / percent
    Column("percent", Integer),  # scope percent: devices whose stable bucket is below it
    Column("spread_s", Integer, nullable=False),  # slots spread over this long from created_at
    Column("created_at", TIME, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("cancelled_at", TIME),
)

update_reports = Table(
    "update_reports", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("version", String(64), nullable=False),
    Column("previous", String(64)),
    Column("detail", String(300)),
    Column("at", TIME),  # device clock
    Column("received_at", TIME, nullable=False),
)

login_throttle = Table(
    "login_throttle", metadata,
    Column("kind", String(8), primary_key=True),  # user | address
    Column("key_sha256", String(64), primary_key=True),  # never the username or address itself
    Column("failures", Integer, nullable=False),
    Column("window_start_s", Float, nullable=False),
    Column("locked_until_s", Float),
    Column("lockouts", Integer, nullable=False),
    Column("expires_s", Float, nullable=False),  # forgotten (pruned) after this
    Index("login_throttle_expiry", "expires_s"),
)

# The change feed (migration 0011, central/feed/): one row per stored event, in commit order
# (`position` is assigned at the very end of the ingest transaction, under a lock on
# PostgreSQL), holding the record served for it: the event and its stay's state after it.
feed_log = Table(
    "feed_log", metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(36), unique=True),  # NULL: a snapshot of a stay at the upgrade
    Column("stay_id", String(36), nullable=False),
    Column("site_code", String(32), nullable=False),
    Column("change", String(16), nullable=False),  # check_in | add_guest | ... | snapshot
    Column("recorded_at", TIME, nullable=False),
    Column("record", Text, nullable=False),  # JSON object without its cursor
    Index("feed_log_site", "site_code", "position"),
    sqlite_autoincrement=True,  # positions are never reused
)

feed_tokens = Table(
    "feed_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("system", String(48), nullable=False),  # the consuming system's name
    Column("districts", Text),  # JSON list; NULL: every district
    Column("created_at", TIME, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("revoked_at", TIME),
    Column("rate_per_minute", Integer, nullable=False),
    Column("window_start_s", Float, nullable=False, default=0.0),
    Column("window_count", Integer, nullable=False, default=0),
    Column("last_used_at", TIME),
)
