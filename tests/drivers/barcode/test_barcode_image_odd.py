"""Symbols the decoders handle oddly: structured append, Shift_JIS text, product codes.

Real images (segno, python-barcode), decoded for real by pyzbar (libzbar0) and zxing-cpp.
"""

from __future__ import annotations

import io

import barcode
import pytest
import segno
from barcode.writer import ImageWriter
from PIL import Image

from drivers.barcode import backends
from drivers.barcode.hub import ScanHub
from drivers.barcode.image import ImageDecoder

pytest.importorskip("pyzbar")
MESSAGE = "BK-2026-0042 " + "ROOM 301 SYNTHETIC GUEST LIST " * 6  # too long for one symbol


def png(qr: segno.QRCode, scale: int = 5) -> Image.Image:
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def row(*images: Image.Image) -> Image.Image:
    frame = Image.new("L", (sum(i.width for i in images) + 20 * len(images) + 20,
                            max(i.height for i in images) + 40), 255)  # fmt: skip
    x = 20
    for image in images:
        frame.paste(image, (x, 20))
        x += image.width + 20
    return frame


def structured_append_frame() -> Image.Image:
    parts = segno.make_sequence(MESSAGE, version=3, error="m")
    assert len(parts) > 1
    # An ordinary booking QR beside the set: it must not be lost with the set.
    return row(*(png(p) for p in parts), png(segno.make("BK-2026-0099", micro=False)))


def test_pyzbar_itself_loses_the_whole_image():
    """The bug we work around is real with the pinned pyzbar and Debian's libzbar0."""
    from pyzbar import pyzbar

    with pytest.raises(ValueError, match="4294967295 is not a valid ZBarOrientation"):
        pyzbar.decode(structured_append_frame())


def test_structured_append_set_is_read_whole_and_keeps_its_neighbour():
    found = backends.decode(structured_append_frame(), "pyzbar")
    assert sorted(d.text for d in found) == sorted([MESSAGE, "BK-2026-0099"])
    assert {d.symbology for d in found} == {"qr"}


def test_structured_append_through_the_worker_and_hub():
    events = []
    hub = ScanHub(events.append, image_backend="pyzbar")
    try:
        buffer = io.BytesIO()
        structured_append_frame().save(buffer, format="PNG")
        submitted = hub.submit_image(buffer.getvalue())
    finally:
        hub.stop()
    assert {e.interpretation.text for e in submitted} == {MESSAGE.strip(), "BK-2026-0099"}
    assert events == submitted


def test_a_lone_part_of_a_set_is_never_taken_for_a_whole_code():
    parts = segno.make_sequence(MESSAGE, version=3, error="m")
    (part,) = backends.decode(row(png(parts[0])), "pyzbar")
    assert part.symbology == "partial" and MESSAGE.startswith(part.text)
    hub = ScanHub(lambda event: None)
    try:
        (event,) = hub.submit_image(row(png(parts[0])))
    finally:
        hub.stop()
    assert event.use == "incomplete"  # not "attach_text": it starts like a booking code
    # zxing-cpp's Python binding reads the part as an ordinary QR (no sequence marker).
    pytest.importorskip("zxingcpp")
    with ImageDecoder("zxing", isolate=False) as decoder:
        assert [d.text for d in decoder.decode(row(png(parts[0])))] != []


SJIS = "予約 こんにちは 301"


@pytest.mark.parametrize("backend", backends.BACKENDS)
@pytest.mark.parametrize("mode", ["byte", "kanji"])
def test_shift_jis_without_eci_is_flagged_not_shown_as_chinese(backend, mode):
    pytest.importorskip("zxingcpp") if backend == "zxing" else None
    content = (
        SJIS.encode("shift_jis") if mode == "byte" else SJIS.replace(" ", "").replace("301", "")
    )
    qr = segno.make(content, micro=False)
    assert qr.mode == mode
    events = []
    hub = ScanHub(events.append, image_backend=backend)
    try:
        (event,) = hub.submit_image(png(qr))
    finally:
        hub.stop()
    meaning = event.interpretation
    assert meaning.encoding_uncertain and event.use == "uncertain_text"
    assert "shift_jis" in meaning.details["also_decodes_as"]
    assert event.to_json()["encoding_uncertain"] is True


def test_shift_jis_with_a_declared_eci_is_trusted():
    pytest.importorskip("zxingcpp")
    qr = segno.make(SJIS, encoding="shift_jis", eci=True, micro=False)
    for backend in backends.BACKENDS:
        hub = ScanHub(lambda event: None, image_backend=backend)
        try:
            (event,) = hub.submit_image(png(qr))
        finally:
            hub.stop()
        assert event.interpretation.text == SJIS and not event.interpretation.encoding_uncertain


def test_gbk_without_eci_is_still_trusted():
    qr = segno.make("住客 张三 北京 302".encode("gbk"), micro=False)
    (found,) = backends.decode(png(qr), "pyzbar")
    hub = ScanHub(lambda event: None)
    try:
        event = hub.submit_raw(found.raw)
    finally:
        hub.stop()
    assert event.interpretation.text == "住客 张三 北京 302"
    assert not event.interpretation.encoding_uncertain


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_product_ean13_is_not_a_booking(backend):
    pytest.importorskip("zxingcpp") if backend == "zxing" else None
    buffer = io.BytesIO()
    barcode.get("ean13", "400638133393", writer=ImageWriter()).write(
        buffer, options={"write_text": False, "module_width": 0.25, "module_height": 15}
    )
    hub = ScanHub(lambda event: None, image_backend=backend)
    try:
        (event,) = hub.submit_image(buffer.getvalue())
    finally:
        hub.stop()
    assert event.interpretation.kind == "product" and event.use == "product"
