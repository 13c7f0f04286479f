"""Strict readers for JSON objects received on the wire: each problem names its field.

Both sides use these (the server on requests, the client on answers), so a message is checked
the same way wherever it is read. Errors are raised as the `error` class given (ProtocolError by
default, InvalidEventError for one event), with `code` and `field` set.
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


def format_utc(value: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z (the terminal's format: text order = time order)."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_utc(text: str) -> datetime:
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
