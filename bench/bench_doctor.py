"""`anju doctor` and the truth in `anju sync status` (issue 12): wall times and reaction times.

Run: .venv/bin/python bench/bench_doctor.py [--runs 5]

Figures and goals:
1. `anju doctor` wall time (a subprocess, as the technician runs it; median of --runs) on a
   provisioned terminal with a simulated reader and a local `anju central serve`:
   healthy; server stopped (connection refused); server silent (accepts, never answers:
   bounded by --server-timeout 2 s)                                         goal < 3 s each
   (baseline in the same run: `anju sync --help`, the interpreter and CLI start-up alone)
2. outage: `anju sync run` (poll 1 s, backoff 1..5 s) with the server SIGKILLed and one
   event registered after: time until `anju sync status --json` says offline (goal: within
   one retry window = poll interval + first attempt); the server restarted on the same port:
   time until the backlog is 0 (goal: within one backoff cap, 5 s, + a poll); the same for
   the page: the terminal service (`anju terminal run`, its status as `/local/health` and
   the status bar read it) saying "server unreachable" and then "reachable" again (its probe
   runs every min(10 s, 2 x poll interval) = 2 s here)
The bench prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.sim.idcard import SimulatedReader  # noqa: E402
from tests.central.central_helpers import Admin  # noqa: E402
from tests.central.serverproc import CentralServer, free_port  # noqa: E402
from tests.sync.uploader_helpers import provision, register  # noqa: E402

ANJU = [sys.executable, "-m", "terminal.cli"]
GOAL_S = 3.0


def timed(*args: str) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [*ANJU, *args], capture_output=True, text=True, check=False, timeout=120, cwd=ROOT
    )
    return time.perf_counter() - started, done.returncode


def median_of(runs: int, *args: str) -> tuple[float, int]:
    results = [timed(*args) for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[-1][1]


def status(config: Path) -> dict[str, object]:
    done = subprocess.run(
        [*ANJU, "sync", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


def set_server(config: Path, old: str, new: str) -> None:
    config.write_text(config.read_text("utf-8").replace(old, new), "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-doctor-"))
    server = CentralServer(f"sqlite:///{work / 'central.db'}", work / "server.log").start()
    sim = SimulatedReader().start()
    try:
        with Admin(server.db_url, server.url) as admin:
            term = provision(admin, work)
        term.store.close()
        config = term.config_path
        text = config.read_text("utf-8").replace(
            "backoff_cap_s = 2", "backoff_cap_s = 5\nbackoff_initial_s = 1\npoll_interval_s = 1"
        )
        config.write_text(text + f'\n[reader]\nport = "{sim.port}"\n', "utf-8")
        config.chmod(0o600)
        base, _ = median_of(args.runs, "sync", "--help")
        doctor = ("doctor", "--config", str(config), "--synchronised", "yes")
        healthy, code = median_of(args.runs, *doctor)
        print(
            f"doctor healthy           {healthy:5.2f} s (exit {code})  goal < {GOAL_S:g} s; "
            f"start-up baseline {base:.2f} s, ratio {healthy / base:.1f}x"
        )
        dead = f"http://127.0.0.1:{free_port()}"
        set_server(config, server.url, dead)
        stopped, code = median_of(args.runs, *doctor)
        print(
            f"doctor server stopped    {stopped:5.2f} s (exit {code})  ratio {stopped / base:.1f}x"
        )
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(64)
            quiet = f"http://127.0.0.1:{silent.getsockname()[1]}"
            set_server(config, dead, quiet)
            hung, code = median_of(args.runs, *doctor)
        set_server(config, quiet, server.url)
        print(f"doctor server silent     {hung:5.2f} s (exit {code})  ratio {hung / base:.1f}x")
        outage(config, server, work)
    finally:
        sim.stop()
        server.stop()


def page_says(url: str) -> object:
    """The page's view of the server: /local/health's server_reachable (None: no answer)."""
    import requests

    try:
        return requests.get(url + "/local/health", timeout=2).json().get("server_reachable")
    except (requests.RequestException, ValueError):
        return None


def until(condition: object, limit_s: float) -> float:
    started = time.monotonic()
    while not condition() and time.monotonic() - started < limit_s:  # type: ignore[operator]
        time.sleep(0.1)
    return time.monotonic() - started


def outage(config: Path, server: CentralServer, work: Path) -> None:
    from tests.web.desk import Desk

    env = {**os.environ, "ANJU_CONFIG": str(config)}
    with open(work / "sync.log", "ab") as log:
        uploader = subprocess.Popen(
            [*ANJU, "sync", "run"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    desk = Desk(work, config, simulate=True)
    try:
        time.sleep(3)  # the first heartbeat and an empty drain
        until(lambda: page_says(desk.url) is True, 15)
        killed = time.monotonic()
        server.stop(signal.SIGKILL)
        page_down = until(lambda: page_says(desk.url) is False, 60)
        print(f"outage shown by the page after {page_down:5.2f} s (its probe every 2 s here; "
              "10 s with the default poll interval)")
        from terminal.config import load_config
        from terminal.store.database import Store

        cfg = load_config(config)
        with Store.from_config(cfg) as store:
            down = time.monotonic()
            from tests.sync.uploader_helpers import Terminal

            register(Terminal(cfg, config, store), 1, check_out_every=0)
        while not status(config).get("offline_since") and time.monotonic() - down < 60:
            time.sleep(0.1)
        noticed = time.monotonic() - down
        print(
            f"outage noticed by `sync status` after {noticed:5.2f} s (retry window: poll 1 s "
            "+ first attempt; goal within it)"
        )
        print(f"  (the server was killed {down - killed:5.2f} s before the event was registered)")
        server.start()
        back = time.monotonic()
        while status(config).get("backlog") and time.monotonic() - back < 120:
            time.sleep(0.1)
        drained = time.monotonic() - back
        print(f"backlog drained after the server came back: {drained:5.2f} s (backoff cap 5 s)")
        page_up = until(lambda: page_says(desk.url) is True, 60) + drained
        print(f"page shows the server reachable again after {page_up:5.2f} s")
        lines = (work / "sync.log").read_text("utf-8", "replace").splitlines()
        print(
            f"log lines for the outage: {sum('offline since' in x for x in lines)} 'offline "
            f"since', {sum('back online' in x for x in lines)} 'back online'"
        )
    finally:
        desk.stop()
        uploader.send_signal(signal.SIGTERM)
        uploader.wait(15)


if __name__ == "__main__":
    main()
