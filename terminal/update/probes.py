"""What the updater looks at on this box: systemd's view of the services, the front-desk page
on loopback, the uploader's state file, the update window.

    busy()     GET http://127.0.0.1:<web.port>/local/update: is a registration open? A page
               that does not answer has nothing open (it is down or starting).
    look()     the installed version, anju-terminal's ActiveState/SubState and NRestarts (READY:
               Type=notify, active/running only after READY=1), /healthz answering 200, and
               the last heartbeat the server accepted (sync.state_file's last_heartbeat)
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sync.fields import parse_utc
from terminal.update.state import Look

TERMINAL_UNIT = "anju-terminal.service"
SYNC_UNIT = "anju-sync.service"


def in_window(window: str, now: datetime, zone: ZoneInfo) -> bool:
    """`window` "HH:MM-HH:MM" local time (may wrap midnight); empty: any time."""
    if not window:
        return True
    start_text, end_text = window.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    local = now.astimezone(zone).time()
    return start <= local < end if start <= end else local >= start or local < end


class SystemProbes:
    def __init__(self, web_port: int, sync_state_file: Path,
                 installed: Callable[[], str | None], timeout_s: float = 3.0) -> None:
        self.base = f"http://127.0.0.1:{web_port}"
        self.sync_state_file = sync_state_file
        self.installed = installed
        self.timeout_s = timeout_s

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=self.timeout_s) as answer:
                return answer.status, answer.read(65536)
        except urllib.error.HTTPError as err:
            return err.code, b""
        except (OSError, ValueError):
            return 0, b""

    def busy(self) -> bool:
        status, body = self._get("/local/update")
        if status != 200:
            return False
        try:
            return bool(json.loads(body).get("busy"))
        except (ValueError, AttributeError):
            return False

    def unit(self, name: str) -> tuple[str, int]:
        done = subprocess.run(["systemctl", "show", "-p", "ActiveState", "-p", "SubState",
                               "-p", "NRestarts", name], capture_output=True, text=True,
                              check=False, timeout=30)
        fields = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        state = f"{fields.get('ActiveState', 'unknown')}/{fields.get('SubState', 'unknown')}"
        try:
            restarts = int(fields.get("NRestarts", "0"))
        except ValueError:
            restarts = 0
        return state, restarts

    def heartbeat_at(self) -> float | None:
        try:
            stamp = json.loads(self.sync_state_file.read_text("utf-8")).get("last_heartbeat")
            return parse_utc(stamp).timestamp() if stamp else None
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def revive(self) -> None:
        """After a rollback: the package's scripts only restart running services (try-restart),
        and a crash-looped front desk may have hit its start limit. Clear it and start both."""
        units = [TERMINAL_UNIT, SYNC_UNIT]
        subprocess.run(["systemctl", "reset-failed", *units], capture_output=True, check=False,
                       timeout=30)
        subprocess.run(["systemctl", "start", "--no-block", *units], capture_output=True,
                       check=False, timeout=30)

    def look(self) -> Look:
        terminal_state, restarts = self.unit(TERMINAL_UNIT)
        sync_state, _ = self.unit(SYNC_UNIT)
        status, _body = self._get("/healthz")
        return Look(self.installed(), terminal_state, restarts, status == 200,
                    self.heartbeat_at(), sync_state)
