"""Power cuts, not just SIGKILL: the terminal store on a filesystem that loses unsynced writes.

Each round provisions a fresh device on a freshly mounted power-loss filesystem
(tests/powercut/fusefs.py: only fsynced data and fsynced directories survive), checks in stays
in a process until the power goes at the chosen change, restarts from what was durable, checks
that every confirmed registration is there and `anju store verify` passes, cuts the power again
in the middle of a drain to a real central server (the session's, on SQLite), restarts, drains,
and checks that every event reached the server exactly once.

ANJU_POWERCUT_POINTS sets how many rounds (default 24, two cut points and about 1.5 s each);
"all" cuts at every change of the check-in phase, in both loss models (tens of minutes):

    ANJU_POWERCUT_POINTS=all .venv/bin/python -m pytest tests/powercut -s
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.powercut.powerfs import fuse_available
from tests.powercut.rounds import CHECK_INS, power_round

pytestmark = pytest.mark.skipif(
    fuse_available() is not None, reason=f"FUSE unusable: {fuse_available()}"
)
NEVER = 10**9


@pytest.fixture(scope="module")
def admin(sqlite_central: CentralServer) -> Iterator[Admin]:
    """The session's SQLite server: each round enrols a device of its own there."""
    with Admin(sqlite_central.db_url, sqlite_central.url) as handle:
        yield handle


# A busy CI machine: the rounds are bounded, the clock is not; the full sweep takes its time.
@pytest.mark.timeout(6000 if os.environ.get("ANJU_POWERCUT_POINTS") == "all" else 600)
def test_power_cuts_during_check_ins_and_drains_lose_nothing_confirmed(
    admin: Admin, tmp_path: Path
) -> None:
    site = admin.site()
    started = time.monotonic()
    calibration = power_round(tmp_path / "calibration", admin, site, NEVER, NEVER)
    assert len(calibration.confirmed_in) == CHECK_INS  # no cut: every check-in confirmed
    assert calibration.central_rows == calibration.events > CHECK_INS
    checkin_ops, drain_ops = calibration.checkin_ops, calibration.drain_ops
    setting = os.environ.get("ANJU_POWERCUT_POINTS", "24")
    points = checkin_ops if setting == "all" else int(setting)
    models = (False, True) if setting == "all" else (False,)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    partial = cut_in_checkins = cut_in_drains = rounds = 0
    for reorder in models:
        for n in range(points):
            checkin_cut = 1 + n * checkin_ops // points  # evenly over the phase, first to last
            reorder = reorder or (setting != "all" and n % 2 == 1)
            drain_cut = rng.randint(1, drain_ops)
            label = (
                f"cut at {checkin_cut}/{checkin_ops}, drain {drain_cut}/{drain_ops}, "
                f"reorder {reorder}, seed {seed}"
            )
            try:
                out = power_round(
                    tmp_path / f"r{rounds}",
                    admin,
                    site,
                    checkin_cut,
                    drain_cut,
                    reorder=reorder,
                    seed=seed + n,
                )
            except AssertionError as err:
                raise AssertionError(f"{label}: {err}") from err
            rounds += 1
            cut_in_checkins += out.checkin_cut
            cut_in_drains += out.drain_cut
            partial += 0 < len(out.confirmed_in) < CHECK_INS
    elapsed = time.monotonic() - started
    # The cuts really landed inside the phases, and some in the middle of the check-ins.
    assert cut_in_checkins == rounds and cut_in_drains >= rounds // 2
    assert partial >= rounds // 2
    print(
        f"power cuts: {rounds} rounds ({rounds * 2} cut points: {cut_in_checkins} in "
        f"check-ins of {checkin_ops} changes, {cut_in_drains} in drains of {drain_ops}) in "
        f"{elapsed:.1f}s, seed {seed}"
    )
