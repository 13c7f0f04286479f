"""Fan-out of "something changed" notices from worker threads to every open page (SSE).

The reader loop and the probes run in threads; the pages are served by the event loop. A notice
is a small (name, data) pair: each page's event stream renders its own fragment in its own
language when it receives one, so nothing personal or rendered is kept here.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

QUEUE_LIMIT = 64  # a page that stops reading loses notices, never the service's memory
CLOSING = "closing"  # the last notice of every stream: the service is stopping


@dataclass(frozen=True, slots=True)
class Notice:
    name: str  # "draft" | "status" | "scan" | CLOSING
    data: dict[str, Any] = field(default_factory=dict)


class Hub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue[Notice]] = set()
        self._lock = threading.Lock()
        self._closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the server's event loop runs (notices before that are dropped)."""
        self._loop = loop

    def subscribe(self) -> asyncio.Queue[Notice]:
        queue: asyncio.Queue[Notice] = asyncio.Queue(QUEUE_LIMIT)
        with self._lock:
            self._queues.add(queue)
            if self._closing:
                queue.put_nowait(Notice(CLOSING))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Notice]) -> None:
        with self._lock:
            self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, name: str, **data: Any) -> None:
        """Thread-safe: may be called from the reader thread or the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        notice = Notice(name, data)
        # The loop may close between the check and the call while shutting down: harmless.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, notice)

    def _deliver(self, notice: Notice) -> None:
        with self._lock:
            queues = list(self._queues)
        for queue in queues:
            if queue.full():
                continue  # that page is stuck; the next status tick brings it up to date
            queue.put_nowait(notice)

    def close(self) -> None:
        """End every event stream (thread-safe; from the signal handler on SIGTERM).

        An open stream is a response in progress: the server would wait its whole graceful
        timeout for it before stopping. Each stream returns on this notice, so the server stops
        at once, and the page's EventSource reconnects to the next instance by itself."""
        self._closing = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver_closing)

    def _deliver_closing(self) -> None:
        with self._lock:
            queues = list(self._queues)
        for queue in queues:
            if queue.full():
                queue.get_nowait()  # a stuck page loses one notice: it must still end
            queue.put_nowait(Notice(CLOSING))
