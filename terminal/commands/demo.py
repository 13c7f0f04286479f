"""`anju demo`: the whole system on the embedded default, for a newcomer, in one command.

1. the central server on SQLite (`anju central serve`), a site and a one-time enrolment token;
2. a terminal provisioned with that token (`anju provision`: credential, identity);
3. the terminal service with a simulated reader cycling through synthetic cards
   (`anju terminal run --simulate --cycle`): open the front-desk page, type a room, confirm;
4. the uploader (`anju sync run`) delivering each saved registration to the server.

The URLs are printed; Ctrl-C or SIGTERM stops every part in reverse order. `--auto-clerk`
confirms each party itself through the page's own HTTP endpoints (used by the test and for
an unattended showcase); `--until-delivered N` stops once the server has acknowledged N events,
so a scripted run ends when its work is done rather than after a guessed duration (exit 1 if
`--seconds` runs out first). Output never shows a full name or ID number.
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import click
import requests

from terminal.commands.demo_procs import Child, DemoError, free_port, run_anju

SITE_CODE = "4401060001"
SITE_NAME = "演示旅馆"


def _settings(work: Path, web_port: int) -> str:
    return (f'[store]\ndatabase = "{work / "terminal.db"}"\nmin_free_bytes = 0\n\n'
            f'[sync]\ncredential_file = "{work / "credential.json"}"\n'
            f'state_file = "{work / "sync-state.json"}"\npoll_interval_s = 1\n'
            f'heartbeat_interval_s = 30\nbackoff_initial_s = 1\nbackoff_cap_s = 10\n\n'
            f'[web]\nport = {web_port}\noperator = "demo-clerk"\n')


@click.command()
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True,
              help="Where the demo keeps its data (emptied at start).")
@click.option("--seconds", type=float, default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--web-port", type=int, default=8080, show_default=True,
              help="Port of the front-desk page (0: any free port).")
@click.option("--central-port", type=int, default=8600, show_default=True,
              help="Port of the central server (0: any free port).")
@click.option("--auto-clerk", is_flag=True,
              help="Confirm each party by itself (room 101, 102, ...) through the page.")
@click.option("--until-delivered", type=click.IntRange(min=1), default=None,
              help="Stop once the server has acknowledged this many events (with "
                   "--auto-clerk: an unattended run; exit 1 if --seconds ends it first).")
def demo(work_dir: Path, seconds: float | None, web_port: int, central_port: int,
         auto_clerk: bool, until_delivered: int | None) -> None:
    """Central server, provisioned terminal with a simulated reader, page and uploader."""
    work = work_dir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    web_port = web_port or free_port()
    central_port = central_port or free_port()
    db_url = f"sqlite:///{work / 'central.db'}"
    config = work / "terminal.toml"
    config.write_text(_settings(work, web_port), "utf-8")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: list[Child] = []
    central_url = f"http://127.0.0.1:{central_port}"
    page_url = f"http://127.0.0.1:{web_port}"
    confirmed = 0
    central_gone = False
    done = until_delivered is None  # nothing to wait for: any stop is a normal one
    try:
        central = Child("central server", ["central", "serve", "--db", db_url, "--port",
                                           str(central_port)], work / "central.log", work)
        children.append(central)
        central.wait_http(central_url + "/api/v1/time")
        anju = click.get_current_context().find_root().command
        run_anju(anju, "central", "site", "add", SITE_CODE, "--name", SITE_NAME, "--db", db_url)
        token = run_anju(anju, "central", "token", "issue", "--site", SITE_CODE, "--ttl", "1h",
                         "--db", db_url).strip()
        run_anju(anju, "provision", "--server", central_url, "--token", token, "--config",
                 str(config), "--no-reader",  # the terminal runs its own simulated reader
                 "--scanner-wait", "0")  # nor does it look for a scanner
        terminal = Child("terminal", ["terminal", "run", "--config", str(config), "--simulate",
                                      "--cycle"], work / "terminal.log", work)
        children.append(terminal)
        terminal.wait_http(page_url + "/healthz")
        children.append(Child("uploader", ["sync", "run", "--config", str(config)],
                              work / "sync.log", work))
        _announce(page_url, central_url, db_url, work, central, central_port)
        deadline = time.monotonic() + seconds if seconds is not None else None
        rooms = (f"{floor}{n:02d}" for floor, n in itertools.product(range(1, 10), range(1, 21)))
        while not stop.wait(1.0):
            if until_delivered is not None and _delivered(work) >= until_delivered:
                done = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            if auto_clerk:
                confirmed += _auto_confirm(page_url, rooms)
            for child in children:
                if child is central and not child.alive():
                    if not central_gone:  # stopped on purpose: the terminal works offline
                        central_gone = True
                        click.echo(f"central server stopped (exit {child.process.returncode}): "
                                   "the terminal keeps registering and queues its uploads. "
                                   "Restart it with:\n  " + _serve_command(db_url, central_port))
                elif not child.alive():
                    raise DemoError(f"{child.name} stopped; see {child.log}")
    except DemoError as err:
        click.echo(f"error: {err}", err=True)
        stop.set()
    finally:
        for child in reversed(children):
            child.stop()
    _summary(work, confirmed)
    if not done and not stop.is_set():  # --seconds ran out before --until-delivered was met
        click.echo(f"error: fewer than {until_delivered} events delivered in {seconds:g} s",
                   err=True)
        raise SystemExit(1)
    # A central server the user stopped on purpose (to watch offline work) is no failure.
    watched = [c for c in children if not (central_gone and c.name == "central server")]
    if not children or any(c.process.returncode not in (0, -signal.SIGTERM) for c in watched):
        raise SystemExit(1)


def _serve_command(db_url: str, port: int) -> str:
    return f"anju central serve --db {db_url} --port {port}"


def _announce(page_url: str, central_url: str, db_url: str, work: Path, central: Child,
              central_port: int) -> None:
    """The URLs, and the exact commands that lead an officer to a working login on this
    demo's own database (not a new ./var/central.db), and how to watch offline behaviour."""
    click.echo("Anju demo is running:")
    click.echo(f"  front-desk page   {page_url}/   (simulated reader: a card every 8 s)")
    click.echo(f"  central server    {central_url}/   (site {SITE_CODE} {SITE_NAME})")
    click.echo(f"  central database  {db_url}")
    click.echo(f"  logs and data     {work}")
    click.echo("Police workspace: create an officer on this database, then log in at "
               f"{central_url}/login")
    click.echo(f"  anju central user add li.wei --role officer --db {db_url}")
    click.echo(f"  ANJU_CENTRAL_DB={db_url} anju central audit list")
    click.echo("  (a supervisor sees the audit log on the page too: --role supervisor)")
    click.echo("Offline: stop the central server alone, the terminal keeps working:")
    click.echo(f"  kill {central.process.pid}      then restart it (in another shell, where you "
               "stop it yourself) with:")
    click.echo(f"  {_serve_command(db_url, central_port)}")
    click.echo("Ctrl-C to stop.")


def _auto_confirm(page_url: str, rooms: itertools.chain[str] | object) -> int:
    """What a clerk would do: look at the party, type the next room, confirm (with the page's
    cookie and CSRF token, as the browser sends them)."""
    try:
        with requests.Session() as session:
            page = session.get(page_url + "/", timeout=2).text
            if "data-guest=" not in page:
                return 0
            version = re.search(r'name="draft_version" value="(\d+)"', page)
            token = re.search(r'<meta name="anju-csrf" content="([^"]*)">', page)
            room = next(rooms)  # type: ignore[call-overload]
            answer = session.post(page_url + "/checkin", timeout=5, data={
                "room": room, "draft_version": version.group(1) if version else ""},
                headers={"X-CSRF-Token": token.group(1) if token else ""})
    except requests.RequestException:
        return 0
    return 1 if 'id="saved"' in answer.text else 0


def _delivered(work: Path) -> int:
    """Events the server has acknowledged, as the terminal's store records them."""
    from terminal.store import outbox
    from terminal.store.database import ReadOnlyStore
    from terminal.store.outbox import OutboxState

    database = work / "terminal.db"
    if not database.exists():
        return 0
    with ReadOnlyStore(database).reader() as conn:
        return outbox.count(conn, OutboxState.ACKNOWLEDGED)


def _summary(work: Path, confirmed: int) -> None:
    from terminal.store import queries
    from terminal.store.database import ReadOnlyStore

    stays = 0
    database = work / "terminal.db"
    if database.exists():
        with ReadOnlyStore(database).reader() as conn:
            stays = queries.count_stays(conn)
    delivered = _delivered(work)
    line = f"stopped: {stays} registrations saved, {delivered} events delivered to the server"
    if confirmed:
        line += f" ({confirmed} confirmed by the auto-clerk)"
    click.echo(line)
