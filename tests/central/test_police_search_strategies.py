"""The three ways a search reaches its stays (central/police/search.py: sort the few matches,
walk the guest index, walk the stays) give the same stays in the same order, page after page,
on both backends. The probe limit decides the way; these tests force each one by setting it
(in process, against the server's database) and compare every page with the sorted way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from central import accounts
from central.accounts import Principal
from central.police import export, search
from central.police.search import SearchQuery
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number
from tests.sync.wire_helpers import guest, new_id

OFFICER = Principal("strategy-test", "officer", None)
SORT_ALL, WALK = 1_000_000, 0  # probe limits: every search sorts / every search walks


@pytest.fixture
def seeded(central: Admin) -> dict[str, Any]:
    """Two sites in two districts; 14 stays whose guests are 欧阳 or OUYANG (some stays hold
    two of them), at hours that collide, plus a stay whose check-in has not arrived."""
    marker = new_id()[:6].upper()  # the server's database is shared by the tests
    sites = [central.site("甲区客栈"), central.site("乙区客栈")]
    accounts.set_site_district(central.engine, sites[0], "D-" + sites[0])
    expected: list[tuple[datetime, str]] = []
    for n, site in enumerate(sites):
        client, chain = central.device(site)
        sent = []
        for i in range(7):
            chain.wall = datetime(2025, 3, 1 + i % 4, 10, tzinfo=UTC) + timedelta(hours=n)
            guests = [guest(f"欧阳{marker}{i}", id_number())]
            if i % 3 == 0:
                guests.append(guest(None, "E" + id_number()[-8:], role="companion",
                                    nationality="GBR", surname_en=f"OUYANG{marker}",
                                    given_names_en="LI"))
            event = chain.check_in(str(300 + i), guests)
            sent.append(event)
            expected.append((chain.wall, event.stay_id))
        orphan = chain.event("add_guest", new_id(), {"guest": guest(f"欧阳{marker}x",
                                                                    id_number(),
                                                                    role="companion")})
        sent.append(orphan)
        client.send_events(sent)
    return {"marker": marker, "sites": sites, "district": "D-" + sites[0],
            "orphans": 2, "expected": expected}


def every_page(central: Admin, query: dict[str, Any], who: Principal) -> list[str]:
    found: list[str] = []
    for page in range(1, 20):
        with central.engine.connect() as conn, conn.begin():
            result = search.search(conn, SearchQuery(**query, page=page, per_page=4), who, 10.0)
        found += [s["stay_id"] for s in result.stays]
        if not result.has_more:
            return found
    raise AssertionError("more pages than stays")


def queries(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": d["marker"]},  # Han and Latin names both hold it
        {"name": d["marker"].lower()},  # Latin, any case
        {"name": "欧阳" + d["marker"]},
        {"name": d["marker"], "site": d["sites"][1]},
        {"name": d["marker"], "date_to": "2025-03-02"},
        {"name": d["marker"], "date_from": "2025-03-03", "date_to": "2025-03-04"},
        {"name": d["marker"], "nationality": "GBR"},
        {"name": d["marker"], "site": d["sites"][0], "card_type": "14"},
    ]


def test_each_way_gives_the_same_pages(central: Admin, seeded: dict[str, Any],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    limited = Principal("strategy-district", "officer", seeded["district"])
    for who in (OFFICER, limited):
        for query in queries(seeded):
            monkeypatch.setattr(search, "PROBE_LIMIT", SORT_ALL)
            sorted_way = every_page(central, query, who)
            monkeypatch.setattr(search, "PROBE_LIMIT", WALK)
            walked = every_page(central, query, who)
            assert walked == sorted_way, (who.district, query)
            assert len(set(walked)) == len(walked), query  # two matching guests: one stay


@pytest.mark.parametrize("limit", [SORT_ALL, WALK])
def test_newest_first_with_stays_whose_check_in_is_missing_last(
        central: Admin, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        limit: int) -> None:
    monkeypatch.setattr(search, "PROBE_LIMIT", limit)
    found = every_page(central, {"name": seeded["marker"]}, OFFICER)
    # Same hour at both sites for some stays: ties go by stay id, descending.
    expected = [stay_id for _, stay_id in sorted(seeded["expected"], reverse=True)]
    assert found[:len(expected)] == expected
    assert len(found) == len(expected) + seeded["orphans"]  # incomplete stays come last
    monkeypatch.setattr(search, "PROBE_LIMIT", limit)
    with central.engine.connect() as conn, conn.begin():
        exported = export.collect(conn, SearchQuery(name=seeded["marker"]), OFFICER, 10.0)
    assert [s["stay_id"] for s in exported] == found


def test_the_walk_respects_the_district(central: Admin, seeded: dict[str, Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "PROBE_LIMIT", WALK)
    limited = Principal("strategy-district", "officer", seeded["district"])
    inside = every_page(central, {"name": seeded["marker"]}, limited)
    everywhere = every_page(central, {"name": seeded["marker"]}, OFFICER)
    assert 0 < len(inside) < len(everywhere)
    with central.engine.connect() as conn:
        sites = {row.site_code for row in conn.exec_driver_sql(
            "SELECT site_code FROM stays WHERE stay_id IN ({})".format(
                ",".join(f"'{s}'" for s in inside)))}
    assert sites == {seeded["sites"][0]}
