"""Builders for registry tests: card readings, manual documents, a store on disk."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

from drivers.idcard.codes import check_character, id_number_issues
from drivers.idcard.reading import CardRead, CardType, Sex
from sync.protocol import ACCEPTED, EventResult
from terminal.config import DeviceIdentity
from terminal.desk.registry import Registry
from terminal.domain.documents import MANUAL, Document, Visa
from terminal.domain.guests import Guest, guest_from_card
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox
from terminal.system.clock import FixedClock
from terminal.system.ids import new_id

IDENTITY = DeviceIdentity("gz-test-01", "4401040001")
START = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Guangzhou


def id_number(birth: date, sex: Sex = Sex.MALE, serial: int = 1, region: str = "440104") -> str:
    gender_digit = (serial * 2 + (1 if sex is Sex.MALE else 0)) % 10
    body = f"{region}{birth:%Y%m%d}{serial % 100:02d}{gender_digit}"
    return body + check_character(body)


def card(
    name: str = "张三",
    *,
    birth: date = date(1990, 5, 17),
    sex: Sex = Sex.MALE,
    number: str | None = None,
    serial: int = 1,
    valid_until: date | None = date(2035, 1, 1),
) -> CardRead:
    number = number or id_number(birth, sex, serial)
    photo = hashlib.sha256(number.encode()).digest() * 32  # 1024 bytes, stands in for WLT
    return CardRead(
        card_type=CardType.RESIDENT, card_version=None, name=name, name_en=None, sex=sex,
        nation_code="01", nation="汉", nationality="CHN", birth_date=birth,
        address="广东省广州市越秀区某路1号", id_number=number,
        id_number_valid=not id_number_issues(number, birth, sex),
        id_number_issues=id_number_issues(number, birth, sex), authority="广州市公安局越秀分局",
        valid_from=date(2015, 1, 1), valid_until=valid_until, long_term=valid_until is None,
        pass_number=None, issue_count=None, text_block=b"\x00" * 256, photo_wlt=photo,
    )


def card_guest(role: str = "main", **kwargs: object) -> Guest:
    return guest_from_card(card(**kwargs), guest_id=new_id(), role=role)  # type: ignore[arg-type]


def passport_guest(
    *, role: str = "main", number: str = "X1234567", nationality: str = "FRA",
    valid_until: date = date(2030, 1, 1), visa: Visa | None = None,
    reason: str = "护照无芯片读卡器",
    birth: date = date(1985, 2, 3),
) -> Guest:
    return Guest(
        guest_id=new_id(), role=role, name="", surname_en="DUPONT", given_names_en="Élodie Marie",
        sex="female", birth_date=birth, nationality=nationality,
        document=Document(type_code="14", number=number, source=MANUAL, manual_reason=reason,
                          issuing_country=nationality, valid_until=valid_until,
                          visa=visa or Visa(visa_type="L", visa_number="V0012345",
                                            stay_until=date(2025, 4, 1),
                                            entry_date=date(2025, 2, 20), entry_port="PVG")),
    )


def open_store(path: Path, *, clock: FixedClock | None = None, **kwargs: object) -> Store:
    return Store.open(path, identity=IDENTITY, clock=clock or FixedClock(START), create=True,
                      **kwargs)  # type: ignore[arg-type]


def registry(path: Path, **kwargs: object) -> Registry:
    return Registry(open_store(path, **kwargs))


def card_file(path: Path, name: str = "张三", *, birth: date = date(1990, 5, 17), serial: int = 1,
              valid_until: date | None = date(2035, 1, 1)) -> Path:
    """A card reading as `anju card read --json --unmasked` prints it (a real text block)."""
    import json

    from drivers.idcard.cards import decode_text_block, encode_text_block, synthetic_photo

    block = encode_text_block({
        "card_type": CardType.RESIDENT, "name": name, "sex": Sex.MALE, "nation_code": "01",
        "birth_date": birth, "address": "广东省广州市越秀区某路1号",
        "id_number": id_number(birth, Sex.MALE, serial), "authority": "广州市公安局越秀分局",
        "valid_from": date(2015, 1, 1), "valid_until": valid_until or "长期",
    })
    reading = decode_text_block(block, synthetic_photo(f"{name}{serial}"))
    path.write_text(json.dumps(reading.to_json(), ensure_ascii=False), "utf-8")
    return path


def acknowledge_all(store: Store, receipt_prefix: str = "R") -> int:
    """Send and acknowledge everything pending through the live outbox (as the uploader would)."""
    outbox = StoreOutbox(store)
    events = [e for e in outbox.pending(1_000_000, 1 << 40) if e.withheld is None]
    outbox.mark_sent([e.event_id for e in events])
    outbox.record([EventResult(e.event_id, ACCEPTED, receipt=f"{receipt_prefix}-{e.event_id}")
                   for e in events])
    return len(events)
