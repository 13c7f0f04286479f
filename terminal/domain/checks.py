"""Checks at capture: what the page shows before the clerk confirms, each with a stable code.

A finding has a severity: BLOCK stops the registration (only the codes marked overridable can be
passed, and only with a reason the record keeps), WARN and INFO are shown and recorded. Checks
are pure: the registry passes in what they need to know about the house (documents in house,
occupants of the room) and "today" in the guesthouse's time zone.

While the device clock is not trusted (terminal/system/clock.py, docs/time.md) "today" is only
the latest day we can vouch for, so the rules in DATE_RULES cannot be sure: `downgrade` turns
each into a warning the clerk confirms (`needs_confirm`), and the finding keeps what it was and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from drivers.idcard.codes import id_number_issues
from drivers.idcard.reading import Sex
from terminal.domain.codes import CodeTables, code_tables
from terminal.domain.documents import MANUAL
from terminal.domain.guests import Guest

BLOCK, WARN, INFO = "block", "warn", "info"

# code -> (severity, overridable, English, Chinese); templates take {room} / {count} / {detail}.
RULES: dict[str, tuple[str, bool, str, str]] = {
    "room.missing": (BLOCK, False, "Room number is required.", "请填写房号。"),
    "room.occupied": (INFO, False, "Room {room} already holds {count} guest(s).",
                      "{room} 房已有 {count} 位住客。"),
    "party.main_guest": (BLOCK, False, "A stay needs exactly one main guest.",
                         "每次入住必须且只能有一位主住客。"),
    "guest.name_missing": (BLOCK, False, "The guest's name is missing.", "缺少住客姓名。"),
    "guest.birth_date_future": (BLOCK, False, "Birth date is in the future.",
                                "出生日期晚于今天。"),
    "guest.sex_unknown_code": (BLOCK, False, "Unknown sex code.", "性别代码无效。"),
    "guest.nationality_unknown": (BLOCK, False, "Unknown nationality code {detail}.",
                                  "国籍代码 {detail} 无效。"),
    "document.type_unknown": (BLOCK, False, "Unknown document type {detail}.",
                              "证件类型 {detail} 无效。"),
    "document.number_missing": (BLOCK, False, "Document number is required.", "请填写证件号码。"),
    "document.manual_reason_missing": (BLOCK, False,
                                       "Manual entry needs the reason the card could not be read.",
                                       "手工录入必须填写无法读卡的原因。"),
    "document.manual_not_allowed": (BLOCK, False, "This document type must be read from the card.",
                                    "该类证件必须读卡登记。"),
    "document.expired": (BLOCK, True, "The document expired on {detail}.",
                         "证件已于 {detail} 过期。"),
    "document.not_yet_valid": (WARN, False, "The document is valid only from {detail}.",
                               "证件自 {detail} 起才有效。"),
    "document.id_format": (WARN, False, "The ID number is not 18 digits (or 17 and X).",
                           "身份证号码格式不正确。"),
    "document.id_check_digit": (WARN, False, "The ID number's check digit is wrong.",
                                "身份证号码校验位错误。"),
    "document.id_birth_date": (WARN, False, "The ID number does not match the birth date.",
                               "身份证号码与出生日期不符。"),
    "document.id_sex": (WARN, False, "The ID number does not match the sex.",
                        "身份证号码与性别不符。"),
    "document.in_house": (WARN, False, "This document is already checked in, room {room}.",
                          "该证件已在 {room} 房入住且未退房。"),
    "visa.missing": (WARN, False, "No visa recorded for a foreign passport (visa-free entry?).",
                     "外国护照未登记签证（是否免签入境？）。"),
    "visa.stay_expired": (WARN, False, "The permitted stay ended on {detail}.",
                          "签证停留期已于 {detail} 届满。"),
    "minor.unaccompanied": (BLOCK, False,
                            "A minor needs an accompanying adult or a guardian who was contacted.",
                            "未成年人须有同行成年人，或登记已联系的监护人。"),
    "minor.companion_invalid": (BLOCK, False,
                                "The accompanying adult is not an adult in this stay.",
                                "同行成年人不是本次入住的成年住客。"),
    "minor.relationship_missing": (BLOCK, False,
                                   "Relationship to the adult or guardian is required.",
                                   "请选择与同行成年人或监护人的关系。"),
    "minor.guardian_incomplete": (BLOCK, False, "Guardian's name and phone are required.",
                                  "请填写监护人姓名和电话。"),
    "minor.guardian_not_contacted": (BLOCK, False, "Confirm that the guardian was contacted.",
                                     "请确认已联系监护人。"),
}
# The rules whose answer depends on what day it is (a minor's age decides every minor.* rule).
DATE_RULES = frozenset({
    "guest.birth_date_future", "document.expired", "document.not_yet_valid", "visa.stay_expired",
    "minor.unaccompanied", "minor.companion_invalid", "minor.relationship_missing",
    "minor.guardian_incomplete", "minor.guardian_not_contacted",
})
_ID_ISSUE_CODES = {"format": "document.id_format", "check_digit": "document.id_check_digit",
                   "birth_date": "document.id_birth_date", "sex": "document.id_sex"}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    field: str  # e.g. "guests.<guest_id>.document.valid_until"; "" for the stay
    message: str
    message_zh: str
    guest_id: str | None = None
    overridable: bool = False
    downgraded_from: str | None = None  # the rule's own severity, when the clock made it a warning
    downgraded_because: str | None = None  # terminal.system.clock UNSYNCHRONISED | IMPLAUSIBLE

    @property
    def blocks(self) -> bool:
        return self.severity == BLOCK

    @property
    def needs_confirm(self) -> bool:
        """A blocking rule the untrusted clock made a warning: the clerk confirms it."""
        return self.downgraded_from == BLOCK

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code, "severity": self.severity, "field": self.field,
            "guest_id": self.guest_id, "message": self.message, "message_zh": self.message_zh}
        if self.downgraded_because:
            out["downgraded_from"] = self.downgraded_from
            out["downgraded_because"] = self.downgraded_because
        return out


@dataclass(frozen=True, slots=True)
class Override:
    code: str
    guest_id: str | None
    reason: str


def finding(code: str, field: str, guest_id: str | None = None, **values: object) -> Finding:
    severity, overridable, en, zh = RULES[code]
    return Finding(code, severity, field, en.format(**values), zh.format(**values), guest_id,
                   overridable)


def unresolved(
    findings: Sequence[Finding], overrides: Sequence[Override], *, dates_confirmed: bool = False
) -> list[Finding]:
    """Blocking findings not passed by an override with a reason (non-overridable always stay),
    and downgraded ones the clerk has not confirmed (by `dates_confirmed` or an override)."""
    passed = {(o.code, o.guest_id) for o in overrides if o.reason.strip()}
    return [f for f in findings
            if (f.blocks and not (f.overridable and (f.code, f.guest_id) in passed))
            or (f.needs_confirm and not dates_confirmed and (f.code, f.guest_id) not in passed)]


def downgrade(findings: Sequence[Finding], because: str) -> list[Finding]:
    """The date rules as warnings: what "today" is cannot be vouched for (`because`)."""
    return [replace(f, severity=WARN, downgraded_from=f.severity, downgraded_because=because)
            if f.code in DATE_RULES else f for f in findings]


def check_room(room: str, occupants: int) -> list[Finding]:
    if not room.strip():
        return [finding("room.missing", "room")]
    if occupants:
        return [finding("room.occupied", "room", room=room, count=occupants)]
    return []


def check_guest(
    guest: Guest,
    *,
    today: date,
    in_house_documents: Mapping[tuple[str, str], str],
    adults: Mapping[str, Guest],
    tables: CodeTables | None = None,
) -> list[Finding]:
    """Every rule about one guest; `adults` are the adults a minor may be linked to."""
    t = tables or code_tables()
    gid, at = guest.guest_id, f"guests.{guest.guest_id}"
    out: list[Finding] = []
    doc = guest.document
    if not guest.name.strip() and not (guest.surname_en or "").strip():
        out.append(finding("guest.name_missing", f"{at}.name", gid))
    if guest.birth_date > today:
        out.append(finding("guest.birth_date_future", f"{at}.birth_date", gid))
    if guest.sex not in t.sexes:
        out.append(finding("guest.sex_unknown_code", f"{at}.sex", gid))
    if guest.nationality not in t.countries:
        out.append(finding("guest.nationality_unknown", f"{at}.nationality", gid,
                           detail=guest.nationality))
    doc_type = t.document_types.get(doc.type_code)
    if doc_type is None:
        out.append(finding("document.type_unknown", f"{at}.document.type_code", gid,
                           detail=doc.type_code))
    if not doc.number.strip():
        out.append(finding("document.number_missing", f"{at}.document.number", gid))
    if doc.source == MANUAL:
        if not (doc.manual_reason or "").strip():
            out.append(finding("document.manual_reason_missing", f"{at}.document.manual_reason",
                               gid))
        if doc_type is not None and "manual" not in doc_type.entry:
            out.append(finding("document.manual_not_allowed", f"{at}.document.type_code", gid))
    if doc.valid_until is not None and not doc.long_term and doc.valid_until < today:
        out.append(finding("document.expired", f"{at}.document.valid_until", gid,
                           detail=doc.valid_until.isoformat()))
    if doc.valid_from is not None and doc.valid_from > today:
        out.append(finding("document.not_yet_valid", f"{at}.document.valid_from", gid,
                           detail=doc.valid_from.isoformat()))
    if doc_type is not None and doc_type.id_number and doc.number.strip():
        out.extend(_id_number_findings(guest, at))
    room = in_house_documents.get(doc.key())
    if room is not None:
        out.append(finding("document.in_house", f"{at}.document.number", gid, room=room))
    if doc_type is not None and doc_type.passport:
        visa = doc.visa
        if guest.nationality != "CHN" and (visa is None or not visa.visa_type):
            out.append(finding("visa.missing", f"{at}.document.visa", gid))
        if visa is not None and visa.stay_until is not None and visa.stay_until < today:
            out.append(finding("visa.stay_expired", f"{at}.document.visa.stay_until", gid,
                               detail=visa.stay_until.isoformat()))
    if guest.is_minor(today):
        out.extend(_minor_findings(guest, at, adults, today, t))
    return out


def _id_number_findings(guest: Guest, at: str) -> list[Finding]:
    doc = guest.document
    if doc.card is not None:
        issues = doc.card.id_number_issues  # the driver checked the card as read
    else:
        try:
            sex = Sex(guest.sex)
        except ValueError:
            sex = Sex.UNKNOWN
        issues = id_number_issues(doc.number.strip(), guest.birth_date, sex)
    return [finding(_ID_ISSUE_CODES[i], f"{at}.document.number", guest.guest_id)
            for i in issues if i in _ID_ISSUE_CODES]


def _minor_findings(
    guest: Guest, at: str, adults: Mapping[str, Guest], today: date, t: CodeTables
) -> list[Finding]:
    gid = guest.guest_id
    if guest.accompanied_by is not None:
        adult = adults.get(guest.accompanied_by)
        out = []
        if adult is None or adult.is_minor(today):
            out.append(finding("minor.companion_invalid", f"{at}.accompanied_by", gid))
        if guest.relationship not in t.relationships:
            out.append(finding("minor.relationship_missing", f"{at}.relationship", gid))
        return out
    guardian = guest.guardian
    if guardian is None:
        return [finding("minor.unaccompanied", f"{at}.guardian", gid)]
    out = []
    if not guardian.name.strip() or not guardian.phone.strip():
        out.append(finding("minor.guardian_incomplete", f"{at}.guardian", gid))
    if guardian.relationship not in t.relationships:
        out.append(finding("minor.relationship_missing", f"{at}.guardian.relationship", gid))
    if not guardian.contacted:
        out.append(finding("minor.guardian_not_contacted", f"{at}.guardian.contacted", gid))
    return out
