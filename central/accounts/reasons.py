"""The rule a reason for looking at personal data must satisfy (configured per server)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class ReasonRule:
    """What a search, view or export reason must be (`anju central serve --reason-min-chars
    --reason-pattern`): at least `min_chars` characters, and, when a pattern is configured
    (the force's case-number format), contain a match of it. Refuses placeholders such as
    "核查" that would otherwise become everyone's habit."""

    min_chars: int = 4
    pattern: str = ""  # a regular expression searched in the reason; "" = none required

    def __post_init__(self) -> None:
        if not 1 <= self.min_chars <= MAX_REASON:
            raise ValueError(f"reason_min_chars must be between 1 and {MAX_REASON}")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"reason_pattern is not a regular expression: {err}") from err

    def describe_zh(self) -> str:
        text = f"至少 {self.min_chars} 个字"
        return text + "，并包含案件编号" if self.pattern else text


DEFAULT_RULE = ReasonRule()
