"""Exceptions of the terminal (registry, store, configuration).

Every exception carries an English message (``str(err)``) and a Chinese one (``err.message_zh``)
for the clerk-facing page and the CLI in a Chinese locale. Foreign exceptions (sqlite3, OSError,
tomllib) are mapped at the boundary with ``raise ... from err``.

    TerminalError                    root: catch this to catch everything below
    ├── ConfigError                  settings file missing, unreadable or invalid (technician's fix)
    ├── DomainError                  the request breaks a registration rule; retrying cannot help
    │   ├── ValidationError          a field is missing or malformed (.field names it)
    │   │   └── TextRefusedError     a text holds a control character or a lone surrogate
    │   ├── BlockedError             capture checks found blocking findings (.findings lists them)
    │   ├── StayNotFoundError        no stay with that id / no stay in that room
    │   ├── InvalidEventError        the event does not apply to the stay's state (fold refused it)
    │   ├── PurgedError              the stay's personal data was purged; it can no longer change
    │   └── AccountError             a clerk account change refused (bad staff number or PIN,
    │                                unknown account, the owner disabled)
    ├── UpdateError                  the updater (terminal/update/errors.py)
    │   ├── RefusedError             apt refused the repository or the package: retrying the
    │   │                            same files cannot help
    │   └── InstallError             fetching or installing failed otherwise: retried later
    └── StoreError                   the SQLite store failed
        ├── DiskSpaceError           free space below the threshold: refused before writing
        │                            (retry after freeing space; nothing was written)
        ├── StoreFullError           SQLite found the disk full mid-write: rolled back, none lost
        ├── SchemaError              the database's schema does not fit this code
        │   ├── SchemaTooNewError    a newer Anju made a breaking change: refused, with the way back
        │   ├── SchemaOutdatedError  older schema: run `anju store migrate`
        │   └── MigrationError       a migration failed and was rolled back as a whole
        ├── CorruptionError          quick_check / integrity_check did not answer "ok"
        └── VerificationError        chain, hashes, sequence or projection do not verify (.faults)

    Defined where they are raised, under the same root:
    ├── FormError                    terminal/web/forms.py: a typed value the page cannot use
    └── DemoError                    terminal/commands/demo_procs.py: a part of the demo failed
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class TerminalError(Exception):
    """Root of the terminal's exceptions: an English message plus a Chinese one."""

    default_zh = "操作失败"

    def __init__(self, message: str, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or self.default_zh

    def localized(self, chinese: bool) -> str:
        return self.message_zh if chinese else self.message


class ConfigError(TerminalError):
    default_zh = "配置文件有误"


class DomainError(TerminalError):
    default_zh = "登记信息不符合规则"


class ValidationError(DomainError):
    default_zh = "登记信息不完整或格式有误"

    def __init__(self, message: str, message_zh: str | None = None, *, field: str = "") -> None:
        super().__init__(message, message_zh)
        self.field = field


class TextRefusedError(ValidationError):
    """The text rule of sync/fields.py: refused as typed, never cleaned (a name stays whole)."""

    default_zh = "输入内容含有控制字符（如换行符或空字符），请重新输入"


class BlockedError(DomainError):
    """Blocking findings that were not overridden; `.findings` holds every finding (all levels)."""

    default_zh = "登记被检查项阻止"

    def __init__(self, findings: Sequence[Any]) -> None:
        self.findings = tuple(findings)
        blocking = [f for f in self.findings if f.blocks or getattr(f, "needs_confirm", False)]
        en = "; ".join(f"{f.code} ({f.field}): {f.message}" for f in blocking)
        zh = "；".join(f.message_zh for f in blocking)
        super().__init__(f"registration blocked: {en}", f"无法登记：{zh}")


class StayNotFoundError(DomainError):
    default_zh = "找不到该入住记录"


class InvalidEventError(DomainError):
    default_zh = "该操作不适用于此入住记录的当前状态"


class PurgedError(DomainError):
    default_zh = "该记录的个人信息已按保留期限清除，无法修改"


class AccountError(DomainError):
    default_zh = "员工账号操作未完成"


class StoreError(TerminalError):
    default_zh = "本机数据库出错"


class DiskSpaceError(StoreError):
    default_zh = "存储空间不足，本次登记未保存，请联系技术人员清理空间"


class StoreFullError(StoreError):
    default_zh = "磁盘已满，本次登记未保存（已保存的记录不受影响）"


class SchemaError(StoreError):
    default_zh = "数据库结构与程序版本不符"


class SchemaTooNewError(SchemaError):
    default_zh = "数据库由更新版本的程序创建，本程序不能打开"


class SchemaOutdatedError(SchemaError):
    default_zh = "数据库需要升级（anju store migrate）"


class MigrationError(SchemaError):
    default_zh = "数据库升级失败，已全部回滚"


class CorruptionError(StoreError):
    default_zh = "数据库完整性检查未通过"


class VerificationError(StoreError):
    default_zh = "记录链校验未通过"

    def __init__(self, faults: Sequence[Any]) -> None:
        self.faults = tuple(faults)
        first = self.faults[0] if self.faults else None
        super().__init__(
            f"{len(self.faults)} fault(s); first: {first}", f"发现 {len(self.faults)} 处错误"
        )
