"""The central server's settings are one table (central/settings.py): each setting has exactly
one default and a help, `anju central serve`'s options are generated from it (none written by
hand; the retention's rows are `anju central purge`'s options instead), `--help` lists every one
with its environment variable, and the command line with no options builds the same settings as
the table's defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

import click
import pytest
from click.testing import CliRunner

from central.cli.main import central
from central.cli.retention import purge
from central.cli.server import serve
from central.settings import Option, Settings

ROWS = dataclasses.fields(Settings)
OFF_THE_COMMAND_LINE = {"migrate"}  # set by tests only: `serve` always migrates


def option_of(row: dataclasses.Field[Any]) -> Option | None:
    return row.metadata["option"]


def test_every_setting_has_exactly_one_default_and_a_help() -> None:
    for row in ROWS:
        has_default = row.default is not dataclasses.MISSING
        has_factory = row.default_factory is not dataclasses.MISSING
        assert has_default != has_factory, row.name
        assert len(row.metadata["help"]) > 10, row.name
    assert {row.name for row in ROWS if option_of(row) is None} == OFF_THE_COMMAND_LINE


def table_of(command: str) -> dict[str, Option]:
    return {row.name: option for row in ROWS
            if (option := option_of(row)) is not None and option.command == command}


@pytest.mark.parametrize(("command", "own"), [
    (serve, set()),
    (purge, {"dry_run", "as_json", "db_url"}),  # db_url: serve's row, the same option
])
def test_each_commands_options_are_exactly_its_rows_of_the_table(
        command: click.Command, own: set[str]) -> None:
    generated = {p.name: p for p in command.params if isinstance(p, click.Option)}
    table = table_of(str(command.name))
    assert set(generated) - {"help"} - own == set(table)
    for name, option in table.items():
        assert generated[name].opts == [option.flag], name
        assert generated[name].envvar == option.env, name
    assert {option.command for row in ROWS if (option := option_of(row))} == {"serve", "purge"}
    flags = [option.flag for row in ROWS if (option := option_of(row))]
    assert len(flags) == len(set(flags))


@pytest.mark.parametrize("command", ["serve", "purge"])
def test_help_lists_every_setting_and_its_environment_variable(command: str) -> None:
    shown = CliRunner().invoke(central, [command, "--help"], terminal_width=200)
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    for row in ROWS:
        option = option_of(row)
        if option is None or option.command != command:
            continue
        assert option.flag in text, row.name
        assert " ".join(row.metadata["help"].split())[:40] in text, row.name
        if option.env:
            assert option.env in text, row.name


def test_the_command_line_without_options_is_the_tables_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for row in ROWS:
        option = option_of(row)
        if option is not None and option.env:
            monkeypatch.delenv(option.env, raising=False)
    context = serve.make_context("serve", [])
    assert Settings(**context.params) == Settings(db_url=context.params["db_url"])


def test_an_option_and_its_environment_variable_set_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_CENTRAL_REASON_MIN_CHARS", "7")
    monkeypatch.setenv("ANJU_CENTRAL_API_TOKEN_TTL", "30d")
    params = serve.make_context("serve", ["--max-in-flight", "3", "--backlog-alarm", "60",
                                          "--accept-legacy-signing"]).params
    settings = Settings(**params)
    assert (settings.reason_min_chars, settings.api_token_ttl_s) == (7, 30 * 86400)
    assert (settings.max_in_flight, settings.backlog_alarm_s) == (3, 60)
    assert settings.accept_legacy_signing is True
    assert settings.limits.max_events == Settings().max_events


@pytest.mark.parametrize(("args", "message"), [
    (["--max-in-flight", "0"], "x>=1"),
    (["--api-token-ttl", "soon"], "use a number and s, m, h or d"),
    (["--api-token-ttl", "400d"], "between 1 minute and 366 days"),
    (["--photo-library", "/no/such/library.so"], "does not exist"),
])
def test_serve_refuses_a_bad_setting_before_starting(args: list[str], message: str) -> None:
    refused = CliRunner().invoke(central, ["serve", "--db", "sqlite://", *args])
    assert refused.exit_code == 2 and message in refused.output, refused.output


def test_a_setting_below_its_minimum_is_refused_in_code_too() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be >= 1"):
        Settings(max_in_flight=0)
