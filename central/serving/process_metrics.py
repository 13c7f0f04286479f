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
"""

from __future__ import annotations

import time
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ProcessStats:
    def __init__(self) -> None:
        self.started = time.time()
        self.answers: Counter[str] = Counter()
        self.db_unavailable = 0

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
        return "\n".join(lines) + "\n"


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
