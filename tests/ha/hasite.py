"""A whole deployment as in deploy/ha/: N `anju central serve` on one PostgreSQL URL (both
nodes of the pair, libpq multi-host) behind nginx on the sample site, TLS included."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from sync.client import SyncClient
from sync.errors import SyncError
from sync.protocol import WireEvent
from tests.central.serverproc import CentralServer
from tests.ha.nginxproc import Nginx

ROOT = Path(__file__).parents[2]


def send_until_answered(client: SyncClient, events: Sequence[WireEvent], took: list[float],
                        encoded: bytes | None = None) -> int:
    """Send one batch through the site, retrying every 0.2 s until it is answered (a server
    or the database may be away); appends the answered request's seconds to `took` and returns
    how many events the answer says are delivered. The benches' terminals. `encoded`: the
    body, made before the bench's clock (SyncClient.send_events)."""
    while True:
        sent = time.monotonic()
        try:
            answer = client.send_events(events, encoded=encoded)
        except SyncError:
            time.sleep(0.2)
            continue
        took.append(time.monotonic() - sent)
        return sum(1 for r in answer.results if r.delivered)


def anju_central(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from terminal.cli import main; main()", "central", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


class HaSite:
    def __init__(
        self, db_url: str, base: Path, servers: int = 2, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.db_url = db_url
        self.base = base
        self.count = servers
        self.extra_args = extra_args
        self.servers: list[CentralServer] = []
        self.nginx: Nginx | None = None
        self._stack = ExitStack()

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def __enter__(self) -> HaSite:
        try:
            # Migrated once before the servers start (they would race to migrate otherwise).
            done = anju_central("migrate", "--db", self.db_url)
            assert done.returncode == 0, done.stderr
            for i in range(self.count):
                self.servers.append(
                    self._stack.enter_context(
                        CentralServer(
                            self.db_url, self.base / f"server{i}.log", extra_args=self.extra_args
                        )
                    )
                )
            nginx_dir = self.base / "nginx"
            nginx_dir.mkdir()
            self.nginx = self._stack.enter_context(Nginx(nginx_dir, [s.port for s in self.servers]))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
