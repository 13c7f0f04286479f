"""Issue 14: text with a control character or a lone surrogate is refused at every terminal
entry (registry, CLI, the card's text, the manual form), with the field named; nothing is
written, and a name is never cleaned: what is accepted is stored exactly as typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli import cli
from terminal.desk.registry import Registry
from terminal.errors import TextRefusedError
from terminal.web import forms, i18n
from terminal.web.page import Form
from tests.terminal.registry_helpers import card_file, card_guest


def _events(reg: Registry) -> int:
    with reg.store.reader() as conn:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


@pytest.mark.parametrize(
    ("room", "name"),
    [("1\x00X", "张三"), ("101", "张\ud800三"), ("10\n1", "张三"), ("101", "张\x85三")],
)
def test_check_in_with_a_control_character_is_refused_and_nothing_written(
    reg: Registry, room: str, name: str
) -> None:
    with pytest.raises(TextRefusedError) as refused:
        reg.check_in(room=room, operator="C01", guests=[card_guest(name=name)])
    assert refused.value.field in ("room", "guests[0].name")
    assert "控制字符" in refused.value.message_zh
    assert _events(reg) == 0


def test_amend_void_and_operator_obey_the_rule_and_names_are_kept_whole(reg: Registry) -> None:
    name = "欧阳𠀀娜"  # an astral character: text, kept as typed
    saved = reg.check_in(room="101", operator="C01", guests=[card_guest(name=name)])
    with pytest.raises(TextRefusedError):
        reg.amend(
            saved.stay_id, field="room", old="101", new="1\x00", reason="换房", operator="C01"
        )
    with pytest.raises(TextRefusedError):
        reg.void(saved.stay_id, reason="录入\n错误", operator="C01")
    with pytest.raises(TextRefusedError):
        reg.check_out(saved.stay_id, operator="C\x0001")
    assert _events(reg) == 1
    with reg.store.reader() as conn:
        payload = conn.execute("SELECT payload FROM events").fetchone()[0]
    assert json.loads(payload)["data"]["guests"][0]["name"] == name


def test_cli_check_in_refuses_a_control_character_in_english(tmp_path: Path) -> None:
    config = tmp_path / "terminal.toml"
    config.write_text(
        '[device]\ndevice_id = "gz-0001"\nsite_code = "4401040001"\n'
        f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n',
        "utf-8",
    )
    env = {"ANJU_CONFIG": str(config), "ANJU_OPERATOR": "C01", "LANG": "C.UTF-8"}
    runner = CliRunner()
    assert runner.invoke(cli, ["store", "init"], env=env).exit_code == 0
    card = card_file(tmp_path / "card.json", "张三")
    result = runner.invoke(
        cli, ["stays", "check-in", "--room", "1\x01X", "--card", str(card)], env=env
    )
    assert result.exit_code != 0
    assert "room contains a control character (U+0001)" in result.output
    assert "Traceback" not in result.output
    listed = runner.invoke(cli, ["stays", "list", "--json"], env=env)
    assert listed.stdout.strip() == ""
    # (The card's own text: drivers/idcard/layouts.checked_text refuses it at decoding.)


def test_the_manual_form_refuses_with_the_catalog_message() -> None:
    form = Form(b"document_type=14&name=%E5%BC%A0%00%E4%B8%89&birth_date=1990-05-17")
    with pytest.raises(forms.FormError) as refused:
        forms.manual_guest(form, i18n.gettext_for("zh_CN"))
    assert str(refused.value) == "name含有控制字符（如换行符或空字符），未保存，请重新输入。"
