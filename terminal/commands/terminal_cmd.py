"""`anju terminal run`: the front-desk service; `anju config show`: the settings in force.

`terminal run` is what systemd starts (systemd/anju-terminal.service, Type=notify): it reports
READY once the page listens; the watchdog pings only while the reader loop, the store writer and
the event loop progress (terminal/system/liveness.py). SIGTERM and Ctrl-C end the pages' event
streams and stop it between two requests; the reader thread and the store are closed last.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from terminal.commands.context import reporting, settings, store_options
from terminal.commands.options import config_option
from terminal.config import SETTINGS, load_config

log = logging.getLogger(__name__)


@click.group()
def terminal() -> None:
    """The front-desk service (reader, store, page)."""


@terminal.command()
@store_options
@click.option("--simulate", is_flag=True,
              help="Host a simulated ID card reader (demo, tests) with /sim/* control hooks.")
@click.option("--cycle", is_flag=True, help="With --simulate: cycle through the synthetic cards.")
@click.option("--host", default=None, help="Override web.host.")
@click.option("--port", type=int, default=None, help="Override web.port (0: any free port).")
def run(config_path: Path | None, db_path: Path | None, simulate: bool, cycle: bool,
        host: str | None, port: int | None) -> None:
    """Run the reader loop, the store's writer and the front-desk page in one process."""
    import uvicorn

    from drivers.sim.sam import load_sim_cards
    from terminal.desk.frontdesk import TerminalService
    from terminal.doctor.file_checks import warn_exposed_files
    from terminal.web.app import create_app
    from terminal.web.server import Server

    with reporting():
        config, database = settings(config_path, db_path)
        warn_exposed_files(config, database)
        service = TerminalService(config, simulate=simulate, database=database)
    try:
        service.start()
        if simulate and cycle and service.sim is not None:
            service.sim.cycle(load_sim_cards(), present=4.0, absent=4.0)
        server = Server(uvicorn.Config(
            create_app(service, listen_host=host), host=host or config["web.host"],
            port=config["web.port"] if port is None else port, log_level="warning",
            access_log=False, timeout_graceful_shutdown=2, lifespan="on",
            # No proxy in front: the client address is the TCP peer's, which the sign-in
            # throttle counts by; X-Forwarded-For would let a client pick its own counter.
            proxy_headers=False), on_exit=service.hub.close)
        _announce(server)
        server.run()
    finally:
        service.close()


def _announce(server: object) -> None:
    """Print the page's URL once the socket is bound (port 0 picks one), for scripts."""
    import uvicorn

    assert isinstance(server, uvicorn.Server)
    original = server.startup

    async def startup(sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await original(sockets=sockets)
        for s in server.servers:
            for sock in s.sockets:
                host, port = sock.getsockname()[:2]
                click.echo(f"front desk page: http://{host}:{port}/", err=True)

    server.startup = startup  # type: ignore[method-assign]


@click.group("config")
def config_group() -> None:
    """The terminal's settings."""


@config_group.command("show")
@config_option
@click.option("--help-text", is_flag=True, help="Add each setting's help text.")
def show(config_path: Path | None, help_text: bool) -> None:
    """Every setting with its value in force (identity included; secrets never)."""
    with reporting():
        config = load_config(config_path, missing_ok=config_path is None)
    click.echo(f"# source: {config.source or '(defaults: no settings file)'}")
    identity = config.identity
    for setting in SETTINGS:
        if setting.name == "device.device_id":
            value = identity.device_id if identity else None
        elif setting.name == "device.site_code":
            value = identity.site_code if identity else None
        else:
            value = config[setting.name]
        if setting.name == "web.clerk_pin" and value:
            value = "(set)"
        shown = "(not set)" if value is None else str(value)
        click.echo(f"{setting.name} = {shown}")
        if help_text:
            click.echo(f"    {setting.help}")
