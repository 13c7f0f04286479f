"""Keyboard-wedge (USB HID) scanners through evdev: exclusive grab, key codes -> text.

    /dev/input/by-id/usb-...-event-kbd ──evdev (grabbed)──> (type, code, value) events
        ──KeyMapper.feed──> text of one scan, ended by the terminator key (Enter by default)

A wedge scanner "types" each scan. Without an exclusive grab the keystrokes would also land
in whatever window has focus (the browser's room field...), so `WedgeScanner` grabs the device.
The mapping is the US layout, which is what scanners emit by default; shifted characters
come from tracking either Shift key, Caps Lock toggles letters only. Keys outside the table
(F-keys, Alt+keypad codes) are counted and skipped rather than guessed. A wedge cannot
type Chinese: a site scanning 网证 QRs or GBK payloads configures the scanner for serial/CDC.

`KeyMapper` is pure (events in, scans out) and tested with recorded sequences; only
`WedgeScanner` needs the `evdev` package (Linux), imported when a scanner is opened.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from drivers.barcode.errors import InputDeviceError

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
SHIFTS = {42, 54}  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
CAPSLOCK = 58
TERMINATOR_KEYS = {"enter": {28, 96}, "tab": {15}}  # KEY_ENTER, KEY_KPENTER; KEY_TAB

# Linux input key code -> (plain, shifted) on a US layout.
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
    # keypad (NumLock on, as scanners send it)
    71: "77", 72: "88", 73: "99", 74: "--", 75: "44", 76: "55", 77: "66", 78: "++",
    79: "11", 80: "22", 81: "33", 82: "00", 83: "..", 55: "**", 98: "//",
}  # fmt: skip
for _codes, _letters in ((range(16, 26), "qwertyuiop"), (range(30, 39), "asdfghjkl"),
                         (range(44, 51), "zxcvbnm")):  # fmt: skip
    for _code, _letter in zip(_codes, _letters, strict=True):
        _ROWS[_code] = _letter + _letter.upper()
KEYMAP: dict[int, tuple[str, str]] = {code: (pair[0], pair[1]) for code, pair in _ROWS.items()}


@dataclass(slots=True)
class KeyMapper:
    """evdev events in, one string per scan out. Bounded: an endless scan is cut and dropped."""

    terminators: frozenset[int] = frozenset(TERMINATOR_KEYS["enter"])
    max_len: int = 4096
    unknown_keys: int = 0
    overflows: int = 0
    _shift: set[int] = field(default_factory=set)
    _caps: bool = False
    _buffer: list[str] = field(default_factory=list)
    _discarding: bool = False  # after an overflow, until the terminator: no half scans

    def feed(self, events: Iterable[tuple[int, int, int]]) -> list[str]:
        """Events are (type, code, value) as evdev reports them; non-key events are ignored."""
        out: list[str] = []
        for kind, code, value in events:
            if kind != EV_KEY:
                continue
            if code in SHIFTS:
                if value == KEY_UP:
                    self._shift.discard(code)
                else:
                    self._shift.add(code)
            elif value == KEY_UP:
                continue  # characters are typed on key down (and on auto-repeat)
            elif code == CAPSLOCK:
                self._caps = not self._caps if value == KEY_DOWN else self._caps
            elif code in self.terminators:
                if self._buffer and not self._discarding:
                    out.append("".join(self._buffer))
                self._buffer.clear()
                self._discarding = False
            elif code in KEYMAP:
                plain, shifted = KEYMAP[code]
                upper = bool(self._shift)
                if plain.isalpha() and self._caps:
                    upper = not upper
                self._append(shifted if upper else plain)
            else:
                self.unknown_keys += 1
        return out

    def _append(self, ch: str) -> None:
        if self._discarding:
            return
        if len(self._buffer) >= self.max_len:
            self.overflows += 1
            self._buffer.clear()
            self._discarding = True
            return
        self._buffer.append(ch)


def events_for(text: str, terminator: int = 28) -> list[tuple[int, int, int]]:
    """The key events a US-layout wedge sends for `text` (for tests, the bench, the demo)."""
    reverse: dict[str, tuple[int, bool]] = {}
    for code, (plain, shifted) in sorted(KEYMAP.items(), reverse=True):  # main block wins
        reverse[plain], reverse[shifted] = (code, False), (code, plain != shifted)
    events: list[tuple[int, int, int]] = []
    for ch in text:
        code, shift = reverse[ch]
        if shift:
            events.append((EV_KEY, 42, KEY_DOWN))
        events += [(EV_KEY, code, KEY_DOWN), (0, 0, 0), (EV_KEY, code, KEY_UP), (0, 0, 0)]
        if shift:
            events.append((EV_KEY, 42, KEY_UP))
    events += [(EV_KEY, terminator, KEY_DOWN), (EV_KEY, terminator, KEY_UP), (0, 0, 0)]
    return events


class WedgeScanner:
    """A grabbed evdev keyboard device; `run()` delivers scans until `stop` is set."""

    def __init__(self, path: str, *, terminator: str = "enter") -> None:
        self.path = path
        self.mapper = KeyMapper(terminators=frozenset(TERMINATOR_KEYS[terminator]))
        self._device: object | None = None

    def open(self) -> None:
        try:
            import evdev  # Linux only; an optional dependency (the `barcode` extra)
        except ImportError as err:
            raise InputDeviceError(f"evdev is not installed: {err}") from err
        try:
            device = evdev.InputDevice(self.path)
        except OSError as err:
            raise InputDeviceError(f"cannot open {self.path}: {err}") from err
        try:
            device.grab()  # keystrokes stop reaching the desktop and the browser
        except OSError as err:
            device.close()
            raise InputDeviceError(f"cannot grab {self.path} (in use?): {err}") from err
        self._device = device

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(OSError):
                device.ungrab()  # type: ignore[attr-defined]
            device.close()  # type: ignore[attr-defined]

    def run(self, on_scan: Callable[[str], None], stop: threading.Event) -> None:
        if self._device is None:
            self.open()
        device = self._device
        try:
            while not stop.is_set():
                readable, _, _ = select.select([device], [], [], 0.1)
                if not readable:
                    continue
                try:
                    events = [(e.type, e.code, e.value) for e in device.read()]  # type: ignore[attr-defined]
                except OSError as err:  # unplugged: the caller decides when to reopen
                    raise InputDeviceError(f"{self.path}: {err}") from err
                for scan in self.mapper.feed(events):
                    on_scan(scan)
        finally:
            self.close()
