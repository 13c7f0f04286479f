"""The decode worker: `python -m drivers.barcode.worker BACKEND`, spoken to over stdin/stdout.

    ready    (stdout): length u32 BE | JSON {"ready": BACKEND}, once, when the library is loaded
    request  (stdin):  width u32 BE | height u32 BE | width*height bytes of 8-bit grey
    answer   (stdout): length u32 BE | JSON {"ok": [decoded...]} or {"error": [type, message]}
                       decoded = {"symbology", "raw_hex", "text", "encoding", "left", "top"}

The ready answer lets the parent bound the start (an interpreter and a decoding library: seconds
on a Raspberry Pi Zero) apart from each frame's deadline.

EOF on stdin ends the worker. A plain subprocess rather than multiprocessing: nothing to pickle,
no resource-tracker process, and the parent can bound every write and read by a deadline.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import asdict
from typing import BinaryIO

from PIL import Image

from drivers.barcode import backends

HEADER = struct.Struct(">II")
LENGTH = struct.Struct(">I")


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


def serve(backend: str, stdin: BinaryIO, stdout: BinaryIO) -> None:
    backends.available(backend)  # loads the library now; if missing, each request says so
    _answer(stdout, {"ready": backend})
    while True:
        header = _read_exact(stdin, HEADER.size)
        if header is None:
            return
        width, height = HEADER.unpack(header)
        pixels = _read_exact(stdin, width * height)
        if pixels is None:
            return
        try:
            found = backends.decode(Image.frombytes("L", (width, height), pixels), backend)
            answer: dict[str, object] = {"ok": [_as_json(d) for d in found]}
        except Exception as err:  # reported to the parent, which maps it to DecodeError
            answer = {"error": [type(err).__name__, str(err)]}
        _answer(stdout, answer)


def _answer(stdout: BinaryIO, answer: dict[str, object]) -> None:
    body = json.dumps(answer).encode()
    stdout.write(LENGTH.pack(len(body)) + body)
    stdout.flush()


def _as_json(decoded: backends.Decoded) -> dict[str, object]:
    item = asdict(decoded)
    item["raw_hex"] = item.pop("raw").hex()
    return item


def from_json(item: dict[str, object]) -> backends.Decoded:
    raw = bytes.fromhex(str(item.pop("raw_hex")))
    return backends.Decoded(raw=raw, **item)  # type: ignore[arg-type]


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
