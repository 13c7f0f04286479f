"""uvicorn's server for the front desk: it ends the pages' event streams the moment it is told
to stop. An open stream is a response in progress, and uvicorn waits for those for its whole
graceful timeout (2 s) before stopping: `systemctl stop` and every restart waited with it."""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The SIGTERM/SIGINT handler (main thread): end the streams, then stop as usual."""
        self._on_exit()
        super().handle_exit(sig, frame)
