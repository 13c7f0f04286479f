"""The writer's transactions nest (SAVEPOINT, as sqlite-utils' atomic()): a transaction opened
inside another on the same thread does not wait for itself; other threads wait their turn."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from terminal.store.database import Store
from terminal.store.writer import Txn
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import open_store


class Boom(Exception):
    pass


@pytest.fixture
def store(db_path: Path, clock: FixedClock) -> Iterator[Store]:
    store = open_store(db_path, clock=clock)
    store.writer.conn.execute("CREATE TABLE nesting_probe (name TEXT NOT NULL)")
    yield store
    store.close()


def insert(name: str) -> Callable[[Txn], None]:
    def work(txn: Txn) -> None:
        txn.conn.execute("INSERT INTO nesting_probe VALUES (?)", (name,))
    return work


def names(store: Store) -> list[str]:
    with store.reader() as conn:  # another connection: sees only what was committed
        return [r[0] for r in conn.execute("SELECT name FROM nesting_probe ORDER BY rowid")]


def test_a_nested_transaction_commits_with_the_outer_one(store: Store) -> None:
    def outer(txn: Txn) -> str:
        insert("outer")(txn)
        store.writer.transaction(insert("inner"))
        assert names(store) == []  # released, not committed: the outer one is still open
        return "done"

    assert store.writer.transaction(outer) == "done"
    assert names(store) == ["outer", "inner"]
    assert not store.writer.conn.in_transaction


def test_an_inner_rollback_keeps_the_outer_transaction(store: Store) -> None:
    def failing(txn: Txn) -> None:
        insert("inner")(txn)
        raise Boom

    def outer(txn: Txn) -> None:
        insert("before")(txn)
        with pytest.raises(Boom):
            store.writer.transaction(failing)
        assert store.writer.conn.in_transaction
        insert("after")(txn)

    store.writer.transaction(outer)
    assert names(store) == ["before", "after"]


def test_an_outer_rollback_drops_the_inner_transaction(store: Store) -> None:
    def outer(txn: Txn) -> None:
        insert("outer")(txn)
        store.writer.transaction(insert("inner"))
        raise Boom

    with pytest.raises(Boom):
        store.writer.transaction(outer)
    assert names(store) == []
    store.writer.transaction(insert("next"))  # the writer is usable again
    assert names(store) == ["next"]


def test_three_levels_roll_back_only_the_failing_one(store: Store) -> None:
    def deepest(txn: Txn) -> None:
        insert("3")(txn)
        raise Boom

    def middle(txn: Txn) -> None:
        insert("2")(txn)
        with pytest.raises(Boom):
            store.writer.transaction(deepest)

    def outer(txn: Txn) -> None:
        insert("1")(txn)
        store.writer.transaction(middle)

    store.writer.transaction(outer)
    assert names(store) == ["1", "2"]


def test_other_threads_wait_for_the_outermost_transaction(store: Store) -> None:
    inside, release = threading.Event(), threading.Event()
    other_done = threading.Event()

    def outer(txn: Txn) -> None:
        insert("outer")(txn)
        inside.set()
        assert release.wait(30)
        store.writer.transaction(insert("nested"))  # same thread: no deadlock

    def other() -> None:
        store.writer.transaction(insert("other"))
        other_done.set()

    holder = threading.Thread(target=store.writer.transaction, args=(outer,))
    holder.start()
    assert inside.wait(30)
    waiting = threading.Thread(target=other)
    waiting.start()
    # The other thread cannot get in while the outer transaction is open, however long it waits.
    assert not other_done.wait(0.2)
    assert names(store) == []
    release.set()
    holder.join(30)
    waiting.join(30)
    assert not holder.is_alive() and not waiting.is_alive()
    assert names(store) == ["outer", "nested", "other"]


def test_the_watchdog_sees_one_busy_period_for_a_nested_transaction(store: Store) -> None:
    seen = []

    def outer(txn: Txn) -> None:
        started = store.writer.busy_since
        store.writer.transaction(lambda txn: seen.append(store.writer.busy_since))
        seen.append(started)

    store.writer.transaction(outer)
    assert seen[0] is not None and seen[0] == seen[1]
    assert store.writer.busy_since is None
