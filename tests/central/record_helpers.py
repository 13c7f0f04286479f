"""A registration carrying every field a terminal sends (the wire JSON of terminal/domain's
Guest and Document), for the stay page, the API, the export and the bench: an adult with a
resident card, a minor with a contacted guardian whose expired card was let through with a
reason, a wrong check character, a foreign companion with a passport and visa added later."""

from __future__ import annotations

from typing import Any

from sync.protocol import WireEvent
from tests.central.police_helpers import id_number
from tests.sync.wire_helpers import EventChain, new_id

GUARDIAN = {"name": "张大山", "phone": "13800138000", "relationship": "parent", "contacted": True}
OVERRIDE_REASON = "家长电话确认身份"


def adult(name: str, number: str | None = None) -> dict[str, Any]:
    return {
        "guest_id": new_id(),
        "role": "main",
        "name": name,
        "sex": "male",
        "birth_date": "1985-03-07",
        "nationality": "CHN",
        "nation_code": "03",
        "address": "广东省广州市天河区体育西路1号",
        "phone": "13900139000",
        "document": {
            "type_code": "11",
            "number": number or id_number(birth="19850307"),
            "source": "card",
            "issuing_country": "CHN",
            "issuing_authority": "广州市公安局天河分局",
            "valid_from": "2015-06-01",
            "valid_until": "2035-06-01",
            "long_term": False,
        },
    }


def minor(name: str, number: str) -> dict[str, Any]:
    """A 15-year-old alone, guardian reached by phone, card expired, check character wrong."""
    return {
        "guest_id": new_id(),
        "role": "companion",
        "name": name,
        "sex": "female",
        "birth_date": "2011-08-20",
        "nationality": "CHN",
        "nation_code": "01",
        "address": "湖南省长沙市岳麓区麓山南路2号",
        "relationship": "parent",
        "guardian": dict(GUARDIAN),
        "document": {
            "type_code": "11",
            "number": number,
            "source": "manual",
            "manual_reason": "卡片损坏无法读取",
            "issuing_country": "CHN",
            "issuing_authority": "长沙市公安局岳麓分局",
            "valid_from": "2016-01-01",
            "valid_until": "2021-01-01",
        },
    }


def foreigner(name: str = "", surname: str = "MÜLLER", given: str = "ANNA MARIA") -> dict[str, Any]:
    return {
        "guest_id": new_id(),
        "role": "companion",
        "name": name,
        "surname_en": surname,
        "given_names_en": given,
        "sex": "female",
        "birth_date": "1992-11-30",
        "nationality": "DEU",
        "document": {
            "type_code": "14",
            "number": "C01X00T47",
            "source": "scan",
            "issuing_country": "DEU",
            "valid_until": "2031-02-01",
            "visa": {
                "visa_type": "L",
                "visa_number": "V12345678",
                "stay_until": "2027-01-15",
                "entry_date": "2026-11-30",
                "entry_port": "广州白云机场",
            },
            "mrz": {
                "format": "TD3",
                "lines": ["P<D<<MULLER<<ANNA<MARIA", "C01"],
                "verified": True,
                "checks_passed": ["document_number"],
                "problems": [],
            },
        },
    }


def finding(code: str, severity: str, message_zh: str, guest_id: str | None) -> dict[str, Any]:
    return {
        "code": code,
        "severity": severity,
        "field": "",
        "guest_id": guest_id,
        "message": code,
        "message_zh": message_zh,
    }


def full_stay(
    chain: EventChain,
    main_name: str,
    minor_name: str,
    room: str = "303",
    main_number: str | None = None,
    photo_b64: str | None = None,
) -> tuple[list[WireEvent], dict[str, Any]]:
    """check_in (adult + minor, two findings, one override), add_guest (foreigner), amend
    (room 303 -> 306), and a check-out of the foreigner alone. Returns the events and the
    guests by role name."""
    grown = adult(main_name, main_number)
    if photo_b64:  # the card's WLT photo, as a terminal sends it
        grown["document"]["card"] = {"photo_wlt_b64": photo_b64}
    wrong = id_number(birth="20110820")
    wrong = wrong[:17] + ("0" if wrong[17] != "0" else "1")  # a wrong check character
    child = minor(minor_name, wrong)
    child["accompanied_by"] = None
    findings = [
        finding("document.expired", "block", "证件已于 2021-01-01 过期。", child["guest_id"]),
        finding("document.id_check_digit", "warn", "身份证号码校验位错误。", child["guest_id"]),
    ]
    overrides = [
        {"code": "document.expired", "guest_id": child["guest_id"], "reason": OVERRIDE_REASON}
    ]
    first = chain.event(
        "check_in",
        new_id(),
        {
            "room": room,
            "expected_check_out": None,
            "guests": [grown, child],
            "findings": findings,
            "overrides": overrides,
            "code_tables": {"document_types": "2024.1"},
        },
        operator="0007",
    )
    guest = foreigner()
    added = chain.event(
        "add_guest",
        first.stay_id,
        {"guest": guest, "findings": [], "overrides": []},
        operator="0007",
    )
    amend = chain.event(
        "amend",
        first.stay_id,
        {"field": "room", "old": room, "new": "306", "reason": "登记错房号"},
        target_event_id=first.event_id,
        operator="0009",
    )
    amend_guest = chain.event(
        "amend",
        first.stay_id,
        {
            "field": f"guest.{grown['guest_id']}.phone",
            "old": "13900139000",
            "new": "13900139001",
            "reason": "旅客更正电话",
        },
        target_event_id=first.event_id,
        operator="0009",
    )
    out = chain.event(
        "check_out", first.stay_id, {"guest_ids": [guest["guest_id"]]}, operator="0007"
    )
    return [first, added, amend, amend_guest, out], {
        "adult": grown,
        "minor": child,
        "foreigner": guest,
    }
