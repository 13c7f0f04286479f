"""Settings: one table, validated, each documented; ids and clocks the events rely on."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from sync.fields import format_utc, parse_utc
from terminal.config import SETTINGS, load_config
from terminal.errors import ConfigError
from terminal.system import clock, ids

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_default():
    text = DOCS.read_text("utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", text, flags=re.M))
    assert documented == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        assert setting.help, setting.name
        if setting.default is not None:
            row = next(line for line in text.splitlines() if line.startswith(f"| `{setting.name}`"))
            shown = str(setting.default).lower() if isinstance(setting.default, bool) \
                else str(setting.default)
            assert shown in row, setting.name


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(text, "utf-8")
    return path


def test_identity_is_kept_apart_from_tunables(tmp_path):
    config = load_config(write(tmp_path, '[device]\ndevice_id = "gz-1"\nsite_code = "4401040001"\n'
                                         '[store]\nretention_days = 7\n'))
    assert config.identity is not None and config.identity.device_id == "gz-1"
    assert config["store.retention_days"] == 7
    assert config["store.min_free_bytes"] == 64 * 1024 * 1024
    assert "device.device_id" not in config.values


@pytest.mark.parametrize(("text", "complaint"), [
    ("[store]\nretention_day = 7\n", "unknown setting"),
    ("[store]\nretention_days = -1\n", "retention_days"),
    ("[store]\nretention_days = true\n", "retention_days"),
    ('[device]\ndevice_id = "a b"\n', "device_id"),
    ('[registry]\ntimezone = "Mars/Olympus"\n', "timezone"),
    ("[store\n", "cannot read"),
])
def test_invalid_settings_are_refused(tmp_path, text, complaint):
    with pytest.raises(ConfigError, match=complaint) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.message_zh


def test_config_file_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ANJU_CONFIG", str(write(tmp_path, "[store]\nretention_days = 3\n")))
    assert load_config()["store.retention_days"] == 3
    assert load_config(None)["store.retention_days"] == 3
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    assert load_config(tmp_path / "missing.toml", missing_ok=True).identity is None


def test_uuid7_layout_and_monotonicity():
    made = [ids.uuid7() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made[:100])
    # A wall clock stepping backwards (NTP after a cold boot) does not reorder ids.
    later = ids.uuid7(now_ms=ids.timestamp_ms(made[-1]) - 60_000)
    assert later > made[-1]
    assert abs(ids.timestamp_ms(ids.new_id()) - ids.timestamp_ms(made[0])) < 60_000


def test_clock_reading_has_every_part():
    instant = clock.SystemClock().now()
    assert instant.wall.tzinfo is not None and instant.monotonic_ns > 0
    assert isinstance(instant.synchronised, bool) and instant.boot_id
    assert parse_utc(format_utc(instant.wall)) == instant.wall
    assert clock.read_boot_id(Path("/nonexistent")) == "unknown"
    assert clock.kernel_synchronised() in (True, False, None)
