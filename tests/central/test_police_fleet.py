"""The fleet page: silent terminals and old backlogs first, nil reports shown, the 30-day chart
(server-rendered SVG), and no personal data for anyone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sync.messages import DayReport
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number, logged_in, unique_name
from tests.sync.wire_helpers import guest


def beat(client: object, *, backlog: int = 0, oldest: float | None = None,
         days: tuple[DayReport, ...] = ()) -> None:
    client.heartbeat(  # type: ignore[attr-defined]
        software_version="2.0.1", backlog=backlog, oldest_queued_age_s=oldest,
        reader_status="ok", disk_free_bytes=10**9, day_reports=days)


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
    assert all(state in ("silent", "no_device") for state, _d in rows[:first_ok]
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
    assert f"{two_days_ago.date().isoformat()}: 3</title>" in svg
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
