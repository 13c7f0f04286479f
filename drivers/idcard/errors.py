"""Exceptions of the ID card driver.

    IdCardError                      root: catch this to catch everything below
    ├── FrameError                   bytes on the wire that are not a valid frame (device's fault)
    │   └── ChecksumError            XOR checksum mismatch
    ├── CardDecodeError              a checksummed text block that makes no sense (card's fault)
    ├── ReaderError                  the reader answered, but not with success
    │   ├── ReaderStatusError        SW3 not success; .status says which and whether retrying helps
    │   └── ReaderFaultError         SAM self-test failed / not authorised: retrying cannot help
    └── TransportError               the port: cannot open, vanished, timed out (may come back)
        ├── PortUnavailableError     cannot open / disappeared (USB unplug)
        ├── NoReaderError            port opens but nothing speaks the protocol at any baud
        └── ReaderTimeoutError       no complete answer in time

(The photo decoder's PhotoDecoderError lives with the decoder, in wlt/errors.py.)
"""

from __future__ import annotations


class IdCardError(Exception):
    """Root of the ID card driver's exceptions."""


class FrameError(IdCardError):
    """Bytes that do not form a valid frame."""


class ChecksumError(FrameError):
    """A frame whose XOR checksum does not match."""


class CardDecodeError(IdCardError):
    """A text block that cannot be decoded into a card reading."""


class ReaderError(IdCardError):
    """The reader answered with something other than success."""


class ReaderStatusError(ReaderError):
    """SW3 was not a success code for the command sent."""

    def __init__(self, command: str, status: object) -> None:
        self.command = command
        self.status = status
        super().__init__(f"{command}: reader answered {status}")


class ReaderFaultError(ReaderError):
    """The SAM module cannot work (self-test failed or not authorised)."""


class TransportError(IdCardError):
    """The serial port failed; the device may come back."""


class PortUnavailableError(TransportError):
    """The port cannot be opened or disappeared."""


class NoReaderError(TransportError):
    """The port opens but no reader answers at any supported baud."""


class ReaderTimeoutError(TransportError):
    """No complete answer arrived in time."""
