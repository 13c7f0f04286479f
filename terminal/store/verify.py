"""`anju store verify`: schema, integrity, every hash, every sequence, and the projection.

Each fault names the event (id and sequence) or the stay, so a technician can report exactly
what is wrong; a clean store gives an empty list. Runs on a reader connection, so it can check
a live terminal without stopping registrations.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from terminal.domain.events import GENESIS, Event, chain_hash, sha256_hex
from terminal.domain.fold import apply
from terminal.domain.stays import Stay
from terminal.errors import CorruptionError, SchemaTooNewError, TerminalError
from terminal.store import compat, connection, event_chain, migrations, schema, stay_views


@dataclass(frozen=True, slots=True)
class Fault:
    code: str
    message: str
    event_id: str | None = None
    sequence: int | None = None
    stay_id: str | None = None

    def __str__(self) -> str:
        where = f"event {self.event_id} (sequence {self.sequence})" if self.event_id else (
            f"stay {self.stay_id}" if self.stay_id else "database")
        return f"{self.code}: {where}: {self.message}"


def verify_file(path: Path) -> tuple[list[Fault], int]:
    """Every check on a read-only connection to the database at `path`, and its event count
    (`anju store verify`, `anju doctor`)."""
    conn = connection.connect(path, readonly=True)
    try:
        return verify(conn), conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def verify(conn: sqlite3.Connection, *, full_integrity: bool = True) -> list[Fault]:
    faults = _schema(conn)
    if any(f.code in ("schema_version", "schema_table") for f in faults):
        return faults  # the checks below would only trip over a wrong schema
    try:
        connection.quick_check(conn, full=full_integrity)
    except CorruptionError as err:
        return [Fault("integrity", str(err))]
    faults += [Fault("foreign_key", f"{row[0]} row {row[1]} -> {row[2]}")
               for row in conn.execute("PRAGMA foreign_key_check")]
    faults += _chain(conn)
    faults += _projection(conn)
    return faults


def _schema(conn: sqlite3.Connection) -> list[Fault]:
    version = migrations.schema_version(conn)
    if version < migrations.LATEST:
        return [Fault("schema_version", f"version {version}, expected {migrations.LATEST}")]
    if version > migrations.LATEST:  # a newer schema this program may still write, or a fault
        try:
            compat.require_writable(conn, "store", version, migrations.LATEST)
        except SchemaTooNewError as err:
            return [Fault("schema_version", str(err))]
    database = sqlite_utils.Database(conn, execute_plugins=False, recursive_triggers=False)
    tables = sorted(schema.EXPECTED_TABLES - set(database.table_names()))
    triggers = sorted(schema.EXPECTED_TRIGGERS - {t.name for t in database.triggers})
    # A missing trigger means the guards were removed: report it, and still check every event.
    return [Fault("schema_table", f"missing table {name}") for name in tables] + [
        Fault("schema_trigger", f"missing trigger {name}") for name in triggers]


def _chain(conn: sqlite3.Connection) -> list[Fault]:
    faults: list[Fault] = []
    heads: dict[str, tuple[int, str]] = {}
    rows = conn.execute(
        f"SELECT {', '.join(event_chain.ROW_COLUMNS)}, o.event_id IS NOT NULL FROM events e "
        "LEFT JOIN outbox o USING (event_id) ORDER BY device_id, sequence")
    for *values, has_outbox in rows:
        row = dict(zip(event_chain.ROW_COLUMNS, values, strict=True))
        event_id, seq = row["event_id"], row["sequence"]

        def fault(code: str, message: str, event_id: str = event_id, seq: int = seq) -> None:
            faults.append(Fault(code, message, event_id, seq))

        last_seq, last_hash = heads.get(row["device_id"], (0, GENESIS))
        if seq != last_seq + 1:
            fault("sequence_gap", f"device {row['device_id']}: expected sequence {last_seq + 1}")
        if row["prev_chain_sha256"] != last_hash:
            fault("chain_link", "previous chain hash does not match the previous event")
        if row["chain_sha256"] != chain_hash(seq, row["prev_chain_sha256"], row["payload_sha256"]):
            fault("chain_hash", "chain hash does not match sequence, previous and payload hash")
        if row["payload"] is not None:
            _check_payload(row, fault)
        if not has_outbox:
            fault("outbox_missing", "event has no outbox row")
        heads[row["device_id"]] = (seq, row["chain_sha256"])
    return faults


def _check_payload(row: dict[str, Any], fault: Any) -> None:
    if sha256_hex(row["payload"]) != row["payload_sha256"]:
        fault("payload_hash", "payload does not match its SHA-256")
        return
    try:
        doc = json.loads(row["payload"])
    except ValueError:
        fault("payload_json", "payload is not JSON")
        return
    stored = event_chain.header_values(event_chain.event_from_row(tuple(row.values())))
    columns = tuple(row[c] for c in event_chain.HEADER_COLUMNS)
    if stored != columns or "data" not in doc:
        fault("header_mismatch", "columns differ from the payload's header")


def _projection(conn: sqlite3.Connection) -> list[Fault]:
    faults: list[Fault] = []
    stays: dict[str, Stay] = {}
    for row in event_chain.iter_rows(conn):
        event: Event = event_chain.event_from_row(row)
        try:
            apply(stays, event)
        except TerminalError as err:
            faults.append(Fault("fold", str(err), event.event_id, event.sequence))
    seen = {r[0] for r in conn.execute("SELECT stay_id FROM stay_view")}
    for stay_id, stay in stays.items():
        expected_stay, expected_guests = stay_views.rows_for(stay)
        actual_stay, actual_guests = stay_views.read(conn, stay_id)
        if actual_stay != expected_stay:
            faults.append(Fault("projection", "stay_view differs from the fold", stay_id=stay_id))
        if actual_guests != expected_guests:
            faults.append(Fault("projection", "guest_view differs from the fold", stay_id=stay_id))
    faults += [Fault("projection", "stay_view row without events", stay_id=s)
               for s in sorted(seen - set(stays))]
    return faults
