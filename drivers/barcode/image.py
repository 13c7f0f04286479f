"""Decode barcodes in images, in a worker process with a time limit per frame.

    caller ──ImageDecoder.decode(img)──> stdin ──> worker process (`worker.py`):
           <────── decoded symbols ─── stdout ──┘   backends.decode(img, backend)
    not ready within `start_timeout` -> worker killed, DecodeTimeoutError; the next call retries
    no answer within `timeout`  -> worker killed, DecodeTimeoutError; the next call starts anew
    worker died (zbar abort())  -> WorkerCrashedError; the next call starts anew

Why a process: libzbar calls abort() on some malformed images and neither library can be
interrupted from Python; in a thread that would take the terminal down or hang it. The worker
is kept between frames, so only the first frame waits for its start-up, which has a bound of its
own: counted in the frame's 2 s, a Pi Zero's start would time out, be killed and start again on
every scan. Every write and read is non-blocking and bounded by the frame's deadline (a stuck
worker cannot stall us even while we are still handing it the pixels). `isolate=False` decodes
in-process (the bench uses it to time the libraries alone).
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from PIL import Image, UnidentifiedImageError

from drivers.barcode import backends, worker
from drivers.barcode.backends import BACKENDS, Decoded
from drivers.barcode.errors import (
    BackendUnavailableError,
    DecodeError,
    DecodeTimeoutError,
    WorkerCrashedError,
)

_ROOT = str(Path(__file__).resolve().parents[2])  # so `-m drivers.barcode.worker` imports


def load_image(source: Image.Image | bytes | str | Path) -> Image.Image:
    """An 8-bit greyscale image from a PIL image, encoded bytes (JPEG/PNG...) or a path."""
    try:
        if isinstance(source, Image.Image):
            image = source
        elif isinstance(source, bytes):
            image = Image.open(io.BytesIO(source))
        else:
            image = Image.open(source)
        image.load()
    except (OSError, UnidentifiedImageError) as err:
        raise DecodeError(f"cannot read image: {err}") from err
    return image if image.mode == "L" else image.convert("L")


class ImageDecoder:
    """One backend, one worker process (started on first use). Not thread-safe."""

    def __init__(self, backend: str = "pyzbar", *, timeout: float = 2.0, isolate: bool = True,
                 start_timeout: float = 30.0,
                 worker_command: tuple[str, ...] | None = None) -> None:
        """`timeout` bounds one frame; `start_timeout` bounds a worker's start (an interpreter
        and the decoding library: seconds on a Pi Zero), counted apart so that a slow start
        is not taken for a stuck frame and killed again on every scan."""
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.isolate = isolate
        self.worker_command = worker_command or (sys.executable, "-m", "drivers.barcode.worker",
                                                 backend)
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def decode(self, source: Image.Image | bytes | str | Path) -> list[Decoded]:
        image = load_image(source)
        if not self.isolate:
            return backends.decode(image, self.backend)
        process = self._ensure_worker()
        deadline = time.monotonic() + self.timeout
        request = worker.HEADER.pack(*image.size) + image.tobytes()
        assert process.stdin is not None and process.stdout is not None
        try:
            self._write(process.stdin.fileno(), request, deadline)
            answer = self._read_answer(process.stdout.fileno(), deadline)
        except TimeoutError:
            self._kill()
            raise DecodeTimeoutError(
                f"{self.backend}: no result within {self.timeout:.1f} s; worker restarted"
            ) from None
        except (EOFError, OSError) as err:
            self._kill()
            raise WorkerCrashedError(f"{self.backend} worker died; restarted") from err
        if "ok" in answer:
            return [worker.from_json(item) for item in answer["ok"]]
        kind, message = answer["error"]
        if kind == "BackendUnavailableError":
            raise BackendUnavailableError(message)
        raise DecodeError(f"{self.backend}: {kind}: {message}")

    @staticmethod
    def _write(fd: int, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            _, writable, _ = select.select([], [fd], [], remaining)
            if writable:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    continue

    @staticmethod
    def _read(fd: int, size: int, deadline: float) -> bytes:
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                try:
                    chunk = os.read(fd, size - len(data))
                except BlockingIOError:
                    continue
                if not chunk:
                    raise EOFError("worker closed its output")
                data.extend(chunk)
        return bytes(data)

    def _ensure_worker(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self._process is not None:
            self._kill()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        process = subprocess.Popen(self.worker_command, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=env)
        assert process.stdin is not None and process.stdout is not None
        os.set_blocking(process.stdin.fileno(), False)
        os.set_blocking(process.stdout.fileno(), False)
        self._process = process
        try:
            ready = self._read_answer(process.stdout.fileno(),
                                      time.monotonic() + self.start_timeout)
        except TimeoutError:
            self._kill()
            raise DecodeTimeoutError(f"{self.backend}: worker not ready within "
                                     f"{self.start_timeout:.1f} s; stopped") from None
        except (EOFError, OSError, ValueError) as err:
            self._kill()
            raise WorkerCrashedError(f"{self.backend} worker died while starting") from err
        if ready != {"ready": self.backend}:
            self._kill()
            raise WorkerCrashedError(f"{self.backend} worker started wrong: {ready!r}")
        return process

    def _read_answer(self, fd: int, deadline: float) -> dict[str, Any]:
        (length,) = worker.LENGTH.unpack(self._read(fd, worker.LENGTH.size, deadline))
        answer = json.loads(self._read(fd, length, deadline))
        if not isinstance(answer, dict):
            raise ValueError(f"worker answered {type(answer).__name__}, not an object")
        return answer

    def _kill(self, *, restart: bool = True) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self.restarts += restart

    def close(self) -> None:
        """Stop the worker: EOF lets it finish the frame in hand; then kill for sure."""
        process = self._process
        if process is not None and process.poll() is None and process.stdin is not None:
            try:
                process.stdin.close()
                process.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill(restart=False)

    def __enter__(self) -> ImageDecoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
