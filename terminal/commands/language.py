"""The language of the CLI's messages: English unless the environment asks for Chinese."""

from __future__ import annotations

import os


def chinese_locale() -> bool:
    """True when the environment asks for Chinese messages (LC_ALL, LC_MESSAGES, then LANG)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.lower().startswith("zh")
    return False
