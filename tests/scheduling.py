"""How `make test` shares the suite between pytest-xdist workers (a plugin of tests/conftest.py).

Workers get whole units: a test module (its fixtures, e.g. its own central server, start once),
or one of the directories whose tests must never overlap: `tests/ha/` (PostgreSQL pairs on ports
of their own, the failover drills timing a promotion) and `tests/powercut/` (FUSE mounts cut
mid-write).

Units go out longest first (the classic longest-processing-time rule): the serial directories,
then every other unit by its cost in `tests/unit_costs.json`, the seconds its tests took in a
recorded run. A worker asks for its next unit when its current one is nearly done, so whatever
comes last decides how long the other workers sit idle at the end; with the cheap units last,
the run ends with many short units spread over all workers instead of one long module trailing
alone. A unit missing from the file (a new module) is costed at the median seconds per test of
the recorded ones; a stale file only makes the order worse, never the results different.

Record the costs again after tests move a lot (on a quiet machine):
    make unit-costs      # = pytest -n N --record-unit-costs tests/unit_costs.json
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sync.atomic_file import write_atomic

# Scheduled first, in this order, each on one worker whatever its recorded cost: they are the
# longest units and must not share a worker's time with a second copy of themselves.
SERIAL_DIRS = ("tests/ha/", "tests/powercut/")
UNIT_COSTS = Path(__file__).with_name("unit_costs.json")
ABOUT = ("seconds per unit of work (setup, call, teardown), recorded by `make unit-costs`, "
         "for tests/scheduling.py")


def unit_of(nodeid: str) -> str:
    """The unit of work a node belongs to: its serial directory, or else its module."""
    for directory in SERIAL_DIRS:
        if nodeid.startswith(directory):
            return directory
    return nodeid.split("::", 1)[0]


def load_costs(path: Path = UNIT_COSTS) -> dict[str, float]:
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {str(unit): float(cost) for unit, cost in recorded.get("seconds", {}).items()}


def unit_order(nodeids: list[str], costs: dict[str, float]) -> dict[str, tuple[int, float]]:
    """Each unit's sort key: serial directories first in their order, then by cost, longest
    first (negated for an ascending sort)."""
    tests: dict[str, int] = defaultdict(int)
    for nodeid in nodeids:
        tests[unit_of(nodeid)] += 1
    known = [costs[unit] / count for unit, count in tests.items() if costs.get(unit) and count]
    per_test = statistics.median(known) if known else 1.0
    order = {}
    for unit, count in tests.items():
        rank = SERIAL_DIRS.index(unit) if unit in SERIAL_DIRS else len(SERIAL_DIRS)
        order[unit] = (rank, -costs.get(unit, per_test * count))
    return order


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-unit-costs", metavar="PATH", default=None,
                     help="write the seconds each unit of work took to PATH (JSON), for the "
                          "order in which xdist hands units out (tests/scheduling.py)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, units in their scheduling order (a stable sort: a module keeps its own
    order of tests). Every worker sorts alike, so their collections stay identical."""
    if not hasattr(config, "workerinput"):
        return
    order = unit_order([item.nodeid for item in items], load_costs())
    items.sort(key=lambda item: order[unit_of(item.nodeid)])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False  # the collection's order, set above
    return UnitScheduling(config, log)


class CostRecorder:
    """On the controller: every report's duration (setup, call, teardown) added to its unit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[unit_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # an interrupted or broken run's costs would mislead the next order
        seconds = {unit: round(cost, 1) for unit, cost in sorted(self.seconds.items())}
        recorded = {"about": ABOUT,
                    "seconds": seconds}
        write_atomic(self.path, (json.dumps(recorded, indent=1) + "\n").encode("utf-8"))


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--record-unit-costs")
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(CostRecorder(Path(path)), "unit-cost-recorder")
