"""Issue 18: the reference consumer (`anju central feed pull`), SIGKILLed at random points while
terminals keep uploading, ends with every stay and change exactly once, in order: the pages on
disk chain cursor to cursor, and hold what the server's feed holds, no more, no less."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from itertools import pairwise
from pathlib import Path

from central.feed.consumer import State, load_state, recover, save_state
from sync.protocol import WireEvent
from tests.central.central_helpers import Admin
from tests.central.feed_helpers import feed_token, pull_all
from tests.forkserver import Forked, ForkServer
from tests.sync.wire_helpers import EventChain, guest

KILLS = 8


def upload_until(central: Admin, stop: threading.Event, sent: list[str]) -> None:
    """Three devices check guests in, amend, check out and void, a small batch at a time."""
    devices = [central.device() for _ in range(3)]
    rng = random.Random(7)
    open_stays: dict[int, list] = {i: [] for i in range(len(devices))}
    for _ in range(400):  # bounded: about 20 s of uploads at most
        if stop.is_set():
            return
        index = rng.randrange(len(devices))
        client, chain = devices[index]
        batch = [_next(chain, open_stays[index], rng) for _ in range(rng.randint(1, 4))]
        answer = client.send_events(batch)
        sent += [r.event_id for r in answer.results if r.status == "accepted"]
        time.sleep(0.05)


def _next(chain: EventChain, open_stays: list, rng: random.Random) -> WireEvent:
    roll = rng.random()
    if open_stays and roll < 0.3:
        return chain.check_out(open_stays.pop(0))
    if open_stays and roll < 0.4:
        target = open_stays[-1]
        return chain.event(
            "amend",
            target.stay_id,
            {"field": "room", "new": "9" + str(rng.randrange(100)), "reason": "换房"},
            target_event_id=target.event_id,
        )
    if open_stays and roll < 0.45:
        target = open_stays.pop()
        return chain.event(
            "void", target.stay_id, {"reason": "误登"}, target_event_id=target.event_id
        )
    event = chain.check_in(room=str(rng.randrange(100, 400)), guests=[guest(name="王小明")])
    open_stays.append(event)
    return event


def consumer(forks: ForkServer, central: Admin, token: str, base: Path, *extra: str) -> Forked:
    """`anju central feed pull`, forked ready-imported (tests/forkserver.py)."""
    args = ["central", "feed", "pull", "--url", central.url, "--state", str(base / "state.json"),
            "--out", str(base / "out"), "--limit", "7", *extra]
    return forks.spawn(args, base / "consumer.log", {**os.environ, "ANJU_FEED_TOKEN": token})


def pages_on_disk(base: Path) -> int:
    return len(list((base / "out").glob("*.ndjson")))


def test_a_consumer_killed_at_random_ends_with_every_record_once_in_order(
    central: Admin, tmp_path: Path, fork_server: ForkServer
) -> None:
    token = feed_token(central, "断点续传测试", rate_per_minute=6000)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    stop, sent, progress = threading.Event(), [], [0]
    uploader = threading.Thread(target=upload_until, args=(central, stop, sent))
    uploader.start()
    try:
        for _ in range(KILLS):
            process = consumer(fork_server, central, token, tmp_path, "--follow", "--interval",
                               "0.1")
            started_with = pages_on_disk(tmp_path)
            deadline = time.monotonic() + 60  # starting may take seconds on a busy machine
            while pages_on_disk(tmp_path) == started_with and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.5))  # then anywhere in its work
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            progress.append(pages_on_disk(tmp_path))
        while len(sent) <= 50 and uploader.is_alive():  # kills may outpace the uploads
            time.sleep(0.05)
    finally:
        stop.set()
        uploader.join(60)
    # Killed mid-run, not before it started: every run took pages.
    assert all(b > a for a, b in pairwise(progress)), progress
    print("pages on disk after each kill:", progress, "events sent:", len(sent))
    final = consumer(fork_server, central, token, tmp_path)  # once more, until caught up
    assert final.wait(60) == 0, (tmp_path / "consumer.log").read_text()

    files = sorted((tmp_path / "out").glob("*.ndjson"))
    taken, after = [], "0"
    for number, path in enumerate(files, 1):
        page, first, last = path.stem.split("-")
        assert (int(page), first) == (number, after), (seed, path.name)  # no gap between files
        lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        assert lines[-1]["cursor"] == last
        taken += lines
        after = last
    assert load_state(tmp_path / "state.json") == State(after, len(files))
    truth, _ = pull_all(central, token)
    assert [r["cursor"] for r in taken] == [r["cursor"] for r in truth], seed
    assert taken == truth
    mine = [r["event"]["event_id"] for r in taken if r["event"]]
    assert len(mine) == len(set(mine))
    assert set(sent) <= set(mine) and len(sent) > 50, seed
    assert not list((tmp_path / "out").glob(".*.part"))


def test_recovery_drops_half_pages_and_moves_past_durable_unrecorded_ones(tmp_path: Path) -> None:
    (tmp_path / ".00000003.part").write_text('{"cursor":"9"', "utf-8")
    (tmp_path / "00000001-0-5.ndjson").write_text("", "utf-8")
    (tmp_path / "00000002-5-8.ndjson").write_text("", "utf-8")  # killed before the state moved
    assert recover(State("5", 1), tmp_path) == State("8", 2)
    assert not (tmp_path / ".00000003.part").exists()
    save_state(tmp_path / "state.json", State("8", 2))
    assert load_state(tmp_path / "state.json") == State("8", 2)
    assert not (tmp_path / "state.json.tmp").exists()
