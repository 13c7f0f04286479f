"""Issue 18: the change feed on the real server, both backends: stays and their changes in the
order stored, each with a cursor that resumes exactly after it; the stay's state as of each
change; NDJSON and the police export's CSV; positions in commit order."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from alembic import command
from sqlalchemy import insert, select

from central.accounts import audit
from central.db.engine import make_engine
from central.db.tables import feed_log, sites, stay_guests, stays
from central.migrate import alembic_config, migrate
from tests.central.central_helpers import Admin
from tests.central.feed_helpers import feed_token, page, pull_all, records
from tests.central.serverproc import CentralServer
from tests.forkserver import ForkServer
from tests.sync.wire_helpers import guest


def test_stays_and_changes_come_in_order_with_their_state_and_resume_exactly(
    central: Admin,
) -> None:
    _, start = pull_all(central, feed_token(central, "起点"))  # other tests' records before
    client, chain = central.device()
    first = chain.check_in(room="301", guests=[guest(name="李四·Ａ", number="440104199003070016")])
    second = chain.check_in(room="302")
    assert client.send_events([first, second]).results[0].status == "accepted"
    amend = chain.event(
        "amend",
        first.stay_id,
        {"field": "room", "new": "303", "old": "301", "reason": "换房"},
        target_event_id=first.event_id,
    )
    out = chain.check_out(first)
    void = chain.event(
        "void", second.stay_id, {"reason": "登记错误"}, target_event_id=second.event_id
    )
    client.send_events([amend, out, void])
    token = feed_token(central)
    taken, last = pull_all(central, token, start, limit=2)  # pages of 2: cursors resume
    assert [(r["change"], r["event"]["event_id"]) for r in taken] == [
        ("check_in", first.event_id),
        ("check_in", second.event_id),
        ("amend", amend.event_id),
        ("check_out", out.event_id),
        ("void", void.event_id),
    ]
    cursors = [int(r["cursor"]) for r in taken]
    assert cursors == sorted(set(cursors)) and str(cursors[-1]) == last
    states = [(r["stay"]["stay_id"], r["stay"]["room"], r["stay"]["status"]) for r in taken]
    assert states == [
        (first.stay_id, "301", "in_house"),
        (second.stay_id, "302", "in_house"),
        (first.stay_id, "303", "in_house"),
        (first.stay_id, "303", "checked_out"),
        (second.stay_id, "302", "voided"),
    ]
    stay = taken[0]["stay"]
    assert stay["site_code"] == chain.site_code and stay["site_name"] == "测试旅馆"
    assert stay["guests"][0]["name"] == "李四·Ａ"  # whole, Unicode
    assert stay["guests"][0]["document_number"] == "440104199003070016"
    assert taken[2]["event"]["detail"] == {
        "field": "room",
        "new": "303",
        "old": "301",
        "reason": "换房",
    }
    assert taken[3]["stay"]["checked_out_at"] is not None

    middle = taken[1]["cursor"]  # resume in the middle: exactly what follows
    assert [r["cursor"] for r in pull_all(central, token, middle)[0]] == [
        r["cursor"] for r in taken[2:]
    ]
    empty = page(central, token, last)
    assert records(empty) == [] and empty.headers["X-Anju-Feed-Last"] == last

    as_csv = page(central, token, start, format="csv", limit=5)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["游标", "变更", "事件号", "入住记录号"]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        (r["cursor"], r["change"], r["stay"]["stay_id"]) for r in taken
    ]
    assert rows[1][10] == "李四·Ａ"


def test_a_batch_with_several_changes_of_one_stay_gives_each_its_own_state(central: Admin) -> None:
    client, chain = central.device()
    check_in = chain.check_in(room="101")
    out = chain.check_out(check_in)
    client.send_events([check_in, out])
    taken = [
        r
        for r in pull_all(central, feed_token(central))[0]
        if r["stay"]["stay_id"] == check_in.stay_id
    ]
    assert [(r["change"], r["stay"]["status"]) for r in taken] == [
        ("check_in", "in_house"),
        ("check_out", "checked_out"),
    ]
    assert int(taken[0]["cursor"]) < int(taken[1]["cursor"])


def test_a_duplicate_upload_adds_nothing_to_the_feed(central: Admin) -> None:
    client, chain = central.device()
    event = chain.check_in()
    client.send_events([event])
    token = feed_token(central)
    before, cursor = pull_all(central, token)
    assert client.send_events([event]).results[0].status == "duplicate"
    assert pull_all(central, token, cursor)[0] == []
    assert sum(r["event"] and r["event"]["event_id"] == event.event_id for r in before) == 1


def test_pages_are_audited_once_each_and_empty_ones_not_at_all(central: Admin) -> None:
    client, chain = central.device()
    client.send_events(chain.stays(3))
    token = feed_token(central, "审计测试系统")

    def mine() -> list[dict]:
        rows = audit.rows(central.engine, limit=50)
        return [r for r in rows if r["username"] == "feed:审计测试系统"]

    assert mine() == []
    taken, last = pull_all(central, token, limit=10_000)
    rows = mine()
    assert len(rows) == 1 and rows[0]["action"] == "feed" and rows[0]["role"] == "feed"
    query = json.loads(rows[0]["query"])
    assert query["after"] == "0" and query["last"] == last and query["format"] == "ndjson"
    assert rows[0]["result_count"] == len(taken)
    records(page(central, token, last))  # nothing new: nothing seen, nothing written
    assert len(mine()) == 1
    assert audit.verify(central.engine).ok


def test_an_upgraded_database_starts_its_feed_with_each_stay_as_it_stands(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}", pooled=False)
    try:
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0009")
        now = "2025-03-01T02:00:00.000000Z"
        with engine.begin() as conn:
            conn.execute(insert(sites).values(code="S1", name="老旅馆", created_at=now))
            for stay_id, checked_in in (
                ("b", "2025-03-01T01:00:00.000000Z"),
                ("c", None),
                ("a", "2025-03-01T03:00:00.000000Z"),
            ):
                conn.execute(
                    insert(stays).values(
                        stay_id=stay_id,
                        device_id="D1",
                        site_code="S1",
                        room="1",
                        status="in_house",
                        complete=checked_in is not None,
                        checked_in_at=checked_in,
                        time_corrected=False,
                        event_count=1,
                        updated_at=now,
                    )
                )
            conn.execute(
                insert(stay_guests).values(
                    stay_id="b",
                    guest_id="g",
                    role="main",
                    name="赵六",
                    document_type="11",
                    document_number="440104199003070016",
                    nationality="CHN",
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(feed_log).order_by(feed_log.c.position)).all()
    finally:
        engine.dispose()
    assert [(r.stay_id, r.change) for r in rows] == [
        ("b", "snapshot"),
        ("a", "snapshot"),
        ("c", "snapshot"),
    ]
    first = json.loads(rows[0].record)
    assert first["event"] is None and first["stay"]["site_name"] == "老旅馆"
    assert first["stay"]["guests"][0]["name"] == "赵六"


def test_a_cursor_holds_across_server_processes_and_restarts(
    central: Admin, tmp_path: Path, fork_server: ForkServer
) -> None:
    client, chain = central.device()
    client.send_events(chain.stays(5))
    token = feed_token(central, "多实例")
    whole, _ = pull_all(central, token)
    half = records(page(central, token, limit=max(1, len(whole) // 2)))
    cursor = half[-1]["cursor"]
    # Another process, started after the cursor was handed out (as a restarted server is:
    # nothing of it in memory), resumes it; and the first process again, the same way.
    with (CentralServer(central.db_url, tmp_path / "second.log", forks=fork_server) as second,
          Admin(central.db_url, second.url) as other):
        rest, _ = pull_all(other, token, cursor)
    again, _ = pull_all(central, token, cursor)
    assert half + rest == whole and rest == again
