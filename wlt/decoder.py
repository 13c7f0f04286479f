"""Optional decoding of the card's 1024-byte WLT photo through a vendor library.

WLT is proprietary and has no open decoder (reference §5). Reader vendors license closed
libraries to their customers; Anju never ships, downloads or wraps one by default. A customer who
holds such a library configures its path and licence constant, and this adapter loads it with
ctypes on first use. The expected entry point (libwlt2bmp.so and relatives):

    int unpack(char *src /* 1024-byte WLT */, char *dst /* BMP out */, int code /* licence */)
        returns 1 on success (0: wrong licence code; negative: vendor-specific failures)

    dst: 54-byte BMP header ("BM", 102 x 126, 24 bpp) + 126 rows x 308 bytes = 38862 bytes

Defences, each for a failure seen in the field (§5, §7.2):
* the output buffer is 64 KiB, far beyond 38862: vendor decoders write past the size they
  document and crash the process with an exact-size buffer;
* only blocks that look like WLT ("WL", 102, 126) are handed over: C code fed garbage can crash;
* one call at a time per decoder: vendor libraries keep static state;
* the output is checked to be a 102 x 126 24-bit BMP before Pillow converts it to PNG.

Without configuration nothing is loaded and `decode` answers `PhotoResult("not_configured")`:
the photo stays opaque bytes (kept verbatim and hashed) and nothing else fails. Any failure of a
configured decoder raises `PhotoDecoderError`.
"""

from __future__ import annotations

import ctypes
import io
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from wlt.errors import PhotoDecoderError

PHOTO_SIZE = 1024  # the card's photo block (reference §5); drivers.idcard.reading reads it
PHOTO_WIDTH = 102
PHOTO_HEIGHT = 126
BMP_SIZE = 38862  # 54-byte header + 126 rows of 308 bytes (306 padded to a multiple of 4)
OUTPUT_BUFFER_SIZE = 64 * 1024
# magic, file size, (reserved), pixel offset, DIB header size, width, height, planes, bits/pixel
_BMP_HEADER = struct.Struct("<2sI4xIIiiHH")


def looks_like_wlt(photo: bytes) -> bool:
    """True for a 1024-byte block starting "WL", width 102, height 126 (u16 little-endian)."""
    return (
        len(photo) == PHOTO_SIZE
        and photo[:2] == b"WL"
        and struct.unpack_from("<HH", photo, 2) == (PHOTO_WIDTH, PHOTO_HEIGHT)
    )


@dataclass(frozen=True, slots=True)
class PhotoDecoderConfig:
    """Where the customer's vendor decoder lives and how to call it."""

    library_path: str  # e.g. /opt/vendor/lib/libwlt2bmp.so, obtained from the reader vendor
    licence_code: int  # the vendor's per-customer constant passed as `code`
    function: str = "unpack"


@dataclass(frozen=True, slots=True)
class PhotoResult:
    status: Literal["decoded", "not_configured"]
    png: bytes | None = None  # 102 x 126 RGB PNG when decoded


class WltDecoder:
    """Decodes WLT photos with a configured vendor library; inert when not configured."""

    def __init__(self, config: PhotoDecoderConfig | None) -> None:
        self._config = config
        self._function: Callable[..., int] | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self._config is not None

    def check(self) -> None:
        """Load the library now (for a self-test); raises PhotoDecoderError if it cannot."""
        if self._config is not None:
            with self._lock:
                self._load(self._config)

    def decode(self, photo_wlt: bytes) -> PhotoResult:
        """The photo as PNG, or `not_configured`; a configured decoder's failure raises."""
        config = self._config
        if config is None:
            return PhotoResult(status="not_configured")
        if not looks_like_wlt(photo_wlt):
            raise PhotoDecoderError(
                f"photo: expected a {PHOTO_SIZE}-byte WLT block (WL, 102 x 126), "
                f"got {len(photo_wlt)} bytes starting {photo_wlt[:6].hex(' ')}"
            )
        source = ctypes.create_string_buffer(bytes(photo_wlt), PHOTO_SIZE)
        output = ctypes.create_string_buffer(OUTPUT_BUFFER_SIZE)
        with self._lock:
            function = self._load(config)
            result = function(source, output, config.licence_code)
        if result != 1:
            hint = " (0 usually means a wrong licence code)" if result == 0 else ""
            raise PhotoDecoderError(f"{config.function}: expected 1, returned {result}{hint}")
        return PhotoResult(status="decoded", png=bmp_to_png(output.raw))

    def _load(self, config: PhotoDecoderConfig) -> Callable[..., int]:
        if self._function is None:
            try:
                library = ctypes.CDLL(config.library_path)
                function = getattr(library, config.function)
            except OSError as err:
                raise PhotoDecoderError(
                    f"photo decoder: cannot load {config.library_path}: {err}"
                ) from err
            except AttributeError as err:
                raise PhotoDecoderError(
                    f"photo decoder: {config.library_path} has no function {config.function!r}"
                ) from err
            function.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
            function.restype = ctypes.c_int
            self._function = function
        return self._function


def bmp_to_png(data: bytes) -> bytes:
    """PNG bytes from a decoder's output buffer holding a 102 x 126 24-bit BMP at its start."""
    if len(data) < _BMP_HEADER.size:
        raise PhotoDecoderError(f"photo decoder output: expected a BMP, got {len(data)} bytes")
    magic, _, _, _, width, height, _, bpp = _BMP_HEADER.unpack_from(data)
    if magic != b"BM":
        raise PhotoDecoderError(f"photo decoder output: expected 'BM', got {magic!r}")
    # A negative height is a top-down bitmap; either orientation is a fine photo.
    if (width, abs(height), bpp) != (PHOTO_WIDTH, PHOTO_HEIGHT, 24):
        raise PhotoDecoderError(
            f"photo decoder output: expected 102 x 126 at 24 bpp, got {width} x {height} "
            f"at {bpp} bpp"
        )
    # The header's file size is not trusted (sloppy writers leave it 0): Pillow reads the pixels
    # from the data offset and ignores the rest of the oversized buffer.
    # Imported here: Pillow costs every central server start and CLI command ~0.1 s of CPU,
    # for the photos that few requests show.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["BMP"]) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise PhotoDecoderError(f"photo decoder output: unreadable BMP: {err}") from err
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue()


def decode_photo(photo_wlt: bytes, config: PhotoDecoderConfig | None) -> PhotoResult:
    """One-shot convenience around `WltDecoder` (loads the library each call: prefer the class)."""
    return WltDecoder(config).decode(photo_wlt)
