"""The fleet page: silent terminals and old backlogs first, nil reports shown, the 30-day chart
(server-rendered SVG), and no personal data for anyone."""

from __future__ import annotations

import inspect
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from central import fleet
from central.clock import BEIJING
from sync.messages import DayReport
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number, logged_in, unique_name
from tests.sync.wire_helpers import EventChain, guest


def beat(client: object, *, backlog: int = 0, oldest: float | None = None,
         days: tuple[DayReport, ...] = ()) -> None:
    client.heartbeat(  # type: ignore[attr-defined]
        software_version="2.0.1", backlog=backlog, oldest_queued_age_s=oldest,
        reader_status="connected", disk_free_bytes=10**9, day_reports=days)


def order(html: str) -> list[str]:
    return re.findall(r'data-state="([a-z_]+)" data-device="([^"]*)"', html)


def test_silent_and_old_backlogs_come_first_and_nil_reports_show(central: Admin) -> None:
    site = central.site("静默测试旅馆")
    healthy, h_chain = central.device(site)
    backlog, b_chain = central.device(site)
    _silent, s_chain = central.device(site)
    empty_site = central.site("未接入旅馆")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    beat(healthy, days=(DayReport(yesterday, 0),))
    beat(backlog, backlog=40, oldest=3 * 3600.0)
    browser, _user = logged_in(central.url, central.engine, "technician")
    page = browser.get("/fleet")
    assert page.status_code == 200
    rows = order(page.text)
    position = {device: i for i, (_state, device) in enumerate(rows)}
    states = dict((device, state) for state, device in rows)
    assert states[s_chain.device_id] == "silent"
    assert states[b_chain.device_id] == "backlog"
    assert states[h_chain.device_id] == "ok"
    assert position[s_chain.device_id] < position[b_chain.device_id] < position[h_chain.device_id]
    first_ok = min(i for i, (state, _d) in enumerate(rows) if state == "ok")
    assert all(state in ("silent", "no_device", "not_delivering") for state, _d in rows[:first_ok]
               if state != "backlog")
    assert empty_site in page.text and "未接入" in page.text
    healthy_row = page.text[page.text.index(f'data-device="{h_chain.device_id}"'):]
    healthy_row = healthy_row[:healthy_row.index("</tr>")]
    assert "零报告" in healthy_row and "2.0.1" in healthy_row and "同步" in healthy_row
    backlog_row = page.text[page.text.index(f'data-device="{b_chain.device_id}"'):]
    assert "180 分钟" in backlog_row[:backlog_row.index("</tr>")]


def test_chart_counts_registrations_per_day_for_a_site(central: Admin) -> None:
    client, chain = central.device()
    name = unique_name()
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    chain.wall = two_days_ago
    events = [chain.check_in(str(i), [guest(name, id_number())]) for i in range(3)]
    client.send_events(events)
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.get("/fleet", site=chain.site_code)
    assert page.status_code == 200
    svg = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    assert f"{two_days_ago.astimezone(BEIJING).date().isoformat()}: 3</title>" in svg
    assert svg.count("<rect") == 30
    assert "合计 3" in page.text
    assert name not in page.text  # the fleet page never shows personal data
    assert "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_metrics_in_prometheus_format(central: Admin) -> None:
    from tests.central.central_helpers import fetch

    client, chain = central.device()
    client.send_events(chain.stays(2))
    beat(client, backlog=3, oldest=120.0)
    reply = fetch("GET", central.url + "/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    values = {}
    for line in reply.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    assert values["anju_events_stored_total"] >= 2
    assert values['anju_devices{state="silent"}'] >= 0
    assert values['anju_backlog_age_seconds_bucket{le="+Inf"}'] >= 1
    assert values['anju_backlog_age_seconds_bucket{le="60"}'] <= values[
        'anju_backlog_age_seconds_bucket{le="300"}']
    assert "anju_audit_rows_total" in values


def test_chart_counts_beijing_days_so_16_utc_is_midnight(central: Admin) -> None:
    client, chain = central.device()
    day = datetime.now(UTC).date() - timedelta(days=3)
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    events = []
    for moment in (at + timedelta(hours=16, seconds=-2),  # 15:59:59 UTC = 23:59:59 Beijing
                   at + timedelta(hours=16, seconds=-1),  # 16:00:00 UTC = 00:00:00 next day
                   at + timedelta(hours=40, seconds=-2)):  # 15:59:59 UTC the next day
        chain.wall = moment
        events.append(chain.check_in("1", [guest(unique_name(), id_number())]))
    client.send_events(events)
    browser, _user = logged_in(central.url, central.engine, "technician")
    page = browser.get("/fleet", site=chain.site_code)
    svg = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    assert f"{day.isoformat()}: 1</title>" in svg
    assert f"{(day + timedelta(days=1)).isoformat()}: 2</title>" in svg
    assert "按北京时间日" in page.text and "合计 3" in page.text


def test_the_chart_window_is_thirty_beijing_days_ending_today_in_beijing(central: Admin) -> None:
    from central.fleet import daily_registrations

    client, chain = central.device()
    now = datetime(2025, 3, 10, 16, 30, tzinfo=UTC)  # 2025-03-11 00:30 in Beijing
    events = []
    for stamp in ("2025-02-09T15:59:59",  # 02-09 23:59:59 Beijing: before the window
                  "2025-02-09T16:00:00",  # 02-10 00:00:00 Beijing: its first day
                  "2025-03-10T16:10:00",  # 03-11 00:10 Beijing: today, though 03-10 in UTC
                  "2025-03-11T15:59:59",  # 03-11 23:59:59 Beijing: still today
                  "2025-03-11T16:00:00"):  # 03-12 in Beijing: after the window
        chain.wall = datetime.fromisoformat(stamp).replace(tzinfo=UTC) - timedelta(seconds=1)
        events.append(chain.check_in("2", [guest(unique_name(), id_number())]))
    client.send_events(events)
    points = daily_registrations(central.engine, 30, site=chain.site_code, now=now)
    assert len(points) == 30
    assert points[0] == ("2025-02-10", 1)  # 02-09T16:00:00Z is Beijing 02-10 00:00:00
    assert points[-1] == ("2025-03-11", 2)
    assert sum(n for _day, n in points) == 3


class TwoDistricts(NamedTuple):
    ours: str
    theirs: str
    site_ours: str
    site_theirs: str
    chain_ours: EventChain
    chain_theirs: EventChain


def two_districts(central: Admin, *, gap: bool = False) -> TwoDistricts:
    """A site and a terminal in each of two new districts: 2 check-ins in ours, 3 in theirs
    (with `gap`, sent around a missing sequence number: a chain fault of theirs)."""
    from central.accounts import principals

    ours, theirs = "辖区" + secrets.token_hex(3), "辖区" + secrets.token_hex(3)
    site_ours, site_theirs = central.site("本辖区旅馆"), central.site("外辖区旅馆")
    principals.set_site_district(central.engine, site_ours, ours)
    principals.set_site_district(central.engine, site_theirs, theirs)
    client_ours, chain_ours = central.device(site_ours)
    client_theirs, chain_theirs = central.device(site_theirs)
    chain_ours.wall = chain_theirs.wall = datetime.now(UTC) - timedelta(hours=1)
    client_ours.send_events(chain_ours.stays(2))
    stays = chain_theirs.stays(4 if gap else 3)
    client_theirs.send_events([stays[0], *stays[2:]] if gap else stays)
    beat(client_ours)
    beat(client_theirs)
    return TwoDistricts(ours, theirs, site_ours, site_theirs, chain_ours, chain_theirs)


def test_a_user_with_a_district_sees_only_its_sites_devices_and_chart(central: Admin) -> None:
    ours, theirs, site_ours, site_theirs, chain_ours, chain_theirs = two_districts(central)
    site_none = central.site("无辖区旅馆")
    for role in ("officer", "technician"):
        browser, _user = logged_in(central.url, central.engine, role, district=ours)
        page = browser.get("/fleet")
        assert page.status_code == 200
        devices = {device for _state, device in order(page.text)}
        assert devices == {chain_ours.device_id}, (role, devices)
        assert site_ours in page.text
        assert site_theirs not in page.text and site_none not in page.text
        assert "合计 2" in page.text
        assert browser.get("/fleet", site=site_ours).status_code == 200
        for params in ({"district": theirs}, {"site": site_theirs}, {"site": site_none},
                       {"site": site_theirs, "district": ours}):
            refused = browser.get("/fleet", **params)
            assert refused.status_code == 404, (role, params)
            assert chain_theirs.device_id not in refused.text and "合计" not in refused.text
    for role in ("technician", "supervisor", "administrator", "officer"):
        browser, _user = logged_in(central.url, central.engine, role)  # no district: all
        page = browser.get("/fleet")
        devices = {device for _state, device in order(page.text)}
        assert {chain_ours.device_id, chain_theirs.device_id} <= devices, role
        assert site_none in page.text
        narrowed = browser.get("/fleet", district=theirs)  # table and chart alike
        devices = {device for _state, device in order(narrowed.text)}
        assert devices == {chain_theirs.device_id}, role
        assert site_none not in narrowed.text and "合计 3" in narrowed.text


def test_a_day_report_is_shown_beside_what_the_server_received_that_day(central: Admin) -> None:
    """The demo showed "最近日报 …：4 人次" beside "合计 5": the report is the terminal's count when
    it sent its last heartbeat; a check-in after it is in the chart, not yet in the report. The
    row now says both, and why they differ."""
    client, chain = central.device()
    today = datetime.now(UTC).astimezone(BEIJING).date().isoformat()
    chain.wall = datetime.now(UTC) - timedelta(seconds=10)
    client.send_events([chain.check_in(str(i), [guest(unique_name(), id_number())])
                        for i in range(2)])
    beat(client, days=(DayReport(today, 2),))
    client.send_events([chain.check_in("9", [guest(unique_name(), id_number())])])
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.get("/fleet", site=chain.site_code)
    row = page.text[page.text.index(f'data-device="{chain.device_id}"'):]
    row = row[:row.index("</tr>")]
    assert f"{today}：终端报 2 次入住" in row and "服务器已收到 3 次" in row
    assert "之后的入住下次心跳计入" in row and "人次" not in page.text
    assert "30天合计 3 次入住" in page.text


def test_every_fleet_query_applies_the_district_filter(central: Admin) -> None:
    """Every query of central/fleet.py (the page, the chart, `devices list`, `faults`) takes a
    district, and with one answers nothing of another district's sites and terminals: the
    filter was once applied in only one of two fleet modules."""
    queries = {name: fn for name, fn in vars(fleet).items()
               if inspect.isfunction(fn) and fn.__module__ == fleet.__name__
               and not name.startswith("_") and "engine" in inspect.signature(fn).parameters
               and name != "check_scope"}  # the page's refusal, tested above
    assert set(queries) >= {"fleet", "list_devices", "daily_registrations", "chain_fault_list"}
    assert [name for name, fn in queries.items()
            if "district" not in inspect.signature(fn).parameters] == []
    ours, theirs, _site_ours, site_theirs, chain_ours, chain_theirs = two_districts(
        central, gap=True)

    def ask(name: str, district: str | None) -> object:
        fn = queries[name]
        if name == "fleet":
            return fn(central.engine, fleet.FleetPolicy(), district=district)
        return fn(central.engine, district=district)

    for name in queries:
        everything, narrowed = repr(ask(name, None)), repr(ask(name, ours))
        assert chain_theirs.device_id not in narrowed and site_theirs not in narrowed, name
        if name in ("fleet", "list_devices", "chain_fault_list"):
            assert chain_theirs.device_id in everything, name  # the filter, not an empty answer
        if name in ("fleet", "list_devices"):
            assert chain_ours.device_id in narrowed, name
    assert sum(n for _day, n in ask("daily_registrations", ours)) == 2  # type: ignore[attr-defined]
    assert sum(n for _day, n in ask("daily_registrations", theirs)) == 3  # type: ignore[attr-defined]

