"""The serial scanner over a real pseudo-terminal, the simulator on the other end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from drivers.barcode.errors import PortUnavailableError
from drivers.barcode.interpret import classify
from drivers.barcode.lines import FRAMINGS
from drivers.barcode.mrzbuild import MrzFields, td1, td3
from drivers.barcode.serial_scanner import Scan, SerialScanner
from drivers.sim.scanner import SimulatedScanner, default_payloads

PAYLOADS = [b"BK-2026-0042", "房间 302 张三".encode("gbk"), td3(MrzFields()).encode(),
            td1(MrzFields(document_type="I", document_number="D23145890734")).encode()]  # fmt: skip


class Collector:
    """Runs `SerialScanner.run` on a thread, collecting scans."""

    def __init__(self, scanner: SerialScanner) -> None:
        self.scanner = scanner
        self.scans: list[Scan] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=scanner.run, args=(self.scans.append, self.stop))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.scans) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return [scan.raw for scan in self.scans]


@pytest.fixture
def collector_for() -> Iterator:
    started: list[Collector] = []

    def make(url: str, framing: str) -> Collector:
        collector = Collector(SerialScanner(url, framing=framing, mrz_gap=0.5))
        collector.thread.start()
        assert collector.scanner.connected.wait(5)
        started.append(collector)
        return collector

    yield make
    for collector in started:
        collector.stop.set()
        collector.thread.join(5)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("split", [False, True])
def test_each_framing_over_a_pty(framing, split, collector_for):
    with SimulatedScanner(framing=framing, split=split, noise=True, seed=3) as sim:
        collector = collector_for(sim.port, framing)
        sim.send_all(PAYLOADS)
        got = collector.wait_for(len(PAYLOADS))
    assert got == PAYLOADS
    kinds = [classify(raw).kind for raw in got]
    assert kinds == ["booking", "unknown", "mrz", "mrz"]
    assert all(classify(raw).mrz.valid for raw in got[2:])


def test_hot_plug_recovery(collector_for):
    with SimulatedScanner(framing="crlf") as sim:
        collector = collector_for(sim.port, "crlf")
        sim.send(b"BEFORE1")
        assert collector.wait_for(1) == [b"BEFORE1"]
        sim.unplug()
        deadline = time.monotonic() + 5
        while collector.scanner.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not collector.scanner.connected.is_set()
        sim.replug()
        assert collector.scanner.connected.wait(5)
        sim.send(b"AFTER22")
        assert collector.wait_for(2) == [b"BEFORE1", b"AFTER22"]


def test_missing_port_is_typed(tmp_path):
    scanner = SerialScanner(str(tmp_path / "nothing"))
    with pytest.raises(PortUnavailableError):
        scanner.open()
    with pytest.raises(PortUnavailableError):
        scanner.read_once()


def test_default_payloads_classify():
    kinds = [classify(p).kind for p in default_payloads()]
    assert kinds == ["mrz", "mrz", "url", "booking", "unknown", "netid"]


def test_port_is_a_url_loop():
    # pyserial's loop:// echoes writes back: the same scanner code reads it unchanged.
    scanner = SerialScanner("loop://", framing="tab")
    with scanner:
        scanner._port.write(b"BK-7\tBK-8\t")
        got: list[bytes] = []
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            got += [scan.raw for scan in scanner.read_once()]
    assert got == [b"BK-7", b"BK-8"]
    assert not scanner.connected.is_set()
