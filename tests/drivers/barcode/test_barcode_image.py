"""Real decoding of generated symbols, clean and degraded, with both backends."""

from __future__ import annotations

import io
from functools import cache

import barcode
import pytest
import segno
from barcode.writer import ImageWriter
from PIL import Image

from drivers.barcode import backends, synth
from drivers.barcode.interpret import classify

pytest.importorskip("zxingcpp")


def segno_qr(text: str, encoding: str) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(text, encoding=encoding, error="m", micro=False).save(buffer, kind="png", scale=6)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def linear(kind: str, digits: str) -> Image.Image:
    buffer = io.BytesIO()
    options = {"write_text": False, "module_width": 0.25, "module_height": 15}
    barcode.get(kind, digits, writer=ImageWriter()).write(buffer, options=options)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


# name -> (renderer, expected text). GBK QR carries no ECI: our GB18030 fallback must decode it.
SYMBOLS = {
    "qr-utf8": (lambda: segno_qr("住客 张三 302 https://example.org", "utf-8"),
                "住客 张三 302 https://example.org"),
    "qr-gbk": (lambda: segno_qr("住客 张三 302", "gbk"), "住客 张三 302"),
    "code128": (lambda: linear("code128", "BK-2026-0042"), "BK-2026-0042"),
    "ean13": (lambda: linear("ean13", "400638133393"), "4006381333931"),
    "pdf417": (lambda: synth.render("pdf417", "张三 PDF417 住宿登记", scale=3),
               "张三 PDF417 住宿登记"),
    "datamatrix": (lambda: synth.render("datamatrix", "李四 DM 0042", scale=6), "李四 DM 0042"),
}  # fmt: skip
# zbar has no PDF417 or Data Matrix decoder; zxing-cpp does not read PDF417 skewed by 7°+
# (its detector wants rows near horizontal). Everything else must decode.
NOT_SUPPORTED = {
    ("pyzbar", "pdf417"), ("pyzbar", "datamatrix"),
    ("zxing", "pdf417", "rot7"), ("zxing", "pdf417", "rot15+blur0.8+contrast0.5+jpeg50"),
}  # fmt: skip


@cache
def symbol(name: str) -> Image.Image:
    return SYMBOLS[name][0]()


def cases() -> list[tuple[str, str, synth.Degradation]]:
    out = []
    for backend in backends.BACKENDS:
        for name in SYMBOLS:
            for degradation in synth.DEGRADATIONS:
                if (backend, name) in NOT_SUPPORTED:
                    continue
                if (backend, name, degradation.name) in NOT_SUPPORTED:
                    continue
                out.append((backend, name, degradation))
    return out


@pytest.mark.parametrize(
    ("backend", "name", "degradation"), cases(), ids=lambda v: getattr(v, "name", v)
)
def test_decodes_for_real(backend, name, degradation):
    frame = synth.place(symbol(name), degradation)
    assert frame.size == (1280, 720)
    found = backends.decode(frame, backend)
    assert [d.text for d in found] == [SYMBOLS[name][1]]


def test_gbk_qr_bytes_are_raw_and_decoded_by_our_fallback():
    for backend in backends.BACKENDS:
        (found,) = backends.decode(synth.place(symbol("qr-gbk")), backend)
        assert found.raw == "住客 张三 302".encode("gbk")
        assert found.encoding == "gb18030"
        assert found.symbology == "qr"


def test_zbar_cannot_read_pdf417_or_datamatrix():
    for name in ("pdf417", "datamatrix"):
        assert backends.decode(synth.place(symbol(name)), "pyzbar") == []


def test_several_symbols_in_one_frame_top_left_first():
    frame = Image.new("L", (1280, 720), 255)
    frame.paste(symbol("code128"), (700, 400))
    frame.paste(symbol("qr-utf8"), (40, 40))
    for backend in backends.BACKENDS:
        assert [d.symbology for d in backends.decode(frame, backend)] == ["qr", "code128"]


def test_mrz_in_a_qr_classifies_as_mrz():
    from drivers.barcode.mrzbuild import MrzFields, td3

    text = td3(MrzFields(expiry_date="300101"))
    (found,) = backends.decode(synth.place(synth.render("qr", text)), "zxing")
    scan = classify(found.raw)
    assert scan.kind == "mrz" and scan.mrz is not None and scan.mrz.valid


def test_empty_frame_and_unknown_backend():
    assert backends.decode(Image.new("L", (1280, 720), 255), "pyzbar") == []
    assert backends.available("pyzbar") and backends.available("zxing")
    with pytest.raises(ValueError, match="backend"):
        backends.decode(Image.new("L", (8, 8)), "opencv")


@pytest.mark.parametrize(
    ("text", "encoding", "eci", "zxing_encoding"),
    [("Анна \\ Пушкина", "iso-8859-5", True, "eci7:iso-8859-5"),
     ("テスト", "shift_jis", True, "eci20:shift_jis"),
     ("张三 \\ 302", "utf-8", True, "eci26:utf-8"),
     ("张三 \\ 302", "gbk", False, "gb18030")],
)
def test_a_declared_eci_wins_over_our_order(text, encoding, eci, zxing_encoding):
    buffer = io.BytesIO()
    segno.make(text, encoding=encoding, eci=eci, micro=False, mode="byte").save(
        buffer, kind="png", scale=6
    )
    frame = synth.place(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    (zx,) = backends.decode(frame, "zxing")
    assert (zx.text, zx.encoding) == (text, zxing_encoding)
    assert zx.raw == text.encode(encoding)
    (zb,) = backends.decode(frame, "pyzbar")  # zbar converts ECI data to UTF-8 itself
    assert zb.text == text


def test_hex_eci_stream_parsing():
    assert backends._with_eci(b"]Q1a\\b") == (b"a\\b", "a\\b", "utf-8")
    raw, text, encoding = backends._with_eci(b"]Q2\\000007\xb0\\\\\\000026\xc3\xa9")
    assert (raw, text, encoding) == (b"\xb0\\\xc3\xa9", "А\\é", "eci7:iso-8859-5+eci26:utf-8")
