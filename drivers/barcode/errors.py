"""Exceptions of the barcode driver.

    BarcodeError                     root: catch this to catch everything below
    ├── FramingError                 a scanner line that overflowed the buffer (device's/our config)
    ├── TransportError               the port or input device: cannot open, vanished (may come back)
    │   ├── PortUnavailableError     serial scanner cannot be opened / disappeared (USB unplug)
    │   └── InputDeviceError         evdev device missing, not grabbable, or evdev not installed
    ├── DecodeError                  image decoding failed (ours or the library's)
    │   ├── BackendUnavailableError  the chosen backend (pyzbar/zxing-cpp) is not installed
    │   ├── DecodeTimeoutError       a frame took longer than the limit; the worker was restarted
    │   └── WorkerCrashedError       the decoder process died (zbar aborts); restarted, retry helps
    └── CameraError                  no V4L2 device, or no frame from it

A scan that parses badly (wrong check digit, unknown payload) is NOT an exception: it is a
result with problems, because the clerk must see it.
"""

from __future__ import annotations


class BarcodeError(Exception):
    """Root of the barcode driver's exceptions."""


class FramingError(BarcodeError):
    """A line did not end before the buffer limit."""


class TransportError(BarcodeError):
    """The device failed; it may come back."""


class PortUnavailableError(TransportError):
    """The serial port cannot be opened or disappeared."""


class InputDeviceError(TransportError):
    """The keyboard-wedge input device cannot be used."""


class DecodeError(BarcodeError):
    """An image could not be decoded."""


class BackendUnavailableError(DecodeError):
    """The configured decoding backend is not installed."""


class DecodeTimeoutError(DecodeError):
    """Decoding a frame exceeded its time limit."""


class WorkerCrashedError(DecodeError):
    """The decoder worker process died while decoding."""


class CameraError(BarcodeError):
    """No still frame could be taken."""
