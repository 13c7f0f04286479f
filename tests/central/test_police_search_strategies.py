"""The ways a search reaches its stays (central/police/search.py: the newest guests first, sort
the few matches, walk the guest index, walk the stays) give the same stays in the same order,
page after page, on both backends. RECENT_GUESTS and PROBE_LIMIT decide the way; these tests
force each one by setting them (in process, against the server's database) and compare every
page with the sorted way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from central.accounts import principals
from central.accounts.principals import Principal
from central.police import export, search
from central.police.search import SearchQuery
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number
from tests.sync.wire_helpers import guest, new_id

OFFICER = Principal("strategy-test", "officer", None)
WAYS = {  # (RECENT_GUESTS, PROBE_LIMIT)
    "recent guests first": (1_000_000, 1_000_000),
    "sort the matches": (0, 1_000_000),
    "walk newest first": (0, 0),
}


def use(monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    recent, probe = WAYS[way]
    monkeypatch.setattr(search, "RECENT_GUESTS", recent)
    monkeypatch.setattr(search, "PROBE_LIMIT", probe)


@pytest.fixture
def seeded(central: Admin) -> dict[str, Any]:
    """Two sites in two districts; 14 stays whose guests are 欧阳 or OUYANG (some stays hold
    two of them), at hours that collide, plus a stay whose check-in has not arrived."""
    marker = new_id()[:6].upper()  # the server's database is shared by the tests
    sites = [central.site("甲区客栈"), central.site("乙区客栈")]
    principals.set_site_district(central.engine, sites[0], "D-" + sites[0])
    expected: list[tuple[datetime, str]] = []
    for n, site in enumerate(sites):
        client, chain = central.device(site)
        sent = []
        for i in range(7):
            chain.wall = datetime(2025, 3, 1 + i % 4, 10, tzinfo=UTC) + timedelta(hours=n)
            guests = [guest(f"欧阳{marker}{i}", id_number())]
            if i % 3 == 0:
                passport = guest(None, "E" + id_number()[-8:], role="companion",
                                 nationality="GBR", surname_en=f"OUYANG{marker}",
                                 given_names_en="LI")
                passport["document"]["type_code"] = "14"
                guests.append(passport)
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
            result = search.search(conn, SearchQuery(**query, page=page, per_page=3), who, 10.0)
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
            use(monkeypatch, "sort the matches")
            sorted_way = every_page(central, query, who)
            assert sorted_way or who.district, query  # the tests test something
            for way in ("recent guests first", "walk newest first"):
                use(monkeypatch, way)
                other = every_page(central, query, who)
                assert other == sorted_way, (way, who.district, query)
                assert len(set(other)) == len(other), query  # two matching guests: one stay


@pytest.mark.parametrize("way", list(WAYS))
def test_newest_first_with_stays_whose_check_in_is_missing_last(
        central: Admin, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        way: str) -> None:
    use(monkeypatch, way)
    found = every_page(central, {"name": seeded["marker"]}, OFFICER)
    # Same hour at both sites for some stays: ties go by stay id, descending.
    expected = [stay_id for _, stay_id in sorted(seeded["expected"], reverse=True)]
    assert found[:len(expected)] == expected
    assert len(found) == len(expected) + seeded["orphans"]  # incomplete stays come last
    with central.engine.connect() as conn, conn.begin():
        exported = export.collect(conn, SearchQuery(name=seeded["marker"]), OFFICER, 10.0)
    assert [s["stay_id"] for s in exported] == found


def test_the_walk_respects_the_district(central: Admin, seeded: dict[str, Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, "walk newest first")
    limited = Principal("strategy-district", "officer", seeded["district"])
    inside = every_page(central, {"name": seeded["marker"]}, limited)
    everywhere = every_page(central, {"name": seeded["marker"]}, OFFICER)
    assert 0 < len(inside) < len(everywhere)
    with central.engine.connect() as conn:
        sites = {row.site_code for row in conn.exec_driver_sql(
            "SELECT site_code FROM stays WHERE stay_id IN ({})".format(
                ",".join(f"'{s}'" for s in inside)))}
    assert sites == {seeded["sites"][0]}
