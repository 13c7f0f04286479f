"""`anju sim reader`: a simulated ID card reader on a pseudo-terminal, for the demo and the bench.

The FIRST line of stdout is the port to open (a stable symlink that survives simulated unplugs),
so scripts can start it and read one line::

    port=$(anju sim reader --faults noise,split | head -n1)

It then cycles through the card file (each card on the reader for --present seconds, then an
empty reader for --absent seconds) until SIGINT or SIGTERM, and exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click

from drivers.idcard.codec import SUPPORTED_BAUDS
from drivers.sim.faults import FAULT_NAMES, FaultPlan
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import CARD_LEFT_MODES, FINGERPRINT_SIZES, load_sim_cards


@click.group()
def sim() -> None:
    """Device simulators (shipped for the demo, the tests and the bench)."""


@contextlib.contextmanager
def _until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; the previous handlers come back on exit."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@sim.command()
@click.option(
    "--cards",
    "card_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Card file (JSON). Default: the bundled drivers/sim/cards/synthetic.json.",
)
@click.option(
    "--faults",
    default="",
    help=f"Comma list, each optionally NAME:PROBABILITY, of: {', '.join(FAULT_NAMES)}.",
)
@click.option("--seed", type=int, default=None, help="Seed for the faults (replayable runs).")
@click.option(
    "--baud",
    type=click.Choice([str(b) for b in SUPPORTED_BAUDS]),
    default="115200",
    show_default=True,
    help="The SAM's rate at power-on; the host must probe or configure it.",
)
@click.option(
    "--card-left",
    type=click.Choice(CARD_LEFT_MODES),
    default="answers",
    show_default=True,
    help="A card left after a read: find keeps answering, or goes silent (reference §6.4).",
)
@click.option("--present", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds each card stays on the reader.")  # fmt: skip
@click.option("--absent", type=click.FloatRange(min=0.0), default=3.0, show_default=True,
              help="Seconds the reader stays empty between cards.")  # fmt: skip
@click.option(
    "--fingerprint",
    type=click.Choice([str(size) for size in FINGERPRINT_SIZES]),
    default="0",
    show_default=True,
    help="Fingerprint bytes each card returns to 30 10.",
)
@click.option("--pace/--no-pace", default=False, help="Spend the wire time of every byte.")
@click.option(
    "--link-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the port symlink (default: a fresh temp dir).",
)
def reader(
    card_file: Path | None,
    faults: str,
    seed: int | None,
    baud: str,
    card_left: str,
    present: float,
    absent: float,
    fingerprint: str,
    pace: bool,
    link_dir: Path | None,
) -> None:
    """Run a simulated GA 467 ID card reader; print its port, then serve until stopped."""
    try:
        plan = FaultPlan.parse(faults)
        cards = load_sim_cards(card_file, fingerprint_size=int(fingerprint))
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    if not cards:
        raise click.UsageError("the card file holds no cards")
    if link_dir is not None:
        link_dir.mkdir(parents=True, exist_ok=True)

    simulator = SimulatedReader(
        baud=int(baud),
        card_left_mode=card_left,  # type: ignore[arg-type]  # click.Choice guarantees it
        faults=plan,
        seed=seed,
        pace=pace,
        link_dir=link_dir,
    )
    with _until_signalled() as stopping:
        try:
            simulator.start()
            click.echo(simulator.port)
            sys.stdout.flush()
            click.echo(
                f"simulated reader: {len(cards)} cards, {baud} bps, card left: {card_left}, "
                f"faults: {plan}, seed: {seed}",
                err=True,
            )
            simulator.cycle(cards, present=present, absent=absent)
            while not stopping.wait(0.5):  # a timed wait: signal handlers run between waits
                pass
        finally:
            simulator.stop()


@sim.command()
@click.option(
    "--framing",
    type=click.Choice(["auto", "cr", "lf", "crlf", "tab", "stx-etx"]),
    default="crlf",
    show_default=True,
    help="How each scan is framed on the wire.",
)
@click.option(
    "--payloads",
    "payload_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON list of strings or {"hex": ...}/{"gbk": ...}. Default: a synthetic set.',
)
@click.option("--interval", type=click.FloatRange(min=0.0), default=3.0, show_default=True,
              help="Seconds between scans.")  # fmt: skip
@click.option("--once", is_flag=True, help="Send the payloads once, then keep the port open.")
@click.option("--split/--no-split", default=False, help="Dribble bytes a few at a time.")
@click.option("--noise/--no-noise", default=False, help="Junk between STX/ETX frames.")
@click.option("--seed", type=int, default=None, help="Seed for --split chunking.")
@click.option("--link-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the port symlink (default: a fresh temp dir).")  # fmt: skip
def scanner(
    framing: str, payload_file: Path | None, interval: float, once: bool, split: bool,
    noise: bool, seed: int | None, link_dir: Path | None,
) -> None:  # fmt: skip
    """Run a simulated serial barcode scanner / MRZ reader; print its port, then scan."""
    from drivers.sim.scanner import SimulatedScanner, default_payloads, load_payloads

    try:
        payloads = load_payloads(payload_file) if payload_file else default_payloads()
    except (ValueError, OSError) as err:
        raise click.UsageError(str(err)) from err
    if link_dir is not None:
        link_dir.mkdir(parents=True, exist_ok=True)
    simulator = SimulatedScanner(framing=framing, split=split, noise=noise, seed=seed,
                                 link_dir=link_dir)  # fmt: skip
    with _until_signalled() as stopping:
        try:
            simulator.start()
            click.echo(simulator.port)
            sys.stdout.flush()
            click.echo(f"simulated scanner: {len(payloads)} payloads, framing {framing}",
                       err=True)
            while not stopping.is_set():
                for payload in payloads:
                    if stopping.wait(interval):
                        break
                    simulator.send(payload)
                if once:
                    stopping.wait()
        finally:
            simulator.stop()
