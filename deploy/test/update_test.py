"""Updates end to end on the installed package: signed repository, rollout, health gate, rollback.

    python deploy/test/update_test.py [--deb dist/anju-terminal_X_amd64.deb]   (make test-update)

On this host: a signing key (gpg), the repository (`anju central repo publish`, served over
HTTP with a byte count), the central server (SQLite). In a Debian 12 root filesystem
(deploy/test/rootfs.sh): the package v1 installed and provisioned, `anju update configure` with
the repository's key, one registration; then the system is booted (systemd-nspawn -b, the
host's network) and runs on its own: anju-terminal, anju-sync and the updater's units.

    1. publish v2, rollout to the terminal's site: the updater installs it, the gate passes,
       the server hears v2 and `updated`; the front-desk page's downtime is measured
    2. publish v3, whose front desk cannot start; rollout: installed, crash loop, the updater
       reinstalls v2 by itself; the server hears `rolled_back` with the reason, and the fleet
       page shows v2 and the rollout's failure; the time to roll back is measured
    3. the registration made before is on the server and `anju store verify` passes

v2 and v3 are v1's package repacked with another version (v3 also with a front desk that
raises at start), so the test builds one package. Prints one line per check, the figures, and
"N passed, N failed" last. Needs root, debootstrap's cache or the Debian archive, minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deploy.test.install_test import (  # noqa: E402
    ANJU,
    RESULTS,
    SITE,
    Rootfs,
    central_server,
    check,
    free_port,
    token,
)

SITE_PACKAGES = "opt/anju/venv/lib/python3.11/site-packages"
BROKEN = "\nraise RuntimeError('anju update test: this version cannot start')\n"
FIGURES: dict[str, float] = {}


# -- packages ----------------------------------------------------------------------------------


def repack(deb: Path, version: str, out: Path, *, broken: bool = False) -> Path:
    """v1's package with another version (and, `broken`, a front desk that cannot start)."""
    stage = out / f"stage-{version}"
    shutil.rmtree(stage, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-R", deb, stage], check=True)
    control = stage / "DEBIAN/control"
    control.write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", control.read_text()))
    site = stage / SITE_PACKAGES
    (dist,) = site.glob("anju-*.dist-info")
    renamed = site / f"anju-{version}.dist-info"
    dist.rename(renamed)
    meta = renamed / "METADATA"
    meta.write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", meta.read_text()))
    if broken:
        with (site / "terminal/desk/frontdesk.py").open("a") as service:
            service.write(BROKEN)
    sums = []
    for path in sorted(stage.rglob("*")):
        if path.is_file() and not path.is_symlink() and "DEBIAN" not in path.parts:
            sums.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  "  # dpkg's format
                        f"{path.relative_to(stage)}\n")
    (stage / "DEBIAN/md5sums").write_text("".join(sums))
    target = out / f"anju-terminal_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", stage, target],
                   check=True, capture_output=True)
    shutil.rmtree(stage)
    return target


def signing_key() -> tuple[Path, str]:
    home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                    "Anju update test <repo@anju.invalid>", "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env,
                             check=True, capture_output=True, text=True).stdout
    return home, next(line.split(":")[9] for line in listing.splitlines()
                      if line.startswith("fpr:"))


def publish(repo: Path, key: tuple[Path, str], *debs: Path) -> None:
    subprocess.run([ANJU, "central", "repo", "publish", "--repo", repo, "--key", key[1],
                    "--gnupghome", key[0], *debs], check=True, capture_output=True)


class Served:
    """The repository over HTTP, counting requests and bytes (the benchmark's figures)."""

    def __init__(self, folder: Path) -> None:
        self.requests = 0
        self.bytes = 0
        counter = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def copyfile(self, source: Any, outputfile: Any) -> None:
                data = source.read()
                counter.requests += 1
                counter.bytes += len(data)
                outputfile.write(data)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the terminal ------------------------------------------------------------------------------


def set_settings(fs: Rootfs, values: dict[str, Any]) -> None:
    pairs = ", ".join(f"{k!r}: {v!r}" for k, v in values.items())
    fs.sh("/opt/anju/venv/bin/python3 -c \"import tomlkit; from pathlib import Path; "
          "from terminal.system.settings_file import read_document, set_values, write_text_atomic; "
          "p = Path('/etc/anju/terminal.toml'); d = read_document(p); "
          f"set_values(d, {{{pairs}}}); write_text_atomic(p, tomlkit.dumps(d))\"")


def prepare(fs: Rootfs, deb: Path, url: str, db: str, repo_url: str, keyring: Path,
            page_port: int) -> None:
    subprocess.run(["cp", deb, keyring, fs.path / "root"], check=True)
    fs.sh("apt-get update -q >/dev/null", timeout=600)
    started = time.monotonic()
    fs.sh(f"apt-get install -y -q --no-install-recommends /root/{deb.name} >/root/apt.log 2>&1"
          " || { tail -30 /root/apt.log; exit 1; }", timeout=1800)
    print(f"     v1 installed in {time.monotonic() - started:.0f} s", flush=True)
    out = fs.sh(f"anju provision --server {url} --token {token(db)} --no-reader", timeout=300)
    check("v1 provisioned", "\nprovisioned " in "\n" + out, out.strip().splitlines()[-1])
    set_settings(fs, {"web.port": page_port, "update.gate_timeout_s": 120})
    out = fs.sh(f"anju update configure --repo {repo_url} --keyring /root/{keyring.name}")
    check("anju update configure: the repository verifies against the key",
          "✓ the repository's index is signed" in out, out.strip().splitlines()[-1])
    out = fs.sh(
        "anju sim reader --link-dir /run/sim --present 60 >/tmp/sim.out 2>&1 & sim=$!; "
        "for i in $(seq 100); do [ -e /run/sim/usb-anju-sim-idcard ] && break; sleep 0.2; done; "
        "anju card read --port /run/sim/usb-anju-sim-idcard --json --unmasked --timeout 60 "
        "> /var/tmp/card.json; kill $sim; chmod 644 /var/tmp/card.json; "
        "runuser -u anju -- anju store init >/dev/null; "
        "runuser -u anju -- anju stays check-in --room 301 --card /var/tmp/card.json",
        timeout=300)
    check("a registration saved before any update", out.startswith("saved "), out[:40])


class Boot:
    """The installed system booted in the background, on the host's network."""

    def __init__(self, fs: Rootfs) -> None:
        self.log = (fs.path.parent / "boot.log").open("w")
        self.process = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--console=pipe",
             "-D", str(fs.path), "-b"], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.terminate()  # nspawn -b: SIGRTMIN+3 to the container's init: poweroff
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class PageWatch:
    """Polls the front-desk page every 0.2 s; the longest time it did not answer 200."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.samples: list[tuple[float, bool]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import urllib.request

        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=1) as answer:
                    ok = answer.status == 200
            except OSError:
                ok = False
            self.samples.append((time.monotonic(), ok))
            self.stopped.wait(0.2)

    def outages(self, since: float) -> list[tuple[float, float]]:
        """(start, end) of each time the page did not answer, after `since`."""
        spans, down = [], None
        for at, ok in self.samples:
            if at < since:
                continue
            if not ok and down is None:
                down = at
            elif ok and down is not None:
                spans.append((down, at))
                down = None
        if down is not None:
            spans.append((down, time.monotonic()))
        return spans

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)


def device_row(db: str) -> dict[str, Any]:
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        conn.row_factory = sqlite3.Row
        device = conn.execute("SELECT device_id, software_version FROM devices").fetchone()
        report = conn.execute("SELECT * FROM update_reports").fetchone()
    return {"version": (device["software_version"] or "").rsplit("/", 1)[-1],
            "device_id": device["device_id"],
            **({f"update_{k}": v for k, v in dict(report).items()} if report else {})}


def wait_for(what: str, test: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if test():
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def rollout(db: str, version: str) -> None:
    subprocess.run([ANJU, "central", "rollout", "set", version, "--site", SITE, "--spread",
                    "0s"], env={**os.environ, "ANJU_CENTRAL_DB": db}, check=True,
                   capture_output=True)


def fleet_page(url: str, db: str) -> str:
    from central.db.engine import make_engine
    from tests.central.police_helpers import logged_in

    engine = make_engine(db, pooled=False)
    try:
        browser, _user = logged_in(url, engine, "technician")
        return browser.get("/fleet").text
    finally:
        engine.dispose()


def run_updates(fs: Rootfs, url: str, db: str, repo: Path, key: tuple[Path, str],
                served: Served, v2: Path, v3: Path, page_port: int) -> None:
    watch = PageWatch(page_port)
    boot = Boot(fs)
    try:
        waited = wait_for("the front desk answers after boot",
                          lambda: any(ok for _at, ok in watch.samples), 120)
        check("booted: the front desk answers", True, f"{waited:.0f} s")
        wait_for("a heartbeat of v1", lambda: device_row(db)["version"] != "", 60)
        version2 = v2.name.split("_")[1]
        publish(repo, key, v2)
        before_bytes, before_requests = served.bytes, served.requests
        started = time.monotonic()
        rollout(db, version2)
        took = wait_for("v2 updated and reported", lambda: device_row(db).get(
            "update_state") == "updated" and device_row(db)["version"] == version2, 600)
        row = device_row(db)
        check("v2: installed, health gate passed, reported to the server",
              row["update_version"] == version2, f"{took:.0f} s after the rollout; "
              f"{row['update_detail']}")
        outages = watch.outages(started)
        longest = max((end - start for start, end in outages), default=0.0)
        FIGURES["update: rollout to updated (s)"] = took
        FIGURES["update: front-desk page downtime (s)"] = longest
        FIGURES["update: bytes served by the repository"] = served.bytes - before_bytes
        FIGURES["update: repository requests"] = served.requests - before_requests
        check("v2: the front-desk page was down less than 10 s", longest < 10,
              f"{len(outages)} outage(s), longest {longest:.1f} s")

        version3 = v3.name.split("_")[1]
        publish(repo, key, v3)
        started = time.monotonic()
        rollout(db, version3)
        took = wait_for("v3 rolled back and reported", lambda: device_row(db).get(
            "update_state") == "rolled_back" and device_row(db)["version"] == version2, 900)
        row = device_row(db)
        check("v3: crash loop detected, v2 reinstalled by the terminal itself, reported",
              row["update_version"] == version3 and "crash-looped" in (row["update_detail"]
                                                                       or ""),
              f"{took:.0f} s after the rollout: {row['update_detail']}")
        try:  # the updater reports once the front desk is READY again: it should answer now
            wait_for("the page answers again", lambda: watch.samples[-1][1], 30)
            answering = True
        except TimeoutError:
            answering = False
        outages = watch.outages(started)
        down = sum(end - start for start, end in outages)
        span = (outages[-1][1] - outages[0][0]) if outages else 0.0
        FIGURES["rollback: rollout to rolled back, reported (s)"] = took
        FIGURES["rollback: page first down to back on v2 (s)"] = span
        check("v3: the front desk answers again on v2", answering,
              f"down {down:.0f} s in {len(outages)} outage(s) over {span:.0f} s")
        page = fleet_page(url, db)
        device = row["device_id"]
        fleet_row = page[page.index(f'data-device="{device}"', page.index('class="fleet"')):]
        fleet_row = fleet_row[:fleet_row.index("</tr>")]
        check("fleet page: the terminal runs v2, rollout of v3 rolled back with the reason",
              version2 in fleet_row and 'data-update="rolled_back"' in fleet_row
              and f'data-version="{version3}"' in page and 'data-rolled-back="1"' in page
              and "crash-looped" in page, re.sub(r"<[^>]+>", " ", fleet_row)[-160:])
    finally:
        watch.close()
        boot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help="v1 (default: build it)")
    args = parser.parse_args()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    deb = args.deb or ROOT / f"dist/anju-terminal_{version}_amd64.deb"
    if args.deb is None:
        subprocess.run([sys.executable, ROOT / "deploy/build_deb.py", "--arch", "amd64"],
                       check=True)
    version = deb.name.split("_")[1]
    (ROOT / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="anju-update-", dir=ROOT / "build"))
    fs = Rootfs(work / "root")
    started = time.monotonic()
    subprocess.run(["sh", ROOT / "deploy/test/rootfs.sh", "amd64", fs.path], check=True, cwd=ROOT)
    v2 = repack(deb, f"{version}+u2", work)
    v3 = repack(deb, f"{version}+u3", work, broken=True)
    key = signing_key()
    repo = work / "repo"
    publish(repo, key, deb)
    served = Served(repo)
    page_port = free_port()
    try:
        with central_server(work, ("--heartbeat-interval", "5")) as (url, db):
            prepare(fs, deb, url, db, served.url, repo / "anju-archive-keyring.gpg", page_port)
            run_updates(fs, url, db, repo, key, served, v2, v3, page_port)
        out = fs.sh("runuser -u anju -- anju store verify 2>&1; "
                    "runuser -u anju -- anju sync status 2>&1 | head -5")
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            stays = conn.execute("SELECT count(*) FROM stays").fetchone()[0]
        check("the registration made before the updates is on the server; store verifies",
              stays == 1 and "verif" in out.lower(), " ".join(out.split())[:160])
    except (RuntimeError, TimeoutError, subprocess.SubprocessError, ValueError, KeyError) as err:
        check("no unexpected error", False, str(err)[-1500:])
        subprocess.run(["sh", "-c", f"tail -60 {work}/boot.log; tail -30 {work}/central.log"],
                       check=False)
        print(fs.sh("journalctl --no-pager -u anju-update -u anju-terminal -u anju-sync "
                    "| tail -80", check=False))
    finally:
        served.close()
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(key[0])},
                       check=False, capture_output=True)
        shutil.rmtree(key[0], ignore_errors=True)
    for name, value in FIGURES.items():
        print(f"figure  {name}: {value:.1f}" if isinstance(value, float) else
              f"figure  {name}: {value}")
    failed = sum(not ok for _, ok in RESULTS)
    print(f"total {time.monotonic() - started:.0f} s")
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    if not failed:
        subprocess.run(["rm", "-rf", work], check=False)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
