"""The terminal's sync service: settings -> client + outbox + uploader, and the run loop.

`anju sync run` is its own process (systemd restarts it); the registration page never waits on
the network. The loop drains, sends a heartbeat when due, and sleeps on an Event so SIGTERM ends
it between two transactions, never inside one.

The credential file and the state file are small JSON documents written atomically and durably
(terminal/system/atomic_file.py), so a power cut leaves the old or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.atomic_file import write_json_atomic
from sync.client import Credentials, SyncClient
from sync.diagnosis import delivery_text
from sync.errors import RequestError
from sync.fields import format_utc
from sync.protocol import SenderClock
from sync.retry import RetryBudgetExhausted, RetryPolicy, StopRequested
from sync.update_messages import UpdateReport
from sync.uploader import DrainReport, Uploader
from terminal.config import Config
from terminal.doctor import last_run
from terminal.errors import ConfigError
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox
from terminal.system.clock import SystemClock
from terminal.system.liveness import Heartbeat
from terminal.update.order import write_order
from terminal.update.state import UpdaterState
from terminal.version import software_version

log = logging.getLogger(__name__)
# How long one step of the upload loop may take before the watchdog counts the loop as hung:
# a request is bounded by the client's timeouts (5 s connect, 30 s between bytes), a batch by a
# request and two short transactions. A wait adds its own length on top.
STEP_BOUND_S = 120.0


def load_credentials(path: Path) -> Credentials:
    try:
        doc = json.loads(path.read_text("utf-8"))
        return Credentials(doc["device_id"], doc["site_code"], doc["secret"])
    except FileNotFoundError as err:
        raise ConfigError(f"no credential at {path}: run `anju provision`",
                          "本机尚未注册到中心服务器，请联系技术人员") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"credential file {path} unreadable: {type(err).__name__}",
                          "凭据文件无法读取") from err


@dataclass(slots=True)
class SyncState:
    """What `anju sync status` shows beside the store's counts (another process wrote it)."""

    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    last_heartbeat: str | None = None
    last_error_class: str | None = None  # sync.diagnosis code: unreachable, credential_refused…
    offline_since: str | None = None  # UTC, the first failed attempt of this outage
    last_attempt: str | None = None  # UTC, the last request answered or failed
    delivery_state: str | None = None  # the last heartbeat's sync_state (sync/diagnosis.py)
    delivery_since: str | None = None  # UTC, since when it has been in that state

    @classmethod
    def load(cls, path: Path) -> SyncState:
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls(**{k: doc.get(k) for k in cls.__slots__})  # type: ignore[attr-defined]

    def save(self, path: Path) -> None:
        write_json_atomic(path, {k: getattr(self, k) for k in self.__slots__},  # type: ignore[attr-defined]
                          mode=0o644)


def _now() -> str:
    return format_utc(datetime.now(UTC))


def sender_clock(clock: SystemClock) -> SenderClock:
    """The clocks as each request is built, with the real synchronisation state."""
    instant = clock.now()
    return SenderClock(format_utc(instant.wall), instant.synchronised, instant.monotonic_ns,
                       instant.boot_id)


class SyncService:
    """One terminal's uploader with its settings; `close()` releases the client and store."""

    def __init__(self, config: Config, store: Store, *, server_url: str | None = None,
                 credentials: Credentials | None = None, stop: threading.Event | None = None,
                 policy: RetryPolicy | None = None) -> None:
        url = server_url or config["sync.server_url"]
        if not url:
            raise ConfigError("sync.server_url is not set: run `anju provision`",
                              "未配置中心服务器地址")
        self.config = config
        self.store = store
        self.stop = stop or threading.Event()
        # The upload loop's progress, for the watchdog (terminal/system/liveness.py).
        self.alive = Heartbeat("upload loop", STEP_BOUND_S)
        self.state_path: Path = config["sync.state_file"]
        self.state = SyncState.load(self.state_path)
        clock = SystemClock()
        self.outbox = StoreOutbox(store, timezone=config["registry.timezone"],
                                  synchronised=clock, doctor=lambda: last_run(config))
        self.client = SyncClient(url, credentials or load_credentials(
            config["sync.credential_file"]), sender_clock=lambda: sender_clock(clock),
            ca_file=config["sync.ca_file"] or None)
        self.uploader = Uploader(
            self.outbox, self.client,
            policy=policy or RetryPolicy(initial_s=config["sync.backoff_initial_s"],
                                         cap_s=config["sync.backoff_cap_s"]),
            max_batch_events=config["sync.batch_max_events"],
            max_batch_bytes=config["sync.batch_max_bytes"], sleep=self._sleep,
            software_version=software_version())
        self.uploader.on_change = self._record_error
        self.uploader.update_report = self._update_report

    def close(self) -> None:
        self.client.close()

    def _sleep(self, seconds: float) -> bool:
        """Wait (True: stop requested), telling the watchdog the loop is waiting, not hung."""
        self.alive.beat(within=seconds + STEP_BOUND_S)
        stopped = self.stop.wait(seconds)
        self.alive.beat()
        return stopped

    def _record_error(self) -> None:
        """The uploader's error changed (first failed attempt, or another cause): persist it
        now, while the retry layer keeps trying inside the same call."""
        uploader = self.uploader
        if uploader.last_error is None:
            return
        now = _now()
        self.state.last_error = uploader.last_error
        self.state.last_error_class = uploader.cause.code if uploader.cause else None
        self.state.last_error_at = now
        self.state.last_attempt = now
        if uploader.offline_since is not None and self.state.offline_since is None:
            self.state.offline_since = format_utc(datetime.fromtimestamp(
                uploader.offline_since, UTC))
        self.state.save(self.state_path)

    def _answered(self) -> None:
        """The server answered: a success, and the end of any outage."""
        now = _now()
        self.state.last_success = now
        self.state.last_attempt = now
        self.state.last_error = None
        self.state.last_error_class = None
        self.state.offline_since = None
        self.state.save(self.state_path)

    @contextmanager
    def _recording(self) -> Iterator[None]:
        """Persist the last error when a drain or heartbeat fails (the uploader has recorded
        it already at its first failed attempt; this catches refusals that are not retried)."""
        try:
            yield
        except (RequestError, RetryBudgetExhausted):
            self._record_error()
            raise

    def drain(self, **kwargs: Any) -> DrainReport:
        with self._recording():
            report = self.uploader.drain(**kwargs)
        if report.requests:  # nothing sent, nothing answered: not a success
            self._answered()
        if report.acknowledged or report.rejected:
            log.info("drained %d events (%d rejected)", report.acknowledged + report.rejected,
                     report.rejected)
        return report

    def heartbeat(self) -> int:
        """Send one heartbeat; returns the interval the server asked for. It reports the
        delivery state (why events are not delivered, since when), and an answer does not
        clear a batch's failure that the heartbeat cannot disprove (a server failing on
        events, a batch refused). The answer's update order goes to the updater
        (terminal/update/order.py)."""
        with self._recording():
            answer = self.uploader.heartbeat()
        now = datetime.now(UTC)
        self.state.last_heartbeat = format_utc(now)
        code, age = self.uploader.reported  # what this heartbeat carried
        if code != self.state.delivery_state:  # a transition: logged once, as the heartbeat says
            if code != "ok":
                log.warning("not delivering: %s (%s)", code, delivery_text(code))
            elif self.state.delivery_state is not None:
                log.warning("delivering again (was %s)", self.state.delivery_state)
            since = now.timestamp() - age
            self.state.delivery_since = format_utc(datetime.fromtimestamp(since, UTC))
        self.state.delivery_state = code
        if self.uploader.delivery_cause is not None:
            self.state.last_attempt = self.state.last_heartbeat
            self.state.save(self.state_path)
        else:
            self._answered()
        try:
            if write_order(self.config["update.order_file"], answer.update, time.time()):
                log.info("update order: %s", f"{answer.update.version} (rollout "
                         f"{answer.update.rollout_id}, slot in {answer.update.after_s} s)"
                         if answer.update else "none")
        except OSError as err:
            log.warning("update order not written: %s", err)
        return answer.next_heartbeat_s

    def _update_report(self) -> UpdateReport | None:
        """The updater's last outcome (its state file, root's, world-readable)."""
        return UpdaterState.load(self.config["update.state_dir"] / "state.json").report

    def run(self) -> None:
        """Until `stop` is set: drain, heartbeat when due, poll when idle."""
        interval = float(self.config["sync.heartbeat_interval_s"])
        next_heartbeat = time.monotonic()
        while not self.stop.is_set():
            self.alive.beat()
            try:
                if time.monotonic() >= next_heartbeat:
                    asked = self.heartbeat()
                    interval = float(min(max(asked, 5), 3600)) if asked else interval
                    next_heartbeat = time.monotonic() + interval
                self.drain(progress=lambda _report: self.alive.beat())
            except StopRequested:
                break
            except (RequestError, RetryBudgetExhausted) as err:
                # The retry layer already waited its budget out; pause before a fresh start.
                log.debug("sync round failed: %s", type(err).__name__)
                self._sleep(self.config["sync.backoff_cap_s"])
                continue
            wait = min(self.config["sync.poll_interval_s"],
                       max(0.0, next_heartbeat - time.monotonic()))
            self._sleep(wait)
