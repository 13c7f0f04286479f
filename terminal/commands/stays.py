"""`anju stays list|show|check-in|check-out|amend|void`: the same registry calls as the page.

For scripted installs, site acceptance tests and support. Personal data is masked in every
output unless `--unmasked`; the card files are what `anju card read --json --unmasked` prints.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from drivers.idcard.cards import card_from_json
from drivers.idcard.errors import IdCardError
from sync.privacy import redact
from terminal.commands.context import (
    open_store,
    reporting,
    settings,
    store_options,
)
from terminal.commands.language import chinese_locale
from terminal.desk.registry import Registry, Saved
from terminal.domain.checks import Finding, Override
from terminal.domain.guests import COMPANION, MAIN, Guest, guest_from_card
from terminal.errors import BlockedError, ValidationError
from terminal.store import queries
from terminal.store.database import Store
from terminal.system.ids import new_id

# Amended fields whose values are not personal data and may be printed masked or not.
_PLAIN_FIELDS = {"room", "expected_check_out", "sex", "nationality", "role", "relationship",
                 "nation_code", "valid_until", "issuing_country"}


@click.group()
def stays() -> None:
    """Registrations on this terminal."""


def _registry(config_path: Path | None, db_path: Path | None) -> Registry:
    config, path = settings(config_path, db_path)
    return Registry(Store.from_config(config, path=path),
                    timezone=config["registry.timezone"])


def _default_operator() -> str:
    # Scripted installs and support sessions have no clerk: record who ran the command instead
    # of refusing, so the documented `anju stays check-in --room R --card F` works as written.
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _operator(func: Any) -> Any:
    return click.option("--operator", default=_default_operator, envvar="ANJU_OPERATOR",
                        show_envvar=True, show_default="cli:$USER",
                        help="Staff number of the clerk (从业人员编号).")(func)


def _echo_saved(saved: Saved) -> None:
    click.echo(f"saved {saved.stay_id} ({len(saved.event_ids)} event(s))")
    _echo_findings(saved.findings)


def _echo_findings(findings: tuple[Finding, ...] | list[Finding]) -> None:
    zh = chinese_locale()
    for f in findings:
        why = ""
        if f.downgraded_because:  # the clock could not vouch for "today": only a warning
            why = (f"（时间不可信，{'须人工核对' if f.needs_confirm else '仅提示'}）" if zh
                   else f" (clock {f.downgraded_because}: "
                        f"{'confirm with --confirm-dates' if f.needs_confirm else 'warning only'})")
        click.echo(f"  {f.severity.upper():5} {f.code:28} {f.message_zh if zh else f.message}"
                   + why)


@stays.command("list")
@store_options
@click.option("--in-house", is_flag=True, help="Only stays with guests in house.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option("--unmasked", is_flag=True, help="Print names and document numbers in full.")
@click.option("--limit", default=100, show_default=True, help="At most this many stays.")
def list_stays(config_path: Path | None, db_path: Path | None, in_house: bool, as_json: bool,
               unmasked: bool, limit: int) -> None:
    """List stays, newest first (or in house, by room)."""
    with reporting(), open_store(config_path, db_path) as store, store.reader() as conn:
        rows = queries.list_in_house(conn) if in_house else queries.list_stays(conn, limit=limit)
    for row in rows[:limit]:
        guests = [{"guest_id": g.guest_id, "role": g.role, "name": g.name,
                   "document_type": g.document_type, "document_number": g.document_number}
                  for g in row.guests]
        if not unmasked:
            guests = [redact(g) for g in guests]
        if as_json:
            out = {k: getattr(row, k) for k in ("stay_id", "room", "status", "checked_in_at",
                                                 "expected_check_out", "ended_at", "guest_count",
                                                 "guests_in_house", "purged", "undelivered")}
            click.echo(json.dumps({**out, "guests": guests}, ensure_ascii=False, sort_keys=True))
            continue
        names = ", ".join(f"{g['name']} {g['document_number'] or ''}".strip() for g in guests)
        click.echo(f"{row.stay_id}  {row.room or '-':6} {row.status:11} {row.checked_in_at}  "
                   f"{row.guests_in_house}/{row.guest_count}  {names}")


def guest_output(guest: Guest, *, unmasked: bool) -> dict[str, Any]:
    doc = guest.document
    out = {
        "guest_id": guest.guest_id, "role": guest.role, "name": guest.name,
        "surname": guest.surname_en, "given_names": guest.given_names_en, "sex": guest.sex,
        "birth_date": guest.birth_date.isoformat(), "nationality": guest.nationality,
        "nation_code": guest.nation_code, "address": guest.address, "phone": guest.phone,
        "accompanied_by": guest.accompanied_by, "relationship": guest.relationship,
        "guardian_name": guest.guardian.name if guest.guardian else None,
        "guardian_phone": guest.guardian.phone if guest.guardian else None,
        "guardian_contacted": guest.guardian.contacted if guest.guardian else None,
        "document_type": doc.type_code, "document_number": doc.number,
        "document_source": doc.source, "manual_reason": doc.manual_reason,
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
        "visa_number": doc.visa.visa_number if doc.visa else None,
        "photo_sha256": doc.card.photo_sha256 if doc.card else None,
    }
    return out if unmasked else redact(out)


@stays.command()
@store_options
@click.argument("stay_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--unmasked", is_flag=True, help="Print personal data in full.")
def show(config_path: Path | None, db_path: Path | None, stay_id: str, as_json: bool,
         unmasked: bool) -> None:
    """One stay: guests, amendments, and the delivery state of each event."""
    with reporting(), open_store(config_path, db_path) as store, store.reader() as conn:
        detail = queries.show(conn, stay_id)
    stay = detail.stay
    out = {
        "stay_id": stay.stay_id, "room": stay.room, "status": stay.status,
        "checked_in_at": stay.checked_in_at, "checked_out_at": stay.checked_out_at,
        "voided_at": stay.voided_at, "void_reason": stay.void_reason, "operator": stay.operator,
        "purged": stay.purged,
        "expected_check_out": str(stay.expected_check_out) if stay.expected_check_out else None,
        "guests": [dict(guest_output(g.guest, unmasked=unmasked),
                        checked_out_at=g.checked_out_at) for g in stay.guests.values()],
        "amendments": [{"field": a.field, "reason": a.reason, "at": a.at,
                        "old": a.old if unmasked or a.field.split(".")[-1] in _PLAIN_FIELDS
                        else "***",
                        "new": a.new if unmasked or a.field.split(".")[-1] in _PLAIN_FIELDS
                        else "***"} for a in stay.amendments],
        "findings": [f["code"] for f in stay.findings], "overrides": stay.overrides,
        "delivery": [{"event_id": d.event_id, "sequence": d.sequence, "kind": d.kind,
                      "state": d.state, "receipt": d.receipt, "reject_code": d.reject_code,
                      "reject_field": d.reject_field, "reject_message": d.reject_message}
                     for d in detail.delivery],
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, sort_keys=True))
        return
    for key in ("stay_id", "room", "status", "checked_in_at", "checked_out_at", "operator"):
        click.echo(f"{key:15} {out[key] if out[key] is not None else '-'}")
    for guest in out["guests"]:
        click.echo(f"guest {guest['role']:9} {guest['name'] or guest['surname'] or ''} "
                   f"{guest['document_type']}:{guest['document_number']} "
                   f"{'out ' + guest['checked_out_at'] if guest['checked_out_at'] else 'in house'}")
    for amendment in out["amendments"]:
        click.echo(f"amended {amendment['field']}: {amendment['old']} -> {amendment['new']} "
                   f"({amendment['reason']})")
    for d in out["delivery"]:
        click.echo(f"event {d['sequence']:>6} {d['kind']:10} {d['state']}"
                   f"{' ' + d['reject_code'] if d['reject_code'] else ''}")


def _card_guest(path: Path, role: str) -> Guest:
    try:
        card = card_from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, IdCardError) as err:
        raise ValidationError(f"{path}: not a card reading ({err})", f"{path}：不是有效的读卡结果",
                              field="card") from err
    return guest_from_card(card, guest_id=new_id(), role=role)


@stays.command("check-in")
@store_options
@_operator
@click.option("--room", required=True, help="Room number.")
@click.option("--card", "card_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Main guest: JSON from `anju card read --json --unmasked`.")
@click.option("--companion", "companions", multiple=True,
              type=click.Path(exists=True, path_type=Path), help="A companion's card (repeat).")
@click.option("--expected-check-out", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD.")
@click.option("--override", "overrides", multiple=True, metavar="CODE=REASON",
              help="Pass an overridable finding (e.g. document.expired) with a reason.")
@click.option("--confirm-dates", is_flag=True,
              help="While the clock is not trusted: the dates and ages were checked by eye "
                   "(confirms the date checks the terminal could only warn about).")
def check_in(config_path: Path | None, db_path: Path | None, operator: str, room: str,
             card_path: Path, companions: tuple[Path, ...], expected_check_out: Any,
             overrides: tuple[str, ...], confirm_dates: bool) -> None:
    """Register a stay from card readings; prints the stay id and every finding."""
    with reporting():
        guests = [_card_guest(card_path, MAIN), *(_card_guest(p, COMPANION) for p in companions)]
        passes = []
        for item in overrides:
            code, _, reason = item.partition("=")
            passes += [Override(code, g.guest_id, reason) for g in guests]
        reg = _registry(config_path, db_path)
        try:
            saved = reg.check_in(
                room=room, guests=guests, operator=operator, overrides=passes,
                expected_check_out=expected_check_out.date() if expected_check_out else None,
                dates_confirmed=confirm_dates)
        except BlockedError as err:
            _echo_findings(err.findings)
            raise
        finally:
            reg.store.close()
    _echo_saved(saved)


@stays.command("check-out")
@store_options
@_operator
@click.option("--room", help="Check out everyone in house in this room.")
@click.option("--stay", "stay_ids", multiple=True, help="Check out this stay (repeat: group).")
@click.option("--guest", "guest_ids", multiple=True, help="Only these guests (with one --stay).")
def check_out(config_path: Path | None, db_path: Path | None, operator: str, room: str | None,
              stay_ids: tuple[str, ...], guest_ids: tuple[str, ...]) -> None:
    """Check out by room, by stay (or several: one transaction), or single guests."""
    if bool(room) == bool(stay_ids) or (guest_ids and len(stay_ids) != 1):
        raise click.UsageError("give --room, or --stay (with --guest only for a single stay)")
    with reporting():
        reg = _registry(config_path, db_path)
        try:
            if room:
                results = reg.check_out_room(room, operator=operator)
            elif guest_ids:
                results = [reg.check_out(stay_ids[0], operator=operator, guest_ids=guest_ids)]
            else:
                results = reg.check_out_stays(stay_ids, operator=operator)
        finally:
            reg.store.close()
    for saved in results:
        click.echo(f"checked out {saved.stay_id}")


@stays.command()
@store_options
@_operator
@click.argument("stay_id")
@click.option("--field", required=True, help="room, expected_check_out, guest.<id>.<field>.")
@click.option("--old", help="Current value (omit when empty).")
@click.option("--new", required=True, help="Corrected value.")
@click.option("--reason", required=True, help="Why the correction is made.")
def amend(config_path: Path | None, db_path: Path | None, operator: str, stay_id: str,
          field: str, old: str | None, new: str, reason: str) -> None:
    """Correct one field of a stay (the old value must match)."""
    with reporting():
        reg = _registry(config_path, db_path)
        try:
            saved = reg.amend(stay_id, field=field, old=old, new=new, reason=reason,
                              operator=operator)
        finally:
            reg.store.close()
    _echo_saved(saved)


@stays.command()
@store_options
@_operator
@click.argument("stay_id")
@click.option("--reason", required=True, help="Why the registration is voided.")
def void(config_path: Path | None, db_path: Path | None, operator: str, stay_id: str,
         reason: str) -> None:
    """Void a registration made by mistake; undelivered events are superseded."""
    with reporting():
        reg = _registry(config_path, db_path)
        try:
            saved = reg.void(stay_id, reason=reason, operator=operator)
        finally:
            reg.store.close()
    _echo_saved(saved)

