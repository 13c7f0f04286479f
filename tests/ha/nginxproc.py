"""nginx in the foreground with its own prefix, on the sample site deploy/ha/nginx-anju-central.conf
(its ports and certificate paths substituted), in front of test app servers.

    with Nginx(base, upstream_ports) as proxy:
        proxy.url, proxy.ca   # https://127.0.0.1:PORT, the self-signed certificate to trust
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.central.serverproc import free_port

SITE = Path(__file__).parents[2] / "deploy" / "ha" / "nginx-anju-central.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP_TIMEOUT_S = 20.0


def self_signed(base: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with the openssl CLI."""
    cert, key = base / "central.crt", base / "central.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def render_site(
    site: str, upstreams: list[int], https_port: int, http_port: int, cert: Path, key: Path
) -> str:
    """The sample site with this test's ports and files; fails if the sample changed shape."""
    servers = re.findall(r"^    server 127\.0\.0\.1:\d+ (.*);$", site, flags=re.M)
    assert servers, "the sample upstream lists no server"
    lines = "\n".join(f"    server 127.0.0.1:{port} {servers[0]};" for port in upstreams)
    site = re.sub(r"(^    server 127\.0\.0\.1:\d+ .*;\n)+", lines + "\n", site, flags=re.M)
    for old, new in (
        (r"listen \[::\]:\d+[^;]*;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
        (r"/etc/ssl/anju/central\.crt", str(cert)),
        (r"/etc/ssl/anju/central\.key", str(key)),
    ):
        site, count = re.subn(old, new, site)
        assert count, f"the sample site has no {old!r}"
    return site


class Nginx:
    def __init__(self, base: Path, upstreams: list[int]) -> None:
        self.base = base
        self.upstreams = upstreams
        self.port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.ca = base / "central.crt"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Nginx:
        cert, key = self_signed(self.base)
        site = render_site(SITE.read_text(), self.upstreams, self.port, self.http_port, cert, key)
        (self.base / "site.conf").write_text(site)
        temps = "\n".join(
            f"    {kind}_temp_path {self.base / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers read this temp dir
        (self.base / "nginx.conf").write_text(
            f"daemon off;\n{user}worker_processes 1;\npid {self.base / 'nginx.pid'};\n"
            f"error_log {self.base / 'error.log'} notice;\n"
            "events { worker_connections 512; }\n"
            f"http {{\n    access_log {self.base / 'access.log'};\n{temps}\n"
            f"    include {self.base / 'site.conf'};\n}}\n"
        )
        with open(self.base / "stderr.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    NGINX,
                    "-p",
                    str(self.base),
                    "-c",
                    str(self.base / "nginx.conf"),
                    "-e",
                    str(self.base / "error.log"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log()}")
            try:
                with requests.get(self.url + "/api/v1/time", verify=self.ca, timeout=2) as r:
                    if r.status_code == 200:
                        return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"nginx not ready: {self.log()}")

    def log(self) -> str:
        return "".join(
            p.read_text(errors="replace")[-2000:]
            for p in (self.base / "error.log", self.base / "stderr.log")
            if p.exists()
        )

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown, workers included
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
