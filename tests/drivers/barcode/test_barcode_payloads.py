"""Scan classification and byte decoding."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from drivers.barcode.mrzbuild import MrzFields, td3
from drivers.barcode.payloads import Rules, classify, decode_bytes

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
