"""Heartbeats: device health on record, and the nil report that tells an empty guesthouse
from a silent terminal; the fleet list shows both."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sync.messages import DayReport
from terminal.cli import cli
from tests.central.central_helpers import Admin


def beat(client: object, *days: DayReport, backlog: int = 0) -> object:
    return client.heartbeat(  # type: ignore[attr-defined]
        software_version="1.4.0", backlog=backlog, oldest_queued_age_s=12.5 if backlog else None,
        reader_status="connected", disk_free_bytes=3 * 10**9, last_error=None, rejected=1,
        day_reports=days)


def test_heartbeat_with_nil_report_is_recorded(central: Admin) -> None:
    client, chain = central.device()
    answer = beat(client, DayReport("2025-03-01", 0), DayReport("2025-03-02", 4), backlog=3)
    assert answer.next_heartbeat_s > 0 and abs(answer.clock_offset_ms) < 5000  # type: ignore[attr-defined]
    (row,) = central.rows("heartbeats", device_id=chain.device_id)
    assert (row["backlog"], row["oldest_queued_age_s"], row["reader_status"], row["rejected"],
            row["software_version"]) == (3, 12.5, "connected", 1, "1.4.0")
    days = {r["day"]: r["check_ins"] for r in central.rows("day_reports",
                                                           device_id=chain.device_id)}
    assert days == {"2025-03-01": 0, "2025-03-02": 4}
    # A day reported again replaces the earlier figure.
    beat(client, DayReport("2025-03-02", 5), DayReport("2025-03-03", 0))
    days = {r["day"]: r["check_ins"] for r in central.rows("day_reports",
                                                           device_id=chain.device_id)}
    assert days == {"2025-03-01": 0, "2025-03-02": 5, "2025-03-03": 0}
    (device,) = central.rows("devices", device_id=chain.device_id)
    assert device["last_heartbeat_at"] and device["software_version"] == "1.4.0"


def test_devices_list_shows_health_nil_reports_and_gaps(central: Admin) -> None:
    client, chain = central.device()
    events = chain.stays(3)
    client.send_events([events[0], events[2]])
    beat(client, DayReport("2025-03-04", 0), backlog=1)
    runner = CliRunner()
    result = runner.invoke(cli, ["central", "devices", "list", "--json", "--db", central.db_url])
    assert result.exit_code == 0, result.output
    rows = {r["device_id"]: r for r in map(json.loads, result.stdout.splitlines())}
    mine = rows[chain.device_id]
    assert (mine["backlog"], mine["open_gaps"], mine["chain_breaks"], mine["events_stored"],
            mine["last_nil_report"], mine["reader_status"]) == (
                1, 1, 0, 2, "2025-03-04", "connected")
    table = runner.invoke(cli, ["central", "devices", "list", "--db", central.db_url])
    assert table.exit_code == 0 and chain.device_id in table.output
    assert table.stdout.splitlines()[0].split()[:2] == ["device_id", "site_code"]


def test_faults_command_lists_gaps_with_device_and_range(central: Admin) -> None:
    client, chain = central.device()
    events = chain.stays(4)
    client.send_events([events[0], events[3]])
    result = CliRunner().invoke(cli, ["central", "faults", "--device", chain.device_id,
                                      "--open", "--json", "--db", central.db_url])
    assert result.exit_code == 0, result.output
    (gap,) = map(json.loads, result.stdout.splitlines())
    assert (gap["kind"], gap["first_sequence"], gap["last_sequence"]) == ("gap", 2, 3)
    client.send_events(events[1:3])
    table = CliRunner().invoke(cli, ["central", "faults", "--device", chain.device_id,
                                     "--db", central.db_url])
    assert table.exit_code == 0 and "gap" in table.output  # history: resolved, still listed
    empty = CliRunner().invoke(cli, ["central", "faults", "--device", chain.device_id, "--open",
                                     "--db", central.db_url])
    assert "(none)" in empty.output
