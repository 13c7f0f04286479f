"""The real `anju` CLI with hangs a test can switch on: run it as
`python -c "from tests.terminal.hang_harness import main; main()" terminal run ...` with
ANJU_TEST_HANG_DIR set; creating a file named `reader`, `writer` or `upload` there makes that
loop hang for good (a callback that deadlocks, a transaction whose fsync never returns, a
request that never answers). The loops' bounds are shortened so a test waits seconds, not the
production minutes; everything else is the shipped code path."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

BOUND_S = 2.0
_never = threading.Event()  # never set: a hang lasts until the process is killed


def _armed(name: str) -> bool:
    return (Path(os.environ["ANJU_TEST_HANG_DIR"]) / name).exists()


def _patch() -> None:
    import terminal.desk.frontdesk as service
    import terminal.uploading.sync_service as sync_service
    from drivers.idcard.reader import CardReader
    from sync.client import SyncClient

    service.READER_BOUND_S = service.WRITER_BOUND_S = sync_service.STEP_BOUND_S = BOUND_S

    poll_once = CardReader.poll_once

    def hanging_poll(self: CardReader) -> Any:
        if _armed("reader"):
            _never.wait()
        return poll_once(self)

    CardReader.poll_once = hanging_poll  # type: ignore[method-assign]

    attempt = SyncClient._attempt

    def hanging_attempt(self: SyncClient, *args: Any) -> Any:
        if _armed("upload"):
            _never.wait()
        return attempt(self, *args)

    SyncClient._attempt = hanging_attempt  # type: ignore[method-assign]

    start = service.TerminalService.start

    def start_and_watch(self: service.TerminalService) -> None:
        start(self)

        def stuck_writer() -> None:
            while not _armed("writer"):
                time.sleep(0.05)
            self.store.writer.transaction(lambda _txn: _never.wait())

        threading.Thread(target=stuck_writer, name="test-hang-writer", daemon=True).start()

    service.TerminalService.start = start_and_watch  # type: ignore[method-assign]


def main() -> None:
    _patch()
    from terminal.cli import main as cli_main

    sys.argv[0] = "anju"
    cli_main()
