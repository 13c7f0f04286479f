"""Event payloads parsed once per ingest: their "data" objects, by payload text.

Ingest parses each payload to check it (sync/protocol.py `check_payload`); the projection's fold
(central/stays/state.py) and the feed's records (central/police/record.py `payload_data`) then
parsed the same texts again: three parses of every stored payload, a tenth of the server's
CPU per event (issue 19). Within `parsed_once(known)`, those readers take the parse from `known`
(payload text -> its "data" object) and parse only what is not in it.

The objects are shared, so readers must not change them (the fold copies what it amends).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_KNOWN: ContextVar[Mapping[str, dict[str, Any]] | None] = ContextVar("anju_parsed_payloads",
                                                                     default=None)


@contextmanager
def parsed_once(known: Mapping[str, dict[str, Any]]) -> Iterator[None]:
    """Within this block, `data_of` answers from `known` (which may still grow inside it)."""
    token = _KNOWN.set(known)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def data_of(payload: str) -> dict[str, Any] | None:
    """The "data" object parsed from `payload` already, or None (then parse it)."""
    known = _KNOWN.get()
    return None if known is None else known.get(payload)
