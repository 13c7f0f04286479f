"""QR codes: a picture uploaded on the page is decoded and attached to the registration."""

from __future__ import annotations

import base64
from pathlib import Path

from drivers.barcode import synth
from tests.web.conftest import shoot
from tests.web.desk import Desk, anju
from tests.web.scan_helpers import check_in_payload, wait_scanner

NETID = b"CTID" + bytes(range(0x80, 0xC0))  # a stand-in: the real 网证 format is not public


def _picture(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    synth.place(synth.render("qr", content)).save(path, format="PNG")
    return path




def test_qr_picture_and_booking_code_attach_to_the_registration(page, desk: Desk,
                                                                 tmp_path: Path) -> None:
    page.goto(desk.url + "/")
    desk.place(3)  # 王小明, resident card
    page.wait_for_selector(".guest")
    page.set_input_files("#scan-file", str(_picture(tmp_path, "netid.png", NETID)))
    item = page.wait_for_selector("#attachments .att-netid")
    assert "需由国家网络身份认证平台在线核验" in item.inner_text()
    assert "本机未核验" in page.inner_text("#scan-result")
    wait_scanner(desk)
    desk.sim("scan", text="BK-2026-11-28-0042")  # a booking code from the serial scanner
    booking = page.wait_for_selector("#attachments .att-booking")
    assert "BK-2026-11-28-0042" in booking.inner_text()
    assert page.url == desk.url + "/"  # an attachment does not leave the check-in screen
    shoot(page, "scan-qr-attached")
    page.fill("#room", "309")
    page.click("#confirm")
    assert "已保存" in page.wait_for_selector("#saved").inner_text()
    attachments = check_in_payload(desk)["attachments"]
    netid, code = attachments
    assert netid["kind"] == "netid" and netid["text"] is None
    assert base64.b64decode(netid["payload_b64"]) == NETID
    assert netid["needs_online_verification"] is True and netid["source"] == "image:pyzbar"
    assert code["kind"] == "booking" and code["text"] == "BK-2026-11-28-0042"
    assert code["needs_online_verification"] is False
    anju("store", "verify", "--config", str(desk.config))
    assert page.query_selector("#attachments") is None  # the next party starts empty
    (stay_id,) = desk.query("SELECT stay_id FROM stay_view")[0]
    page.goto(f"{desk.url}/stay/{stay_id}")
    listed = page.inner_text("#stay-attachments")
    assert "网证二维码" in listed and "本机未核验" in listed and "BK-2026-11-28-0042" in listed
    shoot(page, "scan-stay-attachments")


def test_picture_without_a_code_says_so(page, desk: Desk, tmp_path: Path) -> None:
    page.goto(desk.url + "/")
    blank = tmp_path / "blank.png"
    synth.place(synth.render("qr", b"x").crop((0, 0, 2, 2))).save(blank, format="PNG")
    page.set_input_files("#scan-file", str(blank))
    assert "未找到条码" in page.wait_for_selector("#scan-result").inner_text()
    shoot(page, "scan-no-code")
