"""Software updates on the wire: the order in a heartbeat answer, the outcome in a heartbeat.

    HeartbeatAnswer.update  UpdateOrder | absent   "install VERSION, not before AFTER_S from now"
    Heartbeat.update        UpdateReport | absent  "what my updater last did, and why"

Both are optional: a terminal from before them sends none and ignores the order; a server from
before them sends none, and the terminal keeps its version. A version is a Debian version
string (digits, letters, `.+~-`), so it can never carry free text to the server's records or
into the updater's `apt-get` command line. docs/updates.md tells the whole procedure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sync.fields import Fields

VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~-]{0,63}$")
# What an updater reports. pending: ordered, waiting for its slot, the window or the clerk;
# installing / verifying / rolling_back: at work (rarely seen: the services restart meanwhile);
# updated: the health gate passed; rolled_back: the gate failed and the previous version is back;
# failed: the new version could not be fetched or installed (refused signature, download error),
# nothing changed on the terminal.
UPDATE_STATES = ("pending", "installing", "verifying", "rolling_back", "updated", "rolled_back",
                 "failed")


@dataclass(frozen=True, slots=True)
class UpdateOrder:
    """The central server's rollout, as it applies to one device."""

    version: str
    rollout_id: int
    after_s: int  # seconds from the answer until this device's slot in the rollout's spread

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "rollout_id": self.rollout_id, "after_s": self.after_s}

    @classmethod
    def from_json(cls, doc: Any) -> UpdateOrder:
        f = Fields(doc, where="update.")
        return cls(f.text("version", max_len=64, pattern=VERSION_RE),
                   f.integer("rollout_id", minimum=1, maximum=2**62),
                   f.integer("after_s", minimum=0, maximum=366 * 86400))


@dataclass(frozen=True, slots=True)
class UpdateReport:
    """The terminal updater's last outcome (terminal/update/, /var/lib/anju-update/state.json)."""

    state: str  # one of UPDATE_STATES
    version: str  # the version it was asked for
    previous: str | None = None  # the version it ran before
    detail: str | None = None  # why (a rollback's or a failure's reason); no personal data
    at: str | None = None  # UTC, device clock, when the state was reached

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "version": self.version, "previous": self.previous,
                "detail": self.detail, "at": self.at}

    @classmethod
    def from_json(cls, doc: Any) -> UpdateReport:
        f = Fields(doc, where="update.")
        state = f.text("state", max_len=16)
        if state not in UPDATE_STATES:
            raise f.fail("state", f"must be one of {', '.join(UPDATE_STATES)}")
        at = f.time("at") if doc.get("at") is not None else None
        return cls(state, f.text("version", max_len=64, pattern=VERSION_RE),
                   f.opt_text("previous", max_len=64, pattern=VERSION_RE),
                   f.opt_text("detail", max_len=300), at)
