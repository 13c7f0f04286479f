"""Image decoding backends, in-process: pyzbar (libzbar0) and zxing-cpp. `image.py` runs them
in a worker process; call these directly only where a crash may take the caller down.

    backend   reads                                    charset handling
    pyzbar    QR, Code128/39/93, EAN/UPC, ITF, ...     zbar's guess for ECI-less QR is bypassed:
              (no PDF417 decode, no Data Matrix)       ZBAR_CFG_BINARY hands the bytes over raw for
                                                       payloads.decode_bytes (UTF-8, then GB18030);
                                                       a declared ECI zbar still converts to UTF-8
    zxing     all of the above + PDF417, Data Matrix,  HexECI text mode: raw bytes plus the ECI
              Aztec                                    markers; a declared ECI wins, else our order

Both take an 8-bit greyscale PIL image and return `Decoded` values, top-left first.

Structured append (one message split over up to 16 QR symbols): zbar joins a complete set in
one image into ONE symbol holding the whole message, whose orientation is "unknown" (-1, read
as 4294967295 through pyzbar's unsigned binding); pyzbar 0.1.9 then raises `ValueError: ... is
not a valid ZBarOrientation` (pyzbar issue #139) and the whole image was lost. Each symbol is
therefore described on its own, and one pyzbar cannot describe is read again without its
orientation (which we never use). A part whose set is incomplete comes out as zbar's type
PARTIAL ("partial"), holding that part's data only: `payloads.classify` never takes it for a
whole code.
zxing-cpp's Python binding returns each part as its own symbol, with no sequence marker.
"""

from __future__ import annotations

import contextlib
from ctypes import c_void_p, cast, string_at
from dataclasses import dataclass
from typing import Any

from PIL import Image

from drivers.barcode.errors import BackendUnavailableError
from drivers.barcode.interpret import decode_bytes

BACKENDS = ("pyzbar", "zxing")
_ZBAR_CFG_BINARY = 4  # zbar >= 0.23 (libzbar0 in Debian 12): hand over QR bytes unconverted
# ECI assignment number -> Python codec (AIM ECI; 29 is GB2312, read as its superset GB18030).
_ECI_CODECS = {
    1: "latin-1", 3: "latin-1", **{n: f"iso-8859-{n - 2}" for n in range(4, 14)},
    **{n: f"iso-8859-{n - 2}" for n in range(15, 19)}, 20: "shift_jis", 21: "cp1250",
    22: "cp1251", 23: "cp1252", 24: "cp1256", 25: "utf-16-be", 26: "utf-8", 27: "ascii",
    28: "big5", 29: "gb18030", 30: "euc-kr", 32: "gb18030", 33: "utf-16-le", 34: "utf-32-be",
    35: "utf-32-le",
}  # fmt: skip
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
            for symbol in pyzbar._symbols_for_image(zimage):
                data, kind, left, top = _describe(pyzbar, symbol)
                text, encoding = decode_bytes(data)
                found.append(Decoded(_NAMES.get(kind, kind.lower()), data, text, encoding,
                                     left, top))  # fmt: skip
    return sorted(found, key=lambda d: (d.top, d.left))


def _describe(pyzbar: Any, symbol: Any) -> tuple[bytes, str, int, int]:
    """(data, type name, left, top) of one zbar symbol, even one pyzbar cannot describe."""
    try:
        (described,) = pyzbar._decode_symbols([symbol])
        return described.data, described.type, described.rect.left, described.rect.top
    except ValueError:  # the structured-append orientation (module doc), or a type pyzbar lacks
        from pyzbar.locations import bounding_box
        from pyzbar.wrapper import (
            ZBarSymbol,
            zbar_symbol_get_data,
            zbar_symbol_get_data_length,
            zbar_symbol_get_loc_size,
            zbar_symbol_get_loc_x,
            zbar_symbol_get_loc_y,
        )

        data = string_at(zbar_symbol_get_data(symbol), zbar_symbol_get_data_length(symbol))
        kind = symbol.contents.type
        name = ZBarSymbol(kind).name if kind in ZBarSymbol._value2member_map_ else f"zbar{kind}"
        points = [(zbar_symbol_get_loc_x(symbol, i), zbar_symbol_get_loc_y(symbol, i))
                  for i in range(zbar_symbol_get_loc_size(symbol))]  # fmt: skip
        rect = bounding_box(points) if points else None
        return data, name, rect.left if rect else 0, rect.top if rect else 0


def _zxing(image: Image.Image) -> list[Decoded]:
    try:
        import zxingcpp
    except ImportError as err:
        raise BackendUnavailableError(f"zxing-cpp is not installed: {err}") from err
    found: list[Decoded] = []
    # HexECI is the only text mode that shows whether the symbol itself declared an ECI:
    # "]Q1" + bytes without, "]Q2" + "\\000007" markers + bytes with one (zxing-cpp 3.x).
    for result in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.HexECI):
        if not result.valid:
            continue
        raw, text, encoding = _with_eci(bytes.fromhex(result.text))
        position = result.position
        left = min(p.x for p in (position.top_left, position.bottom_left))
        top = min(p.y for p in (position.top_left, position.top_right))
        name = result.format.name
        found.append(Decoded(_NAMES.get(name, name.lower()), raw, text, encoding, left, top))
    return sorted(found, key=lambda d: (d.top, d.left))


def _with_eci(data: bytes) -> tuple[bytes, str, str]:
    """(raw bytes, text, encoding) from zxing's HexECI stream.

    The stream is the symbology identifier (3 bytes), then data in which a backslash and six
    digits switch the ECI, and a doubled backslash is one data backslash (only once an ECI
    was seen). No ECI at all: our own order (UTF-8, then GB18030) decides.
    """
    body = data[3:] if data.startswith(b"]") else data
    segments: list[tuple[int | None, bytearray]] = [(None, bytearray())]
    i = 0
    while i < len(body):
        marker = body[i + 1 : i + 7]
        if body[i] == 0x5C and len(marker) == 6 and marker.isdigit():
            segments.append((int(marker), bytearray()))
            i += 7
            continue
        if body[i : i + 2] == b"\\\\" and len(segments) > 1:
            i += 1  # escaped backslash
        segments[-1][1].append(body[i])
        i += 1
    raw = b"".join(bytes(chunk) for _, chunk in segments)
    if len(segments) == 1:
        return (raw, *decode_bytes(raw))
    texts, names = [], []
    for eci, chunk in segments:
        if not chunk:
            continue
        text, name = decode_bytes(bytes(chunk), _ECI_CODECS.get(eci) if eci else None)
        texts.append(text)
        names.append(f"{name}" if eci is None else f"eci{eci}:{name}")
    return raw, "".join(texts), "+".join(names)


def available(backend: str) -> bool:
    """True if the backend's library loads here (libzbar0 / the zxing-cpp wheel)."""
    with contextlib.suppress(BackendUnavailableError):
        decode(Image.new("L", (8, 8), 255), backend)
        return True
    return False
