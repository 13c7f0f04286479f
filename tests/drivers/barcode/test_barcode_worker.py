"""The decode worker process: results, time limit, crash, restart, no leaks."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading

import pytest

from drivers.barcode import synth
from drivers.barcode.errors import DecodeError, DecodeTimeoutError, WorkerCrashedError
from drivers.barcode.image import ImageDecoder, load_image

pytest.importorskip("zxingcpp")


@pytest.fixture(scope="module")
def qr_png() -> bytes:
    buffer = io.BytesIO()
    synth.place(synth.render("qr", "BK-2026-0042")).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("backend", ["pyzbar", "zxing"])
def test_decode_in_worker_from_bytes_and_path(backend, qr_png, tmp_path):
    path = tmp_path / "frame.png"
    path.write_bytes(qr_png)
    with ImageDecoder(backend) as decoder:
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]
        assert [d.text for d in decoder.decode(path)] == ["BK-2026-0042"]
        assert decoder.restarts == 0


def test_stuck_worker_times_out_and_is_replaced(qr_png):
    with ImageDecoder("pyzbar", timeout=30) as decoder:
        decoder.decode(qr_png)
        os.kill(decoder.pid, signal.SIGSTOP)  # a frame that never finishes
        decoder.timeout = 0.5  # only the stuck frame is short of time: a loaded machine
        with pytest.raises(DecodeTimeoutError):  # may take longer to start a worker
            decoder.decode(qr_png)
        decoder.timeout = 30
        assert decoder.restarts == 1
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]


def test_worker_dying_mid_frame_is_a_typed_error_then_restarts(qr_png):
    with ImageDecoder("pyzbar", timeout=10) as decoder:
        decoder.decode(qr_png)
        pid = decoder.pid
        os.kill(pid, signal.SIGSTOP)
        # As zbar's abort() would: the worker dies while we wait for its answer.
        killer = threading.Timer(0.2, os.kill, args=(pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(WorkerCrashedError):
                decoder.decode(qr_png)
        finally:
            killer.join()
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]


def test_worker_killed_between_frames_restarts_quietly(qr_png):
    with ImageDecoder("zxing") as decoder:
        decoder.decode(qr_png)
        process = decoder._process
        os.kill(process.pid, signal.SIGKILL)
        process.wait(5)
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]


def test_not_an_image():
    with pytest.raises(DecodeError, match="cannot read image"):
        load_image(b"not a picture")
    with pytest.raises(ValueError, match="backend"):
        ImageDecoder("opencv")


def test_in_process_mode(qr_png):
    decoder = ImageDecoder("pyzbar", isolate=False)
    assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]
    decoder.close()


def _slow_start(seconds: float, backend: str) -> tuple[str, ...]:
    """The worker's command, started `seconds` late (a Pi Zero loading its interpreter)."""
    return ("sh", "-c", f'sleep {seconds}; exec "$0" -m drivers.barcode.worker {backend}',
            sys.executable)


def test_a_slow_start_does_not_count_against_the_first_frame(qr_png):
    with ImageDecoder("pyzbar", timeout=1.0, worker_command=_slow_start(2.0, "pyzbar")) as decoder:
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]
        assert decoder.restarts == 0


def test_a_worker_that_never_gets_ready_is_stopped_and_retried(qr_png):
    with ImageDecoder("pyzbar", timeout=30, start_timeout=0.3,
                      worker_command=("sleep", "30")) as decoder:  # never ready
        with pytest.raises(DecodeTimeoutError, match=r"not ready within 0\.3 s"):
            decoder.decode(qr_png)
        assert decoder.restarts == 1 and decoder.pid is None
        decoder.worker_command = _slow_start(0, "pyzbar")
        decoder.start_timeout = 30
        assert [d.text for d in decoder.decode(qr_png)] == ["BK-2026-0042"]
