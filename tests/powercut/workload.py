"""What runs on the power-loss filesystem while the power goes: check-ins through the registry.

    python -m tests.powercut.workload CONFIG COUNT

opens the store named in CONFIG and checks in COUNT one-guest stays (checking out every third),
reporting "in STAY" or "out STAY" only after the registry call returned: a confirmed
registration, what the page would have shown as saved. Ends on the first error (the power went).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from terminal.config import load_config
from terminal.desk.registry import Registry
from terminal.store.database import Store
from tests.terminal.registry_helpers import card_guest


def check_ins(config_path: Path, count: int, report: Callable[[str], None]) -> None:
    config = load_config(config_path)
    with Store.from_config(config) as store:
        registry = Registry(store, timezone=config["registry.timezone"])
        for n in range(count):
            saved = registry.check_in(
                room=f"{200 + n}",
                operator="C01",
                guests=[card_guest(serial=n % 90 + 1, name="测试")],
            )
            report(f"in {saved.stay_id}")
            if n % 3 == 2:
                registry.check_out(saved.stay_id, operator="C01")
                report(f"out {saved.stay_id}")


if __name__ == "__main__":
    check_ins(Path(sys.argv[1]), int(sys.argv[2]), lambda line: print(line, flush=True))
