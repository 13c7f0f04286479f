"""A stored event's "data" object, and event payloads parsed once per ingest.

Ingest parses each payload to check it (sync/protocol.py `check_payload`); the projection's fold
(central/stays/state.py) and the feed's records (central/police/record.py `payload_data`) then
parsed the same texts again: three parses of every stored payload, a tenth of the server's
CPU per event (issue 19). Within `parsed_once(known)`, those readers take the parse from `known`
(payload text -> its "data" object) and parse only what is not in it: `data` is that one
reader, for the fold, the feed and the police pages alike.

The objects are shared, so readers must not change them (the fold copies what it amends).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_KNOWN: ContextVar[Mapping[str, dict[str, Any]] | None] = ContextVar("anju_parsed_payloads",
                                                                     default=None)


@contextmanager
def parsed_once(known: Mapping[str, dict[str, Any]]) -> Iterator[None]:
    """Within this block, `data` answers from `known` (which may still grow inside it)."""
    token = _KNOWN.set(known)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def data(payload: str | None) -> dict[str, Any]:
    """The payload's "data" object: {} when withheld (None) or not an object. Raises
    ValueError (not JSON) or AttributeError (JSON but not an object)."""
    if payload is None:  # withheld: the header still counts (kind, time)
        return {}
    known = _KNOWN.get()
    parsed = None if known is None else known.get(payload)
    if parsed is not None:
        return parsed
    found = json.loads(payload).get("data")
    return found if isinstance(found, dict) else {}
