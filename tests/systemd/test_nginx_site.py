"""The sample TLS site for the central server (deploy/nginx/anju-central.conf): `nginx -t`
accepts it, and a real nginx with it (ports moved to free loopback ones, a throwaway
certificate) redirects HTTP to HTTPS and hands requests to the upstream with the headers the
server's login throttle relies on."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import urllib3

from tests.central.serverproc import free_port

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "anju-central.conf"

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx or openssl missing (apt-get install nginx-light)",
)

ECHO = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(self.headers)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    do_POST = do_GET
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"""


def site_in(work: Path, *, http: int = 80, https: int = 443, upstream: int = 8600) -> Path:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=central.example.org",
            "-keyout",
            str(work / "key.pem"),
            "-out",
            str(work / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    text = (
        SITE.read_text()
        .replace("/etc/ssl/anju/central.crt", str(work / "cert.pem"))
        .replace("/etc/ssl/anju/central.key", str(work / "key.pem"))
        .replace("listen 80;", f"listen 127.0.0.1:{http};")
        .replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
        .replace("server 127.0.0.1:8600;", f"server 127.0.0.1:{upstream};")
    )
    text = "\n".join(line for line in text.splitlines() if "[::]" not in line)
    (work / "site.conf").write_text(text)
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = work / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\npid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
        "worker_processes 1;\nevents {}\n"
        f"http {{ access_log off; client_body_temp_path {work}/body; "
        f"proxy_temp_path {work}/proxy; include {work}/site.conf; }}\n"
    )
    return main


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    main = site_in(tmp_path)
    done = subprocess.run(
        ["nginx", "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_terminates_tls_and_forwards_to_the_server(tmp_path: Path) -> None:
    http, https, upstream = free_port(), free_port(), free_port()
    main = site_in(tmp_path, http=http, https=https, upstream=upstream)
    echo = subprocess.Popen([sys.executable, "-c", ECHO, str(upstream)])
    nginx = subprocess.Popen(
        ["nginx", "-c", str(main), "-p", str(tmp_path)], stderr=subprocess.PIPE
    )
    try:
        wait_listening(https, nginx)
        wait_listening(upstream, echo)
        with requests.Session() as s, urllib3.warnings.catch_warnings():
            urllib3.warnings.simplefilter("ignore")
            answer = s.get(f"https://127.0.0.1:{https}/api/v1/time", verify=False, timeout=5)
            seen = json.loads(answer.text)
            answer.close()
            assert seen["X-Forwarded-Proto"] == "https"
            assert seen["X-Forwarded-For"] == "127.0.0.1"
            redirect = s.get(f"http://127.0.0.1:{http}/police", allow_redirects=False, timeout=5)
            redirect.close()
            assert redirect.status_code == 308
            assert redirect.headers["Location"].startswith("https://")
            big = s.post(
                f"https://127.0.0.1:{https}/api/v1/events",
                verify=False,
                timeout=10,
                data=b"x" * (4 * 1024 * 1024),
            )
            big.close()
            assert big.status_code == 413  # nginx's limit, above the protocol's 2 MiB
    finally:
        nginx.terminate()
        echo.terminate()
        nginx.wait(10)
        echo.wait(10)
        assert nginx.stderr is not None
        nginx.stderr.close()
