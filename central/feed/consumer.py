"""The reference consumer: pulls the feed into NDJSON files, resumable after any crash.

Each page becomes one file in OUT, `PPPPPPPP-AFTER-LAST.ndjson` (page number, the cursor it
resumed after, its last record's cursor). The order of what reaches the disk is what makes a
SIGKILL at any moment harmless:

1. the page is written to `.PPPPPPPP.part`, checked against the page's headers (as many lines
   as X-Anju-Feed-Count, the last one's cursor X-Anju-Feed-Last), fsynced;
2. renamed to its final name, and the directory fsynced: the file is durable;
3. only then the state (`{"cursor", "page"}`) is written: temp file, fsync, rename, fsync dir.

On start, `.part` files are deleted (their page was never taken), and a durable file that the
state does not know yet (killed between 2 and 3) is taken as done: the state moves past it. So
every record ends in exactly one file, in cursor order: no gap, no duplicate. Whoever takes the
files away must take only those up to the state's page (docs/feed.md).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from central.errors import CentralError
from sync.atomic_file import fsync_dir, write_json_atomic

log = logging.getLogger(__name__)
TIMEOUT_S = 60.0


class FeedPullError(CentralError):
    """The server refused or the page did not arrive whole (the state is left as it was)."""

    code = "feed_pull"


@dataclass(frozen=True, slots=True)
class State:
    cursor: str = "0"
    page: int = 0


def load_state(path: Path) -> State:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return State()
    return State(str(raw["cursor"]), int(raw["page"]))


def save_state(path: Path, state: State) -> None:
    write_json_atomic(path, {"cursor": state.cursor, "page": state.page})


def page_name(page: int, after: str, last: str) -> str:
    return f"{page:08d}-{after}-{last}.ndjson"


def recover(state: State, out: Path) -> State:
    """Delete half-written pages; move past durable pages the state does not know yet."""
    for part in out.glob(".*.part"):
        part.unlink()
    while True:
        found = sorted(out.glob(f"{state.page + 1:08d}-{state.cursor}-*.ndjson"))
        if not found:
            return state
        state = State(found[0].stem.rsplit("-", 1)[1], state.page + 1)


class Puller:
    def __init__(
        self,
        url: str,
        token: str,
        state_path: Path,
        out: Path,
        *,
        limit: int = 1000,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/api/v1/feed"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.state_path, self.out, self.limit = state_path, out, limit
        self.session = session or requests.Session()
        out.mkdir(parents=True, exist_ok=True)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        known = load_state(state_path)
        self.state = recover(known, out)
        if self.state != known:
            save_state(state_path, self.state)

    def close(self) -> None:
        self.session.close()

    def one_page(self) -> tuple[int, bool]:
        """Take one page: (records taken, more waiting). Retries nothing itself."""
        state = self.state
        with self.session.get(
            self.url,
            params={"after": state.cursor, "limit": self.limit},
            headers=self.headers,
            stream=True,
            timeout=TIMEOUT_S,
        ) as reply:
            if reply.status_code != 200:
                raise FeedPullError(
                    f"HTTP {reply.status_code}: {reply.text[:300]}",
                ) from _retry_after(reply)
            count = int(reply.headers["X-Anju-Feed-Count"])
            last = reply.headers["X-Anju-Feed-Last"]
            more = reply.headers.get("X-Anju-Feed-More") == "1"
            if count == 0:
                return 0, False
            number = state.page + 1
            part = self.out / f".{number:08d}.part"
            lines, tail = 0, b""
            with open(part, "wb") as sink:
                for chunk in reply.iter_content(64 * 1024):
                    sink.write(chunk)
                    lines += chunk.count(b"\n")
                    tail = (tail + chunk)[-4096:]
                sink.flush()
                os.fsync(sink.fileno())
        last_line = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if lines != count or json.loads(last_line)["cursor"] != last:
            part.unlink()
            raise FeedPullError(
                f"page after {state.cursor} arrived incomplete ({lines} of {count} records)"
            )
        os.replace(part, self.out / page_name(number, state.cursor, last))
        fsync_dir(self.out)
        self.state = State(last, number)
        save_state(self.state_path, self.state)
        return count, more

    def run(
        self,
        *,
        follow: bool = False,
        interval_s: float = 1.0,
        stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Pull until caught up (or, with `follow`, until `stop()`); returns records taken.
        Waits on 429/503 as Retry-After says and on a lost connection, then goes on."""
        taken = 0
        while not stop():
            try:
                count, more = self.one_page()
            except (FeedPullError, requests.RequestException) as err:
                wait = getattr(err.__cause__, "seconds", None)
                if wait is None and not isinstance(err, requests.RequestException):
                    raise
                log.warning("feed: %s; again in %.0f s", err, wait or interval_s)
                time.sleep(wait or interval_s)
                continue
            taken += count
            if not more:
                if not follow:
                    return taken
                time.sleep(interval_s)
        return taken


class _RetryAfter(CentralError):
    """A temporary refusal, waited out inside the puller (never escapes it)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


def _retry_after(reply: requests.Response) -> _RetryAfter | None:
    """A temporary refusal (429, 503) with its wait; None for one that waiting will not cure."""
    if reply.status_code not in (429, 503):
        return None
    value = reply.headers.get("Retry-After", "5")
    return _RetryAfter(float(value) if value.isdigit() else 5.0)
