"""A statement left running in a thread of its own, for the tests that then make its database
hang or cut its connection: did it end, and with which error."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError


class BackgroundStatement:
    def __init__(self, engine: Engine, sql: str) -> None:
        self.engine, self.sql = engine, sql
        self.errors: list[DBAPIError] = []
        self._thread = threading.Thread(target=self._run, name="background-statement")

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text(self.sql))
        except DBAPIError as err:
            self.errors.append(err)

    def start(self) -> BackgroundStatement:
        self._thread.start()
        return self

    def ended_within(self, seconds: float) -> bool:
        self._thread.join(timeout=seconds)
        return not self._thread.is_alive()
