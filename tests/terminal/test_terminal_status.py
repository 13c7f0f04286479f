"""The status bar's words: each problem says what it is and what the clerk should do."""

from __future__ import annotations

from drivers.idcard.state import ReaderState
from terminal.desk.health import Health
from terminal.web import i18n
from terminal.web.status import BAD, OK, WARN, items

GOOD = Health(reader_state=ReaderState.IDLE, reader_sam_id="05.01-20101117-0001234567-3000000000",
              server_reachable=True, backlog=0, oldest_age_s=None, rejected=0,
              clock_synchronised=True, disk_free_bytes=10 << 30, disk_min_bytes=64 << 20)


def _by_key(health: Health, locale: str = "zh_CN") -> dict[str, object]:
    return {item.key: item for item in items(health, i18n.gettext_for(locale))}


def test_all_good_is_all_green() -> None:
    shown = _by_key(GOOD)
    assert {item.level for item in shown.values()} == {OK}  # type: ignore[attr-defined]
    assert shown["reader"].detail.startswith("05.01")  # type: ignore[attr-defined]
    assert shown["backlog"].text == "已全部上传"  # type: ignore[attr-defined]


def test_problems_come_with_what_to_do() -> None:
    from dataclasses import replace

    bad = replace(GOOD, reader_state=ReaderState.DISCONNECTED, server_reachable=False, backlog=3,
                  oldest_age_s=7200, clock_synchronised=False, disk_free_bytes=1 << 20)
    shown = _by_key(bad)
    for key, level in (("reader", BAD), ("server", WARN), ("backlog", WARN), ("clock", WARN),
                       ("disk", BAD)):
        item = shown[key]
        assert item.level == level, key  # type: ignore[attr-defined]
        assert item.advice, key  # type: ignore[attr-defined]
    assert shown["backlog"].text == "3 条待上传（最早 120 分钟前）"  # type: ignore[attr-defined]
    assert "USB" in shown["reader"].advice  # type: ignore[attr-defined]


def test_rejections_are_an_alarm_and_english_is_available() -> None:
    from dataclasses import replace

    shown = _by_key(replace(GOOD, rejected=2), "en")
    assert shown["backlog"].level == BAD  # type: ignore[attr-defined]
    assert shown["backlog"].text == "2 registrations refused by the server"  # type: ignore[attr-defined]


def test_clerk_sessions_expire_on_the_server_after_the_idle_time(monkeypatch) -> None:
    from terminal.web import page

    now = [1000.0]
    monkeypatch.setattr(page.time, "monotonic", lambda: now[0])
    sessions = page.Sessions(idle_s=60)
    token = sessions.open("clerk-1")
    now[0] += 50
    assert sessions.operator(token, touch=True) == "clerk-1"  # the clerk's tap keeps it
    now[0] += 60  # background calls (touch=False) do not
    assert sessions.operator(token) == "clerk-1"
    now[0] += page.IDLE_GRACE_S + 1
    assert sessions.operator(token) is None
    assert sessions.operator(token, touch=True) is None


def test_an_unsynchronised_clock_beside_a_reachable_server_is_not_a_cable_problem() -> None:
    """The bar said "请检查网线" right beside "服务器已连接": the advice must fit the cause."""
    from dataclasses import replace

    online = _by_key(replace(GOOD, clock_synchronised=False))
    assert online["server"].level == OK  # type: ignore[attr-defined]
    assert online["clock"].level == WARN  # type: ignore[attr-defined]
    assert "网线" not in online["clock"].advice  # type: ignore[attr-defined]
    assert "人工核对" in online["clock"].advice  # type: ignore[attr-defined]
    offline = _by_key(replace(GOOD, clock_synchronised=False, server_reachable=False))
    assert "网线" in offline["clock"].advice  # type: ignore[attr-defined]
    unset = _by_key(replace(GOOD, clock_synchronised=False, server_reachable=None))
    assert "网线" not in unset["clock"].advice  # type: ignore[attr-defined]
    assert "技术人员" in unset["clock"].advice  # type: ignore[attr-defined]


def test_an_implausible_clock_says_it_is_wrong_even_when_synchronised() -> None:
    from dataclasses import replace

    shown = _by_key(replace(GOOD, clock_plausible=False))
    assert shown["clock"].level == WARN  # type: ignore[attr-defined]
    assert shown["clock"].text == "时间有误"  # type: ignore[attr-defined]
    assert "技术人员" in shown["clock"].advice  # type: ignore[attr-defined]


def test_a_refused_credential_is_not_shown_as_a_reachable_server() -> None:
    from dataclasses import replace

    shown = _by_key(replace(GOOD, server_refusal="credential_refused"))
    assert shown["server"].level == BAD  # type: ignore[attr-defined]
    assert shown["server"].text == "服务器拒绝本机"  # type: ignore[attr-defined]
    assert "anju provision" in shown["server"].advice  # type: ignore[attr-defined]
    unsynced = _by_key(replace(GOOD, server_refusal="credential_refused",
                               clock_synchronised=False))
    assert "网线" not in unsynced["clock"].advice  # type: ignore[attr-defined]
    clock = _by_key(replace(GOOD, server_refusal="clock_rejected"))
    assert clock["clock"].level == BAD and clock["server"].level == WARN  # type: ignore[attr-defined]


def test_the_status_bar_reads_the_uploaders_refusal(tmp_path) -> None:
    """The page's probe is unsigned; whether the server accepts this terminal comes from the
    uploader's signed requests (its state file)."""
    import json
    from types import SimpleNamespace

    from terminal.desk.frontdesk import TerminalService

    state = tmp_path / "sync-state.json"
    fake = SimpleNamespace(config={"sync.server_url": "http://central", "sync.state_file": state})
    assert TerminalService.server_refusal(fake) is None  # type: ignore[arg-type]
    state.write_text(json.dumps({"last_error": "AuthenticationError: bad_signature",
                                 "last_error_class": "credential_refused"}))
    assert TerminalService.server_refusal(fake) == "credential_refused"  # type: ignore[arg-type]
    state.write_text(json.dumps({"last_error": "ConnectError", "last_error_class": "unreachable"}))
    assert TerminalService.server_refusal(fake) is None  # type: ignore[arg-type]
