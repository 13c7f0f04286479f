"""A minor's guardian from the guardian's own ID card, by touch in Chromium at 800x480: the
clerk taps 读取监护人身份证, the next card fills the guardian's name (whole, as the card
spells it) instead of joining the party; the phone on the keypad; saved with no keyboard."""

from __future__ import annotations

import json

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.test_web_checkin import _fields
from tests.web.touch import Taps

MINOR = _fields(name="小测试", birth="20150601", number="440106201506010019")
GUARDIAN = _fields(name="欧阳测试", birth="19800101", number="440106198001010027", sex="2")


def test_the_guardians_card_fills_the_guardian_by_touch(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    taps = Taps(page)
    desk.place(fields=MINOR, label="minor")
    page.wait_for_selector(".guest.minor")
    desk.sim("remove")
    gid = page.get_attribute(".guest.minor", "data-guest")
    taps.tap(f"#gcard-{gid}")
    armed = page.wait_for_selector(f"#gcard-{gid}.armed")
    assert "请放监护人的身份证" in armed.inner_text()
    shoot(page, "checkin-guardian-armed")
    desk.place(fields=GUARDIAN, label="guardian")
    page.wait_for_selector(f"#gname-{gid}.scanned")
    assert page.input_value(f"#gname-{gid}") == "欧阳测试"
    assert page.locator(".guest").count() == 1  # the guardian is not a guest of the party
    assert page.is_checked(f"input[name='minor.{gid}.mode'][value=guardian]")
    assert page.locator(f"#gcard-{gid}.armed").count() == 0  # one card, then disarmed
    desk.sim("remove")
    taps.tap(f"#gphone-{gid}")
    taps.keys("13800000000", "#keypad")
    taps.tap(f"select[name='minor.{gid}.relationship']")
    page.select_option(f"select[name='minor.{gid}.relationship']", "parent")
    taps.count += 1  # a native select: one tap to open, one to choose
    taps.tap(f"input[name='minor.{gid}.contacted']")
    taps.tap("#room")
    taps.keys("208", "#keypad")
    shoot(page, "checkin-guardian-from-card")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    payload = json.loads(desk.query("SELECT payload FROM events")[0][0])
    [guest] = payload["data"]["guests"]
    assert guest["guardian"]["name"] == "欧阳测试" and guest["guardian"]["contacted"] is True
    assert guest["guardian"]["phone"] == "13800000000"
    assert "440106198001010027" not in json.dumps(payload)  # the guardian's number is not kept
    assert taps.count <= 22, taps.count


def test_arming_is_cancelled_by_a_second_tap_and_a_card_then_joins_the_party(
        page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    taps = Taps(page)
    desk.place(fields=MINOR, label="minor")
    page.wait_for_selector(".guest.minor")
    desk.sim("remove")
    gid = page.get_attribute(".guest.minor", "data-guest")
    taps.tap(f"#gcard-{gid}")
    page.wait_for_selector(f"#gcard-{gid}.armed")
    taps.tap(f"#gcard-{gid}")
    page.wait_for_selector(f"#gcard-{gid}:not(.armed)")
    desk.place(fields=GUARDIAN, label="guardian")  # now an accompanying adult: a guest of the party
    page.wait_for_function("document.querySelectorAll('.guest').length === 2")
    assert page.input_value(f"#gname-{gid}") == ""


def test_the_guardians_name_by_pinyin_when_no_card_is_at_hand(page, desk: Desk) -> None:
    """张伟 typed as zhang · wei on the keypad's 中 panel; each character chosen is typed as
    it is (one code point), and the room keypad next to it is the same pad."""
    page.goto(desk.url + "/")
    taps = Taps(page)
    desk.place(fields=MINOR, label="minor")
    page.wait_for_selector(".guest.minor")
    gid = page.get_attribute(".guest.minor", "data-guest")
    taps.tap(f"#gname-{gid}")
    taps.tap("#keypad .key[data-key='ABC']")
    taps.tap("#keypad .key[data-key='PY']")
    page.wait_for_selector("#keypad .kp-cands:not([hidden])")
    for letter in "ZHANG":
        taps.tap(f"#keypad .kp-letters .key[data-key='{letter}']")
    assert page.inner_text("#keypad .kp-buffer") == "zhang"
    shoot(page, "checkin-guardian-pinyin")
    taps.tap("#keypad [data-key=NEXT]")  # 张 is on the second page of five
    taps.tap("#keypad .kp-cand[data-char='张']")
    for letter in "WEI":
        taps.tap(f"#keypad .kp-letters .key[data-key='{letter}']")
    for _ in range(3):
        taps.tap("#keypad [data-key=NEXT]")
    taps.tap("#keypad .kp-cand[data-char='伟']")
    assert page.input_value(f"#gname-{gid}") == "张伟"
    taps.tap("#keypad .kp-letters .key[data-key='⌫']")  # no syllable pending: deletes a character
    assert page.input_value(f"#gname-{gid}") == "张"
    for letter in "WEI":
        taps.tap(f"#keypad .kp-letters .key[data-key='{letter}']")
    taps.tap("#keypad .kp-letters .key[data-key='⌫']")  # a syllable pending: deletes a letter of it
    assert page.inner_text("#keypad .kp-buffer") == "we"
    taps.tap("#keypad .kp-letters .key[data-key='I']")
    for _ in range(3):
        taps.tap("#keypad [data-key=NEXT]")
    taps.tap("#keypad .kp-cand[data-char='伟']")
    taps.tap("#keypad .key[data-key='PY']")  # back to letters: C types a C, never clears
    taps.tap("#keypad .kp-letters .key[data-key='C']")
    assert page.input_value(f"#gname-{gid}") == "张伟C"
    taps.tap("#keypad .kp-letters .key[data-key='⌫']")
    taps.tap(f"#gphone-{gid}")
    taps.tap("#keypad .key[data-key='123']")
    taps.keys("13800000000", "#keypad")
    page.select_option(f"select[name='minor.{gid}.relationship']", "parent")
    taps.tap(f"input[name='minor.{gid}.contacted']")
    taps.tap("#room")
    taps.keys("209", "#keypad")
    taps.tap("#confirm")
    try:
        page.wait_for_selector("#saved")
    except Exception as err:
        raise AssertionError(page.inner_text("#checkin")[:600]) from err
    payload = json.loads(desk.query("SELECT payload FROM events")[0][0])
    assert payload["data"]["guests"][0]["guardian"]["name"] == "张伟"
