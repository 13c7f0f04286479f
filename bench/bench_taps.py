"""Taps from card placed to "已保存", and card -> findings visible, on the real page at 800x480.

Every action is a tap on the page (tests/web/touch.py counts them; a native <select> counts two:
open, choose); no physical key is pressed. Placing a card on the reader is not a tap.

    .venv/bin/python bench/bench_taps.py [--reads 100]

The baseline is the paper registration form the clerk would fill instead (旅客住宿登记表 for a
Chinese guest: room, date, name, sex, nation, birth date, ID number, address = 8 fields; the
temporary-accommodation form for a foreigner: room, date, surname, given names, sex, birth
date, nationality, document type and number, validity, visa type and number, permitted stay,
entry date, port = 15 fields, whether typed or scanned; a minor adds guardian and relationship
= 2 more, and a guardian who is not here her phone too = 3). A tap is compared with a field
written by hand, which is generous to paper.

Check-out and its undo have no paper form: the undo (撤销退房 and its confirmation) is
compared with the check-out it takes back (the in-house tab, 退房, its confirmation), in the
same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chromium import ARGS, CHROMIUM  # noqa: E402
from tests.web.desk import Desk, write_settings  # noqa: E402
from tests.web.scan_helpers import PASSPORT, wait_scanner  # noqa: E402
from tests.web.test_web_manual_minor import manual_passport_by_touch  # noqa: E402
from tests.web.test_web_scan_visa import VISA  # noqa: E402
from tests.web.touch import Taps  # noqa: E402

PAPER = {
    "one adult": 8,
    "a couple": 16,
    "a family (adult + minor)": 18,
    "a minor, guardian's own card": 11,
    "a foreign guest by passport+visa scan": 15,
    "a foreign guest typed by hand": 15,
}
MINOR = {
    "card_type": "resident",
    "name": "小测试",
    "sex": "1",
    "nation_code": "01",
    "birth_date": "20150601",
    "address": "广东省广州市测试路1号",
    "id_number": "440106201506010019",
    "authority": "测试公安局",
    "valid_from": "20200101",
    "valid_until": "20300101",
}
GUARDIAN = {
    **MINOR,
    "name": "欧阳测试",
    "sex": "2",
    "birth_date": "19800101",
    "id_number": "440106198001010027",
}
FINDING = {
    **MINOR,
    "name": "过期测试",
    "birth_date": "19800101",
    "id_number": "11010519800101003X",
    "valid_from": "20100101",
    "valid_until": "20200101",
}


def save(page: object, desk: Desk, taps: Taps, room: str) -> int:
    taps.keys(room, "#keypad")
    if page.query_selector("#confirm-dates input"):  # type: ignore[attr-defined]
        taps.tap("#confirm-dates input")  # this machine's clock is not synchronised
    taps.tap("#confirm")
    page.wait_for_selector("#saved")  # type: ignore[attr-defined]
    desk.sim("remove")
    return taps.count


def scenarios(page: object, desk: Desk) -> dict[str, int]:
    out = {}
    page.goto(desk.url + "/")  # type: ignore[attr-defined]
    desk.place(0)
    page.wait_for_selector(".guest")  # type: ignore[attr-defined]
    out["one adult"] = save(page, desk, Taps(page), "101")
    desk.place(1)
    page.wait_for_selector(".guest")  # type: ignore[attr-defined]
    desk.sim("remove")
    desk.place(2)
    page.wait_for_function("document.querySelectorAll('.guest').length === 2")  # type: ignore[attr-defined]
    out["a couple"] = save(page, desk, Taps(page), "102")
    desk.place(3)
    page.wait_for_selector(".guest")  # type: ignore[attr-defined]
    desk.sim("remove")
    desk.place(fields=MINOR)
    page.wait_for_selector(".guest.minor")  # type: ignore[attr-defined]
    taps = Taps(page)
    taps.tap("select[name$='.relationship']")  # the adult of the party is chosen already
    page.select_option("select[name$='.relationship']", "parent")  # type: ignore[attr-defined]
    taps.count += 1
    out["a family (adult + minor)"] = save(page, desk, taps, "103")
    # A minor alone; the guardian is not here but her card is (read, not typed).
    desk.place(fields={**MINOR, "name": "小测乙", "id_number": "440106201506020030",
                       "birth_date": "20150602"}, label="minor-2")
    page.wait_for_selector(".guest.minor")  # type: ignore[attr-defined]
    desk.sim("remove")
    taps = Taps(page)
    taps.tap(".gcard")
    page.wait_for_selector(".gcard.armed")  # type: ignore[attr-defined]
    desk.place(fields=GUARDIAN, label="guardian")
    page.wait_for_selector("input.scanned[name$='.guardian_name']")  # type: ignore[attr-defined]
    desk.sim("remove")
    taps.tap("input[name$='.guardian_phone']")
    taps.keys("13800000000", "#keypad")
    taps.tap("select[name$='.relationship']")
    page.select_option("select[name$='.relationship']", "parent")  # type: ignore[attr-defined]
    taps.count += 1
    taps.tap("input[name$='.contacted']")
    taps.tap("#room")
    out["a minor, guardian's own card"] = save(page, desk, taps, "105")
    # A passport, then its visa, from the document reader: the form fills itself.
    wait_scanner(desk)
    taps = Taps(page)
    desk.sim("scan", mrz=PASSPORT, format="td3")
    page.wait_for_url("**/manual?scan=*")  # type: ignore[attr-defined]
    page.wait_for_selector("#scan-verified")  # type: ignore[attr-defined]
    desk.sim("scan", mrz=VISA, format="mrva")
    page.wait_for_function(  # type: ignore[attr-defined]
        "document.querySelector('input[name=visa_number]').value !== ''")
    taps.tap("select[name=visa_type]")  # on the sticker; the MRZ does not say it
    page.select_option("select[name=visa_type]", "L")  # type: ignore[attr-defined]
    taps.count += 1
    taps.tap("#manual-add")
    page.wait_for_selector(".guest")  # type: ignore[attr-defined]
    out["a foreign guest by passport+visa scan"] = save(page, desk, taps, "106")
    taps = Taps(page)
    manual_passport_by_touch(page, desk, taps)
    page.wait_for_selector(".guest")  # type: ignore[attr-defined]
    out["a foreign guest typed by hand"] = save(page, desk, taps, "104")
    return out


def out_and_back(page: object, desk: Desk) -> tuple[int, int]:
    """Taps to check a room out, then to undo it (the room is in house again)."""
    taps = Taps(page)
    taps.tap("nav.tabs a[href='/inhouse']")
    taps.tap("tr[data-room='101'] td:last-child button")
    taps.tap("#out-yes")
    page.wait_for_selector("#undo-list")  # type: ignore[attr-defined]
    out = taps.count
    taps = Taps(page)
    taps.tap("#undo-list button.undo")
    taps.tap("#undo-yes")
    page.wait_for_selector("tr[data-room='101']")  # type: ignore[attr-defined]
    return out, taps.count


def _number(i: int) -> str:
    """A distinct ID number per read (the reader ignores the same card placed again soon),
    its check character valid: the expired card is the finding."""
    body = f"11010519800101{(2 * i + 1) % 1000:03d}"
    total = sum(int(c) * (2 ** (17 - k) % 11) for k, c in enumerate(body))
    return body + "10X98765432"[total % 11]


def findings_visible(page: object, desk: Desk, reads: int) -> list[float]:
    """Card read complete -> its guest with its findings in the DOM (one SSE fragment)."""
    page.goto(desk.url + "/")  # type: ignore[attr-defined]
    page.wait_for_selector("#place-card")  # type: ignore[attr-defined]
    times = []
    for i in range(reads):
        before = page.evaluate("window.anju.lastDraft ? window.anju.lastDraft.version : 0")  # type: ignore[attr-defined]
        desk.place(fields={**FINDING, "name": f"过期{i}", "id_number": _number(i)})
        page.wait_for_function(  # type: ignore[attr-defined]
            f"window.anju.lastDraft && window.anju.lastDraft.version > {before} "
            "&& document.querySelector('.guest-findings')"
        )
        last = page.evaluate("window.anju.lastDraft")  # type: ignore[attr-defined]
        times.append(last["shownAt"] - last["readAt"])
        desk.sim("remove")
        page.click("button[data-forget]")  # type: ignore[attr-defined]
        page.wait_for_selector("#place-card")  # type: ignore[attr-defined]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        work = Path(tmp)
        desk = Desk(work, write_settings(work))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 480}, locale="zh-CN")
            counted = scenarios(page, desk)
            check_out, undo = out_and_back(page, desk)
            shown = sorted(findings_visible(page, desk, args.reads))
        finally:
            browser.close()
            desk.stop()
    print("taps from card placed to 已保存 (paper form fields for the same; ratio)")
    for name, taps in counted.items():
        print(
            f"  {name:38s} {taps:3d} taps   paper {PAPER[name]:2d} fields   "
            f"{taps / PAPER[name]:.2f}"
        )
    print(f"  {'check-out of a room':38s} {check_out:3d} taps")
    print(f"  {'its undo (撤销退房)':34s} {undo:3d} taps   against the check-out "
          f"{undo / check_out:.2f}")
    p99 = shown[min(len(shown) - 1, round(0.99 * (len(shown) - 1)))]
    print(
        f"card read -> findings visible, {len(shown)} reads: p50 "
        f"{statistics.median(shown):.1f} ms, p99 {p99:.1f} ms (goal < 100 ms)"
    )


if __name__ == "__main__":
    main()
