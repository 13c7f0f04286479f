"""Clerk accounts of the front-desk page: one staff number and PIN per clerk, one owner.

The owner (the guesthouse's manager) adds clerks, disables them and resets their PINs on the
page, each change confirmed with the owner's own PIN; the technician creates the owner with
`anju clerk owner`. The operator written into every event is the signed-in account's staff
number, so the 从业人员 of a registration is who they say they are.

PINs are stored as argon2id hashes only (schema v5 `clerks`). The parameters are lighter than
the library's default (64 MiB): 19 MiB and 2 passes, the OWASP minimum for argon2id, so that a
sign-in costs the Pi ~0.1 s and its RSS stays small; the sign-in throttle
(terminal/web/signin_throttle.py) is what makes guessing a short PIN slow, not the hash.

A terminal upgraded from the shared `web.clerk_pin` keeps working: when the store has no
account and that PIN is set, the owner account `0000` is created with it (seed_from_shared_pin);
the owner then adds each clerk and changes that PIN.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sync.fields import format_utc
from terminal.errors import AccountError
from terminal.store import clerk_accounts
from terminal.store.database import Store
from terminal.store.writer import Txn

OWNER, CLERK = "owner", "clerk"
SEED_OWNER = "0000"  # the owner made from the old shared PIN
STAFF_NO = re.compile(r"[0-9A-Z]{1,12}")
PIN = re.compile(r"[0-9]{4,8}")
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_ACTIVE_TTL_S = 2.0  # `anju clerk owner` may add the first account while the page runs


@dataclass(frozen=True, slots=True)
class Clerk:
    staff_no: str
    name: str
    role: str
    active: bool
    changed_at: str
    changed_by: str

    @property
    def owner(self) -> bool:
        return self.role == OWNER


@cache
def _unknown_account_hash() -> str:
    """What a PIN for an unknown staff number is verified against, so that it costs the same.
    Made on first need, not at import: an argon2 hash costs every process that imports this
    module (each `anju` command that reaches the store's web side) ~60 ms, more on a Pi."""
    return HASHER.hash("unknown-account")


def normal_staff_no(text: str) -> str:
    return text.strip().upper()


def _check(staff_no: str, pin: str | None) -> None:
    if not STAFF_NO.fullmatch(staff_no):
        raise AccountError("a staff number is 1-12 letters or digits", "工号应为1至12位字母或数字")
    if pin is not None and not PIN.fullmatch(pin):
        raise AccountError("a PIN is 4-8 digits", "密码应为4至8位数字")


class Accounts:
    """The `clerks` table; thread-safe (writes go through the store's one writer)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._active: tuple[float, bool] | None = None

    # -- reads --------------------------------------------------------------------------

    def list(self) -> list[Clerk]:
        with self.store.reader() as conn:
            rows = clerk_accounts.all_rows(conn)
        return [_clerk(r) for r in rows]

    def get(self, staff_no: str) -> Clerk | None:
        with self.store.reader() as conn:
            row = clerk_accounts.row(conn, staff_no)
        return _clerk(row) if row else None

    def any_active(self) -> bool:
        """Whether the page needs a sign-in (cached for a moment: asked on every request)."""
        with self._lock:
            if self._active and time.monotonic() - self._active[0] < _ACTIVE_TTL_S:
                return self._active[1]
        with self.store.reader() as conn:
            found = clerk_accounts.any_active(conn)
        with self._lock:
            self._active = (time.monotonic(), found)
        return found

    def verify(self, staff_no: str, pin: str) -> Clerk | None:
        """The active account when the PIN is its own; an unknown staff number costs the same."""
        staff_no = normal_staff_no(staff_no)
        with self.store.reader() as conn:
            pin_hash = clerk_accounts.active_pin_hash(conn, staff_no)
        try:
            HASHER.verify(pin_hash or _unknown_account_hash(), pin)
        except (VerificationError, InvalidHashError):
            return None
        return self.get(staff_no) if pin_hash else None

    # -- writes (`by`: the owner's staff number, or "cli" / "seed") ----------------------

    def _write(
        self, change: Callable[[sqlite3.Connection, str], int], missing: str | None = None,
        new: str | None = None,
    ) -> None:
        """`change(conn, now)` in one writer transaction; returns the rows it changed."""
        def work(txn: Txn) -> None:
            if new is not None and clerk_accounts.exists(txn.conn, new):
                raise AccountError("that staff number is taken", "该工号已存在")
            changed = change(txn.conn, format_utc(txn.now().wall))
            if missing is not None and changed == 0:
                raise AccountError(f"no clerk account {missing}", f"没有工号为 {missing} 的账号")

        self.store.writer.transaction(work)
        with self._lock:
            self._active = None

    def add(self, staff_no: str, pin: str, *, name: str = "", role: str = CLERK, by: str) -> None:
        staff_no = normal_staff_no(staff_no)
        _check(staff_no, pin)
        pin_hash = HASHER.hash(pin)
        self._write(lambda conn, at: clerk_accounts.insert(
            conn, staff_no, name=name.strip(), role=role, pin_hash=pin_hash, at=at, by=by),
            new=staff_no)

    def reset_pin(self, staff_no: str, pin: str, *, by: str) -> None:
        _check(staff_no, pin)
        pin_hash = HASHER.hash(pin)
        self._write(lambda conn, at: clerk_accounts.set_pin_hash(
            conn, staff_no, pin_hash, at=at, by=by), staff_no)

    def set_active(self, staff_no: str, active: bool, *, by: str) -> None:
        clerk = self.get(staff_no)
        if clerk is not None and clerk.owner and not active:
            raise AccountError("the owner account cannot be disabled", "店主账号不能停用")
        self._write(lambda conn, at: clerk_accounts.set_active(
            conn, staff_no, active, at=at, by=by), staff_no)

    def set_owner(self, staff_no: str, pin: str, *, name: str = "", by: str = "cli") -> str:
        """Create the owner, or reset the owner's PIN (the technician's `anju clerk owner`)."""
        staff_no = normal_staff_no(staff_no)
        _check(staff_no, pin)
        owners = [c for c in self.list() if c.owner]
        if owners and owners[0].staff_no != staff_no:
            raise AccountError(
                f"the owner is {owners[0].staff_no} already", f"店主账号已是 {owners[0].staff_no}"
            )
        if owners:
            self.reset_pin(staff_no, pin, by=by)
            self.set_active(staff_no, True, by=by)
            return "reset"
        self.add(staff_no, pin, name=name, role=OWNER, by=by)
        return "created"

    def seed_from_shared_pin(self, pin: str) -> bool:
        """The migration from the shared PIN: owner 0000 with it, when there is no account."""
        if not pin or self.list():
            return False
        self.add(SEED_OWNER, pin, name="", role=OWNER, by="seed")
        return True


def _clerk(row: tuple[object, ...]) -> Clerk:
    staff_no, name, role, active, changed_at, changed_by = row
    return Clerk(
        str(staff_no), str(name), str(role), bool(active), str(changed_at), str(changed_by)
    )
