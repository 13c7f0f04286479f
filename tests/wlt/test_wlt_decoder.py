"""The optional WLT photo decoder adapter, exercised with our own fake decoder library
(tests/wlt/fake_decoder.py, compiled at test time; skipped where gcc is missing)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from drivers.idcard.cards import synthetic_photo
from tests.wlt.fake_decoder import LICENCE, build_fake_decoder, wlt_block
from wlt.decoder import (
    BMP_SIZE,
    PhotoDecoderConfig,
    PhotoResult,
    WltDecoder,
    bmp_to_png,
    decode_photo,
    looks_like_wlt,
)
from wlt.errors import PhotoDecoderError


@pytest.fixture(scope="module")
def fake_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_decoder(tmp_path_factory.mktemp("fake_wlt"))


def config(library: Path, function: str = "unpack", code: int = LICENCE) -> PhotoDecoderConfig:
    return PhotoDecoderConfig(library_path=str(library), licence_code=code, function=function)


def test_looks_like_wlt() -> None:
    assert looks_like_wlt(synthetic_photo())
    assert looks_like_wlt(synthetic_photo("测试甲"))  # the simulator's cards
    assert looks_like_wlt(wlt_block("甲")) and wlt_block("甲") != wlt_block("乙")  # tests' blocks
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
