"""The front desk with the whole service at 1970 (libfaketime), as a Pi without a battery clock
boots: an adult and a minor with a guardian register; a minor alone needs the clerk's
confirmation of the date checks; the status bar says the clock is wrong (docs/time.md)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from drivers.idcard.reading import Sex
from terminal.system.clock import BUILD_DATE
from tests.faketime import faketime
from tests.terminal.registry_helpers import id_number
from tests.web.conftest import shoot
from tests.web.desk import Desk, write_settings
from tests.web.test_web_checkin import _fields

pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None,
    reason="faketime not installed (deploy/ensure-debian-packages.sh)",
)
TEN = BUILD_DATE.replace(year=BUILD_DATE.year - 10)


@pytest.fixture
def desk_1970(tmp_path: Path) -> Iterator[Desk]:
    wrapper = tuple(faketime("1970-01-01 00:00:05"))
    the_desk = Desk(tmp_path, write_settings(tmp_path), wrapper=wrapper)
    try:
        yield the_desk
    finally:
        the_desk.stop()


def payloads(desk: Desk) -> list[dict]:
    return [json.loads(p) for (p,) in desk.query("SELECT payload FROM events ORDER BY seq_id")]


def test_at_1970_an_adult_and_a_minor_with_a_guardian_register(page, desk_1970: Desk) -> None:
    desk = desk_1970
    page.goto(desk.url + "/")
    adult_born = date(1985, 3, 1)
    desk.place(
        fields=_fields(
            name="成年测试", birth="19850301", number=id_number(adult_born, Sex.MALE, 14, "110105")
        )
    )
    page.wait_for_selector(".guest")
    assert page.query_selector(".guest.minor") is None  # judged at the release date, not 1970
    page.fill("#room", "301")
    page.click("#confirm")
    page.wait_for_selector("#saved")

    desk.place(
        fields=_fields(name="小时钟", birth=f"{TEN:%Y%m%d}", number=id_number(TEN, Sex.MALE, 22))
    )
    page.wait_for_selector(".guest.minor")
    page.fill("#room", "302")
    page.fill("input[name$='.guardian_name']", "测试家长")
    page.fill("input[name$='.guardian_phone']", "13800000000")
    page.select_option("select[name$='.relationship']", "parent")
    page.check("input[name$='.contacted']")
    page.click("#confirm")
    page.wait_for_selector("#saved:has-text('302')")  # not the first stay's message

    adult, minor = payloads(desk)
    for event in (adult, minor):
        assert event["wall_time"].startswith("1970-01-01")
        assert event["data"]["date_checks"]["clock"] == "implausible"
        assert event["data"]["date_checks"]["checked_against"] == BUILD_DATE.isoformat()
    assert minor["data"]["guests"][0]["guardian"]["name"] == "测试家长"


def test_at_1970_a_minor_alone_needs_the_clerk_to_confirm_the_dates(page, desk_1970: Desk) -> None:
    desk = desk_1970
    page.goto(desk.url + "/")
    page.wait_for_selector("#advice")
    assert "时间有误" in page.inner_text("body")
    assert "网线" not in page.inner_text("#advice")
    desk.place(
        fields=_fields(name="小单独", birth=f"{TEN:%Y%m%d}", number=id_number(TEN, Sex.MALE, 33))
    )
    page.wait_for_selector(".guest.minor")
    page.fill("#room", "303")
    page.click("#confirm")
    page.wait_for_selector("#confirm-dates")
    assert "监护人" in page.inner_text(".findings")
    assert not desk.query("SELECT * FROM events")
    shoot(page, "checkin-clock-untrusted")
    page.check("#confirm-dates input")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    (event,) = payloads(desk)
    assert event["data"]["date_checks"]["confirmed_by_clerk"] is True
    minor_rules = [f for f in event["data"]["findings"] if f["code"].startswith("minor.")]
    assert minor_rules
    for finding in minor_rules:
        assert (finding["severity"], finding["downgraded_from"]) == ("warn", "block")
