"""The hash construction of the per-device event chain, shared by the terminal and the server.

Pure functions, no I/O: the terminal computes these when it appends an event, the server
recomputes them on ingest. Changing anything here breaks every stored chain, so the construction
is fixed for wire protocol v1 (docs/protocol.md, "Hashes"):

    payload        = canonical_json({header fields..., "data": kind-specific body})
                     json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    payload_sha256 = hex(SHA-256(UTF-8 bytes of payload))                      64 hex chars
    chain_sha256   = hex(SHA-256(UTF-8 of f"{sequence}\\n{prev_chain_sha256}\\n{payload_sha256}"))
    prev_chain_sha256 of sequence 1 = GENESIS = "0" * 64

The chain covers the payload only through its hash, so a payload purged on the terminal (or
withheld on the wire) keeps every chain link verifiable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
# json.dumps(value, **these options) builds this encoder on every call; built once, the text is
# the same (the encoder keeps no state between calls).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, Unicode kept (names stay readable): one text per value."""
    return _CANONICAL.encode(value)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_hash(sequence: int, previous: str, payload_hash: str) -> str:
    """The chain hash of the event at `sequence` whose predecessor's chain hash is `previous`."""
    return sha256_hex(f"{sequence}\n{previous}\n{payload_hash}")
