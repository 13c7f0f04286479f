"""Keyboard-wedge key mapping with recorded evdev event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.barcode.errors import InputDeviceError
from drivers.barcode.wedge import KEYMAP, TERMINATOR_KEYS, KeyMapper, WedgeScanner, events_for

# Recorded with evtest from a wedge scanner reading "Ab1-" (type, code, value); EV_MSC (4)
# scan-code events and EV_SYN (0) reports are part of what real devices send.
RECORDED_AB1 = [
    (4, 4, 458977), (1, 42, 1), (0, 0, 0),
    (4, 4, 458756), (1, 30, 1), (0, 0, 0), (4, 4, 458756), (1, 30, 0), (0, 0, 0),
    (4, 4, 458977), (1, 42, 0), (0, 0, 0),
    (4, 4, 458757), (1, 48, 1), (0, 0, 0), (4, 4, 458757), (1, 48, 0), (0, 0, 0),
    (4, 4, 458782), (1, 2, 1), (0, 0, 0), (4, 4, 458782), (1, 2, 0), (0, 0, 0),
    (4, 4, 458797), (1, 12, 1), (0, 0, 0), (4, 4, 458797), (1, 12, 0), (0, 0, 0),
    (4, 4, 458792), (1, 28, 1), (0, 0, 0), (4, 4, 458792), (1, 28, 0), (0, 0, 0),
]  # fmt: skip
# A URL with right shift for ':' and '?', keypad digits, then Enter on the keypad.
RECORDED_URL = [
    (1, 35, 1), (1, 35, 0), (1, 20, 1), (1, 20, 0), (1, 20, 1), (1, 20, 0), (1, 25, 1),
    (1, 25, 0), (1, 54, 1), (1, 39, 1), (1, 39, 0), (1, 54, 0), (1, 53, 1), (1, 53, 0),
    (1, 53, 1), (1, 53, 0), (1, 54, 1), (1, 53, 1), (1, 53, 0), (1, 54, 0), (1, 79, 1),
    (1, 79, 0), (1, 80, 1), (1, 80, 0), (1, 96, 1), (1, 96, 0),
]  # fmt: skip


def test_recorded_sequence_with_shift():
    assert KeyMapper().feed(RECORDED_AB1) == ["Ab1-"]


def test_recorded_url_right_shift_and_keypad():
    assert KeyMapper().feed(RECORDED_URL) == ["http://?12"]


def test_split_across_reads_and_two_scans():
    mapper = KeyMapper()
    events = events_for("BK-1") + events_for("XY")
    assert mapper.feed(events[:7]) == []
    assert mapper.feed(events[7:]) == ["BK-1", "XY"]


def test_caps_lock_letters_only_and_repeat():
    caps = [(1, 58, 1), (1, 58, 0)]
    events = [*caps, (1, 30, 1), (1, 30, 2), (1, 30, 0), (1, 2, 1), (1, 2, 0), (1, 28, 1)]
    assert KeyMapper().feed(events) == ["AA1"]


def test_tab_terminator_and_unknown_keys():
    mapper = KeyMapper(terminators=frozenset(TERMINATOR_KEYS["tab"]))
    events = [(1, 59, 1), (1, 59, 0), *events_for("ok", terminator=15)]  # F1 first
    assert mapper.feed(events) == ["ok"]
    assert mapper.unknown_keys == 1


def test_overflow_drops_the_scan():
    mapper = KeyMapper(max_len=3)
    assert mapper.feed(events_for("ABCDE") + events_for("OK")) == ["OK"]
    assert mapper.overflows == 1


@given(st.text(sorted({c for pair in KEYMAP.values() for c in pair}), min_size=1, max_size=60))
def test_any_typeable_text_round_trips(text):
    assert KeyMapper().feed(events_for(text)) == [text]


def test_opening_without_a_device_is_typed(tmp_path):
    with pytest.raises(InputDeviceError):
        WedgeScanner(str(tmp_path / "event99")).open()
