"""Strict readers for JSON objects received on the wire: each problem names its field.

Both sides use these (the server on requests, the client on answers), so a message is checked
the same way wherever it is read. Errors are raised as the `error` class given (ProtocolError by
default, InvalidEventError for one event), with `code` and `field` set.

The text rule lives here too, the one place the terminal (page, CLI, scanner, registry) and the
server (ingest) share: text holds no control character (C0, DEL, C1) and no lone surrogate,
unless a field documents the ones it allows (none does today). Such text is refused, never
cleaned: a name is stored as typed or not at all. `json_problem` applies the rule to every key
and string of a JSON value and bounds its nesting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sync.errors import ProtocolError

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# C0 controls, DEL, C1 controls, and surrogates (alone in a str they are not text: no UTF-8).
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same rule as a JSON Schema pattern, for the OpenAPI document (a surrogate cannot be written
# in JSON Schema's regex dialect; a fuzzer that knows this pattern never sends one anyway).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MAX_JSON_DEPTH = 16  # an event's data nests 4 deep (data.guests[].document.visa)


def text_problem(value: str, *, allowed: str = "") -> str | None:
    """Why `value` cannot be stored as text (None: it can); `allowed`: characters a field
    documents (e.g. a line break in a multi-line note)."""
    if value.isprintable():  # fast path: every refused character is unprintable (Cc, Cs)
        return None
    for match in _REFUSED.finditer(value):
        char = match.group()
        if char in allowed:
            continue
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        return f"contains {what} (U+{ord(char):04X}) at position {match.start()}"
    return None


def json_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """(path, why) of the first key or string of a parsed JSON value that breaks the text rule,
    or of nesting deeper than `max_depth`; None when the whole value can be stored. Iterative:
    a hostile depth cannot exhaust the stack here."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, str):
            why = text_problem(item)
            if why is not None:
                return _clip(path or "value"), why
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return _clip(path or "value"), f"nested deeper than {max_depth} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and (why := text_problem(key)) is not None:
                    return _clip(path or "value"), f"has a key that {why}"
                child_path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
                stack.append((child_path.lstrip("."), child, depth + 1))
    return None


def _clip(path: str, limit: int = 120) -> str:
    """A path names a field in answers and logs: bounded, whatever keys the value had."""
    return path if len(path) <= limit else path[:limit - 3] + "..."


def format_utc(value: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z (the terminal's format: text order = time order)."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_utc(text: str) -> datetime:
    if TIME_RE.match(text):  # fast path, the same result: fromisoformat is C, strptime Python
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


class Fields:
    """Typed access to one JSON object; `where` prefixes field names in errors ("events[3].")."""

    def __init__(
        self, doc: Any, *, where: str = "", error: type[ProtocolError] = ProtocolError,
        code: str = "invalid_field",
    ) -> None:
        self.where = where
        self.error = error
        self.code = code
        if not isinstance(doc, Mapping):
            raise error(f"{where.rstrip('.') or 'body'} must be a JSON object", code=code,
                        field=where.rstrip(".") or None)
        self.doc = doc

    def fail(self, name: str, why: str, code: str | None = None) -> ProtocolError:
        return self.error(f"{self.where}{name}: {why}", code=code or self.code,
                          field=f"{self.where}{name}")

    def _get(self, name: str, optional: bool) -> Any:
        if name not in self.doc or (self.doc[name] is None and not optional):
            raise self.fail(name, "is required", "missing_field")
        return self.doc[name]

    def text(self, name: str, *, max_len: int = 128, pattern: re.Pattern[str] | None = None,
             min_len: int = 1) -> str:
        value = self._get(name, optional=False)
        return self._check_text(name, value, max_len, pattern, min_len)

    def opt_text(self, name: str, *, max_len: int = 128, pattern: re.Pattern[str] | None = None,
                 min_len: int = 0) -> str | None:
        value = self.doc.get(name)
        return None if value is None else self._check_text(name, value, max_len, pattern, min_len)

    def _check_text(self, name: str, value: Any, max_len: int, pattern: re.Pattern[str] | None,
                    min_len: int) -> str:
        if not isinstance(value, str):
            raise self.fail(name, "must be a string")
        if not min_len <= len(value) <= max_len:
            raise self.fail(name, f"length must be {min_len}..{max_len}, got {len(value)}")
        why = text_problem(value)
        if why is not None:
            raise self.fail(name, why)
        if pattern is not None and not pattern.match(value):
            raise self.fail(name, "has the wrong format")
        return value

    def time(self, name: str) -> str:
        value = self.text(name, max_len=27, pattern=TIME_RE)
        try:
            parse_utc(value)
        except ValueError as err:
            raise self.fail(name, "is not a valid UTC time") from err
        return value

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None
                ) -> int:
        value = self._get(name, optional=False)
        return self._check_int(name, value, minimum, maximum)

    def opt_integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None
                    ) -> int | None:
        value = self.doc.get(name)
        return None if value is None else self._check_int(name, value, minimum, maximum)

    def _check_int(self, name: str, value: Any, minimum: int | None, maximum: int | None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "must be an integer")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.fail(name, f"must be within {minimum}..{maximum}")
        return value

    def number(self, name: str, *, optional: bool = False) -> float | None:
        value = self.doc.get(name) if optional else self._get(name, optional=False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(name, "must be a non-negative number")
        return float(value)

    def boolean(self, name: str) -> bool:
        value = self._get(name, optional=False)
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false")
        return value

    def items(self, name: str, *, max_items: int) -> list[Any]:
        value = self._get(name, optional=False)
        if not isinstance(value, list):
            raise self.fail(name, "must be a list")
        if len(value) > max_items:
            raise self.fail(name, f"at most {max_items} items")
        return value
