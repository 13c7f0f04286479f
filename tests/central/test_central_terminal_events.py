"""Events written by the real terminal store verify on the server: same payload hashes, an
unbroken chain, the stay folded as the terminal folded it, and no personal data in the logs."""

from __future__ import annotations

from pathlib import Path

from sync.privacy import mask_id_number
from sync.protocol import ACCEPTED, WireEvent
from terminal.config import DeviceIdentity
from terminal.desk.registry import Registry
from terminal.store.database import Store
from terminal.system.clock import FixedClock
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.terminal.registry_helpers import START, card_guest, passport_guest


def test_terminal_events_verify_and_fold_on_the_server(central: Admin, server: CentralServer,
                                                       tmp_path: Path) -> None:
    client = central.enrolled()
    assert client.credentials is not None
    identity = DeviceIdentity(client.credentials.device_id, client.credentials.site_code)
    main = card_guest(name="欧阳娜娜", serial=7)
    companion = passport_guest(role="companion")
    with Store.open(tmp_path / "terminal.db", identity=identity, clock=FixedClock(START),
                    create=True) as store:
        registry = Registry(store)
        stay = registry.check_in(room="301", guests=[main], operator="C01").stay_id
        registry.add_guest(stay, companion, operator="C01")
        registry.amend(stay, field="room", old="301", new="302", reason="moved",
                       operator="C01")
        registry.check_out(stay, operator="C01")
        with store.reader() as conn:
            rows = conn.execute("SELECT payload, payload_sha256, prev_chain_sha256, "
                                "chain_sha256 FROM events ORDER BY seq_id").fetchall()
    events = [WireEvent.from_stored(p, payload_sha256=h, prev_chain_sha256=prev,
                                    chain_sha256=c) for p, h, prev, c in rows]
    answer = client.send_events(events)
    assert [r.status for r in answer.results] == [ACCEPTED] * 4
    assert central.faults(identity.device_id) == []
    (folded,) = central.rows("stays", stay_id=stay)
    assert (folded["room"], folded["status"], folded["complete"]) == ("302", "checked_out", True)
    guests = {g["role"]: g for g in central.rows("stay_guests", stay_id=stay)}
    assert guests["main"]["document_number"] == main.document.number
    assert guests["main"]["name"] == "欧阳娜娜"
    assert guests["companion"]["name"] == "DUPONT Élodie Marie"
    assert guests["companion"]["nationality"] == "FRA"
    log = server.log()
    for secret in (main.document.number, "欧阳娜娜", "DUPONT", companion.document.number):
        assert secret not in log, f"personal data in the server log: {mask_id_number(secret)}"
