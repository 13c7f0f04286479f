"""Clerk accounts (terminal/desk/clerks.py): hashed PINs, the owner, the shared-PIN migration on a
real old file, and the sign-in throttle's per-account counters (no sleeping)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.desk.clerks import SEED_OWNER, Accounts
from terminal.errors import AccountError
from terminal.store import migrations
from terminal.store.database import Store
from terminal.web.signin_throttle import LoginThrottle, ThrottlePolicy
from tests.terminal.registry_helpers import IDENTITY, open_store

FIXTURE = Path(__file__).with_name("fixtures") / "registry_v1.db"


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    with open_store(tmp_path / "terminal.db") as store:
        yield Accounts(store)


def test_the_shared_pin_of_an_old_file_becomes_the_owners_first_pin(tmp_path: Path) -> None:
    path = tmp_path / "terminal.db"
    shutil.copyfile(FIXTURE, path)  # a schema-v1 file from the field, before accounts
    with Store.open(path, identity=IDENTITY, migrate=True) as store:
        accounts = Accounts(store)
        assert accounts.list() == [] and not accounts.any_active()
        assert accounts.seed_from_shared_pin("4321")
        owner = accounts.verify(SEED_OWNER, "4321")
        assert owner is not None and owner.owner and accounts.any_active()
        assert accounts.verify(SEED_OWNER, "1234") is None
        assert not accounts.seed_from_shared_pin("9999")  # only once, never over an account
        assert accounts.verify(SEED_OWNER, "9999") is None
        with store.reader() as conn:
            [(stored,)] = conn.execute("SELECT pin_hash FROM clerks").fetchall()
            assert conn.execute("PRAGMA user_version").fetchone() == (migrations.LATEST,)
    assert stored.startswith("$argon2id$") and "4321" not in stored


def test_no_shared_pin_no_account(accounts: Accounts) -> None:
    assert not accounts.seed_from_shared_pin("")
    assert accounts.list() == []


def test_owner_adds_disables_and_resets_a_clerk(accounts: Accounts) -> None:
    assert accounts.set_owner("8001", "112233", name="张店主") == "created"
    accounts.add("a07", "5678", name="李前台", by="8001")  # staff numbers upper case
    clerk = accounts.verify("A07", "5678")
    assert clerk is not None and not clerk.owner and clerk.name == "李前台"
    assert clerk.changed_by == "8001"
    with pytest.raises(AccountError, match="taken"):
        accounts.add("A07", "1111", by="8001")
    accounts.reset_pin("A07", "8765", by="8001")
    assert accounts.verify("A07", "5678") is None and accounts.verify("A07", "8765")
    accounts.set_active("A07", False, by="8001")
    assert accounts.verify("A07", "8765") is None  # a disabled clerk cannot sign in
    accounts.set_active("A07", True, by="8001")
    assert accounts.verify("A07", "8765") is not None
    with pytest.raises(AccountError) as refused:
        accounts.set_active("8001", False, by="8001")
    assert refused.value.message_zh == "店主账号不能停用"
    with pytest.raises(AccountError, match="no clerk account"):
        accounts.reset_pin("B99", "1234", by="8001")
    assert accounts.set_owner("8001", "445566") == "reset"  # the technician's reset
    assert accounts.verify("8001", "445566") is not None
    with pytest.raises(AccountError, match="owner is 8001"):
        accounts.set_owner("9000", "123456")


@pytest.mark.parametrize(
    ("staff_no", "pin"),
    [("", "1234"), ("A-7", "1234"), ("A07", "12"), ("A07", "12a4"), ("A07", "123456789")],
)
def test_malformed_staff_numbers_and_pins_are_refused(
    accounts: Accounts, staff_no: str, pin: str
) -> None:
    with pytest.raises(AccountError):
        accounts.add(staff_no, pin, by="8001")
    assert accounts.list() == []


def test_accounts_are_never_deleted(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add("A07", "5678", by="8001")
    accounts.set_active("A07", False, by="8001")
    conn = sqlite3.connect(tmp_path / "terminal.db")
    try:
        assert conn.execute("SELECT staff_no, active FROM clerks").fetchall() == [("A07", 0)]
    finally:
        conn.close()


def test_a_right_pin_does_not_clear_the_guesses_at_a_colleagues_account() -> None:
    now = [1000.0]
    guard = LoginThrottle(
        ThrottlePolicy(free_attempts=3, delay_s=5, cap_s=60, forget_s=600), clock=lambda: now[0]
    )
    for _ in range(2):  # two guesses at the owner's PIN from the kiosk
        assert not guard.attempt("127.0.0.1", lambda: False, account="8001").ok
    assert guard.attempt("127.0.0.1", lambda: True, account="A07").ok  # one's own PIN
    # The kiosk's address counter starts afresh, the owner's account does not: the 3rd
    # guess at it imposes the wait.
    third = guard.attempt("127.0.0.1", lambda: False, account="8001")
    assert third.wait_s == 5
    assert guard.attempt("127.0.0.1", lambda: True, account="8001").refused
    # Only the guessed account waits: the clerk at the desk signs in as themself.
    assert guard.attempt("127.0.0.1", lambda: True, account="A07").ok


def test_the_network_cannot_hold_an_account_at_the_kiosk() -> None:
    now = [1000.0]
    guard = LoginThrottle(
        ThrottlePolicy(free_attempts=2, delay_s=5, cap_s=60, forget_s=600), clock=lambda: now[0]
    )
    for _ in range(3):
        guard.attempt("192.168.1.23", lambda: False, account="A07")
    assert guard.wait_s("192.168.1.23", "A07") > 0
    assert guard.wait_s("127.0.0.1", "A07") == 0
    assert guard.attempt("127.0.0.1", lambda: True, account="A07").ok
