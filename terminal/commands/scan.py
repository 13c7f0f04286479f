"""`anju scan watch|image`: the technician's view of barcode scanners and document readers.

    anju scan watch --port /dev/serial/by-id/usb-... [--framing crlf] [--json]
    anju scan watch --wedge /dev/input/by-id/usb-...-event-kbd
    anju scan image photo.jpg [more.png ...] [--backend zxing] [--json]

Each scan prints its interpretation (MRZ with every failing field by name, URL, 网证 QR,
booking reference, unknown). Personal fields are masked unless `--unmasked`, as in
`anju card`. Exit codes: 0 success, 2 device or backend unavailable, 3 no symbol in an image.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from drivers.barcode.backends import BACKENDS
from drivers.barcode.errors import BackendUnavailableError, DecodeError, PortUnavailableError
from drivers.barcode.hub import ScanEvent, ScanHub
from drivers.barcode.lines import FRAMINGS
from sync.privacy import redact

EXIT_NO_DEVICE = 2
EXIT_NOTHING_FOUND = 3


def _view(event: ScanEvent, unmasked: bool) -> dict[str, Any]:
    data = event.to_json()
    if unmasked:
        return data
    if data.get("kind") == "mrz":
        data["text"] = f"<MRZ, {len(str(data['text']))} characters, masked>"
        data["mrz"] = redact(data["mrz"])
    elif data.get("kind") == "unknown":  # free text may carry a name: show only its size
        data["text"] = f"<{len(str(data['text']))} characters, masked>"
    return data


def _human(data: dict[str, Any]) -> str:
    head = f"[{data['source']}] {data['kind']} -> {data['use']}"
    lines = [head]
    if data["kind"] == "mrz":
        mrz = data["mrz"]
        state = "all checks pass" if mrz["valid"] else (
            "NOT verified (prefill only)" if not mrz["verified"] else "checks FAIL")
        lines.append(f"  {mrz['format']}: {state}")
        for key, value in mrz["guest"].items():
            if key not in ("mrz_problems", "mrz_verified") and value not in (None, ""):
                lines.append(f"  {key:16} {value}")
        for problem in mrz["problems"]:
            lines.append(f"  ! {problem['field']}: {problem['message']} ({problem['severity']})")
    elif data["kind"] == "netid":
        lines.append(f"  payload (base64) {data['payload_b64']!s:.60}...")
    else:
        lines.append(f"  {data['text']!s:.200}  [{data['encoding']}]")
    if data.get("note"):
        lines.append(f"  note: {data['note']}")
    return "\n".join(lines)


def _printer(as_json: bool, unmasked: bool) -> Any:
    lock = threading.Lock()  # scans from a device thread and the main thread never interleave

    def show(event: ScanEvent) -> None:
        data = _view(event, unmasked)
        text = json.dumps(data, ensure_ascii=False, default=str) if as_json else _human(data)
        with lock:
            click.echo(text)

    return show


@click.group()
def scan() -> None:
    """Barcode scanners, document readers (MRZ) and image decoding."""


@scan.command()
@click.option("--port", help="Serial scanner URL (/dev/ttyACM0, by-id link, socket://...).")
@click.option("--wedge", "wedge_path", help="evdev keyboard-wedge device (grabbed exclusively).")
@click.option("--framing", type=click.Choice(FRAMINGS), default="auto", show_default=True)
@click.option("--baud", type=int, default=9600, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per scan.")
@click.option("--unmasked", is_flag=True, help="Show names and numbers in full.")
@click.option("--count", type=int, default=0, help="Exit after this many scans (0: run on).")
def watch(
    port: str | None, wedge_path: str | None, framing: str, baud: int, as_json: bool,
    unmasked: bool, count: int,
) -> None:  # fmt: skip
    """Print every scan and its interpretation until Ctrl-C or SIGTERM."""
    if bool(port) == bool(wedge_path):
        raise click.UsageError("give exactly one of --port or --wedge")
    done = threading.Event()
    seen = 0
    show = _printer(as_json, unmasked)

    def on_event(event: ScanEvent) -> None:
        nonlocal seen
        show(event)
        seen += 1
        if count and seen >= count:
            done.set()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    hub = ScanHub(on_event)
    if port:
        scanner = hub.add_serial(port, framing=framing, baud=baud)
        try:  # fail fast on a wrong path; later unplugs are recovered by the hub
            scanner.open()
            scanner.close()
        except PortUnavailableError as err:
            click.echo(f"scanner unavailable: {err}", err=True)
            raise SystemExit(EXIT_NO_DEVICE) from err
    else:
        hub.add_wedge(str(wedge_path))
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        hub.start()
        click.echo(f"watching {port or wedge_path} (framing {framing}); Ctrl-C to stop", err=True)
        while not done.wait(0.2):
            pass
    finally:
        hub.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@scan.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--backend", type=click.Choice(BACKENDS), default="pyzbar", show_default=True,
              help="pyzbar: QR and linear codes; zxing: also PDF417 and Data Matrix.")  # fmt: skip
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds per image.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per symbol.")
@click.option("--unmasked", is_flag=True, help="Show names and numbers in full.")
def image(files: tuple[Path, ...], backend: str, timeout: float, as_json: bool,
          unmasked: bool) -> None:  # fmt: skip
    """Decode barcodes in image files (JPEG, PNG, ...)."""
    show = _printer(as_json, unmasked)
    hub = ScanHub(show, image_backend=backend, image_timeout=timeout)
    found = 0
    failed = False
    try:
        for path in files:
            try:
                events = hub.submit_image(path)
            except BackendUnavailableError as err:
                click.echo(f"{path}: {err}", err=True)
                raise SystemExit(EXIT_NO_DEVICE) from err
            except DecodeError as err:
                click.echo(f"{path}: {err}", err=True)
                failed = True
                continue
            if not events:
                hint = " (zbar reads no PDF417 or Data Matrix: try --backend zxing)"
                click.echo(f"{path}: no symbol found{hint if backend == 'pyzbar' else ''}",
                           err=True)  # fmt: skip
            found += len(events)
    finally:
        hub.stop()
    if failed and not found:
        raise SystemExit(EXIT_NO_DEVICE)
    if not found:
        raise SystemExit(EXIT_NOTHING_FOUND)
