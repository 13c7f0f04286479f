"""Scan classification and byte decoding."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from drivers.barcode.interpret import Rules, classify, decode_bytes
from drivers.barcode.mrzbuild import MrzFields, td3

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("raw", "charset", "text", "encoding"),
    [
        ("张三 住 302".encode(), None, "张三 住 302", "utf-8"),
        ("张三 住 302".encode("gbk"), None, "张三 住 302", "gb18030"),
        ("𠀀".encode("gb18030"), None, "𠀀", "gb18030"),
        ("Ωmega".encode("iso-8859-7"), "iso-8859-7", "Ωmega", "iso-8859-7"),
        ("张三".encode("gbk"), "no-such-charset", "张三", "gb18030"),
        (b"\xef\xbb\xbfBOM", None, "BOM", "utf-8"),
        (b"\xff\xff\xff", None, "\ufffd\ufffd\ufffd", "utf-8-replace"),
    ],
)
def test_decode_bytes(raw, charset, text, encoding):
    assert decode_bytes(raw, charset) == (text, encoding)


def test_mrz_scan():
    scan = classify(td3(MrzFields(expiry_date="300101")).encode() + b"\r\n", today=TODAY)
    assert scan.kind == "mrz" and scan.mrz is not None and scan.mrz.valid
    assert scan.to_json()["mrz"]["guest"]["surname"] == "ERIKSSON"


def test_url_and_netid_host():
    assert classify("https://Example.org/b?x=1").kind == "url"
    assert classify("https://example.org/b").details["host"] == "example.org"
    rules = Rules(netid_hosts=("id.example.cn",))
    scan = classify(b"https://v.id.example.cn/q?c=abc", rules=rules)
    assert scan.kind == "netid" and scan.needs_online_verification


def test_netid_payload_is_attached_opaque_and_not_verified():
    raw = b"CTID" + bytes(range(200, 256))
    scan = classify(raw)
    assert scan.kind == "netid"
    assert base64.b64decode(scan.payload_b64) == raw
    assert scan.needs_online_verification
    assert "unverified" in scan.note
    assert scan.to_json()["needs_online_verification"] is True


@pytest.mark.parametrize(
    ("text", "kind"),
    [("BK-2026-11-28-0042", "booking"), ("abc123xyz", "booking"), ("HELLO", "unknown"),
     ("张三", "unknown"), ("", "unknown"), ("12", "unknown")],
)
def test_booking_and_unknown(text, kind):
    assert classify(text).kind == kind


def test_permit_scan_is_prefill_only():
    scan = classify("CSH12345678<" + "<" * 18 + "\n" + "<" * 30 + "\nWANG<<WU" + "<" * 22)
    assert scan.kind == "mrz" and scan.mrz is not None and not scan.mrz.verified
    assert "prefill only" in scan.note


def test_mrz_sized_text_that_is_not_an_mrz():
    url = "https://example.org/" + "a" * 68
    assert len(url) == 88 and classify(url).kind == "url"
    assert classify("A1" * 45).kind == "unknown"  # 90 MRZ characters, but no filler at all


@pytest.mark.parametrize(
    ("raw", "uncertain", "also"),
    [
        ("予約 こんにちは".encode("shift_jis"), True, ["shift_jis"]),  # GB18030 reads it as 梊栺…
        ("臺灣".encode("big5"), True, ["shift_jis", "big5"]),
        (b"\xff\xfe\xfd", True, []),  # valid in nothing we know
        ("张三 北京 302".encode("gbk"), False, None),  # everyday Chinese: GB2312's area
        ("王喆 302".encode("gbk"), False, None),  # a GBK-only name character, not Shift_JIS
        ("こんにちは".encode(), False, None),  # UTF-8 is never in doubt
    ],
)
def test_uncertain_encodings_are_flagged_not_guessed(raw, uncertain, also):
    scan = classify(raw)
    assert scan.encoding_uncertain is uncertain
    assert scan.details.get("also_decodes_as") == also
    if uncertain:
        assert scan.kind == "unknown" and "uncertain" in scan.note
    # A declared charset is never doubted.
    assert not classify(raw, eci_charset="shift_jis").encoding_uncertain or raw == b"\xff\xfe\xfd"


@pytest.mark.parametrize(
    ("text", "symbology", "kind"),
    [("4006381333931", None, "product"), ("4006381333931", "ean13", "product"),
     ("96385074", "ean8", "product"), ("4006381333932", None, "booking"),  # bad GS1 check
     ("4006381333931", "code128", "booking"), ("40063813", None, "booking")],
)
def test_product_codes_are_not_bookings(text, symbology, kind):
    assert classify(text.encode(), symbology=symbology).kind == kind
