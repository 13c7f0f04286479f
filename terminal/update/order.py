"""The order file: the central server's rollout as it applies here, handed from the unprivileged
sync service (which hears it in the heartbeat answer) to the root updater.

    /var/lib/anju/update-target.json   {"version", "rollout_id", "due_at"}   (absent: no order)

`due_at` is fixed when an order is first heard (now + the answer's `after_s`) and kept while the
same rollout repeats it, so the file changes only when the order does, and anju-update.path
starts the updater then, not at every heartbeat. The updater treats the file as untrusted input
(state.Order.from_json): a bad version is ignored, and apt installs only signed packages anyway.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from sync.atomic_file import write_json_atomic
from sync.update_messages import UpdateOrder
from terminal.update.state import Order


def read_order(path: Path) -> Order | None:
    try:
        return Order.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError):
        return None


def write_order(path: Path, order: UpdateOrder | None, now: float) -> bool:
    """Record the heartbeat answer's order; True when the file changed."""
    current = read_order(path)
    if order is None:
        if not path.exists():
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    if current is not None and (current.version, current.rollout_id) == (order.version,
                                                                         order.rollout_id):
        return False
    return write_json_atomic(path, {"version": order.version, "rollout_id": order.rollout_id,
                                    "due_at": round(now + order.after_s, 3)}, mode=0o644)
