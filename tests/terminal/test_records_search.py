"""The records search (terminal/store/queries.py search_stays): a name fragment, a room, a document
number, a day; names of guests who left are found from the events; input is never SQL."""

from __future__ import annotations

from datetime import date, timedelta

from terminal.desk.registry import Registry
from terminal.store import queries
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import START, card_guest, id_number


def _search(reg: Registry, **kwargs: object) -> list[str]:
    with reg.store.reader() as conn:
        return [s.room or "" for s in queries.search_stays(conn, **kwargs)]  # type: ignore[arg-type]


def _stays(reg: Registry, clock: FixedClock) -> dict[str, str]:
    ids = {}
    ids["101"] = reg.check_in(
        room="101", guests=[card_guest(name="欧阳娜娜")], operator="C01"
    ).stay_id
    clock.wall = START + timedelta(days=1)
    ids["A301"] = reg.check_in(
        room="A301", guests=[card_guest(name="王小明", serial=7)], operator="C01"
    ).stay_id
    ids["102"] = reg.check_in(
        room="102", guests=[card_guest(name="李50%_红", serial=9)], operator="C01"
    ).stay_id
    reg.check_out(ids["101"], operator="C01")  # left: the projection forgot the name
    return ids


def test_search_by_name_room_number_and_day(reg: Registry, clock: FixedClock) -> None:
    ids = _stays(reg, clock)
    assert _search(reg) == ["102", "A301", "101"]
    assert _search(reg, text="阳娜") == ["101"]  # a fragment of a guest who left
    assert _search(reg, text="a30") == ["A301"]  # room, Latin letters without regard to case
    number = id_number(date(1990, 5, 17), serial=7)
    assert _search(reg, text=number[-8:]) == ["A301"]  # document number fragment
    assert _search(reg, text="50%_") == ["102"]  # wildcards are literal
    assert _search(reg, text="%") == ["102"]
    assert _search(reg, text="没有这个人") == []
    day1 = START.strftime("%Y-%m-%dT00:00:00.000Z")
    day2 = (START + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00.000Z")
    day3 = (START + timedelta(days=2)).strftime("%Y-%m-%dT00:00:00.000Z")
    assert _search(reg, since=day1, until=day2) == ["101"]  # in house that day
    assert set(_search(reg, since=day2, until=day3)) == {"102", "A301", "101"}  # 101 left day 2
    with reg.store.reader() as conn:
        guests = queries.stay_guests(conn, [ids["101"]])
    assert guests[ids["101"]][0][0] == "欧阳娜娜"


def test_an_injection_attempt_is_only_text(reg: Registry, clock: FixedClock) -> None:
    _stays(reg, clock)
    for attack in ("' OR 1=1 --", "101'; DROP TABLE events; --", '") OR ("1"="1'):
        assert _search(reg, text=attack) == []
    assert _search(reg, since="' OR ''='", until="' OR 1=1 --") == []  # compared as text
    with reg.store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 4
