"""The export, read back as a spreadsheet would: XLSX (default) with typed cells, text document
numbers, frozen header and sized columns; CSV with a BOM and protected document numbers; every
code as its Chinese name, the guesthouse's name, per-guest check-out times; and LibreOffice
converting the XLSX to CSV without losing a digit."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from central.police.exportrows import COLUMNS
from tests.central.central_helpers import Admin
from tests.central.police_helpers import Browser, logged_in, unique_name
from tests.central.record_helpers import GUARDIAN, OVERRIDE_REASON, full_stay
from tests.sync.wire_helpers import guest


def _exported(central: Admin, fmt: str | None = None) -> tuple[Browser, str, dict[str, Any], Any]:
    client, chain = central.device(central.site("演示旅馆"))
    events, guests = full_stay(chain, unique_name("张"), unique_name("李"))
    crafted = chain.check_in("401", [guest('=HYPERLINK("http://x")', "440104199001010011")])
    client.send_events([*events, crafted])
    browser, _user = logged_in(central.url, central.engine, "officer")
    params = {"site": chain.site_code, "reason": "案件 2026-120", "csrf": browser.csrf}
    reply = browser.get("/export", **params, **({"format": fmt} if fmt else {}))
    assert reply.status_code == 200, reply.text
    return browser, chain.site_code, guests, reply


def _by_name(header: list[str], rows: list[list[Any]], name: str) -> dict[str, Any]:
    at = header.index("姓名")
    (row,) = [r for r in rows if r[at] == name]
    return dict(zip(header, row, strict=True))


def test_xlsx_is_the_default_with_typed_cells_and_names(central: Admin) -> None:
    _browser, site, guests, reply = _exported(central)
    assert reply.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="anju-export.xlsx"' in reply.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(reply.content))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width > 30  # sized, not the default 8.43
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header, rows = [str(v) for v in values[0]], values[1:]
    adult = _by_name(header, rows, guests["adult"]["name"])
    assert adult["场所名称"] == "演示旅馆" and adult["场所编码"] == site
    assert adult["状态"] == "在住" and adult["身份"] == "主住人" and adult["性别"] == "男"
    assert adult["证件类型"] == "居民身份证" and adult["国籍"] == "中国" and adult["民族"] == "回族"
    number = guests["adult"]["document"]["number"]
    assert adult["证件号码"] == number  # all 18 characters, a string
    cell = sheet.cell(
        row=[r[header.index("证件号码")] for r in values].index(number) + 1,
        column=header.index("证件号码") + 1,
    )
    assert cell.data_type == "s"
    assert isinstance(adult["入住时间（北京时间）"], datetime)
    assert adult["出生日期"] == datetime(1985, 3, 7)  # a date cell (openpyxl reads datetime)
    assert adult["电话"] == "13900139001"  # as amended
    child = _by_name(header, rows, guests["minor"]["name"])
    assert (child["监护人"], child["监护人电话"], child["监护人关系"], child["已联系监护人"]) == (
        GUARDIAN["name"],
        GUARDIAN["phone"],
        "父母",
        "是",
    )
    assert OVERRIDE_REASON in child["核验提示及放行原因"]
    assert child["登记方式"] == "手工录入"
    latin = _by_name(header, rows, "MÜLLER ANNA MARIA")  # the foreigner: no Chinese name
    assert latin["英文姓名"] == "MÜLLER ANNA MARIA" and latin["国籍"] == "德国"
    assert latin["证件类型"] == "普通护照" and latin["签证号码"] == "V12345678"
    assert latin["入境日期"] == datetime(2026, 11, 30) and latin["入境口岸"] == "广州白云机场"
    assert isinstance(latin["旅客退房时间（北京时间）"], datetime)  # checked out alone
    assert adult["旅客退房时间（北京时间）"] is None
    # The name exactly as registered, in a text cell: no formula anywhere in the workbook
    # (and no quote added: XLSX has types, so the CSV's guard is not needed here).
    assert _by_name(header, rows, '=HYPERLINK("http://x")')["房间"] == "401"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    (row,) = central.rows("audit_log", action="export", reason="案件 2026-120")
    assert '"format":"xlsx"' in row["query"] and row["result_count"] == 2


def test_csv_has_bom_protected_numbers_and_names(central: Admin) -> None:
    _browser, _site, guests, reply = _exported(central, "csv")
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    adult = _by_name(header, body, guests["adult"]["name"])
    assert adult["证件号码"] == "\t" + guests["adult"]["document"]["number"]
    assert (adult["证件类型"], adult["状态"], adult["身份"], adult["场所名称"]) == (
        "居民身份证",
        "在住",
        "主住人",
        "演示旅馆",
    )
    assert adult["出生日期"] == "1985-03-07"
    latin = _by_name(header, body, "MÜLLER ANNA MARIA")
    assert latin["旅客退房时间（北京时间）"] and not adult["旅客退房时间（北京时间）"]
    assert _by_name(header, body, '\'=HYPERLINK("http://x")')


def test_an_unknown_format_is_refused(central: Admin) -> None:
    browser, _user = logged_in(central.url, central.engine, "officer")
    reply = browser.get(
        "/export", site="x", reason="案件 2026-121", csrf=browser.csrf, format="pdf"
    )
    assert reply.status_code == 400


@pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: Debian package "
    "libreoffice-calc-nogui, see deploy/ensure-debian-packages.sh",
)
def test_libreoffice_converts_the_xlsx_without_loss(central: Admin, tmp_path: Path) -> None:
    if central.engine.dialect.name != "sqlite":
        pytest.skip("the file does not depend on the backend: converted once, on SQLite")
    _browser, _site, guests, reply = _exported(central)
    source = tmp_path / "export.xlsx"
    source.write_bytes(reply.content)
    # A profile of its own: a user's running LibreOffice or another test cannot interfere.
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    converted = list(csv.reader(io.StringIO((tmp_path / "export.csv").read_text("utf-8"))))
    book = openpyxl.load_workbook(source)
    kinds = ["header", *[c.kind for c in COLUMNS]]
    expected = [
        [_as_text(c.value, kinds[min(i, 1) and c.column]) for c in row]
        for i, row in enumerate(book.active.iter_rows())
    ]
    assert converted == expected
    numbers = {guests[k]["document"]["number"] for k in ("adult", "minor")}
    assert numbers <= {cell for row in converted for cell in row}


def _as_text(value: Any, kind: str) -> str:
    """A cell as LibreOffice writes it under the export's number formats."""
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds") if kind == "datetime" else value.date().isoformat()
    return "" if value is None else str(value)
