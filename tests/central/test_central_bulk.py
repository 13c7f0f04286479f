"""central/db/bulk.py: on PostgreSQL the keys go as one array literal that bulk quotes itself
(psycopg's element-by-element quoting cost ingest 1.7 ms a batch), so every key a text column
may hold must come back as itself, on both backends."""

from __future__ import annotations

from sqlalchemy import Engine, select

from central.db import bulk
from central.db.tables import chain_faults, stay_owners

ODD_KEYS = ['a"b', "a\\b", 'a\\"b', "\\", '"', "a,b", "{a}", "a b", " ", "", "NULL", "null",
            "王五", "😀", "'; DROP TABLE x; --", "a\tb", "\u00a0", "x" * 36]


def test_text_keys_of_every_shape_are_found_and_deleted(engine: Engine) -> None:
    rows = [{"stay_id": key, "device_id": f"d{i}", "site_code": "S",
             "claimed_at": "2026-12-06T00:00:00.000000Z"} for i, key in enumerate(ODD_KEYS)]
    with engine.begin() as conn:
        bulk.insert_rows(conn, stay_owners, rows, ignore=True)
        everything = [*ODD_KEYS, "absent", 'absent"']
        found = bulk.select_any(conn, [stay_owners.c.stay_id], stay_owners.c.stay_id, everything)
        assert sorted(r.stay_id for r in found) == sorted(ODD_KEYS)
        for key in ODD_KEYS:  # each alone too: no key matches another
            one = bulk.select_any(conn, [stay_owners.c.stay_id], stay_owners.c.stay_id, [key])
            assert [r.stay_id for r in one] == [key]
        bulk.delete_any(conn, stay_owners.c.stay_id, ODD_KEYS[:5])
        left = conn.execute(select(stay_owners.c.stay_id)).scalars().all()
        assert sorted(left) == sorted(ODD_KEYS[5:])


def test_integer_keys_and_extra_conditions(engine: Engine) -> None:
    rows = [{"device_id": device, "kind": "gap", "first_sequence": first, "last_sequence": first,
             "event_id": None, "detected_at": "2026-12-06T00:00:00.000000Z",
             "resolved_at": None, "detail": "test"}
            for device in ("A", "B") for first in (1, 2, 2**40, 5)]
    with engine.begin() as conn:
        bulk.insert_rows(conn, chain_faults, rows)
        found = bulk.select_any(conn, [chain_faults.c.first_sequence],
                                chain_faults.c.first_sequence, [2, 2**40, 7, -1],
                                chain_faults.c.device_id == "A")
        assert sorted(r.first_sequence for r in found) == [2, 2**40]
        assert bulk.select_any(conn, [chain_faults.c.id], chain_faults.c.id, []) == []
