"""Issue 14, finding 3 end to end: each kind of event the server cannot store (NUL, lone
surrogate, wrong type, over-long, too large, nested) sits in a terminal's outbox between good
ones, as an older terminal version would have saved it; the real uploader drains the outbox
into a real central server on SQLite and on PostgreSQL. Every good event is acknowledged with a
receipt and stored once; every bad one is rejected with its reason, shown by `anju sync status`;
nothing is left in the backlog and the server logged no traceback."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from sync.chain import chain_hash, sha256_hex
from terminal.cli import cli
from terminal.desk.registry import Registry
from terminal.store.event_chain import chain_head
from terminal.store.writer import Txn
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.sync import test_uploader_e2e as e2e
from tests.sync.uploader_helpers import Terminal, central_counts
from tests.sync.wire_helpers import guest, new_id
from tests.terminal.registry_helpers import card_guest

# The end-to-end module's fixtures: a server per backend, an admin, a provisioned terminal.
upl_server, admin, terminal = e2e.upl_server, e2e.admin, e2e.terminal


def insert_raw(term: Terminal, kind: str, data: Any, *, target: str | None = None) -> str:
    """An event inserted as an older terminal wrote it: hashed and chained, never checked.
    `ensure_ascii` JSON, so a lone surrogate is stored as its escape and survives hashing."""

    def work(txn: Txn) -> str:
        identity = term.config.require_identity()
        sequence, previous = chain_head(txn.conn, identity.device_id)
        instant = txn.now()
        header = {
            "event_id": new_id(),
            "device_id": identity.device_id,
            "site_code": identity.site_code,
            "sequence": sequence + 1,
            "kind": kind,
            "stay_id": new_id(),
            "target_event_id": target,
            "wall_time": instant.wall.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "clock_synchronised": instant.synchronised,
            "monotonic_ns": instant.monotonic_ns,
            "boot_id": instant.boot_id,
            "operator": "op1",
        }
        payload = json.dumps(
            {**header, "data": data}, sort_keys=True, ensure_ascii=True, separators=(",", ":")
        )
        digest = sha256_hex(payload)
        txn.conn.execute(
            f"INSERT INTO events ({', '.join(header)}, payload, payload_sha256, "
            "prev_chain_sha256, chain_sha256) VALUES (" + ", ".join("?" * (len(header) + 4)) + ")",
            (
                *header.values(),
                payload,
                digest,
                previous,
                chain_hash(sequence + 1, previous, digest),
            ),
        )
        return header["event_id"]

    return term.store.writer.transaction(work)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_every_good_event_is_delivered_and_every_bad_one_visibly_rejected(
    terminal: Terminal, admin: Admin, upl_server: CentralServer
) -> None:
    registry = Registry(terminal.store)
    good: list[str] = []

    def register_good() -> None:
        saved = registry.check_in(
            room=f"{200 + len(good)}",
            operator="op1",
            guests=[card_guest(serial=len(good) + 1, name="测试")],
        )
        good.extend(saved.event_ids)

    register_good()
    bad: dict[str, tuple[str, str]] = {}  # event id -> (code, field) expected
    for data, expected in [
        ({"room": "1\x00X", "guests": [guest()]}, ("invalid_text", "payload.data.room")),
        (
            {"room": "2", "guests": [guest(name="张\ud800")]},
            ("invalid_text", "payload.data.guests[0].name"),
        ),
        ({"room": {"x": 1}, "guests": [guest()]}, ("wrong_type", "payload.data.room")),
        ({"room": "3" * 65, "guests": [guest()]}, ("too_long", "payload.data.room")),
        ({"room": "4", "guests": [guest(address="a" * 70_000)]}, ("too_large", "payload")),
        (
            {"room": "5", "guests": [guest()], "note": _nested(30)},
            ("too_deep", "payload.data.note" + "[0]" * 15),
        ),
    ]:
        bad[insert_raw(terminal, "check_in", data)] = expected
        register_good()  # a normal registration saved after each bad one

    svc = SyncService(terminal.config, terminal.store)
    try:
        svc.uploader.max_batch_events = 4  # bad ones at the edges and inside batches
        report = svc.drain()
    finally:
        svc.close()

    assert report.remaining == 0 and report.rejected == len(bad)
    assert report.acknowledged == len(good)
    with terminal.store.reader() as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT event_id, state, receipt, reject_code, reject_field, reject_message "
                "FROM outbox"
            )
        }
    for event_id in good:
        state, receipt, *_ = rows[event_id]
        assert state == "acknowledged" and receipt, event_id
    for event_id, (code, field) in bad.items():
        state, receipt, reject_code, reject_field, message = rows[event_id]
        assert (state, receipt, reject_code, reject_field) == ("rejected", None, code, field)
        assert message
    stored = {r["event_id"] for r in admin.rows("events", device_id=terminal.device_id)}
    assert stored == set(good)
    assert central_counts(admin, terminal.device_id) == (len(good), len(good))

    status = CliRunner().invoke(
        cli, ["sync", "status", "--json", "--config", str(terminal.config_path)]
    )
    assert status.exit_code == 0, status.output
    doc = json.loads(status.output)
    assert doc["backlog"] == 0 and doc["rejected"] == len(bad)
    assert sorted((r["code"], r["field"]) for r in doc["rejections"]) == sorted(bad.values())
    text = CliRunner().invoke(cli, ["sync", "status", "--config", str(terminal.config_path)])
    assert "ALARM" in text.output and "invalid_text (payload.data.room)" in text.output
    assert "Traceback" not in upl_server.log()
