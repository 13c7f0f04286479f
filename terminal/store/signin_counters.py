"""The `login_throttle` table (schema v4): the page's failed sign-ins, kept across restarts.

One row per scope (a client address, or "global"): a counter, not a record. The waits and their
rules are terminal/web/signin_throttle.py's; this module only reads and writes the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync.fields import format_utc

if TYPE_CHECKING:
    from terminal.store.database import Store
    from terminal.store.writer import Txn


@dataclass(frozen=True, slots=True)
class CounterRow:
    scope: str
    failures: int
    wait_s: float
    failed_monotonic_ns: int  # on the clock of boot `boot_id`
    boot_id: str


def rows(conn: sqlite3.Connection) -> list[CounterRow]:
    return [CounterRow(str(scope), int(failures), float(wait_s), int(failed_ns), str(boot))
            for scope, failures, wait_s, failed_ns, boot in conn.execute(
                "SELECT scope, failures, wait_s, failed_monotonic_ns, boot_id FROM login_throttle")]


def save(store: Store, changes: Iterable[tuple[str, tuple[int, float, float] | None]]) -> None:
    """Write (scope, (failures, wait_s, failed_s on time.monotonic) or None to forget it), all
    in one transaction; the failure's wall time and boot id are the transaction's."""
    changes = list(changes)
    if not changes:
        return

    def work(txn: Txn) -> None:
        instant = txn.now()
        for scope, counter in changes:
            if counter is None:
                txn.conn.execute("DELETE FROM login_throttle WHERE scope = ?", (scope,))
                continue
            failures, wait_s, failed_s = counter
            txn.conn.execute(
                "INSERT OR REPLACE INTO login_throttle (scope, failures, wait_s, failed_at, "
                "failed_monotonic_ns, boot_id) VALUES (?, ?, ?, ?, ?, ?)",
                (scope, failures, wait_s, format_utc(instant.wall), int(failed_s * 1e9),
                 instant.boot_id))

    store.writer.transaction(work)
