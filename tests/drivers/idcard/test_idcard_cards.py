"""Text block decoding for the four layouts, the §7.1 vector, SAM id, appended addresses.

Reference: /work/shared/reference/idcard-protocol.md §2.1, §2.4, §3, §7.1. Expected bytes are
written out from the reference, never produced by the code under test.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

import pytest

from drivers.idcard.cards import (
    card_from_json,
    decode_appended_addresses,
    decode_text_block,
    encode_appended_addresses,
    encode_text_block,
    format_sam_id,
    synthetic_photo,
)
from drivers.idcard.errors import CardDecodeError, FrameError
from drivers.idcard.layouts import LAYOUTS
from drivers.idcard.reading import CardRead, CardType, Sex

PHOTO = bytes.fromhex("57 4C 66 00 7E 00 32 00 00 FF 85") + bytes(1013)
SPACE = b"\x20\x00"

# §7.1: the synthetic base message.
ZHANG_SAN: dict[str, Any] = {
    "card_type": "resident", "name": "张三", "sex": "2", "nation_code": "01",
    "birth_date": "19491231", "address": "北京市朝阳区测试路1号", "id_number": "11010519491231002X",
    "authority": "北京市公安局朝阳分局", "valid_from": "20200101", "valid_until": "长期",
}  # fmt: skip
HK_PERMIT: dict[str, Any] = {
    "card_type": "hk_mo_tw_residence", "name": "陈测试", "sex": "1", "birth_date": "19900520",
    "address": "广东省深圳市福田区测试路88号", "id_number": "810000199005200039",
    "authority": "测试市公安局", "valid_from": "20240301", "valid_until": "20290301",
    "pass_number": "H12345678", "issue_count": 1,
}  # fmt: skip
FOREIGN_2017: dict[str, Any] = {
    "card_type": "foreign_permanent", "card_version": "2017", "name_en": "VAN DER TEST  ANNA MARIA",
    "name": "测试安娜", "sex": "2", "id_number": "NLD310080010112", "nationality": "NLD",
    "birth_date": "19800101", "valid_from": "20190601", "valid_until": "20290601",
    "card_version_code": "01", "authority": "3100",
}  # fmt: skip
LONG_NAME = "TESTMAN ALEXANDER MAXIMILIAN JOHANNES ORTEGA"  # 44 chars: spans both areas
FOREIGN_2023: dict[str, Any] = {
    "card_type": "foreign_permanent", "card_version": "2023", "name": "测试亚历山大",
    "name_en": LONG_NAME, "sex": "1", "issue_count": 0, "birth_date": "19850704",
    "id_number": "931840198507040037", "nationality": "USA", "valid_from": "20231201",
    "valid_until": "20331201", "previous_number_link": "001",
}  # fmt: skip


def ucs2(text: str) -> bytes:
    return text.encode("utf-16-le")


def decode(fields: dict[str, Any], **kwargs: Any) -> CardRead:
    return decode_text_block(encode_text_block(fields), PHOTO, **kwargs)


def patched(block: bytes, offset: int, data: bytes) -> bytes:
    return block[:offset] + data + block[offset + len(data) :]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_tiles_the_block_exactly(layout: str) -> None:
    position = 0
    for _, offset, chars in sorted(LAYOUTS[layout], key=lambda f: f[1]):
        assert offset == position
        position += 2 * chars
    assert position == 256


def test_reference_vector_first_64_text_bytes() -> None:
    expected = (
        bytes.fromhex("20 5F 09 4E") + SPACE * 13  # 张三 + 13 spaces
        + bytes.fromhex("32 00 30 00 31 00")  # sex "2", nation "01"
        + bytes.fromhex("31 00 39 00 34 00 39 00 31 00 32 00 33 00 31 00")  # 19491231
        + bytes.fromhex("17 53 AC 4E 02 5E 1D 67 33 96 3A 53")  # 北京市朝阳区
    )  # fmt: skip
    assert encode_text_block(ZHANG_SAN)[:64] == expected


def test_reference_vector_whole_frame_checksum_and_hash() -> None:
    text = encode_text_block(ZHANG_SAN)
    assert text[204:220] == bytes.fromhex("7F 95 1F 67") + SPACE * 6  # 长期 + 6 spaces
    assert text[220:256] == SPACE * 18
    body = bytes.fromhex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00") + text + PHOTO
    checksum = 0
    for byte in body[5:]:
        checksum ^= byte
    frame = body + bytes([checksum])
    assert checksum == 0x79
    assert len(frame) == 1295
    assert (
        hashlib.sha256(frame).hexdigest()
        == "d3ebfefb8f82f36be8669eea93d3f4e4e83352519da77da2b616ad7c4f99a497"
    )


def test_reference_vector_decodes() -> None:
    card = decode(ZHANG_SAN, sam_id="05.01-20101117-0001234567-3000000000")
    assert card.card_type is CardType.RESIDENT
    assert (card.name, card.sex, card.nation_code, card.nation) == ("张三", Sex.FEMALE, "01", "汉")
    assert card.nationality == "CHN" and card.name_en is None and card.card_version is None
    assert card.birth_date == date(1949, 12, 31)
    assert card.address == "北京市朝阳区测试路1号"
    assert card.authority == "北京市公安局朝阳分局"
    assert card.id_number == "11010519491231002X"
    assert card.id_number_valid is True and card.id_number_issues == ()
    assert card.valid_from == date(2020, 1, 1)
    assert card.long_term is True and card.valid_until is None
    assert card.text_block == encode_text_block(ZHANG_SAN) and card.photo_wlt == PHOTO
    assert card.extra == {} and card.sam_id == "05.01-20101117-0001234567-3000000000"


def test_nul_discriminator_is_a_resident_card() -> None:
    block = patched(encode_text_block(ZHANG_SAN), 248, b"\x00\x00")
    assert decode_text_block(block, PHOTO).card_type is CardType.RESIDENT


def test_unknown_discriminator_is_refused() -> None:
    block = patched(encode_text_block(ZHANG_SAN), 248, ucs2("Q"))
    with pytest.raises(CardDecodeError, match=r"card_type: .* got 'Q'"):
        decode_text_block(block, PHOTO)


def test_trailing_padding_only_is_trimmed() -> None:
    block = patched(encode_text_block(ZHANG_SAN), 52, ucs2("  测试 路 1号") + b"\x00\x00" * 3)
    assert decode_text_block(block, PHOTO).address == "  测试 路 1号"


def test_english_name_keeps_inner_spaces() -> None:
    card = decode(FOREIGN_2017)
    assert card.name_en == "VAN DER TEST  ANNA MARIA"


@pytest.mark.parametrize(("code", "sex"), [("0", Sex.UNKNOWN), ("9", Sex.UNSPECIFIED)])
def test_sex_codes_0_and_9_stay_distinct(code: str, sex: Sex) -> None:
    card = decode({**ZHANG_SAN, "sex": code})
    assert card.sex is sex and card.sex is not Sex.FEMALE
    assert card.id_number_valid is True  # nothing for the number to contradict


@pytest.mark.parametrize("code", ["3", "5", "M", " ", "男"])
def test_invalid_sex_code_names_the_field(code: str) -> None:
    with pytest.raises(CardDecodeError, match=r"^sex: expected one of 0, 1, 2, 9"):
        decode({**ZHANG_SAN, "sex": code})


@pytest.mark.parametrize(
    "value", ["19491332", "19490229", "1949123", "００００００００", "长期", ""]
)
def test_invalid_birth_date_names_the_field(value: str) -> None:
    with pytest.raises(CardDecodeError) as info:
        decode({**ZHANG_SAN, "birth_date": value})
    assert str(info.value) == f"birth_date: expected YYYYMMDD, got {value!r}"


@pytest.mark.parametrize("field", ["valid_from", "valid_until"])
def test_invalid_validity_dates_name_the_field(field: str) -> None:
    with pytest.raises(CardDecodeError, match=f"^{field}: expected YYYYMMDD, got '2020013A'"):
        decode({**ZHANG_SAN, field: "2020013A"})


def test_valid_until_as_date() -> None:
    card = decode({**ZHANG_SAN, "valid_until": "20400101"})
    assert card.valid_until == date(2040, 1, 1) and card.long_term is False


@pytest.mark.parametrize(
    ("changes", "issues"),
    [
        ({"id_number": "110105194912310021"}, ("check_digit",)),
        ({"birth_date": "19491230"}, ("birth_date",)),
        ({"sex": "1"}, ("sex",)),
        ({"id_number": "11010519491231002"}, ("format",)),
    ],
)
def test_id_number_issues_are_reported_not_raised(
    changes: dict[str, str], issues: tuple[str, ...]
) -> None:
    card = decode({**ZHANG_SAN, **changes})
    assert card.id_number_valid is False and card.id_number_issues == issues


def test_unknown_nation_code_keeps_code_without_guessing() -> None:
    card = decode({**ZHANG_SAN, "nation_code": "77"})
    assert card.nation_code == "77" and card.nation is None


@pytest.mark.parametrize(
    ("data", "size", "what"), [(bytes(255), 1024, "text_block"), (bytes(256), 1023, "photo")]
)
def test_wrong_sizes_say_expected_and_got(data: bytes, size: int, what: str) -> None:
    text = data if what == "text_block" else encode_text_block(ZHANG_SAN)
    with pytest.raises(CardDecodeError, match=f"^{what}: expected \\d+ bytes, got \\d+"):
        decode_text_block(text, bytes(size))


def test_hk_permit() -> None:
    card = decode(HK_PERMIT)
    assert card.card_type is CardType.HK_MO_TW_RESIDENCE and card.card_version is None
    assert card.nationality is None and card.nation_code is None and card.nation is None
    assert (card.pass_number, card.issue_count) == ("H12345678", 1)
    assert card.id_number_valid is True and card.address == "广东省深圳市福田区测试路88号"
    assert card.text_block[220:242] == ucs2("H12345678") + ucs2("01")


def test_foreign_2017_card() -> None:
    card = decode(FOREIGN_2017)
    assert card.card_type is CardType.FOREIGN_PERMANENT and card.card_version == "2017"
    assert (card.name, card.nationality, card.sex) == ("测试安娜", "NLD", Sex.FEMALE)
    assert card.id_number == "NLD310080010112"
    assert card.id_number_valid is None and card.id_number_issues == ()
    assert card.address is None and card.authority == "3100"
    assert card.extra == {"card_version_code": "01", "accepting_authority_code": "3100"}
    assert card.birth_date == date(1980, 1, 1)


def test_foreign_2023_card_joins_the_english_name() -> None:
    card = decode(FOREIGN_2023)
    assert card.text_block[52:122] == ucs2(LONG_NAME[:35])
    assert card.text_block[220:242] == ucs2(LONG_NAME[35:]) + SPACE * 2
    assert card.name_en == LONG_NAME
    assert card.card_type is CardType.FOREIGN_PERMANENT and card.card_version == "2023"
    assert (card.name, card.nationality, card.issue_count) == ("测试亚历山大", "USA", 0)
    assert card.id_number_valid is True and card.authority is None and card.address is None
    assert card.extra == {"previous_number_link": "001"}


def test_foreign_2023_space_at_the_split_survives() -> None:
    name = "A" * 34 + " " + "B" * 5  # the 35th char, last of the first area, is a space
    assert decode({**FOREIGN_2023, "name_en": name}).name_en == name


def test_foreign_2023_short_name() -> None:
    assert decode({**FOREIGN_2023, "name_en": "TEST ANNA"}).name_en == "TEST ANNA"


def test_non_blank_reserved_area_kept_as_hex() -> None:
    block = patched(encode_text_block(ZHANG_SAN), 220, ucs2("AB"))
    card = decode_text_block(block, PHOTO)
    assert card.extra == {"reserved_220_hex": (ucs2("AB") + SPACE * 16).hex()}


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"\x00\xd8", "not UCS-2"), (b"\x07\x00", "control character U+0007"),
     (b"\x00\x00", "control character U+0000")],
)  # fmt: skip
def test_surrogates_and_inner_control_characters_are_refused(raw: bytes, message: str) -> None:
    block = patched(encode_text_block(ZHANG_SAN), 0, ucs2("张") + raw + ucs2("三"))
    with pytest.raises(CardDecodeError, match=f"^name: {re.escape(message)}"):
        decode_text_block(block, PHOTO)


def test_json_round_trip_re_decodes_the_block() -> None:
    for fields in (ZHANG_SAN, HK_PERMIT, FOREIGN_2017, FOREIGN_2023):
        card = decode(fields, fingerprint=b"\x01" * 512, appended_addresses=("测试新址",))
        assert card_from_json(card.to_json()) == card


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "测" * 16}, "name: at most 15 chars, got 16"),
        ({"address": "x" * 36}, "address: at most 35 chars"),
        ({"name": "测\U00020000"}, "outside the BMP"),
        ({"pass_number": "H1"}, "fields not on a resident card: pass_number"),
        ({"card_type": "passport"}, "card_type/card_version"),
        ({"card_version": "2017"}, "card_type/card_version"),
        ({"issue_count": 1}, "fields not on a resident card: issue_count"),
    ],
)
def test_encode_refuses_rather_than_truncates(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_text_block({**ZHANG_SAN, **changes})


@pytest.mark.parametrize("count", [-1, 100])
def test_encode_issue_count_range(count: int) -> None:
    with pytest.raises(ValueError, match="issue_count"):
        encode_text_block({**HK_PERMIT, "issue_count": count})


def test_encode_y_name_longer_than_both_areas() -> None:
    with pytest.raises(ValueError, match="name_en: at most 46 chars"):
        encode_text_block({**FOREIGN_2023, "name_en": "X" * 47})


def test_sam_id_reference_vector() -> None:
    data = bytes.fromhex("05 00 01 00 FD B7 32 01 87 D6 12 00 00 5E D0 B2")
    assert format_sam_id(data) == "05.01-20101117-0001234567-3000000000"


def test_sam_id_extremes_are_unsigned_and_padded() -> None:
    assert format_sam_id(bytes(16)) == "00.00-00000000-0000000000-0000000000"
    assert format_sam_id(b"\xff" * 16) == "65535.65535-4294967295-4294967295-4294967295"


@pytest.mark.parametrize("size", [0, 15, 17])
def test_sam_id_wrong_size(size: int) -> None:
    with pytest.raises(FrameError, match=f"sam_id: expected 16 bytes, got {size}"):
        format_sam_id(bytes(size))


def test_appended_addresses() -> None:
    entry = ucs2("四川省成都市测试大道99号") + SPACE * 22
    blank = SPACE * 35
    assert decode_appended_addresses(b"") == ()
    assert decode_appended_addresses(entry) == ("四川省成都市测试大道99号",)
    assert decode_appended_addresses(blank + entry + bytes(70) + entry) == (
        "四川省成都市测试大道99号",
        "四川省成都市测试大道99号",
    )


def test_appended_addresses_of_odd_sizes_are_read_as_sdtapi_does() -> None:
    entry = ucs2("测试路3号") + SPACE * 30
    # A short last entry is still text; beyond four entries (280 bytes) is ignored; an odd
    # trailing byte cannot be UCS-2.
    assert decode_appended_addresses(entry + ucs2("测试路4号")) == ("测试路3号", "测试路4号")
    assert decode_appended_addresses(entry * 5) == ("测试路3号",) * 4
    assert decode_appended_addresses(entry + b"\x20") == ("测试路3号",)


def test_appended_addresses_round_trip_and_current_address() -> None:
    addresses = ("测试路1号", "测试路 2 号")
    data = encode_appended_addresses(addresses)
    assert len(data) == 140 and decode_appended_addresses(data) == addresses
    card = decode(ZHANG_SAN, appended_addresses=decode_appended_addresses(data))
    assert card.current_address == "测试路 2 号"
    with pytest.raises(ValueError, match="at most 4"):
        encode_appended_addresses(["测试"] * 5)


def test_synthetic_photo() -> None:
    assert synthetic_photo() == PHOTO
    photos = {synthetic_photo(seed) for seed in (None, "", "a", "b", 1, "测试甲")}
    assert len(photos) == 6
    assert all(len(p) == 1024 and p.startswith(PHOTO[:11]) for p in photos)
