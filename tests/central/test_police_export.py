"""CSV export cells that a spreadsheet could take for a formula are neutralised (issue 14,
finding 6): the exact cases of the attack, and values that must stay as they are. Pure: the
cells are built the same whatever the database (the end-to-end export is in
test_police_stay)."""

from __future__ import annotations

import csv
import io

import pytest

from central.police.export import formula_risk, write_csv
from central.police.exportrows import DOCUMENT_NUMBER, HEADER

NEUTRALISED = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\r\n=1+1",
    "\t",
    "\r",
    "\x0b=1",
    "\x1b=1",
    " =1+1",
    "  \t=1+1",
    "\u3000=1+1",
    "\u00a0=1+1",
    "\u200b=1+1",
    "\ufeff=1+1",
    " \u200b +cmd",
    "＝1+1",
    " ＋1",
    "－1",
    "＠SUM(A1)",
]
KEPT = ["张三", "O'Brien", "301", "1-2", "a=b", "", " 张三", "ÅSA-LISA", "李 =四", "\u00e9=1"]


@pytest.mark.parametrize("text", NEUTRALISED)
def test_formula_starters_are_neutralised(text: str) -> None:
    assert formula_risk(text)
    cell = _exported_name(text)
    assert cell == "'" + text  # prefixed, otherwise whole: a name is never rewritten


@pytest.mark.parametrize("text", KEPT)
def test_plain_values_are_kept_as_they_are(text: str) -> None:
    assert not formula_risk(text)
    assert _exported_name(text) == text


def _exported_name(name: str) -> str:
    """The name as the CSV export writes it: through write_csv, read back by the csv module."""
    row: list[object] = [None] * len(HEADER)
    row[HEADER.index("姓名")] = name
    row[DOCUMENT_NUMBER] = "1"
    out = io.BytesIO()
    assert write_csv([row], out) == 1
    text = out.getvalue().decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    return rows[1][HEADER.index("姓名")]
