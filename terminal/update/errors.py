"""The updater's exceptions.

    UpdateError            root (a TerminalError)
    ├── RefusedError       apt refused the repository or the package: unsigned, wrongly signed,
    │                      hash mismatch. Nothing was installed; retrying the same files cannot
    │                      help (a fixed publication can)
    └── InstallError       fetching or installing failed otherwise (network, lock, dpkg error);
                           retried at a later run
"""

from __future__ import annotations

from terminal.errors import TerminalError


class UpdateError(TerminalError):
    default_zh = "软件升级失败"


class RefusedError(UpdateError):
    default_zh = "升级包签名或校验不符，已拒绝安装"


class InstallError(UpdateError):
    default_zh = "升级包下载或安装失败"
