"""`safe(value)`: a value that came from a device or a user, fit for one line of the log.

Every log call of the central server that includes such a value (a device id from a header, a
heartbeat field, a username, an address, an error text from a decoder) passes it through
`safe`, so a newline, a carriage return or a terminal escape cannot forge or hide a log line.
Escaping is repr-style: control characters (C0, DEL, C1), line and paragraph separators,
format characters (bidirectional overrides) and lone surrogates become `\\n`, `\\x1b`,
`\\u202e`...; a backslash is doubled, so an escape in the log always means one in the value.
Other text, Chinese included, is kept as it is.
"""

from __future__ import annotations

import re
import unicodedata

_SIMPLE = re.compile(r"[ -\[\]-~]*")  # printable ASCII without a backslash: nothing to do
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def safe(value: object) -> str:
    text = str(value)
    if _SIMPLE.fullmatch(text):
        return text
    return "".join(_escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if unicodedata.category(ch) not in _ESCAPED:
        return ch
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )
