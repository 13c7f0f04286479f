"""The order in which xdist workers get units of work (tests/scheduling.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.scheduling import load_costs, unit_of, unit_order

NODES = [
    "tests/drivers/test_codec.py::test_a",
    "tests/drivers/test_codec.py::test_b",
    "tests/web/test_web_records.py::test_check_out",
    "tests/ha/test_failover.py::test_drill[killed]",
    "tests/ha/test_sync_standby.py::test_no_receipt",
    "tests/powercut/test_powercut_store.py::test_cuts",
    "tests/central/test_new.py::test_one",
    "tests/central/test_new.py::test_two",
    "tests/central/test_new.py::test_three",
]


def test_serial_directories_are_one_unit_and_modules_are_the_rest() -> None:
    assert unit_of("tests/ha/test_failover.py::test_drill[hung]") == "tests/ha/"
    assert unit_of("tests/powercut/test_powercut_store.py::test_cuts") == "tests/powercut/"
    assert unit_of("tests/web/test_web_records.py::test_a[x::y]") == "tests/web/test_web_records.py"


def test_serial_directories_first_then_the_longest_and_a_new_module_at_the_median() -> None:
    costs = {"tests/drivers/test_codec.py": 0.4,  # 0.2 s per test
             "tests/web/test_web_records.py": 40.0,  # 40 s per test
             "tests/ha/": 1.0}  # cheap, yet first: serial
    order = unit_order(NODES, costs)
    ranked = sorted(order, key=order.__getitem__)
    # The median of 0.2, 40 and 0.5 s per test is 0.5: the new module of three tests costs 1.5 s.
    assert ranked == ["tests/ha/", "tests/powercut/", "tests/web/test_web_records.py",
                      "tests/central/test_new.py", "tests/drivers/test_codec.py"]
    assert order["tests/central/test_new.py"] == (2, -1.5)


def test_without_recorded_costs_units_go_by_their_number_of_tests() -> None:
    order = unit_order(NODES, {})
    ranked = sorted(order, key=order.__getitem__)
    assert ranked[:2] == ["tests/ha/", "tests/powercut/"]
    assert ranked[2] == "tests/central/test_new.py"


def test_a_missing_or_broken_costs_file_means_no_costs(tmp_path: Path) -> None:
    assert load_costs(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert load_costs(broken) == {}
    recorded = tmp_path / "costs.json"
    recorded.write_text(json.dumps({"seconds": {"tests/ha/": 61.5}}), encoding="utf-8")
    assert load_costs(recorded) == {"tests/ha/": 61.5}


def test_the_committed_costs_file_reads(tmp_path: Path) -> None:
    costs = load_costs()
    assert costs, "tests/unit_costs.json is missing or unreadable: run `make unit-costs`"
    assert all(cost >= 0 for cost in costs.values())
