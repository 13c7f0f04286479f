"""Stopping the front desk does not wait on the pages' event streams: SIGTERM ends every open
stream with a clean end of response, so uvicorn never reaches its graceful timeout (it used to
hold every stop and restart for 2 s, then cut the stream mid-response)."""

from __future__ import annotations

import http.client
import signal
import threading
from pathlib import Path

from tests.web.desk import Desk, write_settings


def test_sigterm_ends_open_event_streams_cleanly_and_at_once(tmp_path: Path) -> None:
    desk = Desk(tmp_path, write_settings(tmp_path))
    outcome: list[str] = []
    conn = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=30)
    try:
        conn.request("GET", "/events")
        response = conn.getresponse()
        assert response.status == 200 and response.readline() == b"retry: 1000\n"

        def read_to_the_end() -> None:
            try:
                while response.read(4096):
                    pass
                outcome.append("clean end")  # the last chunk came: the response is complete
            except (http.client.HTTPException, OSError) as err:
                outcome.append(type(err).__name__)

        reader = threading.Thread(target=read_to_the_end)
        reader.start()
        desk.service.process.send_signal(signal.SIGTERM)
        desk.service.process.wait(15)
        reader.join(15)
    finally:
        conn.close()
        desk.stop()
    assert outcome == ["clean end"]  # a cut stream (the old way) raises IncompleteRead
    # uvicorn logs this when it gives up waiting for an open response: the stream ended on
    # the closing notice, not on the timeout. No wall-clock bound here (a loaded machine may
    # take a second to stop anyway): bench/bench_pi_budget.py measures the stop.
    log = desk.service.log.read_text()
    assert "timeout graceful shutdown exceeded" not in log, log


def test_closing_reaches_every_stream_even_a_stuck_one_and_late_ones() -> None:
    import asyncio

    from terminal.desk.notices import CLOSING, QUEUE_LIMIT, Hub

    async def scenario() -> list[str]:
        hub = Hub()
        hub.bind(asyncio.get_running_loop())
        stuck, live = hub.subscribe(), hub.subscribe()
        for _ in range(QUEUE_LIMIT):
            hub.publish("status")
        await asyncio.sleep(0)
        assert stuck.full()
        hub.close()
        await asyncio.sleep(0)
        late = hub.subscribe()
        ends = []
        for queue in (stuck, live, late):
            names = [queue.get_nowait().name for _ in range(queue.qsize())]
            ends.append(names[-1])
        return ends

    assert asyncio.run(scenario()) == [CLOSING, CLOSING, CLOSING]
