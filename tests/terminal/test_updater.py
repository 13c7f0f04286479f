"""The updater's state machine, driven end to end against a fake installer that records what it
was told and fake probes that play the services' states: install, health gate, rollback, crash
loop, a clerk mid-registration, a refused publication, a power cut mid-update. No sleeping: the
clock is a counter the fake sleep advances. (The real apt: tests/terminal/test_update_apt.py and
deploy/test/update_test.py.)"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.update_messages import UpdateOrder
from terminal.update.errors import InstallError, RefusedError
from terminal.update.order import read_order, write_order
from terminal.update.state import (
    IDLE,
    INSTALLING,
    RETRY_AFTER_S,
    Look,
    Order,
    UpdaterState,
    decide,
    judge,
)
from terminal.update.updater import Policy, Updater

T0 = 1_800_000_000.0


@dataclass
class FakeInstaller:
    version: str | None = "0.1.0"
    refuse: Exception | None = None
    fail_install: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def installed_version(self) -> str | None:
        return self.version

    def fetch(self, version: str) -> None:
        self.calls.append(("fetch", version))
        if self.refuse:
            raise self.refuse

    def install(self, version: str, *, downgrade: bool = False) -> None:
        self.calls.append(("downgrade" if downgrade else "install", version))
        if version in self.fail_install:
            raise InstallError(f"dpkg: error processing anju-terminal {version}")
        self.version = version

    def keep(self, version: str) -> None:
        self.calls.append(("keep", version))


@dataclass
class FakeClock:
    now: float = T0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProbes:
    """Plays the terminal: `healthy_after` seconds after an install of a good version it is
    READY and a heartbeat is accepted; a `broken` version crash-loops."""

    installer: FakeInstaller
    clock: FakeClock
    broken: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)  # never gets a heartbeat accepted
    busy_answers: list[bool] = field(default_factory=list)
    healthy_after: float = 6.0
    installed_at: float = 0.0
    restarts: int = 0
    seen: str | None = None
    revived: int = 0

    def revive(self) -> None:
        self.revived += 1

    def busy(self) -> bool:
        return self.busy_answers.pop(0) if self.busy_answers else False

    def look(self) -> Look:
        version = self.installer.version
        if version != self.seen:
            self.seen, self.installed_at = version, self.clock()
        age = self.clock() - self.installed_at
        if version in self.broken:
            self.restarts = int(age // 2)
            return Look(version, "activating/auto-restart", self.restarts, False, None)
        ready = age >= self.healthy_after
        beat = self.installed_at + self.healthy_after if ready and version not in self.slow \
            else None
        return Look(version, "active/running" if ready else "activating/start", self.restarts,
                    ready, beat)


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Path, Path, FakeInstaller, FakeClock, FakeProbes]:
    installer = FakeInstaller()
    clock = FakeClock()
    return (tmp_path / "state" / "state.json", tmp_path / "order.json", installer, clock,
            FakeProbes(installer, clock))


def updater(parts: tuple[Path, Path, FakeInstaller, FakeClock, FakeProbes],
            **kwargs: object) -> Updater:
    state, order, installer, clock, probes = parts
    return Updater(state, order, installer, probes, clock=clock, sleep=clock.sleep,
                   policy=Policy(gate_timeout_s=60, max_restarts=3), **kwargs)  # type: ignore[arg-type]


def ordered(parts: tuple[Path, Path, FakeInstaller, FakeClock, FakeProbes], version: str,
            after_s: int = 0, rollout: int = 1) -> None:
    write_order(parts[1], UpdateOrder(version, rollout, after_s), parts[3]())


def saved(parts: tuple[Path, Path, FakeInstaller, FakeClock, FakeProbes]) -> dict[str, object]:
    return json.loads(parts[0].read_text())


def test_update_passes_the_gate_and_keeps_the_package(parts: tuple) -> None:  # type: ignore[type-arg]
    ordered(parts, "0.2.0")
    decision = updater(parts).run_once()
    assert decision.action == "install"
    assert parts[2].calls == [("fetch", "0.2.0"), ("install", "0.2.0"), ("keep", "0.2.0")]
    doc = saved(parts)
    assert doc["phase"] == IDLE and doc["report"]["state"] == "updated"
    assert (doc["report"]["version"], doc["report"]["previous"]) == ("0.2.0", "0.1.0")
    assert parts[0].stat().st_mode & 0o777 == 0o644  # the sync service reads it
    # the next run: nothing to do
    assert updater(parts).run_once().action == "nothing"
    assert len(parts[2].calls) == 3


def test_a_version_that_crash_loops_is_rolled_back_and_never_retried(parts: tuple) -> None:  # type: ignore[type-arg]
    parts[4].broken.add("0.3.0")
    parts[2].version = "0.2.0"
    ordered(parts, "0.3.0")
    started = parts[3]()
    updater(parts).run_once()
    assert parts[2].calls == [("fetch", "0.3.0"), ("install", "0.3.0"), ("downgrade", "0.2.0")]
    assert parts[2].version == "0.2.0"
    report = saved(parts)["report"]
    assert report["state"] == "rolled_back" and "crash-looped (3 restarts" in report["detail"]
    assert parts[3]() - started < 20  # at once, not after the gate's whole minute
    assert saved(parts)["failed"] == ["0.3.0"]
    # the services were started again and the front desk is READY on 0.2.0 before the report
    assert parts[4].revived == 1 and parts[4].look().terminal_state == "active/running"
    again = updater(parts).run_once()
    assert again.action == "nothing" and "not tried again" in again.reason
    assert len(parts[2].calls) == 3
    # a fixed version in a new rollout is installed
    ordered(parts, "0.3.1", rollout=2)
    updater(parts).run_once()
    assert parts[2].version == "0.3.1" and saved(parts)["report"]["state"] == "updated"


def test_no_heartbeat_within_the_gate_rolls_back_naming_what_is_missing(parts: tuple) -> None:  # type: ignore[type-arg]
    parts[4].slow.add("0.2.0")
    ordered(parts, "0.2.0")
    started = parts[3]()
    updater(parts).run_once()
    report = saved(parts)["report"]
    assert report["state"] == "rolled_back"
    assert report["detail"] == ("not healthy within 60 s: no heartbeat accepted since the "
                                "install (uploader active/running)")
    # 60 s of gate, then the previous version READY again (6 s) before the report
    assert 66 <= parts[3]() - started <= 72 and parts[2].version == "0.1.0"


def test_a_slot_due_before_the_next_timer_run_is_waited_for(parts: tuple) -> None:  # type: ignore[type-arg]
    ordered(parts, "0.2.0", after_s=300)
    assert updater(parts).run_once().action == "install"
    assert parts[3]() >= T0 + 300 and parts[2].version == "0.2.0"


def test_waits_for_its_slot_and_for_the_clerk(parts: tuple) -> None:  # type: ignore[type-arg]
    ordered(parts, "0.2.0", after_s=3600)
    first = updater(parts).run_once()
    assert first.action == "wait" and "slot comes in 3600 s" in first.reason
    assert saved(parts)["report"]["state"] == "pending" and parts[2].calls == []
    assert parts[3]() == T0  # too far off: the timer's next run comes first
    parts[3].now += 3601
    parts[4].busy_answers = [True]
    busy = updater(parts).run_once()
    assert busy.action == "wait" and "registration is open" in busy.reason
    assert parts[2].calls == []
    # the clerk finished during the download: the look right before the install says busy
    parts[4].busy_answers = [False, True]
    updater(parts).run_once()
    assert parts[2].calls == [("fetch", "0.2.0")] and parts[2].version == "0.1.0"
    assert saved(parts)["report"]["state"] == "pending"
    updater(parts).run_once()
    assert parts[2].version == "0.2.0"


def test_outside_the_window_it_waits(parts: tuple) -> None:  # type: ignore[type-arg]
    ordered(parts, "0.2.0")
    decision = updater(parts, in_window=lambda _now: False).run_once()
    assert decision.action == "wait" and decision.reason == "outside the update window"
    assert parts[2].calls == [] and saved(parts)["report"]["state"] == "pending"
    write_order(parts[1], None, parts[3]())  # the rollout was cancelled: nothing pending
    assert updater(parts).run_once().action == "nothing"
    assert saved(parts)["report"] is None and parts[2].calls == []


def test_a_refused_publication_installs_nothing_and_is_reported(parts: tuple) -> None:  # type: ignore[type-arg]
    parts[2].refuse = RefusedError("apt-get update: W: GPG error: NO_PUBKEY 1234")
    ordered(parts, "0.2.0")
    updater(parts).run_once()
    doc = saved(parts)
    assert doc["report"]["state"] == "failed" and "NO_PUBKEY" in doc["report"]["detail"]
    assert parts[2].calls == [("fetch", "0.2.0")] and parts[2].version == "0.1.0"
    assert doc["retry_at"] == pytest.approx(T0 + RETRY_AFTER_S)
    assert updater(parts).run_once().action == "wait"  # not hammering the repository
    parts[3].now += RETRY_AFTER_S
    parts[2].refuse = None
    updater(parts).run_once()
    assert parts[2].version == "0.2.0"


def test_a_failed_install_goes_back_to_the_previous_version(parts: tuple) -> None:  # type: ignore[type-arg]
    parts[2].fail_install.add("0.2.0")
    ordered(parts, "0.2.0")
    updater(parts).run_once()
    assert parts[2].calls[-1] == ("downgrade", "0.1.0")
    assert "install of 0.2.0 failed: dpkg: error" in saved(parts)["report"]["detail"]


def test_a_failed_rollback_is_reported_and_retried_at_the_next_run(parts: tuple) -> None:  # type: ignore[type-arg]
    parts[4].broken.add("0.2.0")
    parts[2].fail_install.add("0.1.0")
    ordered(parts, "0.2.0")
    updater(parts).run_once()
    doc = saved(parts)
    assert doc["phase"] == "rolling_back" and doc["report"]["state"] == "failed"
    assert "rollback failed" in doc["report"]["detail"]
    parts[2].fail_install.clear()
    decision = updater(parts).run_once()
    assert decision.action == "resume" and parts[2].version == "0.1.0"
    assert saved(parts)["report"]["state"] == "rolled_back"


def test_a_power_cut_mid_install_resumes_at_the_gate_or_rolls_back(parts: tuple) -> None:  # type: ignore[type-arg]
    # the state says installing 0.2.0 from 0.1.0; the box came back with 0.2.0 installed
    parts[0].parent.mkdir(parents=True)
    parts[0].write_text(json.dumps(UpdaterState(INSTALLING, "0.2.0", "0.1.0").to_json()))
    parts[2].version = "0.2.0"
    assert updater(parts).run_once().action == "resume"
    assert saved(parts)["report"]["state"] == "updated"
    # ... or with dpkg half done (the old version still recorded): back to the previous one
    parts[0].write_text(json.dumps(UpdaterState(INSTALLING, "0.3.0", "0.2.0").to_json()))
    updater(parts).run_once()
    assert parts[2].calls[-1] == ("downgrade", "0.2.0")
    assert "interrupted" in saved(parts)["report"]["detail"]


def test_decide_and_judge_tables() -> None:
    state = UpdaterState(target="0.2.0", previous="0.1.0", installed_at=T0, restarts_before=4)
    order = Order("0.2.0", 1, T0)
    assert decide(UpdaterState(), None, "0.1.0", T0, in_window=True, busy=False).action == \
        "nothing"
    assert decide(UpdaterState(), order, "0.2.0", T0, in_window=True, busy=False).action == \
        "nothing"
    assert decide(UpdaterState(), order, "0.1.0", T0, in_window=True, busy=False).action == \
        "install"
    healthy = Look("0.2.0", "active/running", 4, True, T0 + 5)
    assert judge(healthy, state, T0 + 6, 60, 3).outcome == "pass"
    # restarts counted from the install, not since boot
    assert judge(Look("0.2.0", "active/running", 6, True, T0 + 5), state, T0 + 6, 60,
                 3).outcome == "pass"
    assert judge(Look("0.2.0", "active/running", 7, True, T0 + 5), state, T0 + 6, 60,
                 3).outcome == "fail"
    assert judge(Look("0.1.0", "active/running", 4, True, T0 + 5), state, T0 + 6, 60,
                 3).reason == "installed version is 0.1.0, not 0.2.0"
    stale = Look("0.2.0", "active/running", 4, True, T0 - 100)  # the heartbeat before it
    assert judge(stale, state, T0 + 6, 60, 3).outcome == "wait"
    assert judge(stale, state, T0 + 60, 60, 3).outcome == "fail"
    failed = Look("0.2.0", "failed/failed", 4, False, None)
    assert "crash-looped" in judge(failed, state, T0 + 1, 60, 3).reason


def test_order_file_changes_only_with_the_order(tmp_path: Path) -> None:
    path = tmp_path / "update-target.json"
    assert write_order(path, UpdateOrder("0.2.0", 3, 120), T0)
    assert read_order(path) == Order("0.2.0", 3, T0 + 120)
    # the same rollout heard again: the slot stays where it was first placed
    assert not write_order(path, UpdateOrder("0.2.0", 3, 60), T0 + 60)
    assert read_order(path) == Order("0.2.0", 3, T0 + 120)
    assert write_order(path, UpdateOrder("0.2.1", 4, 0), T0 + 90)
    assert write_order(path, None, T0) and not path.exists()
    assert not write_order(path, None, T0)
    for junk in ('{"version": "1.0; rm -rf /", "rollout_id": 1, "due_at": 0}', "[]", "{",
                 '{"version": "1.0", "rollout_id": "1", "due_at": 0}'):
        path.write_text(junk)
        assert read_order(path) is None, junk
