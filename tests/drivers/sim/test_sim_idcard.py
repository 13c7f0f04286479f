"""The reader simulator, driven from the host side through a real pyserial port on its pty.

Tests whose time goes into waiting out timeouts (lost, late and corrupted answers, probing at
wrong rates) talk to the same `SimDevice` through the in-memory line in virtual time
(drivers/sim/link.py), with one pty run of the wire faults kept; a test feeds both shells the
same requests with the same seed and checks that they answer alike."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from drivers.idcard import codec, sam_answers
from drivers.idcard.cards import encode_text_block, synthetic_photo
from drivers.idcard.codec import Command, Request, Response, ResponseDecoder, Status
from drivers.idcard.transport import Clock, Port
from drivers.sim.device import SimDevice
from drivers.sim.faults import FaultPlan
from drivers.sim.idcard import SimulatedReader
from drivers.sim.link import SimLink
from drivers.sim.sam import DEFAULT_SAM_ID, SimCard, load_sim_cards, synthetic_fingerprint

# Reference §7.1: the synthetic base-message vector.
VECTOR_FIELDS = {
    "card_type": "resident",
    "name": "张三",
    "sex": "2",
    "nation_code": "01",
    "birth_date": "19491231",
    "address": "北京市朝阳区测试路1号",
    "id_number": "11010519491231002X",
    "authority": "北京市公安局朝阳分局",
    "valid_from": "20200101",
    "valid_until": "长期",
}
VECTOR_SHA256 = "d3ebfefb8f82f36be8669eea93d3f4e4e83352519da77da2b616ad7c4f99a497"


def vector_card(fingerprint_size: int = 0, addresses: tuple[str, ...] = ()) -> SimCard:
    return SimCard(
        text=encode_text_block(VECTOR_FIELDS),
        photo=synthetic_photo(None),  # WLT prefix + 1013 zero bytes, as in the vector
        fingerprint=synthetic_fingerprint(fingerprint_size, "vector"),
        appended_addresses=addresses,
    )


class Host:
    """A minimal host: pyserial (or the in-memory line's port), codec frames, a deadline each."""

    def __init__(self, port: str | Port, baud: int = 115200, clock: Clock = time.monotonic) -> None:
        self.serial = serial.Serial(port, baud, timeout=0.02) if isinstance(port, str) else port
        self.clock = clock
        self.decoder = ResponseDecoder()

    @classmethod
    def on_link(cls, device: SimDevice, baud: int = 115200) -> Host:
        """A host on an in-memory line to `device`, whose waits move a virtual clock."""
        link = SimLink(device)
        port = link.open(link.url, baudrate=baud)
        port.timeout = 0.02
        return cls(port, baud, link.clock)

    def close(self) -> None:
        self.serial.close()

    def send(self, raw: bytes) -> None:
        self.serial.reset_input_buffer()
        self.decoder.reset()
        self.serial.write(raw)

    def receive(self, timeout: float, dropped: Callable[[], bool] = lambda: False
                ) -> Response | None:  # fmt: skip
        """The first frame before the deadline; None at once if the answer came corrupted, or
        once `dropped()` says the device dropped the request (it never answers one)."""
        deadline = self.clock() + timeout
        corrupted = self.decoder.stats.bad_checksum
        while self.clock() < deadline:
            frames = self.decoder.feed(self.serial.read(max(self.serial.in_waiting, 1)))
            if frames:
                return frames[0]
            if self.decoder.stats.bad_checksum != corrupted:
                return None  # the SAM answers once: a corrupted answer is not coming again
            if dropped():
                return None
        return None

    def transact(self, command: Command, data: bytes = b"", timeout: float = 1.0) -> Response:
        self.send(command.encode(data))
        response = self.receive(timeout)
        assert response is not None, f"{command.name}: no answer"
        return response

    def patient(self, command: Command, tries: int = 25) -> Response:
        """Retry until an answer arrives: what a host must do on a noisy line."""
        for _ in range(tries):
            self.send(command.encode())
            response = self.receive(0.45)  # > the longest `slow` delay
            if response is not None:
                return response
        raise AssertionError(f"{command.name}: no valid frame in {tries} tries")


@pytest.fixture
def sim() -> Iterator[SimulatedReader]:
    with SimulatedReader() as simulator:
        yield simulator


@pytest.fixture
def host(sim: SimulatedReader) -> Iterator[Host]:
    client = Host(sim.port)
    yield client
    client.close()


@contextlib.contextmanager
def host_on(
    shell: str, **device_settings: Any
) -> Iterator[tuple[Host, SimulatedReader | SimDevice]]:
    """A host and the simulated reader it talks to: over a pty ("pty") or in memory ("memory")."""
    if shell == "memory":
        device = SimDevice(**device_settings)
        client = Host.on_link(device)
        try:
            yield client, device
        finally:
            client.close()
        return
    with SimulatedReader(**device_settings) as sim:
        client = Host(sim.port)
        try:
            yield client, sim
        finally:
            client.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def read_card(host: Host, command: Command = codec.READ_BASE) -> Response:
    assert host.transact(codec.FIND_CARD).status == Status.CARD_FOUND
    assert host.transact(codec.SELECT_CARD).status == Status.SUCCESS
    return host.transact(command)


# ---- the SAM itself --------------------------------------------------------------------------


def test_status_and_sam_id(host: Host) -> None:
    host.send(codec.SAM_STATUS.encode())
    assert host.serial.read(11) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")
    response = host.transact(codec.READ_SAM_ID)
    assert response.status == Status.SUCCESS and response.data == DEFAULT_SAM_ID
    assert host.transact(codec.RESET_SAM).status == Status.SUCCESS
    assert host.transact(codec.SET_MAX_RF_BYTES, b"\x50").status == Status.SUCCESS


def test_configured_sam_id_and_faulty_module() -> None:
    sam_id = bytes(range(16))
    with SimulatedReader(sam_id=sam_id, sam_status=Status.SAM_NOT_AUTHORISED) as sim:
        client = Host(sim.port)
        try:
            assert client.transact(codec.SAM_STATUS).status == Status.SAM_NOT_AUTHORISED
            assert client.transact(codec.READ_SAM_ID).status == Status.SAM_NOT_AUTHORISED
            sim.sam.sam_status = Status.SUCCESS
            assert client.transact(codec.READ_SAM_ID).data == sam_id
        finally:
            client.close()


def test_no_card(host: Host) -> None:
    response = host.transact(codec.FIND_CARD)
    assert response.status == Status.FIND_FAILED and response.data == b""
    assert host.transact(codec.SELECT_CARD).status == Status.SELECT_FAILED
    assert host.transact(codec.READ_BASE).status == Status.READ_FAILED


def test_read_base_matches_reference_vector(sim: SimulatedReader, host: Host) -> None:
    sim.place(vector_card())
    host.send(codec.FIND_CARD.encode())
    assert host.serial.read(15) == bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    host.send(codec.SELECT_CARD.encode())
    select_ok = bytes.fromhex("AA AA AA 96 69 00 0C 00 00 90") + bytes(8) + b"\x9c"
    assert host.serial.read(19) == select_ok
    response = host.transact(codec.READ_BASE)
    frame = response.to_bytes()
    assert len(frame) == 1295 and frame[-1] == 0x79
    assert hashlib.sha256(frame).hexdigest() == VECTOR_SHA256
    assert sim.reads == 1


@pytest.mark.parametrize(("size", "length", "total"), [(0, 0x050A, 1297), (512, 0x070A, 1809),
                                                       (1024, 0x090A, 2321)])  # fmt: skip
def test_read_base_with_fingerprint(sim: SimulatedReader, host: Host, size: int, length: int,
                                    total: int) -> None:  # fmt: skip
    card = vector_card(fingerprint_size=size)
    sim.place(card)
    frame = read_card(host, codec.READ_BASE_FINGERPRINT).to_bytes()
    assert len(frame) == total and int.from_bytes(frame[5:7], "big") == length
    message = sam_answers.decode_base_message(frame[10:-1], with_fingerprint=True)
    assert message.text == card.text and message.photo == card.photo
    assert message.fingerprint == card.fingerprint and len(card.fingerprint) == size


def test_appended_address_and_management_number(sim: SimulatedReader, host: Host) -> None:
    sim.place(vector_card())
    read_card(host)
    assert host.transact(codec.READ_APPENDED_ADDRESS).status == Status.NO_CONTENT
    sim.place(vector_card(addresses=("四川省成都市测试大道99号", "云南省昆明市测试巷3号")))
    read_card(host)
    response = host.transact(codec.READ_APPENDED_ADDRESS)
    assert response.status == Status.SUCCESS and len(response.data) == 140
    assert response.data[70:].decode("utf-16-le").rstrip() == "云南省昆明市测试巷3号"
    response = host.transact(codec.READ_MANAGEMENT_NUMBER)
    assert response.status == Status.SUCCESS and len(response.data) == 28


def test_host_mistakes(host: Host) -> None:
    host.send(Request(0x77, 0x01).to_bytes())
    assert host.receive(1.0) == Response(Status.HOST_COMMAND_ERROR)
    bad = bytearray(codec.SAM_STATUS.encode())
    bad[-1] ^= 0x01  # the C sample's find with checksum 0x21 is this kind of mistake
    host.send(bytes(bad))
    assert host.receive(1.0) == Response(Status.HOST_CHECKSUM_ERROR)
    host.send(Request(0x11, 0xFF, b"\x00").to_bytes())  # data on a command that takes none
    assert host.receive(1.0) == Response(Status.HOST_LENGTH_ERROR)
    assert host.transact(codec.SAM_STATUS).status == Status.SUCCESS


# ---- card left on the reader (§6.4) --------------------------------------------------------


def test_card_left_answers() -> None:
    with SimulatedReader(card_left_mode="answers") as sim:
        client = Host(sim.port)
        try:
            sim.place(vector_card())
            for _ in range(3):  # the same card, read again and again without lifting it
                assert read_card(client).status == Status.SUCCESS
            sim.remove()
            assert client.transact(codec.FIND_CARD).status == Status.FIND_FAILED
            assert client.transact(codec.READ_BASE).status == Status.READ_FAILED
        finally:
            client.close()


def test_card_left_silent() -> None:
    with SimulatedReader(card_left_mode="silent") as sim:
        client = Host(sim.port)
        try:
            sim.place(vector_card())
            assert read_card(client).status == Status.SUCCESS
            assert client.transact(codec.FIND_CARD).status == Status.FIND_FAILED
            assert client.transact(codec.READ_BASE).status == Status.SUCCESS  # still there
            sim.remove()
            assert client.transact(codec.FIND_CARD).status == Status.FIND_FAILED
            assert client.transact(codec.READ_BASE).status == Status.READ_FAILED  # gone
            sim.place(vector_card())  # placed again: found again
            assert read_card(client).status == Status.SUCCESS
        finally:
            client.close()


def test_scripted_placements(sim: SimulatedReader, host: Host) -> None:
    cards = load_sim_cards()
    sim.script([(None, 0.05), (cards[0], 0.3), (None, 0.05)])
    seen = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(seen) < 2:
        seen.add(host.transact(codec.FIND_CARD).status)
    assert seen == {Status.FIND_FAILED, Status.CARD_FOUND}
    deadline = time.monotonic() + 5
    while host.transact(codec.FIND_CARD).status != Status.FIND_FAILED:
        assert time.monotonic() < deadline, "the script never removed the card"


# ---- baud ------------------------------------------------------------------------------------


def test_set_baud_acks_at_old_rate_then_switches(sim: SimulatedReader, host: Host) -> None:
    assert host.transact(codec.SET_BAUD[57600]).status == Status.SUCCESS  # heard at 115200
    assert sim.baud == 57600
    host.send(codec.SAM_STATUS.encode())
    assert host.receive(0.3) is None  # still at 115200: the SAM hears only framing errors
    host.serial.baudrate = 57600
    assert host.transact(codec.SAM_STATUS).status == Status.SUCCESS
    assert sim.stats.garbled_bytes > 0
    host.send(Request(0x60, 0x05).to_bytes())  # no sixth rate
    assert host.receive(1.0) == Response(Status.HOST_COMMAND_ERROR)
    assert sim.baud == 57600


def test_host_probe_finds_the_rate() -> None:
    with host_on("memory", baud=19200) as (client, device):
        answered = []
        for baud in codec.SUPPORTED_BAUDS:
            client.serial.baudrate = baud
            client.send(codec.SAM_STATUS.encode())
            if client.receive(0.25) is not None:
                answered.append(baud)
        assert answered == [19200]
        assert device.stats.garbled_bytes > 0  # the requests at the other rates were lost


def test_answer_in_flight_is_garbled_at_the_wrong_rate() -> None:
    with SimulatedReader(faults="slow:1") as sim:
        client = Host(sim.port)
        try:
            client.send(codec.READ_SAM_ID.encode())
            wait_until(lambda: sim.stats.requests == 1)  # heard at the right rate ...
            client.serial.baudrate = 9600  # ... then the host moves on while the SAM thinks
            raw = b""
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and not raw:
                raw = client.serial.read(64)
            assert raw and client.decoder.feed(raw) == []  # junk, never a frame
        finally:
            client.close()


def test_pace_spends_wire_time() -> None:
    with SimulatedReader(pace=True) as paced:
        client = Host(paced.port)
        try:
            paced.place(vector_card())
            read_card(client)  # find + select; then time the 1295-byte read
            started = time.monotonic()
            client.transact(codec.READ_BASE)
            assert time.monotonic() - started >= 1295 * 10 / 115200 * 0.9
        finally:
            client.close()


# ---- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "spec"),
    [("memory", "noise:0.7"), ("memory", "split:1"), ("memory", "corrupt:0.2"),
     ("memory", "noise,split,corrupt:0.2"), ("pty", "noise,split,corrupt:0.2")],
)  # fmt: skip
def test_patient_host_gets_through_wire_faults(shell: str, spec: str) -> None:
    with host_on(shell, faults=spec, seed=11) as (client, sim):
        card = vector_card(fingerprint_size=1024)
        sim.place(card)
        for _ in range(8):
            assert client.patient(codec.FIND_CARD).status == Status.CARD_FOUND
            assert client.patient(codec.SELECT_CARD).status == Status.SUCCESS
            response = client.patient(codec.READ_BASE_FINGERPRINT)
            message = sam_answers.decode_base_message(response.data, with_fingerprint=True)
            assert message.fingerprint == card.fingerprint
        stats = client.decoder.stats
        if "noise" in spec:
            assert stats.discarded > 0
        if "corrupt" in spec:
            assert stats.bad_checksum > 0


def test_drop_slow_and_transient_faults() -> None:
    plan = FaultPlan(drop=0.2, slow=0.3, transient=0.5, slow_seconds=(0.01, 0.05))
    with host_on("memory", faults=plan, seed=5) as (client, sim):
        sim.place(vector_card())
        statuses = set()
        good = 0
        for _ in range(100):
            find = client.patient(codec.FIND_CARD)
            select = client.patient(codec.SELECT_CARD)
            read = client.patient(codec.READ_BASE)
            statuses |= {find.status, select.status, read.status}
            good += read.status == Status.SUCCESS
            if good == 3:
                break
        assert good == 3
        assert statuses & {Status.SELECT_FAILED, Status.READ_FAILED,
                           Status.CARD_AUTH_SAM_FAILED, Status.VERIFICATION_ERROR}  # fmt: skip
        assert sim.stats.dropped > 0


def test_both_shells_answer_alike() -> None:
    """One device, one seed, the same requests: the pty and the in-memory line agree on every
    answer and every fault drawn (slow kept short, so neither host gives up on a late one)."""
    plan = FaultPlan(noise=0.3, split=0.5, corrupt=0.1, slow=0.3, drop=0.1, transient=0.3,
                     slow_seconds=(0.01, 0.05))  # fmt: skip
    transcripts = []
    for shell in ("pty", "memory"):
        with host_on(shell, faults=plan, seed=13) as (client, sim):
            sim.place(vector_card())
            seen: list[object] = []
            for command in [codec.FIND_CARD, codec.SELECT_CARD, codec.READ_BASE] * 8:
                drops = sim.stats.dropped
                client.send(command.encode())
                # Long enough that a loaded machine never makes the pty host give up on a late
                # answer and send the next request into it (a different transcript); a dropped
                # request ends the wait once the device has counted it (no answer will come).
                response = client.receive(2.0, dropped=lambda n=drops: sim.stats.dropped > n)
                seen.append(response.to_bytes() if response is not None else None)
        # Counted once the shell is stopped: the pty shell counts an answer after its last
        # byte is written, which a host on a loaded machine may have read before that.
        stats, decoded = sim.stats, client.decoder.stats
        seen += [stats.requests, stats.answers, stats.dropped, decoded.bad_checksum]
        transcripts.append(seen)
    assert transcripts[0] == transcripts[1]
    assert None in transcripts[0]  # the plan really lost or corrupted some answers


# ---- unplug -------------------------------------------------------------------------------------


def test_unplug_and_replug_on_demand(sim: SimulatedReader) -> None:
    link = Path(sim.port)
    first_device = sim.device
    stale = Host(sim.port)
    try:
        assert stale.transact(codec.SAM_STATUS).status == Status.SUCCESS
        sim.unplug()  # until replug()
        assert not link.exists() and sim.device is None
        with pytest.raises(serial.SerialException):
            stale.serial.read(1)
        with pytest.raises(serial.SerialException):
            serial.Serial(sim.port, 115200).close()
        sim.replug()
        # The host still holds the old node, so the new one has another number (re-enumeration);
        # the stable link follows it.
        assert link.is_symlink() and os.readlink(link) == sim.device != first_device
    finally:
        stale.close()
    client = Host(sim.port)
    try:
        assert client.transact(codec.SAM_STATUS).status == Status.SUCCESS
        assert (sim.stats.unplugs, sim.stats.plugs) == (1, 2)
    finally:
        client.close()


def test_unplug_resets_sam_to_power_on_state(sim: SimulatedReader, host: Host) -> None:
    assert host.transact(codec.SET_BAUD[9600]).status == Status.SUCCESS
    assert sim.baud == 9600
    sim.place(vector_card())
    sim.unplug(for_seconds=0.1)
    assert sim.wait_plugged(5)
    assert sim.baud == 115200
    client = Host(sim.port)
    try:
        assert client.transact(codec.FIND_CARD).status == Status.CARD_FOUND  # card still there
    finally:
        client.close()


def test_unplug_fault_re_enumerates() -> None:
    with SimulatedReader(faults=FaultPlan(unplug=1.0, unplug_seconds=0.1), seed=1) as sim:
        client = Host(sim.port)
        try:
            client.send(codec.SAM_STATUS.encode())
            with pytest.raises(serial.SerialException):
                while True:  # until the device vanishes under the host's feet
                    client.serial.read(1)
        finally:
            client.close()
        assert sim.wait_plugged(5)
        assert Path(sim.port).resolve() == Path(str(sim.device))


# ---- lifecycle --------------------------------------------------------------------------------


def test_clean_shutdown_leaves_no_threads_or_fds() -> None:
    fds = len(os.listdir("/proc/self/fd"))
    threads = set(threading.enumerate())
    sim = SimulatedReader(faults="split", seed=2).start()
    link = Path(sim.port)
    client = Host(sim.port)
    assert client.transact(codec.SAM_STATUS).status == Status.SUCCESS
    client.close()
    sim.unplug(for_seconds=0.05)
    assert sim.wait_plugged(5)
    sim.stop()
    assert set(threading.enumerate()) == threads
    assert len(os.listdir("/proc/self/fd")) == fds
    assert not link.exists() and not link.parent.exists()
    sim.stop()  # idempotent


def test_unplug_needs_a_running_simulator() -> None:
    with pytest.raises(RuntimeError):
        SimulatedReader().unplug()


def test_restart_after_stop() -> None:
    sim = SimulatedReader()
    for _ in range(2):
        sim.start()
        client = Host(sim.port)
        try:
            assert client.transact(codec.SAM_STATUS).status == Status.SUCCESS
        finally:
            client.close()
            sim.stop()
