"""One run of the updater (`anju update run`, as root, from anju-update.service).

Reads the order (order.py) and its own state, decides (state.decide), and when it is time:
fetch (verified by apt), look once more that no registration is open, install, health gate,
and on a failed gate the previous version again. Every step's phase is saved first, so a run
cut short is resumed by the next one. The last outcome is what the heartbeat reports.

Everything it needs is imported before the install: the install replaces this program's own
files under it, and the rest of the run (gate, rollback) must not import the new version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sync.atomic_file import write_json_atomic
from sync.fields import format_utc
from terminal.update.errors import UpdateError
from terminal.update.installer import Installer
from terminal.update.order import read_order
from terminal.update.state import (
    IDLE,
    INSTALLING,
    RETRY_AFTER_S,
    ROLLING_BACK,
    VERIFYING,
    Decision,
    Look,
    UpdaterState,
    Verdict,
    decide,
    judge,
)

log = logging.getLogger(__name__)


class Probes(Protocol):
    def busy(self) -> bool: ...

    def look(self) -> Look: ...

    def revive(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Policy:
    gate_timeout_s: float = 180.0
    max_restarts: int = 3
    look_every_s: float = 2.0
    # A slot due sooner than the timer's next run (10 min + jitter) is waited for here, so a
    # terminal updates in its slot, not up to 12 minutes after it.
    wait_for_slot_s: float = 720.0


class Updater:
    def __init__(self, state_file: Path, order_file: Path, installer: Installer,
                 probes: Probes, *, in_window: Callable[[float], bool] = lambda _now: True,
                 policy: Policy = Policy(), clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.state_file = state_file
        self.order_file = order_file
        self.installer = installer
        self.probes = probes
        self.in_window = in_window
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.state = UpdaterState.load(state_file)

    # -- persistence ---------------------------------------------------------------------------

    def _stamp(self) -> str:
        return format_utc(datetime.fromtimestamp(self.clock(), UTC))

    def _save(self, state: UpdaterState) -> None:
        self.state = state
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        # 0644: the unprivileged sync service reads the outcome for its heartbeat
        write_json_atomic(self.state_file, state.to_json(), mode=0o644)

    # -- one run -------------------------------------------------------------------------------

    def run_once(self) -> Decision:
        running = self.installer.installed_version()
        order = read_order(self.order_file)
        now = self.clock()
        decision = decide(self.state, order, running, now, in_window=self.in_window(now),
                          busy=False)
        if decision.action == "wait" and order is not None and now < order.due_at \
                <= now + self.policy.wait_for_slot_s:
            log.info("update: waiting %.0f s for this terminal's slot", order.due_at - now)
            self.sleep(order.due_at - now)
            order = read_order(self.order_file)  # the order may have changed meanwhile
            now = self.clock()
            decision = decide(self.state, order, running, now, in_window=self.in_window(now),
                              busy=False)
        if decision.action == "install" and self.probes.busy():
            decision = decide(self.state, order, running, now, in_window=True, busy=True)
        log.info("update: %s (%s)", decision.action, decision.reason)
        if decision.action == "resume":
            self._resume(running)
        elif decision.action == "wait" and decision.version:
            if self.state.report is None or self.state.report.state != "pending" \
                    or self.state.report.version != decision.version:
                self._save(replace(self.state, target=decision.version, previous=running)
                           .reporting("pending", self._stamp(), decision.reason))
        elif decision.action == "install" and decision.version and running:
            self._update(running, decision.version)
        elif order is None and self.state.report is not None \
                and self.state.report.state == "pending":  # the rollout was cancelled
            self._save(replace(self.state, target=None, report=None))
        return decision

    def _update(self, running: str, version: str) -> None:
        state = replace(self.state, target=version, previous=running, retry_at=None)
        try:
            self.installer.fetch(version)
        except UpdateError as err:
            log.warning("update to %s not fetched: %s", version, err)
            self._save(replace(state, retry_at=self.clock() + RETRY_AFTER_S)
                       .reporting("failed", self._stamp(), str(err)[:300]))
            return
        if self.probes.busy():  # the fetch took a while: look again, right before
            self._save(state.reporting("pending", self._stamp(),
                                       "a registration is open at the front desk"))
            return
        self._save(replace(state, phase=INSTALLING).reporting("installing", self._stamp()))
        try:
            self.installer.install(version)
        except UpdateError as err:
            self._rollback(f"install of {version} failed: {err}"[:300])
            return
        self._installed()

    def _installed(self) -> None:
        look = self.probes.look()
        self._save(replace(self.state, phase=VERIFYING, installed_at=self.clock(),
                           restarts_before=look.restarts).reporting("verifying", self._stamp()))
        self._gate()

    def _gate(self) -> None:
        while True:
            look = self.probes.look()
            verdict: Verdict = judge(look, self.state, self.clock(), self.policy.gate_timeout_s,
                                     self.policy.max_restarts)
            if verdict.outcome == "pass":
                log.info("update to %s passed the health gate: %s", self.state.target,
                         verdict.reason)
                if self.state.target:
                    try:
                        self.installer.keep(self.state.target)
                    except OSError as err:
                        log.warning("could not keep the package: %s", err)
                self._save(replace(self.state, phase=IDLE).reporting(
                    "updated", self._stamp(), verdict.reason))
                return
            if verdict.outcome == "fail":
                self._rollback(verdict.reason)
                return
            self.sleep(self.policy.look_every_s)

    def _rollback(self, reason: str) -> None:
        state = self.state
        log.error("update to %s failed: %s; rolling back to %s", state.target, reason,
                  state.previous)
        self._save(replace(state, phase=ROLLING_BACK).reporting("rolling_back", self._stamp(),
                                                                reason[:300]))
        if not state.previous:
            self._save(replace(self.state, phase=IDLE).reporting(
                "failed", self._stamp(), f"{reason}; no previous version to return to"))
            return
        try:
            self.installer.install(state.previous, downgrade=True)
        except UpdateError as err:
            log.error("rollback to %s failed: %s (tried again at the next run)",
                      state.previous, err)
            self._save(self.state.reporting("failed", self._stamp(),
                                            f"{reason}; rollback failed: {err}"[:300]))
            return
        self.probes.revive()
        back = self._ready(state.previous)
        failed = tuple(dict.fromkeys((*state.failed, state.target or "")))
        self._save(replace(self.state, phase=IDLE, failed=failed).reporting(
            "rolled_back", self._stamp(), (reason if back else
                                           f"{reason}; {state.previous} is not READY either")
            [:300]))
        log.warning("rolled back to %s: %s", state.previous, reason)

    def _ready(self, version: str) -> bool:
        """The front desk READY and its page answering on `version`, within the gate's time."""
        deadline = self.clock() + self.policy.gate_timeout_s
        while True:
            look = self.probes.look()
            if look.installed == version and look.terminal_state == "active/running" \
                    and look.page_ready:
                return True
            if self.clock() >= deadline:
                return False
            self.sleep(self.policy.look_every_s)

    def _resume(self, running: str | None) -> None:
        state = self.state
        if state.phase == ROLLING_BACK:
            reason = state.report.detail if state.report and state.report.detail else \
                "interrupted update"
            self._rollback(reason)
        elif running == state.target:
            self._installed()  # the gate again from the start, with a fresh restart count
        else:
            self._rollback(f"the update to {state.target} was interrupted "
                           f"(installed: {running})")
