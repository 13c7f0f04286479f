"""Settings of the terminal: one table of (name, default, help, validator), loaded from TOML.

The file is found through `--config FILE`, else the ANJU_CONFIG environment variable, else
/etc/anju/terminal.toml. Device identity (`[device]`: who this terminal is, written once at
provisioning) is kept apart from tunables (`[store]` and later sections: how it behaves), so a
support engineer can change a tunable without touching, or copying, an identity.

    [device]
    device_id = "gz-0001"
    site_code = "4401040001"

    [store]
    database = "/var/lib/anju/terminal.db"
    retention_days = 30

Every setting must be documented in docs/configuration.md (a test checks it).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from terminal.errors import ConfigError

DEFAULT_PATH = Path("/etc/anju/terminal.toml")
ENV_VAR = "ANJU_CONFIG"


def _pattern(regex: str, what: str) -> Callable[[Any], Any]:
    compiled = re.compile(regex)

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return check


def _int_at_least(low: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"expected an integer >= {low}, got {value!r}")
        return value

    return check


def _path(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a file path, got {value!r}")
    return Path(value)


def _timezone(value: Any) -> Any:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"expected an IANA time zone name, got {value!r}") from err
    return str(value)


def _patterns(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a list of regular expressions, got {value!r}")
    for item in value:
        try:
            re.compile(item)
        except re.error as err:
            raise ValueError(f"not a regular expression: {item!r} ({err})") from err
    return tuple(value)


def _host_names(value: Any) -> Any:
    if not isinstance(value, list) or not all(
            isinstance(v, str) and re.fullmatch(r"[0-9A-Za-z.:\[\]-]+", v) for v in value):
        raise ValueError(f"expected a list of host names or IP addresses, got {value!r}")
    return tuple(v.lower() for v in value)


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # "section.key" as written in the TOML file
    default: Any
    help: str
    validator: Callable[[Any], Any]


# `None` as a default means "required where used": identity has no sensible default.
SETTINGS: tuple[Setting, ...] = (
    Setting("device.device_id", None,
            "This terminal's id, unique in the fleet; written into every event.",
            _pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "1-64 letters, digits, '.', '_', '-'")),
    Setting("device.site_code", None,
            "The guesthouse's code issued by the public security bureau (旅馆代码).",
            _pattern(r"[0-9A-Za-z]{6,20}", "6-20 letters or digits")),
    Setting("store.database", "/var/lib/anju/terminal.db",
            "Path of the SQLite registry database.", _path),
    Setting("store.retention_days", 30,
            "Days after check-out (once every event is acknowledged) before personal data "
            "and photos are purged.", _int_at_least(0)),
    Setting("store.min_free_bytes", 64 * 1024 * 1024,
            "Writes are refused when the database's filesystem has less free space than this.",
            _int_at_least(0)),
    Setting("store.busy_timeout_ms", 5000,
            "How long a reader or a second process waits for a lock before failing.",
            _int_at_least(0)),
    Setting("store.quick_check_on_open", True,
            "Run PRAGMA quick_check whenever the store is opened.", _boolean),
    Setting("registry.timezone", "Asia/Shanghai",
            "Time zone of the guesthouse: decides 'today' for document expiry and minors' age.",
            _timezone),
    Setting("sync.server_url", None,
            "Base URL of the central server (written by `anju provision`).",
            _pattern(r"https?://[^\s]+", "an http:// or https:// URL")),
    Setting("sync.credential_file", "/var/lib/anju/credential.json",
            "The device's enrolment credential (secret), mode 0600; written by `anju provision`.",
            _path),
    Setting("sync.ca_file", "",
            "CA bundle (PEM) the server's certificate must chain to (a police intranet's own "
            "CA); empty: the system's CAs.", _pattern(r"|/\S+", "empty or an absolute path")),
    Setting("sync.state_file", "/var/lib/anju/sync-state.json",
            "Last success and last error of the uploader, read by `anju sync status`.", _path),
    Setting("sync.batch_max_events", 200,
            "At most this many events in one request (the server's limit also applies).",
            _int_at_least(1)),
    Setting("sync.batch_max_bytes", 1048576,
            "About this many bytes of event text in one request, before compression.",
            _int_at_least(4096)),
    Setting("sync.heartbeat_interval_s", 300,
            "Seconds between heartbeats (the server may ask for another interval).",
            _int_at_least(5)),
    Setting("sync.poll_interval_s", 5,
            "Seconds between looks at the outbox when it is empty.", _int_at_least(1)),
    Setting("sync.backoff_initial_s", 1,
            "First retry window in seconds; the window doubles per failed attempt.",
            _int_at_least(1)),
    Setting("sync.backoff_cap_s", 300,
            "Largest retry window in seconds (full jitter: each wait is random within it).",
            _int_at_least(1)),
    Setting("reader.port", "/dev/ttyUSB0",
            "ID card reader port: a device path (on a packaged terminal /dev/anju/port-<socket>, "
            "named by USB socket: docs/install.md) or a pyserial URL.",
            _pattern(r"\S+", "a device path or pyserial URL")),
    Setting("reader.baud", 0,
            "Reader baud rate; 0 probes the supported rates (115200 first).", _int_at_least(0)),
    Setting("reader.poll_interval_ms", 300,
            "Milliseconds between 'find card' polls (vendor guidance: not below ~250).",
            _int_at_least(50)),
    Setting("web.host", "127.0.0.1",
            "Address the front-desk page listens on (loopback: the kiosk browser is local).",
            _pattern(r"[0-9A-Za-z.:\[\]-]+", "a host name or IP address")),
    Setting("web.port", 8080, "TCP port of the front-desk page.", _int_at_least(1)),
    Setting("web.allowed_hosts", [],
            "Host names (besides loopback and web.host) the page answers to; others get 403.",
            _host_names),
    Setting("web.locale", "zh_CN", "Language of the page: zh_CN or en.",
            _pattern(r"zh_CN|en", "zh_CN or en")),
    Setting("web.operator", "front-desk",
            "Operator id written into events while no clerk account exists.",
            _pattern(r"\S{1,32}", "1-32 characters without spaces")),
    Setting("web.clerk_pin", "",
            "Old shared clerk PIN (4-8 digits): becomes owner 0000's PIN when no clerk account "
            "exists. Keep the file mode 0640.",
            _pattern(r"|[0-9]{4,8}", "empty or 4-8 digits")),
    Setting("web.idle_lock_s", 300,
            "Seconds without a touch before the page locks (with clerk accounts); 0 never.",
            _int_at_least(0)),
    Setting("web.undo_check_out_minutes", 10,
            "Minutes after a check-out during which the page offers to undo it; 0 never.",
            _int_at_least(0)),
    Setting("web.login_free_attempts", 5,
            "Wrong PINs from one client address before it must wait between attempts.",
            _int_at_least(1)),
    Setting("web.login_global_free_attempts", 20,
            "Wrong PINs from all network addresses together (not the terminal's own) before "
            "they all must wait.", _int_at_least(1)),
    Setting("web.login_delay_s", 5,
            "First wait in seconds after the free attempts; doubles with each further wrong PIN.",
            _int_at_least(1)),
    Setting("web.login_delay_cap_s", 300, "Longest wait in seconds between sign-in attempts.",
            _int_at_least(1)),
    Setting("web.login_forget_s", 7200,
            "Seconds after its last wait ends before a failure count is forgotten.",
            _int_at_least(0)),
    Setting("reader.photo_library", "",
            "Vendor WLT photo decoder library (.so); empty shows a photo placeholder.",
            _pattern(r"|/\S+", "empty or an absolute path")),
    Setting("reader.photo_licence_code", 0,
            "The vendor's per-customer code passed to the photo decoder.", _int_at_least(0)),
    Setting("scanner.port", "",
            "Serial/USB-CDC scanner or document reader (path or pyserial URL); empty: none.",
            _pattern(r"|\S+", "empty, a device path or a pyserial URL")),
    Setting("scanner.framing", "auto", "How the serial scanner ends a scan.",
            _pattern(r"auto|cr|lf|crlf|tab|stx-etx", "auto, cr, lf, crlf, tab or stx-etx")),
    Setting("scanner.baud", 9600, "Serial scanner baud rate.", _int_at_least(1)),
    Setting("scanner.wedge_device", "",
            "Keyboard-wedge scanner (evdev /dev/input/by-id/...-event-kbd); empty: none.",
            _pattern(r"|/\S+", "empty or an absolute path")),
    Setting("scanner.image_backend", "pyzbar", "Image decoder: pyzbar or zxing (zxing-cpp).",
            _pattern(r"pyzbar|zxing", "pyzbar or zxing")),
    Setting("scanner.netid_patterns", ["^CTID"],
            "Regular expressions recognising a 网证 QR payload (placeholder: confirm on site).",
            _patterns),
    Setting("scanner.netid_hosts", [],
            "URL hosts whose QR codes are 网证 payloads (attached unverified).", _patterns),
    Setting("camera.live_photo", False,
            "Attach a live photo of the guest to the registration (needs a camera).", _boolean),
    Setting("camera.photo_max_side", 640, "Longest side of the live photo in pixels.",
            _int_at_least(64)),
    Setting("camera.photo_quality", 80, "JPEG quality of the live photo (1-95).",
            _int_at_least(1)),
    Setting("update.window", "",
            "Local hours the updater may install in, HH:MM-HH:MM (may wrap midnight); empty: "
            "any time (never while a registration is open).",
            _pattern(r"|([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]",
                     "empty or HH:MM-HH:MM")),
    Setting("update.gate_timeout_s", 180,
            "Seconds a new version has to reach READY and get a heartbeat accepted; else it is "
            "rolled back.", _int_at_least(10)),
    Setting("update.max_restarts", 3,
            "Restarts of the front desk after an update that count as a crash loop (rollback).",
            _int_at_least(1)),
    Setting("update.order_file", "/var/lib/anju/update-target.json",
            "Where the uploader writes the rollout's order for the updater.", _path),
    Setting("update.state_dir", "/var/lib/anju-update",
            "The updater's state (root's): state.json, the kept packages for a rollback.", _path),
    Setting("update.sources_file", "/etc/apt/sources.list.d/anju.list",
            "The apt sources file naming the signed repository (`anju update configure`).",
            _path),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    device_id: str
    site_code: str


@dataclass(frozen=True, slots=True)
class Config:
    """Validated settings; `identity` is None until the terminal is provisioned."""

    identity: DeviceIdentity | None
    values: Mapping[str, Any]
    source: Path | None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def require_identity(self) -> DeviceIdentity:
        if self.identity is None:
            raise ConfigError(
                f"device.device_id and device.site_code are not set in {self.source or 'config'}",
                "本机尚未配置设备编号和旅馆代码，请联系技术人员",
            )
        return self.identity


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_PATH


def load_config(
    explicit: str | os.PathLike[str] | None = None, *, missing_ok: bool = False
) -> Config:
    """Read and validate the settings file; unknown keys are refused (typos must not pass)."""
    path = config_path(explicit)
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError as err:
        if missing_ok:
            return from_mapping({}, source=None)
        raise ConfigError(f"settings file not found: {path}", f"找不到配置文件：{path}") from err
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read settings file {path}: {err}", "配置文件无法读取") from err
    return from_mapping(raw, source=path)


def from_mapping(raw: Mapping[str, Any], *, source: Path | None = None) -> Config:
    flat: dict[str, Any] = {}
    for section, entries in raw.items():
        if not isinstance(entries, Mapping):
            raise ConfigError(f"{source}: [{section}] must be a table", "配置文件格式有误")
        for key, value in entries.items():
            flat[f"{section}.{key}"] = value
    unknown = sorted(set(flat) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s): {', '.join(unknown)}", "配置文件有未知项")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = flat.get(setting.name, setting.default)
        if value is None:
            values[setting.name] = None
            continue
        try:
            values[setting.name] = setting.validator(value)
        except ValueError as err:
            raise ConfigError(f"{source}: {setting.name}: {err}", "配置文件有误") from err
    device_id, site_code = values.pop("device.device_id"), values.pop("device.site_code")
    identity = DeviceIdentity(device_id, site_code) if device_id and site_code else None
    return Config(identity=identity, values=values, source=source)
