"""Image decoding backends, in-process: pyzbar (libzbar0) and zxing-cpp. `image.py` runs them
in a worker process; call these directly only where a crash may take the caller down.

    backend   reads                                    charset handling
    pyzbar    QR, Code128/39/93, EAN/UPC, ITF, ...     zbar's text guess is bypassed: QR bytes are
              (no PDF417 decode, no Data Matrix)       taken raw (ZBAR_CFG_BINARY) and decoded by
                                                       `payloads.decode_bytes` (UTF-8, then GB18030)
    zxing     all of the above + PDF417, Data Matrix,  raw bytes from `Barcode.bytes`; the ECI, when
              Aztec                                    the symbol declares one, wins

Both take an 8-bit greyscale PIL image and return `Decoded` values, top-left first.
"""

from __future__ import annotations

import contextlib
from ctypes import c_void_p, cast
from dataclasses import dataclass

from PIL import Image

from drivers.barcode.errors import BackendUnavailableError
from drivers.barcode.payloads import decode_bytes

BACKENDS = ("pyzbar", "zxing")
_ZBAR_CFG_BINARY = 4  # zbar >= 0.23 (libzbar0 in Debian 12): hand over QR bytes unconverted
# Symbology identifiers (ISO/IEC 15424) whose modifier says an ECI is present.
_ECI_IDS = {"]Q2", "]Q4", "]Q6", "]d4", "]d5", "]d6", "]z3", "]z4", "]z5"}
_NAMES = {
    "QRCODE": "qr", "QRCode": "qr", "MicroQRCode": "micro-qr", "CODE128": "code128",
    "Code128": "code128", "EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce",
    "CODE39": "code39", "Code39": "code39", "CODE93": "code93", "Code93": "code93",
    "I25": "itf", "ITF": "itf", "PDF417": "pdf417", "DataMatrix": "datamatrix",
    "Aztec": "aztec", "DATABAR": "databar", "CODABAR": "codabar", "Codabar": "codabar",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Decoded:
    symbology: str
    raw: bytes
    text: str
    encoding: str  # utf-8 | gb18030 | eci | ... (see payloads.decode_bytes)
    left: int = 0
    top: int = 0


def decode(image: Image.Image, backend: str) -> list[Decoded]:
    if backend == "pyzbar":
        return _pyzbar(image)
    if backend == "zxing":
        return _zxing(image)
    raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")


def _pyzbar(image: Image.Image) -> list[Decoded]:
    try:
        from pyzbar import pyzbar
        from pyzbar.wrapper import (
            ZBarSymbol,
            zbar_image_scanner_set_config,
            zbar_image_set_data,
            zbar_image_set_format,
            zbar_image_set_size,
            zbar_scan_image,
        )
    except ImportError as err:  # the Python package, or libzbar0 itself (pyzbar raises then)
        raise BackendUnavailableError(f"pyzbar: {err}") from err
    # pyzbar.decode cannot set ZBAR_CFG_BINARY, so this is its decode() with that one line added
    # (it uses pyzbar's private helpers: pinned at 0.1.9).
    pixels, width, height = pyzbar._pixel_data(image)
    found: list[Decoded] = []
    with pyzbar._image_scanner() as scanner:
        zbar_image_scanner_set_config(scanner, ZBarSymbol.QRCODE, _ZBAR_CFG_BINARY, 1)
        with pyzbar._image() as zimage:
            zbar_image_set_format(zimage, pyzbar._FOURCC["L800"])
            zbar_image_set_size(zimage, width, height)
            zbar_image_set_data(zimage, cast(pixels, c_void_p), len(pixels), None)
            if zbar_scan_image(scanner, zimage) < 0:
                raise BackendUnavailableError("zbar refused the image format")
            for symbol in pyzbar._decode_symbols(pyzbar._symbols_for_image(zimage)):
                text, encoding = decode_bytes(symbol.data)
                name = _NAMES.get(symbol.type, symbol.type.lower())
                rect = symbol.rect
                found.append(Decoded(name, symbol.data, text, encoding, rect.left, rect.top))
    return sorted(found, key=lambda d: (d.top, d.left))


def _zxing(image: Image.Image) -> list[Decoded]:
    try:
        import zxingcpp
    except ImportError as err:
        raise BackendUnavailableError(f"zxing-cpp is not installed: {err}") from err
    found: list[Decoded] = []
    for result in zxingcpp.read_barcodes(image):
        if not result.valid:
            continue
        raw = bytes(result.bytes)
        if result.symbology_identifier in _ECI_IDS:
            text, encoding = result.text, "eci"
        else:
            text, encoding = decode_bytes(raw)
        position = result.position
        left = min(p.x for p in (position.top_left, position.bottom_left))
        top = min(p.y for p in (position.top_left, position.top_right))
        name = result.format.name
        found.append(Decoded(_NAMES.get(name, name.lower()), raw, text, encoding, left, top))
    return sorted(found, key=lambda d: (d.top, d.left))


def available(backend: str) -> bool:
    """True if the backend's library loads here (libzbar0 / the zxing-cpp wheel)."""
    with contextlib.suppress(BackendUnavailableError):
        decode(Image.new("L", (8, 8), 255), backend)
        return True
    return False
