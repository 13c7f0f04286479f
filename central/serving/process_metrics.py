"""Per-process figures for `GET /metrics`, beside the database-wide ones of
central/serving/metrics.py.

Each `anju central serve` process counts what it answered itself; Prometheus scrapes every
process directly (each one a target, so each series gets its own `instance` label) and sums
the counters across instances (docs/operations.md):

    anju_http_requests_total{code="2xx"|"4xx"|"5xx"...}  counter  answers of this process
    anju_db_unavailable_total                            counter  503 database_unavailable
    anju_database_up                                     gauge    1 if the database answered
                                                                  this scrape, else 0
    anju_process_start_time_seconds                      gauge    when this process started

and, on PostgreSQL, what its database watchdog (central/db/watchdog.py) did:

    anju_db_host_info{host, port}                        gauge    1 for the host it last
                                                                  reached (the primary, for
                                                                  a read-write URL); absent
                                                                  while it reaches none
    anju_db_watchdog_cuts_total                          counter  times it cut connections
                                                                  (a host hung; a new primary)
    anju_db_connections_cut_total                        counter  connections it cut
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class WatchdogView(Protocol):
    cuts: int
    connections_cut: int

    @property
    def reached(self) -> tuple[str, int] | None: ...


class ProcessStats:
    def __init__(self, watchdog: WatchdogView | None = None) -> None:
        self.started = time.time()
        self.answers: Counter[str] = Counter()
        self.db_unavailable = 0
        self.watchdog = watchdog

    def render(self, database_up: bool) -> str:
        lines = [
            "# HELP anju_http_requests_total HTTP answers of this process by status class.",
            "# TYPE anju_http_requests_total counter",
        ]
        for code in ("2xx", "3xx", "4xx", "5xx"):
            lines.append(f'anju_http_requests_total{{code="{code}"}} {self.answers[code]}')
        lines += [
            "# HELP anju_db_unavailable_total Answers 503 because the database did not answer.",
            "# TYPE anju_db_unavailable_total counter",
            f"anju_db_unavailable_total {self.db_unavailable}",
            "# HELP anju_database_up Whether the database answered this scrape.",
            "# TYPE anju_database_up gauge",
            f"anju_database_up {int(database_up)}",
            "# HELP anju_process_start_time_seconds Start of this server process (Unix time).",
            "# TYPE anju_process_start_time_seconds gauge",
            f"anju_process_start_time_seconds {self.started:.3f}",
        ]
        if self.watchdog is not None:
            lines += self._watchdog_lines(self.watchdog)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _watchdog_lines(watchdog: WatchdogView) -> list[str]:
        lines = [
            "# HELP anju_db_host_info The database host this process's watchdog last reached.",
            "# TYPE anju_db_host_info gauge",
        ]
        reached = watchdog.reached
        if reached is not None:
            host, port = reached
            lines.append(f'anju_db_host_info{{host="{_label(host)}",port="{port}"}} 1')
        return [
            *lines,
            "# HELP anju_db_watchdog_cuts_total Times the watchdog cut database connections.",
            "# TYPE anju_db_watchdog_cuts_total counter",
            f"anju_db_watchdog_cuts_total {watchdog.cuts}",
            "# HELP anju_db_connections_cut_total Database connections the watchdog cut.",
            "# TYPE anju_db_connections_cut_total counter",
            f"anju_db_connections_cut_total {watchdog.connections_cut}",
        ]


def _label(value: str) -> str:
    """A label value in Prometheus text format (backslash, quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class CountAnswers:
    """ASGI middleware: counts each answer's status class (one event loop: plain counters)."""

    def __init__(self, app: ASGIApp, *, stats: ProcessStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.stats.answers[f"{message['status'] // 100}xx"] += 1
            await send(message)

        await self.app(scope, receive, counted)
