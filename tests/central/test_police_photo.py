"""Guests' card photos on the stay page, on the real server and both backends: decoded through a
configured decoder (our fake library, tests/wlt/fake_decoder.py) and served as an audited PNG;
"未配置照片解码" without one, "照片无法解码" when decoding fails, nothing for typed-in documents;
refused to roles without personal data and outside the district. Plus the decoding worker's time
bound, in-process."""

from __future__ import annotations

import base64
import html
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from central.accounts import principals
from central.police.photos import DECODED, FAILED, NOT_CONFIGURED, PhotoDecoding
from tests.central.central_helpers import Admin
from tests.central.police_helpers import Browser, id_number, logged_in, unique_name
from tests.central.serverproc import CentralServer
from tests.forkserver import ForkServer
from tests.sync.wire_helpers import guest
from tests.wlt.fake_decoder import LICENCE, build_fake_decoder, wlt_block
from wlt.errors import PhotoDecoderError

_IMG = re.compile(r'<img src="(/stay/[^"]+/photo/([^"?]+)\?[^"]+)"')


@pytest.fixture(scope="module")
def fake_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_decoder(tmp_path_factory.mktemp("fake_wlt"))


@pytest.fixture(scope="module")
def photo_server(db_url: str, fake_library: Path, tmp_path_factory: pytest.TempPathFactory,
                 fork_server: ForkServer) -> Iterator[CentralServer]:
    """A second server on the same database, with the decoder configured."""
    log = tmp_path_factory.mktemp("central-photo") / "server.log"
    with CentralServer(db_url, log, extra_args=(
            "--photo-library", str(fake_library), "--photo-licence-code", str(LICENCE)),
                       forks=fork_server) as process:
        yield process


@pytest.fixture
def with_photos(photo_server: CentralServer) -> Iterator[Admin]:
    with Admin(photo_server.db_url, photo_server.url) as admin:
        yield admin


def card_guest(wlt: bytes, role: str = "main") -> dict[str, Any]:
    carried = guest(unique_name(), id_number(), role)
    carried["document"]["card"] = {"card_type": "resident",
                                   "photo_wlt_b64": base64.b64encode(wlt).decode("ascii")}
    return carried


def fetch(browser: Browser, url: str) -> requests.Response:
    """Raw bytes (the page helpers keep text only), with the browser's cookies."""
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    with requests.Session() as session:
        response = session.get(browser.base + url, headers={"Cookie": cookie}, timeout=15,
                               allow_redirects=False)
        response.close()
        return response


def photo_links(page: str) -> dict[str, str]:
    """guest_id -> the photo URL of each <img> on a stay page."""
    return {guest_id: html.unescape(url) for url, guest_id in _IMG.findall(page)}


def actions(central: Admin, username: str) -> list[str]:
    return sorted(row["action"] for row in central.rows("audit_log", username=username))


def test_the_stay_page_shows_decoded_card_photos(with_photos: Admin) -> None:
    client, chain = with_photos.device()
    wlt = wlt_block("main guest")
    main, typed = card_guest(wlt), guest(unique_name(), id_number(), "companion")
    first = chain.check_in("601", [main, typed])
    client.send_events([first])
    browser, user = logged_in(with_photos.url, with_photos.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="照片核对", csrf=browser.csrf)
    assert page.status_code == 200, page.text
    links = photo_links(page.text)
    assert list(links) == [main["guest_id"]]  # the typed-in companion has no photo, no text
    assert "未配置照片解码" not in page.text and "照片无法解码" not in page.text

    response = fetch(browser, links[main["guest_id"]])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.size == (102, 126)
        assert image.getpixel((0, 0)) == (200, 125, wlt[11])  # the fake decoder's colours
    assert actions(with_photos, user.username) == ["photo", "view"]
    (row,) = with_photos.rows("audit_log", username=user.username, action="photo")
    assert (row["reason"], row["result_count"]) == ("照片核对", 1)
    assert main["guest_id"] in row["query"] and first.stay_id in row["query"]

    missing = fetch(browser, f"/stay/{first.stay_id}/photo/{typed['guest_id']}"
                             f"?reason=照片核对&csrf={browser.csrf}")
    assert missing.status_code == 404
    no_reason = fetch(browser, f"/stay/{first.stay_id}/photo/{main['guest_id']}"
                               f"?csrf={browser.csrf}")
    no_csrf = fetch(browser, f"/stay/{first.stay_id}/photo/{main['guest_id']}?reason=照片核对")
    assert no_reason.status_code == 400 and no_csrf.status_code == 403
    assert actions(with_photos, user.username) == ["photo", "view"]  # refusals write nothing


def test_the_photo_comes_from_the_latest_event_carrying_the_guest(with_photos: Admin) -> None:
    client, chain = with_photos.device()
    old, new = wlt_block("first read"), wlt_block("read again")
    main = card_guest(old)
    first = chain.check_in("602", [main])
    again = chain.event("add_guest", first.stay_id, {"guest": {**main, "document": {
        **main["document"], "card": {"photo_wlt_b64": base64.b64encode(new).decode()}}}})
    typed_later = guest(unique_name(), id_number(), "companion")
    retyped = card_guest(old, "companion")
    retyped["guest_id"] = typed_later["guest_id"]
    added = chain.event("add_guest", first.stay_id, {"guest": retyped})
    typed = chain.event("add_guest", first.stay_id, {"guest": typed_later})
    client.send_events([first, again, added, typed])
    browser, _user = logged_in(with_photos.url, with_photos.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="照片核对", csrf=browser.csrf)
    links = photo_links(page.text)
    assert list(links) == [main["guest_id"]]  # the companion's latest document was typed in
    with Image.open(io.BytesIO(fetch(browser, links[main["guest_id"]]).content)) as image:
        assert image.getpixel((0, 0))[2] == new[11] != old[11]


def test_a_photo_the_decoder_cannot_decode_says_so(with_photos: Admin) -> None:
    client, chain = with_photos.device()
    broken = card_guest(bytes(1024))  # not a WLT block: refused before the library
    first = chain.check_in("603", [broken])
    client.send_events([first])
    browser, user = logged_in(with_photos.url, with_photos.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="照片核对", csrf=browser.csrf)
    assert page.status_code == 200 and "照片无法解码" in page.text
    assert photo_links(page.text) == {}
    direct = fetch(browser, f"/stay/{first.stay_id}/photo/{broken['guest_id']}"
                            f"?reason=照片核对&csrf={browser.csrf}")
    assert direct.status_code == 404 and "照片无法解码" in direct.text
    assert actions(with_photos, user.username) == ["view"]
    assert browser.get("/search").status_code == 200  # the server is still serving


def test_a_technician_and_another_district_are_refused(with_photos: Admin) -> None:
    site = with_photos.site()
    client, chain = with_photos.device(site)
    main = card_guest(wlt_block("refused"))
    first = chain.check_in("604", [main])
    client.send_events([first])
    url = f"/stay/{first.stay_id}/photo/{main['guest_id']}?reason=照片核对"
    technician, tech_user = logged_in(with_photos.url, with_photos.engine, "technician")
    refused = fetch(technician, f"{url}&csrf={technician.csrf}")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    principals.set_site_district(with_photos.engine, site, "越秀")
    outsider, out_user = logged_in(with_photos.url, with_photos.engine, "officer", "天河")
    hidden = fetch(outsider, f"{url}&csrf={outsider.csrf}")
    assert hidden.status_code == 404
    assert actions(with_photos, tech_user.username) == []
    assert actions(with_photos, out_user.username) == []
    insider, _user = logged_in(with_photos.url, with_photos.engine, "officer", "越秀")
    assert fetch(insider, f"{url}&csrf={insider.csrf}").status_code == 200


def test_without_a_decoder_the_page_says_so(central: Admin) -> None:
    client, chain = central.device()
    main = card_guest(wlt_block("no decoder"))
    typed = guest(unique_name(), id_number(), "companion")
    first = chain.check_in("605", [main, typed])
    client.send_events([first])
    browser, user = logged_in(central.url, central.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="照片核对", csrf=browser.csrf)
    assert page.status_code == 200
    assert page.text.count("未配置照片解码") == 1  # the card guest only
    assert photo_links(page.text) == {}
    direct = fetch(browser, f"/stay/{first.stay_id}/photo/{main['guest_id']}"
                            f"?reason=照片核对&csrf={browser.csrf}")
    assert direct.status_code == 404 and "未配置照片解码" in direct.text
    assert actions(central, user.username) == ["view"]


def test_a_library_that_cannot_be_used_stops_the_server_at_start(
        tmp_path: Path, fork_server: ForkServer) -> None:
    base = ["central", "serve", "--db", f"sqlite:///{tmp_path / 'central.db'}", "--port", "1"]

    def serve(library: Path, name: str) -> tuple[int | None, str]:
        """`anju central serve` forked ready-imported; its exit code and stderr."""
        err = tmp_path / f"{name}.err"
        process = fork_server.spawn([*base, "--photo-library", str(library)],
                                    tmp_path / f"{name}.out", dict(os.environ), err=err)
        return process.wait(60), err.read_text("utf-8")

    code, stderr = serve(tmp_path / "libabsent.so", "absent")
    assert code == 2 and "does not exist" in stderr
    not_a_library = tmp_path / "libnot.so"
    not_a_library.write_bytes(b"not ELF")
    code, stderr = serve(not_a_library, "refused")
    assert code == 1 and "photo decoder: cannot load" in stderr


def test_decoding_is_bounded_in_time_and_inert_unconfigured(fake_library: Path) -> None:
    assert PhotoDecoding("", 0, 1.0).states({"g": wlt_block("x")}) == {"g": NOT_CONFIGURED}
    hanging = PhotoDecoding(str(fake_library), LICENCE, 0.2, function="unpack_slow")  # 0.8 s
    started = time.monotonic()
    with pytest.raises(PhotoDecoderError, match=r"no answer in 0\.2 s"):
        hanging.png(wlt_block("slow"))
    assert time.monotonic() - started < 0.6
    # The worker is still inside the library: a page waits one bound in all, then gives up.
    started = time.monotonic()
    assert hanging.states({"a": wlt_block("a"), "b": wlt_block("b"), "c": wlt_block("c")}) == {
        "a": FAILED, "b": FAILED, "c": FAILED}
    assert time.monotonic() - started < 0.6
    hanging.close()
    working = PhotoDecoding(str(fake_library), LICENCE, 2.0)
    assert working.states({"b": wlt_block("b"), "c": bytes(1024)}) == {"b": DECODED, "c": FAILED}
    working.close()
    for thread in threading.enumerate():
        if thread.name == "wlt-decoder":
            thread.join(timeout=3)
            assert not thread.is_alive()
