"""The optional WLT photo decoder adapter, exercised with our own fake decoder library.

No vendor decoder is used or shipped: the C source below is a stand-in compiled at test time
that writes a synthetic 102 x 126 BMP, so the ctypes path, buffer handling and BMP checks run
for real. Skipped where gcc is missing.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from drivers.idcard.cards import synthetic_photo
from drivers.idcard.errors import PhotoDecoderError
from drivers.idcard.photo import (
    BMP_SIZE,
    PhotoDecoderConfig,
    PhotoResult,
    WltDecoder,
    bmp_to_png,
    decode_photo,
    looks_like_wlt,
)

LICENCE = 602  # the fake decoder's "licence constant"

FAKE_DECODER_C = r"""
#include <string.h>

static void put16(unsigned char *p, unsigned v) { p[0] = v & 255; p[1] = (v >> 8) & 255; }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 65535); put16(p + 2, v >> 16); }

static void write_bmp(const unsigned char *src, unsigned char *d, int width, int bpp) {
    memset(d, 0, 38862);
    d[0] = 'B'; d[1] = 'M';
    put32(d + 2, 38862); put32(d + 10, 54); put32(d + 14, 40);
    put32(d + 18, (unsigned)width); put32(d + 22, 126);
    put16(d + 26, 1); put16(d + 28, (unsigned)bpp);
    put32(d + 34, 38808);
    /* Bottom-up rows of 308 bytes, BGR: the colour depends on the source so tests can tell. */
    for (int row = 0; row < 126; row++)
        for (int x = 0; x < 102; x++) {
            unsigned char *px = d + 54 + row * 308 + x * 3;
            px[0] = src[11]; px[1] = (unsigned char)row; px[2] = 200;
        }
}

int unpack(char *src, char *dst, int code) {
    if (code != 602) return 0;
    write_bmp((const unsigned char *)src, (unsigned char *)dst, 102, 24);
    return 1;
}

/* Writes well past 38862 bytes, as vendor decoders are known to. */
int unpack_overflowing(char *src, char *dst, int code) {
    int rc = unpack(src, dst, code);
    memset(dst + 38862, 0xAB, 60000 - 38862);
    return rc;
}

int unpack_wrong_size(char *src, char *dst, int code) {
    write_bmp((const unsigned char *)src, (unsigned char *)dst, 100, 24);
    return code == 602;
}

int unpack_raw_bgr(char *src, char *dst, int code) {
    memset(dst, 0x7F, 38556);
    return code == 602;
}

int unpack_failing(char *src, char *dst, int code) { return -5; }
"""


@pytest.fixture(scope="module")
def fake_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the fake decoder")
    directory = tmp_path_factory.mktemp("fake_wlt")
    source = directory / "fake_wlt.c"
    source.write_text(FAKE_DECODER_C)
    library = directory / "libfakewlt.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
    )
    return library


def config(library: Path, function: str = "unpack", code: int = LICENCE) -> PhotoDecoderConfig:
    return PhotoDecoderConfig(library_path=str(library), licence_code=code, function=function)


def test_looks_like_wlt() -> None:
    assert looks_like_wlt(synthetic_photo())
    assert looks_like_wlt(synthetic_photo("测试甲"))
    assert not looks_like_wlt(bytes(1024))
    assert not looks_like_wlt(synthetic_photo()[:1023])
    assert not looks_like_wlt(b"WL" + bytes([0x66, 0, 0x7F, 0]) + bytes(1018))  # height 127
    assert not looks_like_wlt(b"")


def test_not_configured_is_a_result_not_an_error() -> None:
    decoder = WltDecoder(None)
    assert not decoder.configured
    decoder.check()  # nothing to load, nothing fails
    assert decoder.decode(synthetic_photo()) == PhotoResult(status="not_configured")
    assert decode_photo(bytes(1024), None).status == "not_configured"


def test_decodes_to_png_through_a_configured_library(fake_decoder: Path) -> None:
    decoder = WltDecoder(config(fake_decoder))
    decoder.check()
    photo = synthetic_photo()
    result = decoder.decode(photo)
    assert result.status == "decoded" and result.png is not None
    with Image.open(io.BytesIO(result.png)) as image:
        assert image.format == "PNG" and image.size == (102, 126) and image.mode == "RGB"
        # BGR (0x85 from the WLT header byte 11, row, 200) -> RGB; the BMP's last row is the top.
        assert image.getpixel((0, 0)) == (200, 125, photo[11])
        assert image.getpixel((101, 125)) == (200, 0, photo[11])


def test_oversized_writes_land_in_the_spare_buffer(fake_decoder: Path) -> None:
    result = WltDecoder(config(fake_decoder, "unpack_overflowing")).decode(synthetic_photo())
    assert result.status == "decoded"


@pytest.mark.parametrize(
    ("function", "code", "message"),
    [
        ("unpack", 603, "expected 1, returned 0 .*licence code"),
        ("unpack_failing", LICENCE, "expected 1, returned -5"),
        ("unpack_wrong_size", LICENCE, "expected 102 x 126 at 24 bpp, got 100 x 126"),
        ("unpack_raw_bgr", LICENCE, "expected 'BM'"),
    ],
)
def test_decoder_failures_raise(fake_decoder: Path, function: str, code: int, message: str) -> None:
    with pytest.raises(PhotoDecoderError, match=message):
        WltDecoder(config(fake_decoder, function, code)).decode(synthetic_photo())


def test_missing_function(fake_decoder: Path) -> None:
    decoder = WltDecoder(config(fake_decoder, "Wlt2Bmp"))
    with pytest.raises(PhotoDecoderError, match="has no function 'Wlt2Bmp'"):
        decoder.check()


def test_missing_library(tmp_path: Path) -> None:
    with pytest.raises(PhotoDecoderError, match="cannot load"):
        WltDecoder(config(tmp_path / "libabsent.so")).decode(synthetic_photo())


def test_non_wlt_block_never_reaches_the_library(tmp_path: Path) -> None:
    # The library path does not exist: the refusal must come before any loading.
    with pytest.raises(PhotoDecoderError, match="expected a 1024-byte WLT block"):
        WltDecoder(config(tmp_path / "libabsent.so")).decode(bytes(1024))


def test_bmp_to_png_refuses_short_or_odd_output() -> None:
    with pytest.raises(PhotoDecoderError, match="expected a BMP"):
        bmp_to_png(b"BM")
    header = bytearray(BMP_SIZE)
    header[0:2] = b"BM"
    header[18:22] = (102).to_bytes(4, "little")
    header[22:26] = (126).to_bytes(4, "little")
    header[28:30] = (8).to_bytes(2, "little")
    with pytest.raises(PhotoDecoderError, match="at 8 bpp"):
        bmp_to_png(bytes(header))
    header[28:30] = (24).to_bytes(2, "little")  # right shape, but no valid DIB header
    with pytest.raises(PhotoDecoderError, match="unreadable BMP"):
        bmp_to_png(bytes(header))
