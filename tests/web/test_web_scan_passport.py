"""A passport scanned by the (simulated) document reader: form prefilled, checks shown, saved."""

from __future__ import annotations

from drivers.barcode import mrzbuild
from tests.web.conftest import shoot
from tests.web.desk import Desk, anju
from tests.web.scan_helpers import PASSPORT, check_in_payload, wait_scanner


def test_passport_scan_prefills_form_and_is_saved_with_its_checks(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    page.wait_for_selector("#place-card")
    wait_scanner(desk)
    desk.sim("scan", mrz=PASSPORT, format="td3")
    page.wait_for_url("**/manual?scan=*")
    verified = page.wait_for_selector("#scan-verified")
    assert "所有校验位均已核验" in verified.inner_text()
    checks = page.inner_text("#scan-checks .checks")
    for label in ("证件号码", "出生日期", "有效期至", "个人号码", "综合校验"):
        assert f"✓ {label}" in checks
    assert page.query_selector("#scan-checks li.bad") is None
    assert page.input_value("input[name=number]") == "12AB34567"
    assert page.input_value("input[name=surname_en]") == "MARTIN"
    assert page.input_value("input[name=given_names_en]") == "CLAIRE ANNE"
    assert page.input_value("select[name=nationality]") == "FRA"
    assert page.input_value("input[name=birth_date]") == "1988-02-14"
    assert page.input_value("select[name=sex]") == "female"
    assert page.input_value("input[name=valid_until]") == "2032-01-01"
    assert page.input_value("select[name=document_type]") == "14"
    # The clerk adds what no MRZ carries: visa and entry.
    page.select_option("select[name=visa_type]", "L")
    page.fill("input[name=visa_number]", "V7654321")
    page.fill("input[name=visa_stay_until]", "2099-12-31")
    page.fill("input[name=entry_date]", "2026-11-25")
    page.fill("input[name=entry_port]", "上海浦东机场")
    shoot(page, "scan-passport-prefilled")
    page.click("#manual-add")
    page.wait_for_url(desk.url + "/")
    guest = page.wait_for_selector(".guest")
    assert "MARTIN CLAIRE ANNE" in guest.inner_text() and "已扫描" in guest.inner_text()
    page.fill("#room", "608")
    page.click("#confirm")
    assert "已保存" in page.wait_for_selector("#saved").inner_text()
    data = check_in_payload(desk)
    stored = data["guests"][0]
    document = stored["document"]
    assert document["source"] == "scan" and document["manual_reason"] is None
    assert document["number"] == "12AB34567" and document["type_code"] == "14"
    assert document["valid_until"] == "2032-01-01" and document["issuing_country"] == "FRA"
    assert stored["surname_en"] == "MARTIN" and stored["given_names_en"] == "CLAIRE ANNE"
    assert stored["birth_date"] == "1988-02-14" and stored["sex"] == "female"
    assert stored["nationality"] == "FRA"
    mrz = document["mrz"]
    assert mrz["format"] == "TD3" and mrz["verified"] is True and mrz["problems"] == []
    assert mrz["checks_passed"] == ["document_number", "birth_date", "expiry_date",
                                    "personal_number", "composite"]
    assert mrz["lines"] == mrzbuild.td3(mrzbuild.MrzFields(**PASSPORT)).split("\n")
    assert document["visa"]["visa_type"] == "L" and document["visa"]["entry_port"] == "上海浦东机场"
    assert not [f for f in data["findings"] if f.get("blocks")]
    anju("store", "verify", "--config", str(desk.config))  # fold, projection, hashes agree
    log = desk.service.log.read_text("utf-8")
    assert "12AB34567" not in log and "MARTIN" not in log


def test_broken_mrz_names_the_failing_field(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    wait_scanner(desk)
    line1, line2 = mrzbuild.td3(mrzbuild.MrzFields(**PASSPORT)).split("\n")
    wrong = str((int(line2[19]) + 1) % 10)  # the birth date's check digit
    desk.sim("scan", text=line1 + "\r\n" + line2[:19] + wrong + line2[20:])
    page.wait_for_url("**/manual?scan=*")
    failed = page.wait_for_selector("#scan-failed")
    assert "出生日期" in failed.inner_text() and "校验未通过" in failed.inner_text()
    bad = page.inner_text("#scan-checks li.bad") if page.query_selector("#scan-checks li.bad") \
        else ""
    assert "出生日期" in bad
    assert "✓ 证件号码" in page.inner_text("#scan-checks")
    assert page.input_value("input[name=number]") == "12AB34567"  # the rest is still there
    assert page.query_selector("input[name=reason][required]") is not None  # typed: a reason
    shoot(page, "scan-passport-broken")


def test_travel_permit_scan_is_prefill_only(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    wait_scanner(desk)
    permit = "CSC123456785<2603154<8804027<4\r\nCHEN<<XIAOMING<<<<<<<<<<<<<<<<\r\n" \
        "<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"
    desk.sim("scan", text=permit)
    page.wait_for_url("**/manual?scan=*")
    notice = page.wait_for_selector("#scan-unverified")
    assert "未经校验" in notice.inner_text() and "人工核对" in notice.inner_text()
    assert page.input_value("select[name=document_type]") == "21"
    assert page.input_value("input[name=surname_en]") == "CHEN"
    shoot(page, "scan-permit")
