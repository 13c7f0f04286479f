"""Schema versions as data: each migration is a list of SQL statements (or a Python step).

The rules that make the log provable live in the schema itself, so that neither a bug in Python
nor a hand-typed `sqlite3` session can break them:

* `events` is append-only: DELETE raises; UPDATE raises unless it only purges the payload
  (payload -> NULL with purged_at set, every other column unchanged) of an event whose outbox
  row is acknowledged or superseded.
* an event's sequence must be the device's previous sequence + 1 and its prev_chain_sha256 the
  previous event's chain hash (a gap or a fork cannot be inserted);
* every event gets its outbox row from a trigger, in the same transaction;
* outbox states move only along the allowed transitions (OUTBOX_TRANSITIONS below); terminal
  states (acknowledged, superseded) are frozen; each state's required columns are CHECKed.
"""

from __future__ import annotations

GENESIS_SQL = "'" + "0" * 64 + "'"

OUTBOX_STATES = ("queued", "sent", "acknowledged", "rejected", "superseded")
OUTBOX_TRANSITIONS = (
    ("queued", "sent"),
    ("sent", "sent"),  # re-sent after no answer (at-least-once delivery)
    ("sent", "acknowledged"),
    ("sent", "rejected"),
    ("rejected", "queued"),  # a technician re-queues after the server side was fixed
    ("queued", "superseded"),  # the stay was voided before this event left the device
    ("rejected", "superseded"),
)
_TRANSITIONS_SQL = ", ".join(f"('{a}', '{b}')" for a, b in OUTBOX_TRANSITIONS)
_EVENT_COLUMNS = (
    "seq_id", "event_id", "device_id", "site_code", "sequence", "kind", "stay_id",
    "target_event_id", "wall_time", "clock_synchronised", "monotonic_ns", "boot_id", "operator",
    "payload_sha256", "prev_chain_sha256", "chain_sha256",
)
_UNCHANGED = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _EVENT_COLUMNS)

V1 = [
    """CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )""",
    f"""CREATE TABLE events (
        seq_id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE CHECK (length(event_id) = 36),
        device_id TEXT NOT NULL CHECK (device_id <> ''),
        site_code TEXT NOT NULL CHECK (site_code <> ''),
        sequence INTEGER NOT NULL CHECK (sequence >= 1),
        kind TEXT NOT NULL
            CHECK (kind IN ('check_in', 'add_guest', 'check_out', 'amend', 'void')),
        stay_id TEXT NOT NULL CHECK (length(stay_id) = 36),
        target_event_id TEXT REFERENCES events (event_id),
        wall_time TEXT NOT NULL CHECK (wall_time GLOB '[0-9][0-9][0-9][0-9]-*Z'),
        clock_synchronised INTEGER NOT NULL CHECK (clock_synchronised IN (0, 1)),
        monotonic_ns INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        operator TEXT NOT NULL CHECK (operator <> ''),
        payload TEXT,
        payload_sha256 TEXT NOT NULL CHECK (length(payload_sha256) = 64),
        prev_chain_sha256 TEXT NOT NULL CHECK (length(prev_chain_sha256) = 64),
        chain_sha256 TEXT NOT NULL CHECK (length(chain_sha256) = 64),
        purged_at TEXT,
        UNIQUE (device_id, sequence),
        CHECK ((payload IS NULL) = (purged_at IS NOT NULL)),
        CHECK ((kind IN ('amend', 'void')) = (target_event_id IS NOT NULL)),
        CHECK (sequence > 1 OR prev_chain_sha256 = {GENESIS_SQL})
    )""",
    "CREATE INDEX events_stay ON events (stay_id, seq_id)",
    f"""CREATE TRIGGER events_gapless BEFORE INSERT ON events
    WHEN NEW.sequence IS NOT COALESCE(
            (SELECT MAX(sequence) FROM events WHERE device_id = NEW.device_id), 0) + 1
      OR NEW.prev_chain_sha256 IS NOT COALESCE(
            (SELECT chain_sha256 FROM events WHERE device_id = NEW.device_id
             ORDER BY sequence DESC LIMIT 1), {GENESIS_SQL})
    BEGIN SELECT RAISE(ABORT, 'events: sequence gap or broken chain link refused'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END""",
    f"""CREATE TRIGGER events_only_purge BEFORE UPDATE ON events
    WHEN NOT (OLD.payload IS NOT NULL AND NEW.payload IS NULL AND OLD.purged_at IS NULL
              AND NEW.purged_at IS NOT NULL AND {_UNCHANGED})
    BEGIN SELECT RAISE(ABORT, 'events are append-only: only purging a payload is allowed'); END""",
    """CREATE TRIGGER events_purge_delivered BEFORE UPDATE OF payload ON events
    WHEN NOT EXISTS (SELECT 1 FROM outbox WHERE event_id = OLD.event_id
                     AND state IN ('acknowledged', 'superseded'))
    BEGIN SELECT RAISE(ABORT, 'purge refused: event not acknowledged by the server'); END""",
    # WITHOUT ROWID: keyed by event_id alone, one b-tree instead of a table plus its index.
    f"""CREATE TABLE outbox (
        event_id TEXT PRIMARY KEY REFERENCES events (event_id),
        state TEXT NOT NULL CHECK (state IN ({", ".join(f"'{s}'" for s in OUTBOX_STATES)})),
        attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        sent_at TEXT,
        receipt TEXT,
        acknowledged_at TEXT,
        reject_code TEXT,
        reject_field TEXT,
        reject_message TEXT,
        rejected_at TEXT,
        superseded_by TEXT REFERENCES events (event_id),
        updated_at TEXT NOT NULL,
        CHECK (state <> 'sent' OR sent_at IS NOT NULL),
        CHECK (state <> 'acknowledged' OR (receipt IS NOT NULL AND receipt <> ''
                                           AND acknowledged_at IS NOT NULL)),
        CHECK (state <> 'rejected' OR (reject_code IS NOT NULL AND reject_message IS NOT NULL
                                       AND rejected_at IS NOT NULL)),
        CHECK ((state = 'superseded') = (superseded_by IS NOT NULL))
    ) WITHOUT ROWID""",
    "CREATE INDEX outbox_pending ON outbox (state) WHERE state IN ('queued', 'sent', 'rejected')",
    """CREATE TRIGGER events_enqueue AFTER INSERT ON events
    BEGIN INSERT INTO outbox (event_id, state, updated_at)
          VALUES (NEW.event_id, 'queued', NEW.wall_time); END""",
    """CREATE TRIGGER outbox_insert_queued BEFORE INSERT ON outbox
    WHEN NEW.state IS NOT 'queued' OR NEW.attempts <> 0
    BEGIN SELECT RAISE(ABORT, 'outbox: a row starts queued'); END""",
    f"""CREATE TRIGGER outbox_transition BEFORE UPDATE ON outbox
    WHEN NEW.event_id IS NOT OLD.event_id
      OR (OLD.state, NEW.state) NOT IN (VALUES {_TRANSITIONS_SQL})
    BEGIN SELECT RAISE(ABORT, 'outbox: illegal state transition refused'); END""",
    """CREATE TRIGGER outbox_superseded_by_void BEFORE UPDATE OF state ON outbox
    WHEN NEW.state = 'superseded' AND (NEW.superseded_by = OLD.event_id OR NOT EXISTS (
        SELECT 1 FROM events v JOIN events e ON e.event_id = OLD.event_id
        WHERE v.event_id = NEW.superseded_by AND v.kind = 'void' AND v.stay_id = e.stay_id))
    BEGIN SELECT RAISE(ABORT, 'outbox: only a void of the same stay supersedes'); END""",
    """CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
    BEGIN SELECT RAISE(ABORT, 'outbox rows are kept with their event: DELETE refused'); END""",
]

# v2: a projection for the in-house list and capture checks, written in the same transaction
# as the events (rebuilt from the fold by the migration), plus the purge log. Small tables are
# WITHOUT ROWID and indexes partial: every b-tree a check-in touches is one more WAL frame.
V2 = [
    """CREATE TABLE stay_view (
        stay_id TEXT PRIMARY KEY,
        room TEXT,
        status TEXT NOT NULL CHECK (status IN ('in_house', 'checked_out', 'voided')),
        checked_in_at TEXT NOT NULL,
        expected_check_out TEXT,
        ended_at TEXT,
        operator TEXT NOT NULL,
        guest_count INTEGER NOT NULL,
        guests_in_house INTEGER NOT NULL,
        purged INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1))
    ) WITHOUT ROWID""",
    "CREATE INDEX stay_view_in_house ON stay_view (room) WHERE status = 'in_house'",
    # Purge candidates only: a check-in (status in_house) does not touch this index.
    "CREATE INDEX stay_view_ended ON stay_view (ended_at) "
    "WHERE purged = 0 AND status <> 'in_house'",
    # Personal columns (name, document) hold values only while the guest is in house: the
    # authoritative copy is the event payload, which retention purges later.
    """CREATE TABLE guest_view (
        stay_id TEXT NOT NULL REFERENCES stay_view (stay_id),
        guest_id TEXT NOT NULL,
        role TEXT NOT NULL,
        in_house INTEGER NOT NULL CHECK (in_house IN (0, 1)),
        name TEXT,
        document_type TEXT,
        document_number TEXT,
        CHECK (in_house = 1 OR (name IS NULL AND document_number IS NULL)),
        PRIMARY KEY (stay_id, guest_id)
    ) WITHOUT ROWID""",
    """CREATE INDEX guest_view_document ON guest_view (document_type, document_number)
       WHERE in_house = 1""",
    """CREATE TABLE purge_log (
        id INTEGER PRIMARY KEY,
        purged_at TEXT NOT NULL,
        retention_days INTEGER NOT NULL,
        stays INTEGER NOT NULL,
        events INTEGER NOT NULL,
        payload_bytes INTEGER NOT NULL
    )""",
]

# v3: the state of the devices as the terminal service last saw them (one row per component,
# "reader" for now), for the uploader's heartbeat in its own process
# (terminal/store/reader_state.py).
# Overwritten in place: a status, not a record; nothing personal.
V3 = [
    """CREATE TABLE device_status (
        component TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        detail TEXT,
        since TEXT NOT NULL,
        since_monotonic_ns INTEGER NOT NULL,
        seen_at TEXT NOT NULL,
        seen_monotonic_ns INTEGER NOT NULL,
        boot_id TEXT NOT NULL
    ) WITHOUT ROWID""",
]

# v4: failed clerk sign-ins on the front-desk page, so the waits they impose survive a restart
# (terminal/web/signin_throttle.py). One row per client address (or "global"): a counter, not a
# record; no PIN and no staff number, only the address the attempts came from.
V4 = [
    """CREATE TABLE login_throttle (
        scope TEXT PRIMARY KEY,
        failures INTEGER NOT NULL CHECK (failures >= 1),
        wait_s REAL NOT NULL CHECK (wait_s >= 0),
        failed_at TEXT NOT NULL,
        failed_monotonic_ns INTEGER NOT NULL,
        boot_id TEXT NOT NULL
    ) WITHOUT ROWID""",
]

# v5: clerk accounts on the front-desk page (terminal/desk/clerks.py): each clerk signs in with
# their own staff number and PIN, so the operator on every event is who they say they are. The
# PIN is kept as an argon2id hash only; accounts are disabled, never deleted (old events name them).
V5 = [
    """CREATE TABLE clerks (
        staff_no TEXT PRIMARY KEY CHECK (length(staff_no) BETWEEN 1 AND 12),
        name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('owner', 'clerk')),
        pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by TEXT NOT NULL
    ) WITHOUT ROWID""",
]

# v6: which programs may write this database (terminal/store/compat.py): the first schema of
# the compatible series, so that a later release can be rolled back without refusing the store.
V6 = [
    """CREATE TABLE schema_compat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        min_writer_version INTEGER NOT NULL CHECK (min_writer_version >= 1),
        last_writer_version INTEGER NOT NULL CHECK (last_writer_version >= 1),
        updated_at TEXT NOT NULL
    )""",
]

# v7: the `check_out_undone` kind (a check-out taken back; target_event_id: the check-out).
# SQLite cannot ALTER a CHECK, and the events table cannot be copied (append-only triggers,
# foreign keys from outbox): the two CHECKs are widened in place in sqlite_schema, the
# procedure SQLite documents for loosening a constraint (lang_altertable.html, "otheralter"),
# which changes no stored row. migrations.py does it (the schema cookie must be bumped).
KINDS_V1 = "CHECK (kind IN ('check_in', 'add_guest', 'check_out', 'amend', 'void'))"
KINDS_V7 = ("CHECK (kind IN ('check_in', 'add_guest', 'check_out', 'amend', 'void', "
            "'check_out_undone'))")
TARGETED_V1 = "CHECK ((kind IN ('amend', 'void')) = (target_event_id IS NOT NULL))"
TARGETED_V7 = ("CHECK ((kind IN ('amend', 'void', 'check_out_undone')) "
               "= (target_event_id IS NOT NULL))")

# The way back of each migration (`anju store downgrade`): events and outbox rows are never
# touched, so every event written since survives a downgrade. Going below 5 drops the clerk
# accounts (the release before them signs in with the shared `web.clerk_pin`; the `.bak` copy
# that `downgrade` makes keeps them).
DOWN = {
    2: ["DROP TABLE guest_view", "DROP TABLE stay_view", "DROP TABLE purge_log"],
    3: ["DROP TABLE device_status"],
    4: ["DROP TABLE login_throttle"],
    5: ["DROP TABLE clerks"],
    6: ["DROP TABLE schema_compat"],
}

EXPECTED_TABLES = frozenset(
    {"schema_migrations", "events", "outbox", "stay_view", "guest_view", "purge_log",
     "device_status", "login_throttle", "clerks", "schema_compat"}
)
EXPECTED_TRIGGERS = frozenset(
    {"events_gapless", "events_no_delete", "events_only_purge", "events_purge_delivered",
     "events_enqueue", "outbox_insert_queued", "outbox_transition", "outbox_superseded_by_void",
     "outbox_no_delete"}
)
