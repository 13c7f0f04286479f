from sync.privacy import mask_id_number, mask_name, redact


def test_id_number_keeps_only_ends():
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_id_number("") == ""
    assert mask_id_number("12345") == "*****"


def test_names_masked_after_first_character():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"
    assert mask_name("JOHN SMITH") == "J*** S****"
    assert mask_name("A") == "A*"


def test_redact_masks_nested_personal_keys_only():
    data = {
        "card_type": "resident",
        "name": "张三",
        "guests": [{"id_number": "11010519491231002X", "room": "101"}],
        "meta": {"address": "北京市测试路1号"},
    }
    out = redact(data)
    assert out["card_type"] == "resident"
    assert out["name"] == "张*"
    assert out["guests"][0] == {"id_number": "1101**********002X", "room": "101"}
    assert out["meta"]["address"] == "***"
    assert data["name"] == "张三"  # the original is untouched
