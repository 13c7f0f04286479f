"""The package: its size, and `anju --help` with only the terminal's dependencies installed.

    python bench/bench_package.py [dist/anju-terminal_<version>_amd64.deb]

Unpacks the amd64 .deb (build it with `make deb`), byte-compiles its private environment as
postinst does, then runs `anju --help` from it N times (each a fresh process; wall time and
peak RSS from wait4) against `python3 -c pass` on the same interpreter as the baseline.
Goal (issue 11): under 0.3 s and 30 MB here. The install time inside the arm64 root
filesystem is printed by `make test-arm64`.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 15


# Peak RSS is the child's own VmHWM, read as it exits: wait4's ru_maxrss would include the
# pages the benchmark itself had when it forked (about 16 MB), for every child alike.
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    {run}
finally:
    status = open("/proc/self/status").read()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    print("HWM", int(hwm.split()[1]), file=sys.stderr)
"""


def measure(python: str, argv: list[str] | None) -> tuple[float, float, float]:
    """(median wall s, median CPU s, median peak RSS MB) over RUNS fresh processes running
    `anju ARGV` (None: nothing, the baseline).

    CPU time (user + system) is printed beside the wall time: on a shared machine the wall
    time mostly measures the neighbours."""
    run = "pass" if argv is None else "runpy.run_module('terminal.cli', run_name='__main__')"
    code = PROBE.format(argv=["anju", *(argv or [])], run=run)
    seconds, cpu, rss = [], [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        child = subprocess.Popen(
            [python, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        _, err = child.communicate()
        seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert child.returncode == 0 and "HWM" in err, err[-500:]
        rss.append(int(err.split("HWM")[-1].split()[0]) / 1024)
    return statistics.median(seconds), statistics.median(cpu), statistics.median(rss)


def main() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    deb = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / f"dist/anju-terminal_{version}_amd64.deb"
    )
    if not deb.exists():
        raise SystemExit(f"{deb} not found: run `make deb` first")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        venv = Path(tmp) / "opt/anju/venv"
        python = str(venv / "bin/python3")
        subprocess.run([python, "-m", "compileall", "-q", "-j", "0", venv / "lib"], check=True)
        installed = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        help_s, help_cpu, help_mb = measure(python, ["--help"])
        base_s, base_cpu, base_mb = measure(python, None)
        card_s, card_cpu, card_mb = measure(python, ["card", "read", "--help"])
        for blocked in ("sqlalchemy", "fastapi", "alembic", "psycopg"):
            found = subprocess.run([python, "-c", f"import {blocked}"], capture_output=True)
            assert found.returncode != 0, f"{blocked} is in the terminal package"
    print(
        f"package {deb.name}: {deb.stat().st_size / 1e6:.1f} MB, installed "
        f"{installed / 1e6:.0f} MB with bytecode"
    )
    print("                            wall ms  CPU ms  peak RSS")
    rows = (
        ("python3 -c pass (baseline)", base_s, base_cpu, base_mb),
        ("anju --help", help_s, help_cpu, help_mb),
        ("anju card read --help", card_s, card_cpu, card_mb),
    )
    for name, wall, cpu, mb in rows:
        print(
            f"{name:27} {wall * 1000:7.0f} {cpu * 1000:7.0f}  {mb:5.1f} MB  "
            f"(x{wall / base_s:.1f} wall, x{cpu / max(base_cpu, 1e-3):.1f} CPU, "
            f"x{mb / base_mb:.1f} memory)"
        )
    print("goal: anju --help under 300 ms and 30 MB")


if __name__ == "__main__":
    main()
