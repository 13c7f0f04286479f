"""The write side of the feed: ingest's hook, and the snapshot records of an upgrade.

Positions must follow commit order, or a reader could pass a position that a transaction
still open fills later, and its consumer would never see that record. So:

* PostgreSQL: `record()` is the last statement of the ingest transaction. It builds its rows
  first, then takes a transaction-scoped advisory lock (FEED_LOCK_KEY) and only then inserts,
  taking positions from the sequence. The lock is released after the commit is visible
  (PostgreSQL ends a transaction in the process array before it releases its locks), so the
  transaction that takes the next positions starts after this one is visible to every new
  snapshot: a reader that sees position p sees every committed position below p, and no
  transaction can still take one below it. The price: the feed insert and the commit of
  concurrent ingest transactions go one at a time (see docs/feed.md, bench/bench_feed.py).
* SQLite: every transaction holds the database's write lock from BEGIN IMMEDIATE to its end
  (central/db/engine.py), so rowids are commit-ordered already; AUTOINCREMENT never reuses one.

A position is a plain integer from the database, so it survives restarts, is the same for
every server process and, on PostgreSQL, survives a failover to a streaming replica (the
sequence is WAL-logged ahead of what it hands out) and a dump and restore.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, text, tuple_

from central.db import bulk
from central.db.driver import Statement
from central.db.tables import events, feed_log, sites, stay_guests, stays
from central.feed import records
from central.stays.ownership import owners_of
from central.stays.state import Refolded

FEED_LOCK_KEY = 0x414E4A46  # "ANJF"; the audit chain's is "ANJU"
_CHUNK = 500
_COLUMNS = "event_id, stay_id, site_code, change, recorded_at, record"
# The sequence is looked up once, in the lock's row: pg_get_serial_sequence() reads the
# catalogs on each call (per record: 4-8 of this statement's 31-35 us of backend CPU).
_LOCKED_INSERT = Statement(text(
    "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(:k), "
    "CAST(pg_get_serial_sequence('feed_log', 'position') AS regclass) AS positions) "
    f"INSERT INTO feed_log (position, {_COLUMNS}) "
    f"SELECT nextval(lock.positions), {_COLUMNS} "
    "FROM lock, json_populate_recordset(NULL::feed_log, CAST(:rows AS json)) WITH ORDINALITY "
    "ORDER BY ordinality"
))


def record(
    conn: Connection, stored: Sequence[Any], now: str, folded: Refolded | None = None
) -> None:
    """Append one feed record per stored event (batch order), as the transaction's last act.
    `folded`: the projection's refold of the stored stays (ingest passes it: the same rows are
    not read twice, and a stay's last event of the batch takes the projection's fold)."""
    if not stored:
        return
    order = {e.event_id: i for i, e in enumerate(stored)}
    wanted = sorted({e.stay_id for e in stored})
    by_stay: dict[str, list[Any]] = {}
    states = folded.states if folded is not None else {}
    if folded is not None:
        by_stay = {s: sorted(folded.events.get(s, []), key=lambda r: r.sequence) for s in wanted}
    else:
        owners = owners_of(conn, wanted)
        for row in sorted(
            bulk.select_any(conn, list(events.c), events.c.stay_id, wanted),
            key=lambda r: (r.stay_id, r.sequence),
        ):
            if owners.get(row.stay_id, row.device_id) == row.device_id:
                by_stay.setdefault(row.stay_id, []).append(row)
    codes = sorted({e.site_code for e in stored})
    names = _site_names(conn, codes)
    rows = []
    for event in stored:
        stay_events = by_stay.get(event.stay_id, [])
        if len(stay_events) == 1 and stay_events[0].event_id == event.event_id:
            seen, mine = stay_events, stay_events[0]  # a stay of one event (most check-ins)
        else:
            seen = [r for r in stay_events if order.get(r.event_id, -1) <= order[event.event_id]]
            mine = next((r for r in seen if r.event_id == event.event_id), None)
        if mine is None:  # not the owner's: never folded, never fed
            continue
        whole = len(seen) == len(stay_events)  # the stay as the projection folded it
        record_ = records.for_event(mine, seen, names.get(mine.site_code), now,
                                    states.get(event.stay_id) if whole else None)
        rows.append(
            {
                "event_id": event.event_id,
                "stay_id": event.stay_id,
                "site_code": mine.site_code,
                "change": event.kind,
                "recorded_at": now,
                "record": record_,
            }
        )
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        for row in rows:  # one by one: rowids in batch order, whatever the driver batches
            conn.execute(insert(feed_log).values(**{**row, "record": records.dumps(row["record"])}))
        return
    # One statement: the lock (its CTE is read before the first row is formed), then the rows
    # with their positions in batch order (nextval() is evaluated as rows leave in ordinality
    # order; were a sort ever planned, PostgreSQL evaluates volatile outputs after it), so
    # the lock is held for this statement and the commit only. EXPLAIN: a nested loop of
    # json_populate_recordset and the lock's CTE scan, nextval() in its output.
    # Each record nests in the rows' JSON as an object, written as records.dumps writes it;
    # PostgreSQL's json keeps a nested value's text as it came, so `record` stores that same
    # text (one encoding per record, not an encoding and then an escaped copy of it).
    _LOCKED_INSERT.rows(conn, {"k": FEED_LOCK_KEY, "rows": records.dumps(rows)})


def backfill(conn: Connection, now: str) -> int:
    """One snapshot record per stay held before the feed existed, in check-in order (stays
    whose check-in has not arrived last); returns how many."""
    total = 0
    for where, key in (
        (stays.c.checked_in_at.is_not(None), (stays.c.checked_in_at, stays.c.stay_id)),
        (stays.c.checked_in_at.is_(None), (stays.c.stay_id,)),
    ):
        last: tuple[Any, ...] | None = None
        while True:
            query = select(stays).where(where).order_by(*key).limit(_CHUNK)
            if last is not None:
                query = query.where(tuple_(*key) > tuple_(*last))
            chunk = [dict(r._mapping) for r in conn.execute(query)]
            if not chunk:
                break
            last = tuple(chunk[-1][c.name] for c in key)
            conn.execute(insert(feed_log), list(_snapshots(conn, chunk, now)))
            total += len(chunk)
    return total


def _snapshots(conn: Connection, chunk: list[dict[str, Any]], now: str) -> Iterable[dict[str, Any]]:
    ids = [s["stay_id"] for s in chunk]
    guests: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(select(stay_guests).where(stay_guests.c.stay_id.in_(ids))):
        guests.setdefault(row.stay_id, []).append(dict(row._mapping))
    codes = sorted({s["site_code"] for s in chunk})
    names = _site_names(conn, codes)
    for stay in chunk:
        record_ = records.snapshot(
            stay, guests.get(stay["stay_id"], []), names.get(stay["site_code"])
        )
        yield {
            "event_id": None,
            "stay_id": stay["stay_id"],
            "site_code": stay["site_code"],
            "change": records.SNAPSHOT,
            "recorded_at": now,
            "record": records.dumps(record_),
        }


def _site_names(conn: Connection, codes: list[str]) -> dict[str, str]:
    found = bulk.select_any(conn, [sites.c.code, sites.c.name], sites.c.code, codes)
    return {code: name for code, name in found}
