"""central/serving/process_metrics.py: the per-process series, the watchdog's included, in
Prometheus text format."""

from __future__ import annotations

import re
from dataclasses import dataclass

from central.serving.process_metrics import ProcessStats


@dataclass
class FakeWatchdog:
    cuts: int = 0
    connections_cut: int = 0
    reached: tuple[str, int] | None = None


def _series(text: str) -> dict[str, str]:
    """name{labels} -> value, every sample line; each HELP and TYPE names a sample's family."""
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    families = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) (?:counter|gauge)$", text, re.M)}
    assert {name.split("{")[0] for name in samples} <= families
    assert text.count("# HELP ") == text.count("# TYPE ") == len(families)
    return samples


def test_without_a_watchdog_no_database_host_series() -> None:
    stats = ProcessStats()
    stats.answers["2xx"] += 3
    series = _series(stats.render(database_up=True))
    assert series['anju_http_requests_total{code="2xx"}'] == "3"
    assert series["anju_database_up"] == "1"
    assert not any(name.startswith("anju_db_host") for name in series)


def test_the_watchdog_names_its_host_and_counts_its_cuts() -> None:
    watchdog = FakeWatchdog(cuts=2, connections_cut=7, reached=("db2.example", 5433))
    series = _series(ProcessStats(watchdog).render(database_up=True))
    assert series['anju_db_host_info{host="db2.example",port="5433"}'] == "1"
    assert series["anju_db_watchdog_cuts_total"] == "2"
    assert series["anju_db_connections_cut_total"] == "7"
    watchdog.reached = None  # the last host hung, no other reached yet: no host series
    series = _series(ProcessStats(watchdog).render(database_up=False))
    assert not any(name.startswith("anju_db_host_info{") for name in series)
    assert series["anju_database_up"] == "0"


def test_a_host_label_is_escaped() -> None:
    watchdog = FakeWatchdog(reached=('/run/pg "a"\\b', 5432))
    text = ProcessStats(watchdog).render(database_up=True)
    assert 'anju_db_host_info{host="/run/pg \\"a\\"\\\\b",port="5432"} 1' in text
