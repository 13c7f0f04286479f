"""The updater's state machine, with no I/O: what to do next, and whether the gate passed.

    phase        idle ──install──> installing ──installed──> verifying ──gate passed──> idle
                                      │ failed                  │ gate failed             (updated)
                                      └──────────> rolling_back <┘
                                                       │ previous version installed
                                                       └──> idle (rolled_back; the version is
                                                            remembered and never retried)

The phase is saved before each step (state.json, written atomically), so a power cut or a
killed updater resumes where it stopped: in installing or verifying, the next run goes to the
gate (or to the rollback if the new version is not installed); in rolling_back, it rolls back.

`decide` chooses for an idle updater; `judge` reads one look at the services during the gate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sync.update_messages import VERSION_RE, UpdateReport

IDLE, INSTALLING, VERIFYING, ROLLING_BACK = "idle", "installing", "verifying", "rolling_back"
RETRY_AFTER_S = 900.0  # a failed fetch or install is tried again after this long


@dataclass(frozen=True, slots=True)
class Order:
    """The central server's order, as the sync service wrote it (order.py)."""

    version: str
    rollout_id: int
    due_at: float  # wall seconds (device clock): the device's slot in the rollout's spread

    @classmethod
    def from_json(cls, doc: Any) -> Order | None:
        """None for anything malformed: the file is the unprivileged service's to write."""
        try:
            version, rollout_id, due_at = doc["version"], doc["rollout_id"], doc["due_at"]
        except (TypeError, KeyError):
            return None
        if not (isinstance(version, str) and VERSION_RE.match(version)
                and isinstance(rollout_id, int) and isinstance(due_at, int | float)):
            return None
        return cls(version, rollout_id, float(due_at))


@dataclass(frozen=True, slots=True)
class UpdaterState:
    phase: str = IDLE
    target: str | None = None
    previous: str | None = None
    installed_at: float | None = None  # wall seconds when the install returned
    restarts_before: int = 0  # the terminal unit's NRestarts when the install returned
    failed: tuple[str, ...] = ()  # versions rolled back from: not tried again
    retry_at: float | None = None  # after a failed fetch: not before this (wall seconds)
    report: UpdateReport | None = None  # the last outcome, sent in each heartbeat

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["failed"] = list(self.failed)
        doc["report"] = self.report.to_json() if self.report else None
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> UpdaterState:
        report = doc.get("report")
        return cls(doc.get("phase", IDLE), doc.get("target"), doc.get("previous"),
                   doc.get("installed_at"), int(doc.get("restarts_before") or 0),
                   tuple(doc.get("failed") or ()), doc.get("retry_at"),
                   UpdateReport.from_json(report) if report else None)

    @classmethod
    def load(cls, path: Path) -> UpdaterState:
        try:
            return cls.from_json(json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError, AttributeError):
            # unreadable: start idle (a half-done update shows as the installed version)
            return cls()

    def reporting(self, state: str, at: str, detail: str | None = None) -> UpdaterState:
        version = self.target or (self.report.version if self.report else "0")
        return replace(self, report=UpdateReport(state, version, self.previous, detail, at))


# -- what to do next (idle) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # nothing | wait | install | resume
    reason: str
    version: str | None = None


def decide(state: UpdaterState, order: Order | None, running: str | None, now: float, *,
           in_window: bool, busy: bool) -> Decision:
    """The next step for one run of the updater."""
    if state.phase in (INSTALLING, VERIFYING, ROLLING_BACK):
        return Decision("resume", f"an update was {state.phase} when the updater stopped",
                        state.target)
    if order is None:
        return Decision("nothing", "no update ordered")
    if order.version == running:
        return Decision("nothing", f"{running} is installed")
    if order.version in state.failed:
        return Decision("nothing", f"{order.version} was rolled back here; not tried again")
    if now < order.due_at:
        return Decision("wait", f"this terminal's slot comes in {order.due_at - now:.0f} s",
                        order.version)
    if not in_window:
        return Decision("wait", "outside the update window", order.version)
    if state.retry_at is not None and now < state.retry_at and state.target == order.version:
        return Decision("wait", f"the last attempt failed; again in {state.retry_at - now:.0f} s",
                        order.version)
    if busy:
        return Decision("wait", "a registration is open at the front desk", order.version)
    return Decision("install", f"{running} -> {order.version}", order.version)


# -- the health gate ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Look:
    """One look at the terminal during the gate."""

    installed: str | None  # the package's installed version
    terminal_state: str  # anju-terminal.service ActiveState/SubState, e.g. active/running
    restarts: int  # its NRestarts
    page_ready: bool  # /healthz answered 200
    heartbeat_at: float | None  # wall seconds of the sync service's last accepted heartbeat
    sync_state: str = "active/running"  # anju-sync.service ActiveState/SubState


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str  # pass | fail | wait
    reason: str = ""


def judge(look: Look, state: UpdaterState, now: float, timeout_s: float,
          max_restarts: int) -> Verdict:
    """Pass: the target is installed, the front desk is READY and its page answers, and a
    heartbeat was accepted after the install. Fail at once on another version or a crash loop;
    fail when the time is up, naming what is missing."""
    if look.installed != state.target:
        return Verdict("fail", f"installed version is {look.installed}, not {state.target}")
    restarts = look.restarts - state.restarts_before
    if restarts >= max_restarts or look.terminal_state.startswith("failed"):
        return Verdict("fail", f"anju-terminal crash-looped ({max(restarts, 0)} restarts, "
                               f"{look.terminal_state})")
    missing = []
    if look.terminal_state != "active/running":
        missing.append(f"front desk not READY ({look.terminal_state})")
    elif not look.page_ready:
        missing.append("front-desk page not answering")
    installed_at = state.installed_at or 0.0
    if look.heartbeat_at is None or look.heartbeat_at < installed_at:
        missing.append(f"no heartbeat accepted since the install (uploader {look.sync_state})")
    if not missing:
        return Verdict("pass", f"READY and a heartbeat accepted {now - installed_at:.0f} s "
                               "after the install")
    if now - installed_at >= timeout_s:
        return Verdict("fail", f"not healthy within {timeout_s:.0f} s: {'; '.join(missing)}")
    return Verdict("wait", "; ".join(missing))
