"""Retention: personal data of finished, delivered stays goes; hashes, counts and the chain stay."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.errors import PurgedError
from terminal.store import purge, queries, verify
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import acknowledge_all, card, card_guest

DAY = timedelta(days=1)


def file_bytes(db_path: Path) -> bytes:
    wal = db_path.with_name(db_path.name + "-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_purge_waits_for_check_out_retention_and_acknowledgement(reg: Registry, clock: FixedClock):
    out = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    stays_in = reg.check_in(room="102", guests=[card_guest(serial=2)], operator="C01")
    reg.check_out(out.stay_id, operator="C01")
    later = clock.wall + 30 * DAY + timedelta(seconds=1)
    # Not acknowledged yet: nothing goes, however old.
    assert purge.purge(reg.store, retention_days=30, now=later + 365 * DAY).stays == 0
    acknowledge_all(reg.store)
    assert purge.purge(reg.store, retention_days=30, now=later - 2 * DAY).stays == 0
    result = purge.purge(reg.store, retention_days=30, now=later)
    assert (result.stays, result.events) == (1, 2) and result.payload_bytes > 1000
    with reg.store.reader() as conn:
        assert queries.show(conn, out.stay_id).stay.purged
        assert not queries.show(conn, stays_in.stay_id).stay.purged
        assert verify.verify(conn) == []
        assert conn.execute("SELECT stays, events FROM purge_log").fetchall() == [(1, 2)]


def test_purged_data_is_gone_from_the_file_and_the_log_has_counts_only(
        reg: Registry, db_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture):
    reading = card(name="欧阳娜娜", serial=77)
    guest_from = card_guest(name="欧阳娜娜", serial=77)
    saved = reg.check_in(room="101", guests=[guest_from], operator="C01")
    reg.check_out(saved.stay_id, operator="C01")
    photo_b64 = base64.b64encode(reading.photo_wlt).decode()
    assert reading.id_number.encode() in file_bytes(db_path)
    acknowledge_all(reg.store)
    with caplog.at_level(logging.INFO, logger="terminal.store.purge"):
        purge.purge(reg.store, retention_days=0, now=clock.wall + DAY)
    content = file_bytes(db_path)
    for secret in (reading.id_number, "欧阳娜娜", photo_b64[:40]):
        assert secret.encode() not in content
    assert "1 stays, 2 events" in caplog.text
    assert reading.id_number not in caplog.text and "欧阳" not in caplog.text


def test_a_purged_stay_cannot_change_and_is_not_purged_twice(reg: Registry, clock: FixedClock):
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    reg.void(saved.stay_id, reason="误登记", operator="C01")
    acknowledge_all(reg.store)
    assert purge.purge(reg.store, retention_days=0, now=clock.wall + DAY).stays == 1
    assert purge.purge(reg.store, retention_days=0, now=clock.wall + DAY).stays == 0
    with pytest.raises(PurgedError):
        reg.amend(saved.stay_id, field="room", old="101", new="102", reason="x", operator="C01")
    with reg.store.reader() as conn:
        stay = queries.show(conn, saved.stay_id).stay
        assert (stay.status, stay.room, stay.guests) == ("voided", None, {})
        assert verify.verify(conn) == []
