"""Data layouts of the SAM's answers that carry card data (after SW3, before the checksum).

    30 01 read base            text len:2 BE | photo len:2 BE | text | photo
    30 10 base + fingerprint   text len:2 | photo len:2 | fingerprint len:2 | text | photo | fp
    30 03 appended address     1..4 entries of 70 bytes UCS-2 (some readers send only one)

Sans-IO like the codec: bytes in, typed blocks out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.idcard.errors import FrameError

TEXT_MAX = 256
PHOTO_MAX = 1024
FINGERPRINT_MAX = 1024
ADDRESS_ENTRY = 70
ADDRESS_MAX = 4 * ADDRESS_ENTRY


@dataclass(frozen=True, slots=True)
class BaseMessage:
    """The data of a read-base (30 01) or read-base-with-fingerprint (30 10) answer."""

    text: bytes
    photo: bytes
    fingerprint: bytes | None = field(default=None)


def decode_base_message(data: bytes, *, with_fingerprint: bool) -> BaseMessage:
    """Split a base-message payload by its declared lengths (clamped as sdtapi does)."""
    count = 3 if with_fingerprint else 2
    if len(data) < 2 * count:
        raise FrameError(f"base message: expected at least {2 * count} bytes, got {len(data)}")
    lengths = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(count)]
    limits = (TEXT_MAX, PHOTO_MAX, FINGERPRINT_MAX)[:count]
    needed = 2 * count + sum(lengths)
    if len(data) < needed:
        raise FrameError(f"base message: expected {needed} bytes, got {len(data)}")
    blocks: list[bytes] = []
    offset = 2 * count
    # Honour each declared length for the offsets, but copy at most the GA 490 size (as sdtapi).
    for declared, limit in zip(lengths, limits, strict=True):
        blocks.append(bytes(data[offset : offset + min(declared, limit)]))
        offset += declared
    fingerprint = blocks[2] if with_fingerprint else None
    return BaseMessage(text=blocks[0], photo=blocks[1], fingerprint=fingerprint)


def encode_base_message(
    text: bytes, photo: bytes, fingerprint: bytes | None = None
) -> bytes:
    """The inverse of `decode_base_message` (the simulator's side)."""
    blocks = [text, photo] if fingerprint is None else [text, photo, fingerprint]
    head = b"".join(len(block).to_bytes(2, "big") for block in blocks)
    return head + b"".join(blocks)


def split_appended_addresses(data: bytes) -> list[bytes]:
    """Split into 70-byte entries, at most four (GA 490); readers send 70 or up to 280 bytes.

    A short last entry is kept (it is still UCS-2 text) rather than dropped; an odd trailing
    byte cannot be UCS-2 and is the only thing discarded.
    """
    usable = data[:ADDRESS_MAX]
    usable = usable[: len(usable) - len(usable) % 2]
    return [usable[i : i + ADDRESS_ENTRY] for i in range(0, len(usable), ADDRESS_ENTRY)]
