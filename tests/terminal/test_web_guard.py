"""The pieces of the front desk's request guard (terminal/web/guard.py) on their own: host
names, allowed hosts, tokens, the language switch's return path, the quiet log. Over HTTP and
in the browser: tests/web/test_web_guard.py, tests/web/test_web_csrf_browser.py."""

from __future__ import annotations

import logging

import pytest

from terminal.web import guard


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("LOCALHOST:8080", "localhost"),
        ("localhost.", "localhost"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("desk.example", "desk.example"),
        ("", ""),
        ("[::1", ""),
        ("::1", "::1"),
    ],
)
def test_host_name_drops_the_port_and_brackets(header: str, name: str) -> None:
    assert guard.host_name(header) == name


def test_allowed_hosts_are_loopback_the_listen_address_and_the_configured_names() -> None:
    assert guard.allowed_hosts((), "127.0.0.1", None) == {"127.0.0.1", "localhost", "::1"}
    hosts = guard.allowed_hosts(("Desk.Example",), "0.0.0.0", "192.168.1.23")
    assert hosts == {"127.0.0.1", "localhost", "::1", "desk.example", "192.168.1.23"}
    assert "0.0.0.0" not in guard.allowed_hosts((), "0.0.0.0", "::")
    assert "::" not in guard.allowed_hosts((), "::", None)


def test_a_token_belongs_to_one_nonce_one_session_and_one_process() -> None:
    tokens = guard.Tokens()
    token = tokens.issue("nonce-a", None)
    assert tokens.valid(token, "nonce-a", None)
    assert tokens.valid(token, "nonce-a", "")  # no session cookie either way
    assert not tokens.valid(token, "nonce-b", None)  # another browser's
    assert not tokens.valid(token, "nonce-a", "session-1")  # signing in changes it
    assert not tokens.valid(token, None, None) and not tokens.valid(None, "nonce-a", None)
    assert not tokens.valid("", "nonce-a", None)
    assert not guard.Tokens().valid(token, "nonce-a", None)  # a restarted process
    signed_in = tokens.issue("nonce-a", "session-1")
    assert tokens.valid(signed_in, "nonce-a", "session-1") and signed_in != token


@pytest.mark.parametrize(
    ("referer", "back"),
    [
        (None, "/"),
        ("", "/"),
        ("http://127.0.0.1:8080/records?day=today", "/records?day=today"),
        ("http://127.0.0.1:8080/stay/abc", "/stay/abc"),
        ("http://127.0.0.1:8080", "/"),
        ("http://evil.example/records", "/"),
        ("http://127.0.0.1:9999/records", "/"),  # another port: another origin
        ("https://evil.example@127.0.0.1:8080/x", "/"),
        ("//evil.example/x", "/"),
        ("/records", "/"),  # not an absolute URL of this page
        ("http://127.0.0.1:8080//evil.example/x", "/"),
        ("http://127.0.0.1:8080/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("http://127.0.0.1:8080/lang/en", "/"),
        ("http://127.0.0.1:8080/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_the_language_switch_returns_only_to_this_page(referer: str | None, back: str) -> None:
    assert guard.local_path(referer, "127.0.0.1:8080") == back


def test_refusals_are_logged_once_a_minute_per_check_with_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(guard.time, "monotonic", lambda: now[0])
    quiet = guard.QuietLog()
    with caplog.at_level(logging.WARNING, logger="terminal.web.guard"):
        quiet.refused("token", "POST", "/checkin\nforged line")
        for _ in range(3):
            quiet.refused("token", "POST", "/checkin")
        quiet.refused("host", "GET", "/party")
        now[0] += 61
        quiet.refused("token", "POST", "/party/clear")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "front desk refused POST '/checkin\\nforged line': token check failed",
        "front desk refused GET '/party': host check failed",
        "front desk refused POST '/party/clear': token check failed "
        "(3 more since the last warning)",
    ]
