"""Synthetic barcode frames for the tests, the bench and the demo: render, place, degrade.

    symbol image (zxing-cpp writer, or any PIL image) ──place()──> 1280x720 camera-like frame
        rotation (degrees, white fill) · Gaussian blur (radius px) · contrast (0..1, grey
        around mid-grey, as a dim counter light) · JPEG round trip (quality) · position

Rendering needs zxing-cpp (an optional dependency); `place` needs only Pillow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageFilter

from drivers.barcode.errors import BackendUnavailableError

FORMATS = ("qr", "code128", "ean13", "pdf417", "datamatrix")


def render(fmt: str, content: str | bytes, scale: int = 4) -> Image.Image:
    """A clean symbol with quiet zones, 8-bit grey. `bytes` content is encoded as given."""
    try:
        import zxingcpp
    except ImportError as err:
        raise BackendUnavailableError(f"zxing-cpp is needed to render {fmt}: {err}") from err
    formats = {
        "qr": zxingcpp.BarcodeFormat.QRCode,
        "code128": zxingcpp.BarcodeFormat.Code128,
        "ean13": zxingcpp.BarcodeFormat.EAN13,
        "pdf417": zxingcpp.BarcodeFormat.PDF417,
        "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
    }
    symbol = zxingcpp.create_barcode(content, formats[fmt])
    view = memoryview(symbol.to_image(scale=scale))
    image = Image.frombytes("L", (view.shape[1], view.shape[0]), view.tobytes())
    if fmt in ("code128", "ean13") and image.height < 60:
        image = image.resize((image.width, 120))  # linear symbols come out one module tall
    return image


@dataclass(frozen=True, slots=True)
class Degradation:
    angle: float = 0.0
    blur: float = 0.0
    contrast: float = 1.0
    jpeg_quality: int | None = None

    @property
    def name(self) -> str:
        parts = []
        if self.angle:
            parts.append(f"rot{self.angle:g}")
        if self.blur:
            parts.append(f"blur{self.blur:g}")
        if self.contrast != 1.0:
            parts.append(f"contrast{self.contrast:g}")
        if self.jpeg_quality is not None:
            parts.append(f"jpeg{self.jpeg_quality}")
        return "+".join(parts) or "clean"


CLEAN = Degradation()
DEGRADATIONS = (
    CLEAN,
    Degradation(angle=7),
    Degradation(angle=90),
    Degradation(blur=1.2),
    Degradation(contrast=0.35),
    Degradation(jpeg_quality=30),
    Degradation(angle=15, blur=0.8, contrast=0.5, jpeg_quality=50),
)


def place(
    symbol: Image.Image,
    degradation: Degradation = CLEAN,
    *,
    size: tuple[int, int] = (1280, 720),
    at: tuple[int, int] | None = None,
) -> Image.Image:
    """The symbol on a white frame of `size`, degraded. Never scales the symbol up or down."""
    tile = symbol.convert("L")
    if degradation.angle:
        tile = tile.rotate(degradation.angle, resample=Image.Resampling.BILINEAR,
                           expand=True, fillcolor=255)  # fmt: skip
    frame = Image.new("L", size, 255)
    if at is None:
        at = ((size[0] - tile.width) // 2, (size[1] - tile.height) // 2)
    frame.paste(tile, at)
    if degradation.blur:
        frame = frame.filter(ImageFilter.GaussianBlur(degradation.blur))
    if degradation.contrast != 1.0:
        c = degradation.contrast
        frame = frame.point(lambda v: int(128 + (v - 128) * c))
    if degradation.jpeg_quality is not None:
        buffer = io.BytesIO()
        frame.save(buffer, format="JPEG", quality=degradation.jpeg_quality)
        frame = Image.open(io.BytesIO(buffer.getvalue()))
        frame.load()
        frame = frame.convert("L")
    return frame
