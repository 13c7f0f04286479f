"""One writer, many callers: threads share it, a second process waits, readers never block."""

from __future__ import annotations

import threading
from pathlib import Path

from terminal.desk.registry import Registry
from terminal.store import verify
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import START, card_guest, open_store


def test_threads_share_the_writer_and_the_chain_stays_gapless(reg: Registry):
    saved: list[str] = []
    errors: list[BaseException] = []

    def clerk(offset: int) -> None:
        try:
            for n in range(25):
                saved.append(reg.check_in(room=str(offset), operator=f"C{offset}", guests=[
                    card_guest(serial=offset * 100 + n)]).stay_id)
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(saved) == 100
    with reg.store.reader() as conn:
        assert verify.verify(conn) == []
        assert conn.execute("SELECT MAX(sequence) FROM events").fetchone() == (100,)


def test_two_stores_on_one_file_interleave_without_a_gap(db_path: Path):
    # The service and `anju stays check-in` run in two processes: BEGIN IMMEDIATE serialises
    # them and each reads the chain head inside its own transaction.
    first = open_store(db_path, clock=FixedClock(START))
    second = open_store(db_path, clock=FixedClock(START))
    try:
        for n in range(10):
            store = first if n % 2 else second
            Registry(store).check_in(room="101", guests=[card_guest(serial=n)], operator="C01")
        with first.reader() as conn:
            assert verify.verify(conn) == []
    finally:
        first.close()
        second.close()


def test_an_open_read_transaction_does_not_block_the_writer(reg: Registry):
    reg.check_in(room="101", guests=[card_guest()], operator="C01")
    with reg.store.reader() as conn:
        conn.execute("BEGIN")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        reg.check_in(room="102", guests=[card_guest(serial=2)], operator="C01")
        # The reader still sees its snapshot; the writer committed regardless.
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        conn.execute("COMMIT")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (2,)
