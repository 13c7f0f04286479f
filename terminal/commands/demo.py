"""`anju demo`: the system on the embedded default, for a newcomer, in one command.

For now it shows the first half of the data path end to end: a simulated reader on a
pseudo-terminal cycles through the synthetic cards, the real reader loop reads each placement
once over pyserial, and each reading is checked in to a real SQLite store (a room per guest),
saved before it is reported. Output is masked as in production. Later issues add the central
server, the sync service and the front-desk page.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import click

from drivers.idcard.reader import CardReader, ReaderStatus
from drivers.idcard.reading import CardRead
from drivers.idcard.transport import SerialTransport
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import load_sim_cards
from sync.privacy import mask_id_number, mask_name
from terminal.config import DeviceIdentity
from terminal.domain.guests import guest_from_card
from terminal.errors import AnjuError
from terminal.ids import new_id
from terminal.registry import Registry
from terminal.store.database import Store
from terminal.store.verify import verify

DEMO_IDENTITY = DeviceIdentity(device_id="demo-terminal-0001", site_code="4401060001")


@click.command()
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True, help="Where the demo keeps its data.")
@click.option("--seconds", type=float, default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--present", type=float, default=2.5, show_default=True,
              help="Seconds each simulated card stays on the reader.")
def demo(work_dir: Path, seconds: float | None, present: float) -> None:
    """Run a simulated reader and register each card read into a local store."""
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "terminal.db"
    store = Store.open(database, identity=DEMO_IDENTITY, create=True, migrate=True)
    registry = Registry(store)
    floors_and_numbers = itertools.product(range(1, 10), range(1, 21))
    rooms = itertools.cycle([f"{floor}{number:02d}" for floor, number in floors_and_numbers])
    saved = 0
    stop = threading.Event()

    def register(card: CardRead) -> None:
        nonlocal saved
        guest = guest_from_card(card, guest_id=new_id())
        room = next(rooms)
        who = f"{mask_name(card.name or card.name_en)} {mask_id_number(card.id_number)}"
        try:
            result = registry.check_in(room=room, guests=[guest], operator="demo-clerk")
        except AnjuError as err:
            click.echo(f"  not saved  {card.card_type:<19} {who}: {err}")
            return
        saved += 1
        notes = ", ".join(f.code for f in result.findings) or "no findings"
        click.echo(f"  saved      {card.card_type:<19} {who} -> room {room} ({notes})")

    def report(status: ReaderStatus) -> None:
        if status.state in ("disconnected", "replace", "fault"):
            click.echo(f"  reader {status.state}: {status.last_error}")

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with SimulatedReader(card_left_mode="silent") as sim:
        sim.cycle(load_sim_cards(), present=present, absent=1.0)
        reader = CardReader(SerialTransport(sim.port), register, on_status=report)
        click.echo(f"Anju demo: simulated ID card reader on {sim.port}")
        click.echo(f"store: {database} (device {DEMO_IDENTITY.device_id}); Ctrl-C to stop")
        reader.start()
        deadline = time.monotonic() + seconds if seconds is not None else None
        while not stop.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
        reader.stop()
    with store.reader() as conn:
        faults = verify(conn)
    store.close()
    status = reader.status
    click.echo(f"read {status.reads} cards ({status.failures} failed attempts), saved {saved}; "
               f"store verify: {'ok' if not faults else f'{len(faults)} faults'}")
