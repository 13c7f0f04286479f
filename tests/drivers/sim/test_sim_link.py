"""The in-memory line to the simulated reader (drivers/sim/link.py): what a host sees, in what
virtual time, in the cases where a line's timing matters to the reader loop."""

from __future__ import annotations

import pytest
import serial

from drivers.idcard import codec
from drivers.idcard.codec import ResponseDecoder, Status
from drivers.sim.device import SimDevice
from drivers.sim.faults import FaultPlan
from drivers.sim.link import SimLink, SimLinkPort, VirtualClock

STATUS_OK = bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")


def opened(device: SimDevice, baud: int = 115200) -> tuple[SimLink, SimLinkPort]:
    link = SimLink(device)
    port = link.open(link.url, baudrate=baud)
    return link, port


def test_time_passes_only_while_the_host_waits() -> None:
    link, port = opened(SimDevice())
    started = link.clock()
    port.write(codec.SAM_STATUS.encode())
    assert port.in_waiting == len(STATUS_OK)  # no delay planned: the answer is there at once
    port.timeout = 5.0
    assert port.read(64) == STATUS_OK
    assert link.clock() == started
    assert port.read(64) == b""  # nothing more comes: the whole timeout passes, in no real time
    assert link.clock() == started + 5.0


def test_a_slow_answer_arrives_after_its_delay() -> None:
    plan = FaultPlan(slow=1.0, slow_seconds=(0.3, 0.3))
    link, port = opened(SimDevice(faults=plan, seed=1))
    port.write(codec.SAM_STATUS.encode())
    port.timeout = 0.1
    assert port.read(64) == b""  # the host gives up first ...
    port.timeout = 1.0
    assert port.read(64) == STATUS_OK  # ... and the answer still comes, late
    assert link.clock() == pytest.approx(1000.3)


def test_a_late_answer_survives_into_the_next_exchange_unless_flushed() -> None:
    plan = FaultPlan(slow=1.0, slow_seconds=(0.3, 0.3))
    link, port = opened(SimDevice(faults=plan, seed=1))
    port.write(codec.SAM_STATUS.encode())
    link.clock.advance(0.2)
    port.reset_input_buffer()  # nothing has arrived yet, so nothing is flushed
    port.write(codec.FIND_CARD.encode())  # answered only after the first answer went out
    port.timeout = 2.0
    decoder = ResponseDecoder()
    frames = decoder.feed(port.read(64))
    assert [frame.status for frame in frames] == [Status.SUCCESS]  # the late SAM status first
    assert [f.status for f in decoder.feed(port.read(64))] == [Status.FIND_FAILED]
    assert link.clock() == pytest.approx(1000.6)  # one answer at a time: 0.3 s each


def test_an_answer_in_flight_is_garbled_when_the_host_changes_rate() -> None:
    plan = FaultPlan(slow=1.0, slow_seconds=(0.3, 0.3))
    _link, port = opened(SimDevice(faults=plan, seed=1))
    port.write(codec.READ_SAM_ID.encode())  # heard at the right rate ...
    port.baudrate = 9600  # ... then the host moves on while the SAM thinks
    port.timeout = 1.0
    raw = port.read(64)
    assert raw and ResponseDecoder().feed(raw) == []  # junk, never a frame


def test_a_request_at_the_wrong_rate_is_lost() -> None:
    device = SimDevice(baud=19200)
    _link, port = opened(device)
    port.write(codec.SAM_STATUS.encode())
    port.timeout = 1.0
    assert port.read(64) == b""
    assert device.stats.garbled_bytes == len(codec.SAM_STATUS.encode())
    port.baudrate = 19200
    port.write(codec.SAM_STATUS.encode())
    assert port.read(64) == STATUS_OK


def test_unplug_kills_open_ports_until_a_new_one_is_opened_after_replug() -> None:
    device = SimDevice()
    link, port = opened(device)
    port.write(codec.SET_BAUD[9600].encode())
    link.unplug(for_seconds=1.0)
    with pytest.raises(serial.SerialException):
        port.read(1)
    with pytest.raises(serial.SerialException):
        link.open(link.url, baudrate=115200)
    link.clock.advance(1.0)  # back, re-powered at its default rate
    with pytest.raises(serial.SerialException):
        port.write(codec.SAM_STATUS.encode())  # the old port stays dead, as a stale tty does
    fresh = link.open(link.url, baudrate=115200)
    fresh.write(codec.SAM_STATUS.encode())
    assert fresh.read(64) == STATUS_OK
    assert (device.stats.unplugs, device.stats.plugs) == (1, 2)


def test_the_unplug_fault_takes_the_device_away_for_its_time() -> None:
    device = SimDevice(faults=FaultPlan(unplug=1.0, unplug_seconds=2.0), seed=1)
    link, port = opened(device)
    port.write(codec.SAM_STATUS.encode())
    with pytest.raises(serial.SerialException):
        port.read(1)
    assert not link.plugged
    link.clock.advance(2.0)
    assert link.plugged


def test_opening_flushes_what_was_waiting() -> None:
    link, port = opened(SimDevice())
    port.write(codec.SAM_STATUS.encode())
    port.close()
    with pytest.raises(serial.PortNotOpenError):
        port.read(1)
    again = link.open(link.url, baudrate=115200)
    assert again.in_waiting == 0


def test_the_clock_only_moves_forward() -> None:
    clock = VirtualClock(start=5.0)
    clock.advance_to(3.0)
    assert clock() == 5.0
    with pytest.raises(ValueError):
        clock.advance(-1.0)
