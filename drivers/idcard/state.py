"""The reader loop's state: what `ReaderStatus.state` holds (drivers/idcard/reader.py).

    disconnected ──SAM answers──> idle ──card read──> holding ──lifted──> idle
                                   └──read failed──> replace (lift and place it again)
    any ──port gone──> disconnected         any ──SAM fails──> fault

Kept apart from reader.py (which imports pyserial) so that the uploader's process, which reads
the state the terminal service stored, needs no serial drivers.
"""

from __future__ import annotations

from enum import StrEnum


class ReaderState(StrEnum):
    DISCONNECTED = "disconnected"  # no reader answers on the port
    IDLE = "idle"  # connected, no card
    HOLDING = "holding"  # a card lies on the reader and was read
    REPLACE = "replace"  # a card lies there but could not be read: place it again
    FAULT = "fault"  # the reader answers but its SAM module fails

    @property
    def connected(self) -> bool:
        """The reader answers and can read (a card needing re-placing included)."""
        return self in (ReaderState.IDLE, ReaderState.HOLDING, ReaderState.REPLACE)
