"""Issue 14, findings 3 and 4: input the server cannot store never fails a batch, a request or
the log. Each bad event is `rejected` with its reason while the good ones beside it are stored;
an envelope, a body or a parameter that is not text, too deep or too large is a 400; none of it
is a 500 or a traceback, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests

from sync.chain import chain_hash, sha256_hex
from sync.protocol import ACCEPTED, REJECTED, SenderClock
from tests.central.central_helpers import Admin, assert_error, fetch, signed_post
from tests.central.serverproc import CentralServer
from tests.sync.wire_helpers import EventChain, guest, new_id


def _raw_body(chain: EventChain, events: list[dict[str, Any]], **clock: Any) -> bytes:
    """A batch as a hostile or old client could send it: JSON escapes (\\ud800) survive."""
    body = {
        "protocol": 1,
        "device_id": chain.device_id,
        "site_code": chain.site_code,
        "clock": {**SenderClock.system().to_json(), **clock},
        "events": events,
    }
    return gzip.compress(json.dumps(body, ensure_ascii=True).encode("ascii"))


def _hashed(chain: EventChain, kind: str, data: Any, **header: Any) -> dict[str, Any]:
    """The next event of `chain` with `data` hashed as given (ensure_ascii keeps a surrogate)."""
    event = chain.event(kind, new_id(), {"room": "1"})
    doc = event.to_json()
    doc.update(header)
    inner = {k: doc[k] for k in event.header()} | {"data": data}
    payload = json.dumps(inner, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    digest = sha256_hex(payload)
    doc.update(
        payload=payload,
        payload_sha256=digest,
        chain_sha256=chain_hash(event.sequence, event.prev_chain_sha256, digest),
    )
    return doc


def _send(central: Admin, client: Any, body: bytes) -> requests.Response:
    with requests.Session() as session:
        return signed_post(session, central.url, client.credentials, "/api/v1/events", body)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_each_unstorable_event_is_rejected_and_the_good_ones_stored(
    central: Admin, server: CentralServer
) -> None:
    client, chain = central.device()
    first = chain.check_in().to_json()
    bad = {
        "nul room": _hashed(chain, "check_in", {"room": "1\x00X", "guests": [guest()]}),
        "object room": _hashed(chain, "check_in", {"room": {"x": 1}, "guests": [guest()]}),
        "surrogate name": _hashed(
            chain, "check_in", {"room": "2", "guests": [guest(name="张\ud800")]}
        ),
        "long room": _hashed(chain, "check_in", {"room": "9" * 65, "guests": [guest()]}),
        "nested": _hashed(chain, "check_in", {"room": "3", "extra": _nested(40)}),
        "name list": _hashed(chain, "check_in", {"room": "4", "guests": [guest(name=["a"])]}),
        "amend object": _hashed(
            chain, "amend", {"field": "room", "new": {"x": 1}}, target_event_id=first["event_id"]
        ),
    }
    good = chain.check_in(room="5").to_json()
    answer = _send(central, client, _raw_body(chain, [first, *bad.values(), good]))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [ACCEPTED] + [REJECTED] * len(bad) + [ACCEPTED]
    reasons = {name: (r["code"], r["field"]) for name, r in zip(bad, results[1:-1], strict=True)}
    assert reasons == {
        "nul room": ("invalid_text", "payload.data.room"),
        "object room": ("wrong_type", "payload.data.room"),
        "surrogate name": ("invalid_text", "payload.data.guests[0].name"),
        "long room": ("too_long", "payload.data.room"),
        "nested": ("too_deep", "payload.data." + ".".join(["extra"] + ["n"] * 15)),
        "name list": ("wrong_type", "payload.data.guests[0].name"),
        "amend object": ("wrong_type", "payload.data.new"),
    }
    for result in results[1:-1]:
        assert result["message"] and result.get("receipt") is None
    stored = {r["event_id"] for r in central.rows("events", device_id=chain.device_id)}
    assert stored == {first["event_id"], good["event_id"]}
    assert {r["room"] for r in central.rows("stays", device_id=chain.device_id)} == {"101", "5"}
    assert "Traceback" not in server.log()


def test_a_surrogate_or_a_nul_in_a_wire_field_is_a_rejection_not_a_500(
    central: Admin, server: CentralServer
) -> None:
    client, chain = central.device()
    good = chain.check_in().to_json()
    operator = chain.check_in().to_json() | {"operator": "00\x007"}
    payload = chain.check_in().to_json()
    payload["payload"] = payload["payload"][:-1] + "\ud800}"  # raw text: cannot even be hashed
    odd_id = chain.check_in().to_json() | {"event_id": "\ud800", "kind": "?"}
    answer = _send(central, client, _raw_body(chain, [good, operator, payload, odd_id]))
    results = answer.json()["results"]
    assert [(r["status"], r.get("code"), r.get("field")) for r in results] == [
        (ACCEPTED, None, None),
        (REJECTED, "invalid_event", "operator"),
        (REJECTED, "invalid_event", "payload"),
        (REJECTED, "invalid_event", "kind"),
    ]
    assert results[3]["event_id"] is None  # the answer never echoes what is not text
    assert "Traceback" not in server.log()


def test_a_surrogate_in_the_envelope_is_a_400(central: Admin, server: CentralServer) -> None:
    client, chain = central.device()
    body = _raw_body(chain, [chain.check_in().to_json()], boot_id="boot-\ud800")
    error = assert_error(_send(central, client, body), 400, "invalid_field")
    assert error["field"] == "clock.boot_id"
    body = _raw_body(chain, [chain.check_in().to_json()], boot_id="boot-\x00")
    assert assert_error(_send(central, client, body), 400, "invalid_field")["field"] == (
        "clock.boot_id"
    )
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("path", ["/api/v1/enroll", "/api/v1/events", "/api/v1/heartbeat"])
def test_deeply_nested_json_is_a_400_without_a_traceback(
    central: Admin, server: CentralServer, path: str
) -> None:
    body = b"[" * 20_000 + b"]" * 20_000
    if path == "/api/v1/enroll":
        reply = fetch(
            "POST", central.url + path, data=body, headers={"Content-Type": "application/json"}
        )
    else:
        client, _chain = central.device()
        with requests.Session() as session:
            reply = signed_post(session, central.url, client.credentials, path, gzip.compress(body))
    assert_error(reply, 400, "invalid_body")
    deep_payload = central.device()
    client, chain = deep_payload
    event = _hashed(chain, "check_in", {"room": "1"})
    event["payload"] = "[" * 20_000 + "]" * 20_000
    event["payload_sha256"] = sha256_hex(event["payload"])
    (result,) = _send(central, client, _raw_body(chain, [event])).json()["results"]
    assert (result["status"], result["code"]) == (REJECTED, "invalid_payload")
    assert "Traceback" not in server.log()


def test_enrolment_with_a_surrogate_or_nul_is_a_400(central: Admin) -> None:
    for token in ("\ud800", "abc\x00"):
        body = json.dumps(
            {"protocol": 1, "token": token, "installation_id": "inst-0001", "software_version": "1"}
        ).encode("ascii")
        error = assert_error(
            fetch("POST", central.url + "/api/v1/enroll", data=body), 400, "invalid_field"
        )
        assert error["field"] == "token"


@pytest.mark.parametrize(
    "query",
    [
        "document=4401%00",
        "name=%ED%A0%80",
        "name=%00",
        "reason=%01x",
        "x%00=1",
        "name=" + "a" * 9000,
    ],
)
def test_search_parameters_that_are_not_text_are_a_400(
    central: Admin, server: CentralServer, query: str
) -> None:
    for path in ("/api/v1/search", "/search", "/stay/x", "/export.csv", "/fleet"):
        assert_error(
            fetch("GET", f"{central.url}{path}?{query}", allow_redirects=False),
            400,
            "invalid_parameter",
        )
    assert_error(
        fetch("GET", f"{central.url}/stay/%00", allow_redirects=False), 400, "invalid_parameter"
    )
    assert "Traceback" not in server.log()


def test_a_nul_in_a_police_form_is_a_400(central: Admin, server: CentralServer) -> None:
    reply = fetch(
        "POST",
        central.url + "/login",
        data={"username": "a\x00", "password": "x"},
        allow_redirects=False,
    )
    assert reply.status_code == 400 and "invalid_parameter" in reply.text  # the page's shape
    assert "Traceback" not in server.log()


def test_a_good_event_after_an_unstorable_one_is_stored_by_the_wire_client(central: Admin) -> None:
    # Through SyncClient itself: the terminal's own path (a NUL survives its JSON encoding).
    client, chain = central.device()
    nul = chain.event("check_in", new_id(), {"room": "1\x00X", "guests": [guest()]})
    good = chain.check_in(room="7")
    answer = client.send_events([nul, good])
    assert [(r.status, r.code) for r in answer.results] == [
        (REJECTED, "invalid_text"),
        (ACCEPTED, None),
    ]
