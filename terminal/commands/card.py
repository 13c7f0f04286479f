"""`anju card read|watch|info`: the technician's view of the ID card reader.

Exit codes: 0 success, 2 no reader (port missing, nothing answers, SAM fault), 3 no card in time,
4 the port is held by another process (the terminal service above all). The port is --port, else
`reader.port` from the settings file (--config), like every other command. Personal fields are
masked unless `--unmasked`.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from drivers.idcard.reader import CardReader, ReaderSettings, ReaderStatus
from drivers.idcard.reading import CardRead
from drivers.idcard.state import ReaderState
from drivers.idcard.transport import SerialTransport
from sync.privacy import redact
from terminal.commands.language import chinese_locale
from terminal.config import ENV_VAR, load_config
from terminal.doctor.portcheck import diagnose
from terminal.errors import ConfigError

EXIT_NO_READER = 2
EXIT_NO_CARD = 3
EXIT_PORT_BUSY = 4

_RAW_KEYS = ("text_block_b64", "photo_wlt_b64", "fingerprint_b64")

_LABELS = {
    "card_type": ("Card type", "证件类型"),
    "name": ("Name", "姓名"),
    "name_en": ("English name", "英文姓名"),
    "sex": ("Sex", "性别"),
    "nation": ("Nation", "民族"),
    "nationality": ("Nationality", "国籍"),
    "birth_date": ("Birth date", "出生日期"),
    "address": ("Address", "住址"),
    "id_number": ("ID number", "证件号码"),
    "id_number_valid": ("Number check", "号码校验"),
    "authority": ("Authority", "签发机关"),
    "valid_from": ("Valid from", "有效期起"),
    "valid_until": ("Valid until", "有效期止"),
    "pass_number": ("Pass number", "通行证号码"),
    "issue_count": ("Issue count", "签发次数"),
    "photo_sha256": ("Photo SHA-256", "照片摘要"),
    "sam_id": ("SAM id", "安全模块号"),
}


def card_output(card: CardRead, *, unmasked: bool) -> dict[str, Any]:
    """The JSON object printed for a card: full with raw blocks, or masked without them."""
    data = card.to_json()
    if unmasked:
        return data
    for key in _RAW_KEYS:
        data.pop(key, None)
    return redact(data)


def _print_card(card: CardRead, *, as_json: bool, unmasked: bool) -> None:
    data = card_output(card, unmasked=unmasked)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
        return
    column = 1 if chinese_locale() else 0
    for key, labels in _LABELS.items():
        value = data.get(key)
        if key == "valid_until" and data.get("long_term"):
            value = "长期 (long-term)"
        if value is None or value == "":
            continue
        click.echo(f"{labels[column]:<14} {value}")


def _port_option(func: Any) -> Any:
    """--port/--baud, defaulting to reader.port/reader.baud of the settings file (--config)."""

    def wrapper(port: str | None, baud: str | None, config_path: Path | None,
                **kwargs: Any) -> Any:
        return func(*_reader_settings(port, baud, config_path), **kwargs)

    functools.update_wrapper(wrapper, func)  # keeps the options declared below this one
    wrapper = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar=ENV_VAR, show_envvar=True,
        help="Settings file for reader.port and reader.baud (default /etc/anju/terminal.toml).",
    )(wrapper)
    wrapper = click.option(
        "--baud", type=click.Choice(["115200", "57600", "38400", "19200", "9600"]),
        help="Try this rate first (default: reader.baud, else probe 115200 ... 9600).",
    )(wrapper)
    return click.option(
        "--port", envvar="ANJU_READER_PORT", show_envvar=True,
        help="Reader port as a device path or pyserial URL (default: reader.port from the "
             "settings, e.g. /dev/serial/by-id/...).",
    )(wrapper)


def _reader_settings(port: str | None, baud: str | None, config_path: Path | None
                     ) -> tuple[str, str | None]:
    if port and baud:
        return port, baud
    try:  # the default settings file may be absent on a technician's laptop: defaults then
        config = load_config(config_path, missing_ok=config_path is None)
    except ConfigError as err:
        _fail(2, f"error: {err}", f"错误：{err.localized(True)}")
        raise  # unreachable: _fail exits
    configured_baud = config["reader.baud"]
    return (port or config["reader.port"],
            baud or (str(configured_baud) if configured_baud else None))


def _open_reader(port: str, baud: str | None, on_card: Any) -> CardReader:
    """Connect (probe the baud, read the SAM id) and poll once; exit 2 when no reader answers,
    4 when another process (the terminal service) holds the port; each with what to do."""
    transport = SerialTransport(port, baud=int(baud) if baud else None)
    reader = CardReader(transport, on_card)
    reader.poll_once()
    if not reader.status.connected:
        error = str(reader.status.last_error)
        reader.stop()
        _fail_port(port, error)
    return reader


def _fail_port(port: str, error: str) -> None:
    found = diagnose(port, error)
    if found.cause in ("in_use", "in_use_by_service"):
        _fail(EXIT_PORT_BUSY, found.english, found.chinese)
    if found.cause == "other":
        _fail(EXIT_NO_READER, f"no reader: {error}", f"读卡器无响应：{error}")
    _fail(EXIT_NO_READER, f"no reader: {found.english}", f"读卡器无法访问：{found.chinese}")


def _fail(code: int, english: str, chinese: str) -> None:
    click.echo(chinese if chinese_locale() else english, err=True)
    sys.exit(code)


@click.group()
def card() -> None:
    """Read Chinese ID cards from a reader (GA 467 SAM protocol)."""


@card.command("read")
@_port_option
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for a card.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--unmasked", is_flag=True, help="Print personal fields in full (and raw blocks).")
def read(port: str, baud: str | None, timeout: float, as_json: bool, unmasked: bool) -> None:
    """Wait for one card, print it and exit."""
    cards: list[CardRead] = []
    reader = _open_reader(port, baud, cards.append)
    deadline = time.monotonic() + timeout
    try:
        while not cards and time.monotonic() < deadline:
            started = time.monotonic()
            reader.poll_once()
            if not cards:
                time.sleep(max(0.0, reader.settings.poll_interval - (time.monotonic() - started)))
    finally:
        reader.stop()
    if not cards:
        status = reader.status
        if not status.connected:
            _fail(EXIT_NO_READER, f"reader lost: {status.last_error}", "读卡器已断开")
        detail = f" (last error: {status.last_error})" if status.last_error else ""
        _fail(EXIT_NO_CARD, f"no card within {timeout:g} s{detail}", f"{timeout:g} 秒内未放卡")
    _print_card(cards[0], as_json=as_json, unmasked=unmasked)


@card.command("watch")
@_port_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--unmasked", is_flag=True, help="Print personal fields in full.")
@click.option("--poll", type=float, default=0.3, show_default=True, help="Seconds between polls.")
def watch(port: str, baud: str | None, as_json: bool, unmasked: bool, poll: float) -> None:
    """Print each card as it is placed, until interrupted. Survives unplugging the reader."""

    def show(card_read: CardRead) -> None:
        _print_card(card_read, as_json=as_json, unmasked=unmasked)
        if not as_json:
            click.echo("")

    def report(status: ReaderStatus) -> None:
        if status.state in (ReaderState.DISCONNECTED, ReaderState.REPLACE, ReaderState.FAULT):
            click.echo(f"[reader {status.state}: {status.last_error}]", err=True)

    transport = SerialTransport(port, baud=int(baud) if baud else None)
    reader = CardReader(transport, show, settings=ReaderSettings(poll_interval=poll),
                        on_status=report)
    try:
        reader.run()
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()


@card.command("info")
@_port_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(port: str, baud: str | None, as_json: bool) -> None:
    """Show the reader's baud, SAM id and status."""
    reader = _open_reader(port, baud, lambda _card: None)
    status = reader.status
    reader.stop()
    data = {
        "port": status.port, "connected": status.connected, "baud": status.baud,
        "sam_id": status.sam_id, "state": status.state, "last_error": status.last_error,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            click.echo(f"{key:<11} {value}")
    if not status.connected:
        sys.exit(EXIT_NO_READER)
