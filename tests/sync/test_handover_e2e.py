"""Replacing a terminal through a real central server (SQLite and PostgreSQL).

The old terminal delivers some registrations, then breaks with others undelivered. From its
database and credential (as from its SD card on a laptop), `anju handover export` writes the
hand-over file; the provisioned replacement's `anju handover import` delivers them under the old
device's identity and chain, once; the old device is revoked, the fleet shows the replacement,
a tampered or foreign import is refused. Then `anju wipe` decommissions the replacement.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from central.db import tables
from central.fleet import list_devices
from sync.client import Credentials, SyncClient
from sync.errors import ForbiddenError
from terminal.cli import cli
from terminal.uploading.sync_service import SyncService, load_credentials
from tests.central.central_helpers import Admin
from tests.central.police_helpers import logged_in
from tests.sync.uploader_helpers import Terminal, central_counts, provision, register

ENV = {"ANJU_CONFIG": "", "ANJU_OPERATOR": "C01", "LANG": "C.UTF-8"}


@pytest.fixture(params=["sqlite", "postgresql"])
def admin(request: pytest.FixtureRequest) -> Iterator[Admin]:
    """On the session's server of each backend in turn (tests/conftest.py)."""
    server = request.getfixturevalue(f"{request.param}_central")
    with Admin(server.db_url, server.url) as handle:
        yield handle


def anju(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=ENV)
    assert result.exit_code == code, result.output
    return result.output


def drain(terminal: Terminal) -> None:
    service = SyncService(terminal.config, terminal.store)
    try:
        service.drain()
    finally:
        service.close()


def test_a_replacement_delivers_the_old_devices_undelivered_events_once(
    admin: Admin, tmp_path: Path
) -> None:
    site = admin.site()
    old = provision(admin, tmp_path / "old", site=site)
    register(old, 3)
    drain(old)  # delivered before the breakdown
    stays = register(old, 4)  # never delivered: the box broke
    undelivered = old.outbox_states()["queued"]
    with old.store.reader() as conn:
        total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    old.store.close()
    bundle = tmp_path / "handover.json"
    # From the SD card mounted on a laptop: the database and the credential, no settings.
    out = anju(
        "handover",
        "export",
        "--store",
        str(old.config["store.database"]),
        "--credential",
        str(old.config["sync.credential_file"]),
        "--out",
        str(bundle),
    )
    assert f"exported {undelivered} undelivered events of {old.device_id}" in out
    assert bundle.stat().st_mode & 0o777 == 0o600
    assert "secret" not in bundle.read_text("utf-8")

    new = provision(admin, tmp_path / "new", site=site)
    new.store.close()
    out = anju("handover", "import", str(bundle), "--config", str(new.config_path))
    assert f"{undelivered} accepted, 0 already there, 0 rejected" in out
    assert central_counts(admin, old.device_id) == (total, total)  # each once, old identity
    assert central_counts(admin, new.device_id) == (0, 0)
    [row] = admin.rows("devices", device_id=old.device_id)
    assert row["replaced_by"] == new.device_id and row["disabled"] and row["revoked_at"]
    owners = {r["device_id"] for s in stays for r in admin.rows("stay_owners", stay_id=s)}
    assert owners == {old.device_id}  # the stays stay the old device's
    assert admin.faults(old.device_id) == []  # one unbroken chain
    # Again (a lost answer): duplicates. From another device: refused.
    out = anju("handover", "import", str(bundle), "--config", str(new.config_path))
    assert f"0 accepted, {undelivered} already there" in out
    third = provision(admin, tmp_path / "third", site=site)
    third.store.close()
    out = anju("handover", "import", str(bundle), "--config", str(third.config_path), code=1)
    assert "handover_done" in out
    # The old device can no longer write.
    with (
        SyncClient(admin.url, load_credentials(old.config["sync.credential_file"])) as client,
        pytest.raises(ForbiddenError) as refused,
    ):
        client.heartbeat(
            software_version="t",
            backlog=0,
            oldest_queued_age_s=None,
            reader_status="unknown",
            disk_free_bytes=1,
        )
    assert refused.value.code == "device_disabled"
    # The fleet shows the replacement, both ways.
    fleet = {r["device_id"]: r for r in list_devices(admin.engine)}
    assert fleet[old.device_id]["replaced_by"] == new.device_id
    assert fleet[new.device_id]["replaces"] == old.device_id
    browser, _user = logged_in(admin.url, admin.engine, "technician")
    page = browser.get(f"/fleet?site={site}").text
    assert f"已由 {new.device_id} 替换" in page and f"替换 {old.device_id}" in page


def test_a_tampered_or_foreign_hand_over_is_refused(admin: Admin, tmp_path: Path) -> None:
    site = admin.site()
    old = provision(admin, tmp_path / "old", site=site)
    register(old, 2)
    old.store.close()
    bundle = tmp_path / "handover.json"
    anju("handover", "export", "--config", str(old.config_path), "--out", str(bundle))
    doc = json.loads(bundle.read_text("utf-8"))
    doc["parts"][0]["events"][0]["operator"] = "someone else"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc), "utf-8")
    new = provision(admin, tmp_path / "new", site=site)
    new.store.close()
    assert "bad_handover_signature" in anju(
        "handover", "import", str(tampered), "--config", str(new.config_path), code=1
    )
    elsewhere = provision(admin, tmp_path / "elsewhere")  # another site
    elsewhere.store.close()
    assert "wrong_site" in anju(
        "handover", "import", str(bundle), "--config", str(elsewhere.config_path), code=1
    )
    assert central_counts(admin, old.device_id) == (0, 0)
    with admin.engine.connect() as conn:
        assert (
            conn.execute(
                select(tables.devices.c.replaced_by).where(
                    tables.devices.c.device_id == old.device_id
                )
            ).scalar_one()
            is None
        )


def test_wipe_refuses_to_lose_undelivered_events_then_revokes_and_erases(
    admin: Admin, tmp_path: Path
) -> None:
    term = provision(admin, tmp_path)
    register(term, 2)
    config = str(term.config_path)
    out = anju("wipe", "--config", config, "--yes", code=1)
    assert "never delivered" in out and "nothing was erased" in out
    drain(term)
    term.store.close()
    database = Path(term.config["store.database"])
    secret = load_credentials(term.config["sync.credential_file"]).secret
    out = anju("wipe", "--config", config, "--yes")
    assert f"device {term.device_id} revoked by the server" in out
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "terminal.toml"]
    assert leftovers == [] and not database.exists()
    [row] = admin.rows("devices", device_id=term.device_id)
    assert row["disabled"] and row["revoked_at"]
    with (
        SyncClient(admin.url, load_credentials_from(term, secret)) as client,
        pytest.raises(ForbiddenError),
    ):
        client.decommission()


def load_credentials_from(term: Terminal, secret: str) -> Credentials:
    return Credentials(term.device_id, term.config.require_identity().site_code, secret)
