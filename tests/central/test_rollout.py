"""Rollouts: who is ordered which version, when (slots in a spread), the heartbeat answer that
carries it, the outcome each updater reports back, and what the CLI and the fleet page show.

Rollouts are global to a server and the server is shared by the session's tests, so the
integration tests here only ever roll out to sites they made themselves (`--site`), and cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from central import rollout
from central.rollout import Rollout, bucket, choose, matches, order
from sync.update_messages import UpdateReport
from terminal.cli import cli
from tests.central.central_helpers import Admin
from tests.central.police_helpers import logged_in

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def made(rid: int, version: str, scope: str, targets: tuple[str, ...] = (),
         percent: int | None = None, spread_s: int = 3600) -> Rollout:
    return Rollout(rid, version, scope, targets, percent, spread_s, "2026-03-01T02:00:00.000000Z",
                   "cli:test")


# -- selection, no server -------------------------------------------------------------------


def test_percent_scopes_nest_and_are_close_to_the_share() -> None:
    fleet = [f"dev-{i:04d}" for i in range(889)]
    ten = {d for d in fleet if matches(made(1, "0.2.0", "percent", percent=10), d, "S", None)}
    fifty = {d for d in fleet if matches(made(2, "0.2.0", "percent", percent=50), d, "S", None)}
    assert ten < fifty  # raising the share keeps the devices already chosen
    assert 60 <= len(ten) <= 120 and 400 <= len(fifty) <= 490
    assert all(matches(made(3, "0.2.0", "percent", percent=100), d, "S", None) for d in fleet)


@given(st.text(min_size=1, max_size=64))
def test_bucket_is_stable_and_in_range(device_id: str) -> None:
    assert 0 <= bucket(device_id) < 100 and bucket(device_id) == bucket(device_id)


def test_newest_matching_rollout_wins() -> None:
    everyone = made(1, "0.2.0", "all")
    district = made(2, "0.3.0", "district", ("天河",))
    site = made(3, "0.2.1", "sites", ("4401060001",))
    active = [site, district, everyone]  # newest first, as `active` reads them
    assert choose(active, "d1", "4401060001", "天河") is site
    assert choose(active, "d2", "4401060002", "天河") is district
    assert choose(active, "d3", "4401060003", None) is everyone
    assert choose([site, district], "d3", "4401060003", "越秀") is None


def test_slots_spread_over_the_window_and_count_down() -> None:
    spread = made(7, "0.2.0", "all", spread_s=3600)
    afters = [order(spread, f"dev-{i}", NOW).after_s for i in range(889)]
    assert min(afters) >= 0 and max(afters) <= 3600
    # spread evenly: no minute holds more than a few percent of the fleet
    per_minute = [sum(1 for a in afters if m * 60 <= a < (m + 1) * 60) for m in range(60)]
    assert max(per_minute) < 0.05 * 889 and min(per_minute) > 0
    later = order(spread, "dev-1", NOW + timedelta(seconds=600)).after_s
    assert later == max(0, order(spread, "dev-1", NOW).after_s - 600)
    assert order(made(8, "0.2.0", "all", spread_s=0), "dev-1", NOW).after_s == 0


# -- through the server ---------------------------------------------------------------------


def beat(client: object, version: str, update: UpdateReport | None = None) -> object:
    return client.heartbeat(  # type: ignore[attr-defined]
        software_version=f"anju-terminal/{version}", backlog=0, oldest_queued_age_s=None,
        reader_status="connected", disk_free_bytes=10**9, update=update)


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["central", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_rollout_to_a_site_reaches_its_devices_only_and_reports_come_back(
        central: Admin) -> None:
    site, other = central.site("升级测试旅馆"), central.site("未升级旅馆")
    (one, _c1), (two, c2) = central.device(site), central.device(site)
    outside, _ = central.device(other)
    assert beat(one, "0.1.0").update is None  # type: ignore[attr-defined]
    out = run("rollout", "set", "0.2.0", "--site", site, "--spread", "10m", "--db",
              central.db_url)
    rid = int(out.split()[1].rstrip(":"))
    answer = beat(one, "0.1.0")
    assert answer.update.version == "0.2.0" and answer.update.rollout_id == rid  # type: ignore[attr-defined]
    assert 0 <= answer.update.after_s <= 600  # type: ignore[attr-defined]
    assert beat(outside, "0.1.0").update is None  # type: ignore[attr-defined]
    # device one updated; device two tried, failed its health gate and rolled back
    beat(one, "0.2.0", UpdateReport("updated", "0.2.0", "0.1.0", None,
                                    "2026-03-01T02:05:00.000000Z"))
    why = "did not reach READY within 180 s (anju-terminal restarted 5 times)"
    beat(two, "0.1.0", UpdateReport("rolled_back", "0.2.0", "0.1.0", why,
                                    "2026-03-01T02:07:00.000000Z"))
    (row,) = central.rows("update_reports", device_id=c2.device_id)
    assert (row["state"], row["version"], row["previous"], row["detail"]) == (
        "rolled_back", "0.2.0", "0.1.0", why)
    status = json.loads(run("rollout", "status", "--json", "--db", central.db_url))
    mine = next(p for p in status if p["rollout_id"] == rid)
    assert (mine["targeted"], mine["updated"], mine["pending"]) == (2, 1, 0)
    assert [(d["device_id"], d["detail"], d["running"]) for d in mine["rolled_back"]] == [
        (c2.device_id, why, "0.1.0")]
    text = run("rollout", "status", "--db", central.db_url)
    assert f"rollout {rid}: 0.2.0 to sites {site}: 1/2 updated" in text and why in text
    # the fleet page: each terminal's version, the rollout's progress and its failure
    browser, _user = logged_in(central.url, central.engine, "technician")
    page = browser.get("/fleet").text
    assert f'data-rollout="{rid}" data-version="0.2.0" data-updated="1" data-targeted="2" ' \
           'data-rolled-back="1" data-failed="0"' in page
    failure = page[page.index(f'class="rollout-failure" data-device="{c2.device_id}"'):]
    assert why in failure[:failure.index("</tr>")] and "已回滚" in failure[:400]
    row_two = page[page.index(f'data-device="{c2.device_id}"', page.index('class="fleet"')):]
    row_two = row_two[:row_two.index("</tr>")]
    assert "0.1.0" in row_two and 'data-update="rolled_back"' in row_two
    # audited, and cancelling stops the order
    audit_rows = [r for r in central.rows("audit_log", action="rollout_set")
                  if r["reason"] == f"rollout {rid}"]
    assert len(audit_rows) == 1 and site in audit_rows[0]["query"]
    run("rollout", "cancel", str(rid), "--db", central.db_url)
    assert beat(one, "0.2.0").update is None  # type: ignore[attr-defined]
    assert rid not in [p.rollout.id for p in rollout.progress(central.engine)]
    listed = run("rollout", "list", "--db", central.db_url)
    assert any(line.split()[0] == str(rid) for line in listed.splitlines()[1:])


def test_rollout_set_refuses_bad_input(central: Admin) -> None:
    for args, words in ((["0.2.0"], "exactly one of"),
                        (["0.2.0", "--site", "a", "--percent", "5"], "exactly one of"),
                        (["0.2.0; rm -rf /", "--site", "a"], "not a package version"),
                        (["0.2.0", "--site", "a", "--spread", "soon"], "--spread")):
        result = CliRunner().invoke(cli, ["central", "rollout", "set", *args, "--db",
                                          central.db_url])
        assert result.exit_code != 0 and words in result.output, (args, result.output)
    result = CliRunner().invoke(cli, ["central", "rollout", "cancel", "999999", "--db",
                                      central.db_url])
    assert result.exit_code == 1 and "no active rollout 999999" in result.output
