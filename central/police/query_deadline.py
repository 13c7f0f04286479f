"""A time bound on police queries, so one expensive search cannot hold a connection for long.

PostgreSQL: `SET LOCAL statement_timeout` (ends with the transaction). SQLite: a progress
handler that interrupts the statement once the monotonic deadline has passed. Either way the
caller sees `QueryTimeoutError` (503, query_timeout): narrow the search and try again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from central.errors import CentralError

_SQLITE_STEPS = 20_000  # VM instructions between deadline checks


class QueryTimeoutError(CentralError):
    status, code = 503, "query_timeout"


@contextmanager
def bounded(conn: Connection, timeout_s: float) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        # One statement, one round trip, settings for this transaction only:
        # * statement_timeout: the bound; 0 would mean "no limit", so never round down to it.
        # * plan_cache_mode: psycopg prepares a statement run 5 times; PostgreSQL may then plan
        #   it generically, blind to the values: `anju_bigrams($1)` can no longer use its index
        #   and a name search became a scan (4 -> 30 ms at 100k stays).
        # * jit: it compiles any plan whose estimated cost is high, and a walk that stops after
        #   one page is estimated at the cost of the whole walk: 265 ms of compiling measured
        #   for a 14 ms query. These are short queries.
        conn.execute(text("SELECT set_config('statement_timeout', :ms, true), "
                          "set_config('plan_cache_mode', 'force_custom_plan', true), "
                          "set_config('jit', 'off', true)"),
                     {"ms": str(max(1, int(timeout_s * 1000)))})
        try:
            yield
        except OperationalError as err:
            if "statement timeout" in str(err.orig):
                raise QueryTimeoutError("the search took too long: narrow it") from err
            raise
        return
    raw = conn.connection.driver_connection
    deadline = time.monotonic() + timeout_s
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), _SQLITE_STEPS)
    try:
        yield
    except OperationalError as err:
        if "interrupted" in str(err.orig):
            raise QueryTimeoutError("the search took too long: narrow it") from err
        raise
    finally:
        raw.set_progress_handler(None, 0)
