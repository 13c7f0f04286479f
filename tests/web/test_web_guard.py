"""Issue 14, finding 9, over HTTP against a real `anju terminal run --simulate`: what a page on
another site (or a DNS-rebinding one) tried against the front desk now fails to do harm.

* a foreign Host reads nothing (/party had the full ID number of the card on the reader) and
  changes nothing;
* a write without the page's token, with another browser's token, or from another origin is
  refused (403, in the page's language), and the party is untouched;
* /lang/* never sends the browser to another site;
* with a PIN, no page, fragment or event stream shows a full ID number without a signed-in
  clerk, an open stream included once the clerk has locked;
* after a restart the event stream hands the open page its new token.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from tests.web.desk import Desk, csrf_of, renew, write_settings

FULL = "440106196003150016"  # card 0 of the simulator (synthetic)
FULL_1 = "110105198808080023"  # card 1
PIN = "4321"
PAGES = (
    "/",
    "/party",
    "/status",
    "/manual",
    "/manual/fields?document_type=13",
    "/inhouse",
    "/records",
    "/stay/nothing",
    "/party/photo/nothing",
    "/login",
    "/healthz",
)


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str
    url: str
    headers: Mapping[str, str]  # case-insensitive
    cookies: dict[str, str]


def call(client: requests.Session | ModuleType, method: str, url: str, **kwargs: Any) -> Answer:
    """One request, its answer copied out and its connection given back (a kept Response
    would hold its socket); `client` is a session or the requests module (no cookies)."""
    if isinstance(client, ModuleType):
        with requests.Session() as fresh:
            return call(fresh, method, url, **kwargs)
    kwargs.setdefault("timeout", 5)
    with client.request(method, url, **kwargs) as answer:
        return Answer(
            answer.status_code,
            answer.text,
            answer.url,
            answer.headers.copy(),
            answer.cookies.get_dict(),
        )


def wait_for_party(desk: Desk, session: requests.Session, number: str) -> None:
    deadline = time.monotonic() + 10
    while number not in call(session, "GET", desk.url + "/party").text:
        assert time.monotonic() < deadline, "the card never reached the party"
        time.sleep(0.05)


@contextmanager
def stream(session: requests.Session, url: str) -> Iterator[Generator[str, None, None]]:
    """The event stream's lines (a status tick comes every 5 s, so a read never hangs)."""
    with session.get(url + "/events", stream=True, timeout=10) as answer:
        assert answer.status_code == 200, answer.text[:300]
        lines = answer.iter_lines(decode_unicode=True)
        try:
            yield lines
        finally:
            lines.close()  # a suspended reader would hold the socket until a garbage collection


def test_a_foreign_host_reads_nothing_and_changes_nothing(desk: Desk) -> None:
    with desk.client() as page:
        foreign_host(desk, page)


def foreign_host(desk: Desk, page: requests.Session) -> None:
    desk.place(0)
    wait_for_party(desk, page, FULL)  # the page itself does show it: a leak would be seen
    rebound = {"Host": f"rebind.example:{desk.port}"}
    for path in (*PAGES, "/events", "/lang/en", "/static/app.js"):
        answer = call(page, "GET", desk.url + path, headers=rebound, allow_redirects=False)
        assert answer.status_code == 403, path
        assert FULL not in answer.text and "前台页面不接受通过此地址访问" in answer.text, path
    for path in ("/party/clear", "/checkin", "/sim/remove"):
        assert call(page, "POST", desk.url + path, headers=rebound).status_code == 403
    english = call(
        requests,
        "GET",
        desk.url + "/party",
        cookies={"anju_lang": "en"},
        headers={"Host": "127.0.0.2"},
    )
    assert english.status_code == 403
    assert "does not answer to this address" in english.text
    assert FULL in call(page, "GET", desk.url + "/party").text  # nothing was cleared
    for name in ("localhost", "[::1]", "LOCALHOST"):  # the loopback names all answer
        answer = call(
            page, "GET", desk.url + "/party", headers={"Host": f"{name}:{desk.port}"}, timeout=5
        )
        assert answer.status_code == 200 and FULL in answer.text, name


def test_configured_host_names_answer_and_no_other(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(
        config.read_text().replace(
            "[web]\n", '[web]\nallowed_hosts = ["desk.example", "192.168.1.23"]\n'
        )
    )
    desk = Desk(tmp_path, config)
    try:
        for host, status in (
            ("desk.example", 200),
            ("DESK.example:80", 200),
            ("192.168.1.23:8080", 200),
            ("desk.example.evil", 403),
            ("evil.example", 403),
            ("192.168.1.24", 403),
        ):
            answer = call(requests, "GET", desk.url + "/", headers={"Host": host})
            assert answer.status_code == status, host
    finally:
        desk.stop()


def test_writes_need_this_pages_token_and_origin(desk: Desk) -> None:
    with desk.client() as page, desk.client() as other:
        writes(desk, page, other)
    desk.stop()
    log = desk.service.log.read_text("utf-8")
    assert "front desk refused POST '/party/clear': token check failed" in log
    assert "front desk refused POST '/party/clear': origin check failed" in log
    assert FULL not in log


def writes(desk: Desk, page: requests.Session, other: requests.Session) -> None:
    desk.place(0)
    wait_for_party(desk, page, FULL)
    clear = desk.url + "/party/clear"
    token = page.headers.pop("X-CSRF-Token")

    no_token = call(page, "POST", clear)
    assert no_token.status_code == 403 and "页面已过期，请刷新页面后再试。" in no_token.text
    # `other` is another browser: its own nonce, its own token.
    assert (
        call(
            page, "POST", clear, headers={"X-CSRF-Token": other.headers["X-CSRF-Token"]}, timeout=5
        ).status_code
        == 403
    )
    assert call(other, "POST", clear, headers={"X-CSRF-Token": token}).status_code == 403
    no_cookie = call(requests, "POST", clear, headers={"X-CSRF-Token": token})
    assert no_cookie.status_code == 403
    assert call(page, "POST", clear, data={"csrf_token": "forged"}).status_code == 403
    htmx = call(page, "POST", clear, headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and "<!doctype" not in htmx.text  # a fragment for htmx
    page.cookies.set("anju_lang", "en")
    english = call(page, "POST", clear)
    assert "This page has expired. Reload the page, then try again." in english.text
    page.cookies.set("anju_lang", "zh_CN")

    page.headers["X-CSRF-Token"] = token
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{desk.port + 1}"},  # same site, other port
        {"Origin": f"https://127.0.0.1:{desk.port}"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": desk.url, "Sec-Fetch-Site": "same-site"},
    ):
        refused = call(page, "POST", clear, headers=headers)
        assert refused.status_code == 403, headers
        assert "已拒绝：此请求不是从前台页面发出的。" in refused.text, headers
    assert (
        call(
            page,
            "POST",
            desk.url + "/sim/remove",
            headers={"Origin": "http://evil.example"},
            timeout=5,
        ).status_code
        == 403
    )
    assert FULL in call(page, "GET", desk.url + "/party").text  # all that left it alone

    # The form field serves as well as the header (plain forms); the page's own origin passes.
    page.headers.pop("X-CSRF-Token")
    manual = call(
        page,
        "POST",
        desk.url + "/manual",
        data={"document_type": "14", "csrf_token": token},
        timeout=5,
    )
    assert manual.status_code == 200 and 'id="manual"' in manual.text
    cleared = call(
        page,
        "POST",
        clear,
        headers={"X-CSRF-Token": token, "Origin": desk.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert cleared.status_code == 200
    assert FULL not in call(page, "GET", desk.url + "/party").text


def test_the_language_switch_never_leaves_the_page(desk: Desk) -> None:
    for referer, back in (
        (None, "/"),
        ("http://evil.example/", "/"),
        (f"{desk.url}/records?day=today", "/records?day=today"),
        (f"http://evil.example:{desk.port}/records", "/"),
        ("javascript:alert(1)", "/"),
    ):
        answer = call(
            requests,
            "GET",
            desk.url + "/lang/en",
            headers={"Referer": referer} if referer else {},
            allow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["Location"] == back, referer
        assert answer.cookies.get("anju_lang") == "en"
    unknown = call(requests, "GET", desk.url + "/lang/xx", allow_redirects=False)
    assert unknown.status_code == 303 and "anju_lang" not in unknown.cookies


def test_with_a_pin_no_full_number_reaches_a_page_without_a_clerk(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace("[web]\n", f'[web]\nclerk_pin = "{PIN}"\n'))
    desk = Desk(tmp_path, config)
    try:
        with desk.client("/login") as anonymous, desk.client("/login") as clerk:
            no_clerk_no_number(desk, anonymous, clerk)
    finally:
        desk.stop()


def no_clerk_no_number(desk: Desk, anonymous: requests.Session, clerk: requests.Session) -> None:
    """`anonymous` and `clerk` have the sign-in page's cookie and token."""
    signed_in = call(
        clerk, "POST", desk.url + "/login", data={"operator": "0000", "pin": PIN}, timeout=5
    )
    assert signed_in.url == desk.url + "/"
    renew(clerk, desk.url + "/")  # signing in changed the token
    desk.place(0)
    wait_for_party(desk, clerk, FULL)  # the clerk sees the card: a leak would be seen below
    for path in (*PAGES, "/events"):
        answer = call(anonymous, "GET", desk.url + path)
        assert FULL not in answer.text, path
    for path in ("/party/remove/x", "/checkin", "/manual", "/checkout/room"):
        answer = call(anonymous, "POST", desk.url + path)
        assert answer.url.endswith("/login") and FULL not in answer.text, path
    assert FULL in call(clerk, "GET", desk.url + "/party").text  # still on the reader
    seen_locked = False
    with stream(clerk, desk.url) as lines:
        for line in lines:
            if FULL in line:  # the party, in the stream, while signed in
                break
        assert call(clerk, "POST", desk.url + "/lock").url.endswith("/login")
        desk.place(1)  # a new card after the lock: the stream must not carry it
        for line in lines:
            assert FULL_1 not in line
            seen_locked = seen_locked or line == "event: locked"
    assert seen_locked  # and the stream ended
    assert FULL_1 not in call(clerk, "GET", desk.url + "/party").text


def test_after_a_restart_the_stream_hands_the_open_page_its_new_token(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    desk = Desk(tmp_path, config)
    page = desk.client()
    try:
        assert call(page, "POST", desk.url + "/party/clear").status_code == 200
        desk.stop()
        desk = Desk(tmp_path, config, port=desk.port)  # the page's cookie stays
        stale = call(page, "POST", desk.url + "/party/clear")
        assert stale.status_code == 403 and "页面已过期" in stale.text
        with requests.Session() as reader:  # the open page's stream reconnects
            reader.cookies.update(page.cookies)
            with stream(reader, desk.url) as lines:
                assert next(lines) == "retry: 1000"
                assert next(lines) == ""
                assert next(lines) == "event: csrf"
                token = next(lines).removeprefix("data: ")
        reloaded = call(page, "GET", desk.url + "/")
        assert token == csrf_of(reloaded.text)  # what a reload would have given it
        page.headers["X-CSRF-Token"] = token
        assert call(page, "POST", desk.url + "/party/clear").status_code == 200
    finally:
        page.close()
        desk.stop()
