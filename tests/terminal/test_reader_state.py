"""The reader's state in the store: what the terminal service writes and the uploader reads,
with stale detection on the monotonic clock (and across a reboot)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drivers.idcard.reader import ReaderStatus
from drivers.idcard.state import ReaderState
from sync.messages import ReaderReport
from terminal.store import reader_state
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox
from terminal.system.clock import FixedClock, Instant

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> Store:
    with Store.open(tmp_path / "t.db", create=True, clock=clock) as opened:
        yield opened


def later(clock: FixedClock, seconds: float, *, boot_id: str | None = None) -> Instant:
    """The clocks `seconds` after the FixedClock's last reading, as another process sees them."""
    return Instant(clock.wall + timedelta(seconds=seconds), True,
                   clock.monotonic_ns + int(seconds * 1e9), boot_id or clock.boot_id)


def read(store: Store, now: Instant, **kwargs: float) -> ReaderReport:
    with store.reader() as conn:
        return reader_state.read(conn, now, **kwargs)


@pytest.mark.parametrize(("state", "error", "expected"), [
    ("idle", None, ("connected", None)),
    ("holding", None, ("connected", None)),
    ("replace", "not an ID card", ("connected", None)),  # the reader works; the card did not
    ("disconnected", "port /dev/ttyUSB0: no such device", ("no_reader",
                                                           "port /dev/ttyUSB0: no such device")),
    ("fault", "SAM self-test failed (0x60)", ("fault", "SAM self-test failed (0x60)")),
])
def test_reader_states_map_to_heartbeat_states(state: str, error: str | None,
                                               expected: tuple[str, str | None]) -> None:
    status = ReaderStatus(state=ReaderState(state), last_error=error)
    assert reader_state.classify(status) == expected


def test_a_long_number_in_a_reason_is_masked_and_the_reason_bounded() -> None:
    status = ReaderStatus(state=ReaderState.FAULT,
                          last_error="bad frame 44010419900307123X " + "x" * 300)
    state, detail = reader_state.classify(status)
    assert state == "fault" and detail is not None
    assert "19900307" not in detail and "4401" in detail and len(detail) == 200


def test_nothing_recorded_reads_unknown(store: Store, clock: FixedClock) -> None:
    assert read(store, later(clock, 0)) == ReaderReport("unknown")


def test_state_since_and_seen_ages_then_stale_when_the_service_goes_quiet(
        store: Store, clock: FixedClock) -> None:
    reader_state.write(store, "no_reader", "unplugged", changed=True)
    report = read(store, later(clock, 30))
    assert (report.status, report.detail) == ("no_reader", "unplugged")
    assert report.state_age_s == pytest.approx(30, abs=0.01)
    assert report.seen_age_s == pytest.approx(30, abs=0.01)
    # The service confirms the same state later: "seen" moves, "since" does not.
    clock.monotonic_ns += 100 * 10**9
    clock.wall += timedelta(seconds=100)
    reader_state.write(store, "no_reader", "unplugged", changed=False)
    report = read(store, later(clock, 10))
    assert report.status == "no_reader"
    assert report.state_age_s == pytest.approx(110, abs=0.01)
    assert report.seen_age_s == pytest.approx(10, abs=0.01)
    # Nobody confirms it for longer than the limit: stale, since it was last seen.
    report = read(store, later(clock, reader_state.STALE_AFTER_S + 1))
    assert report.status == "stale"
    assert report.detail == "terminal service silent; reader was no_reader: unplugged"
    assert report.state_age_s == report.seen_age_s == pytest.approx(
        reader_state.STALE_AFTER_S + 1, abs=0.01)
    assert read(store, later(clock, 5), stale_after_s=1).status == "stale"


def test_a_state_from_before_a_reboot_is_stale_whatever_the_clocks_say(
        store: Store, clock: FixedClock) -> None:
    reader_state.write(store, "connected", None, changed=True)
    # Another boot: the monotonic clock starts again near zero; the wall clock gives the age.
    rebooted = replace(later(clock, 600, boot_id="another-boot"), monotonic_ns=5 * 10**9)
    report = read(store, rebooted)
    assert report.status == "stale" and report.detail is not None
    assert "connected" in report.detail
    assert report.seen_age_s == pytest.approx(600, abs=0.01)


def test_the_recorder_writes_changes_and_confirmations(store: Store, clock: FixedClock) -> None:
    recorder = reader_state.ReaderStateRecorder(store)
    recorder.flush()  # nothing heard from the reader yet: nothing written
    assert read(store, later(clock, 0)).status == "unknown"
    recorder.update(ReaderStatus(state=ReaderState.IDLE, connected=True))
    recorder.flush()
    first = read(store, later(clock, 0))
    assert first.status == "connected"
    recorder.update(ReaderStatus(state=ReaderState.HOLDING, connected=True))  # still "connected"
    clock.monotonic_ns += 50 * 10**9
    recorder.flush()
    again = read(store, later(clock, 0))
    assert again.status == "connected" and again.seen_age_s == pytest.approx(0, abs=0.01)
    assert again.state_age_s == pytest.approx(50, abs=0.1)  # the same state since the start
    recorder.update(ReaderStatus(state=ReaderState.FAULT, last_error="SAM not authorised"))
    recorder.flush()
    fault = read(store, later(clock, 0))
    assert (fault.status, fault.detail) == ("fault", "SAM not authorised")
    assert fault.state_age_s == pytest.approx(0, abs=0.01)


def test_the_recorder_thread_writes_promptly_and_stops(store: Store, clock: FixedClock) -> None:
    recorder = reader_state.ReaderStateRecorder(store, seen_every_s=0.05)
    recorder.start()
    try:
        recorder.update(ReaderStatus(state=ReaderState.DISCONNECTED,
                                     last_error="no reader answers"))
        for _ in range(200):
            if read(store, later(clock, 0)).status == "no_reader":
                break
            clock.wall += timedelta(milliseconds=10)
            time.sleep(0.01)
        assert read(store, later(clock, 0)).detail == "no reader answers"
    finally:
        recorder.stop()


def test_a_failing_write_never_reaches_the_reader_thread(store: Store, clock: FixedClock,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    recorder = reader_state.ReaderStateRecorder(store)
    recorder.update(ReaderStatus(state=ReaderState.IDLE, connected=True))
    store.guard.min_free_bytes = 2**62  # the disk guard refuses every write
    recorder.flush()
    recorder.flush()
    assert sum("reader state not recorded" in r.message for r in caplog.records) == 1
    store.guard.min_free_bytes = 0
    recorder.flush()
    assert read(store, later(clock, 0)).status == "connected"


def test_the_outbox_health_carries_the_reader_report(tmp_path: Path) -> None:
    with Store.open(tmp_path / "real.db", create=True) as real:  # this machine's clocks
        reader_state.write(real, "fault", "SAM self-test failed", changed=True)
        health = StoreOutbox(real).health()
        assert health.reader is not None
        assert (health.reader.status, health.reader.detail) == ("fault",
                                                                "SAM self-test failed")
        quiet = StoreOutbox(real, reader_stale_after_s=0).health()
        assert quiet.reader is not None and quiet.reader.status == "stale"
