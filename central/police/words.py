"""Words, not codes: how the police pages and the export name what a terminal sent.

Codes come from the shared tables (`codetables`: document types, countries, sexes,
relationships, nations); the server's own states (stay status, guest role, event kind, time
correction, audit action) are named here. An unknown code is shown as it is, never guessed.
"""

from __future__ import annotations

from typing import Any

import codetables

STATUS = {"in_house": "在住", "checked_out": "已退房", "voided": "已作废"}
ROLE = {"main": "主住人", "companion": "同住人"}
KIND = {
    "check_in": "入住",
    "add_guest": "增加同住人",
    "check_out": "退房",
    "amend": "更正",
    "void": "作废",
    "check_out_undone": "撤销退房",
}
# A terminal's delivery state (its heartbeat's sync_state, sync/diagnosis.py), for the fleet
# page: what is wrong and what to do. An unknown (newer) code is shown as it is.
SYNC_STATE = {
    "ok": "正常送达",
    "unreachable": "连不上服务器（网络或服务器故障；终端自动重试，登记不会丢失）",
    "tls": "与服务器的 TLS 握手失败：检查服务器证书、主机名和终端的 CA 证书（sync.ca_file）",
    "busy": "服务器繁忙，终端稍后自动重试",
    "server_failing": "服务器处理该终端的登记时出错：终端自动重试，请中心服务器管理员查看日志",
    "credential_refused": "服务器拒绝该终端的凭据：需用新令牌重新注册（anju provision）",
    "clock_rejected": "服务器拒绝该终端的时钟：请检查终端的网络时间同步",
    "refused": "服务器拒绝该终端的请求：需技术人员查看终端的同步日志",
    "events_rejected": "有登记被服务器退回，等待人工处理（终端“记录”页或 anju sync status）",
    "backlog_stuck": "积压的登记长时间未能送出：请技术人员运行 anju doctor",
}
# `anju doctor`'s classes (docs/doctor.md's exit codes): the worst of a terminal's last full run.
DOCTOR_CLASS = {
    "ok": "全部正常", "settings": "设置文件有误", "credential": "设备凭据有误",
    "reader": "读卡器或扫描枪故障", "services": "后台服务未运行或反复重启",
    "server": "连不上中心服务器", "refused": "中心服务器拒绝本机", "clock": "时钟有误",
    "disk": "存储空间不足", "store": "数据库完整性有误", "backlog": "登记积压或被退回",
    "files": "文件权限过宽",
}
# Signed requests the server refused after it last heard from a device (central/auth.py).
REFUSED = {
    "bad_signature": "签名不符：终端凭据错误或已被替换，需用新令牌重新注册（anju provision）",
    "clock_skew": "终端时钟与服务器相差超出允许范围：请检查终端的网络时间同步",
}
SEVERITY = {"block": "拦截", "warn": "警告", "info": "提示"}
SOURCE = {"card": "读卡", "manual": "手工录入", "scan": "扫描证件机读码"}
TIME_SOURCE = {
    "device": ("设备时间", "设备时钟已与网络时间同步，采用设备记录的时间。"),
    "monotonic": (
        "已校正",
        "设备时钟当时未同步：按设备开机以来的计时与服务器收到时的时间推算，误差通常小于一秒。",
    ),
    "uncorrected": (
        "未经校正",
        "设备时钟当时未同步，且该次开机期间设备未连上服务器，无法推算："
        "显示的是设备自己的时间，可能不准。",
    ),
    "far_monotonic": (
        "设备时间不可信，已校正",
        "设备声称时钟已同步，但其时间与服务器收到时相差过大（或早于 2025 年）："
        "已按该次开机以来的计时推算。",
    ),
    "far_arrival": (
        "设备时间不可信，按到达时间",
        "设备时间与服务器收到时相差过大，且无法按开机计时推算：采用服务器收到的时间。",
    ),
}
ACTION = {
    "search": "查询",
    "api_search": "接口查询",
    "view": "查看住宿详情",
    "costay": "同住查询",
    "photo": "查看证件照片",
    "export": "导出",
    "user_add": "新建用户",
    "user_change": "修改用户",
    "user_reset": "重置密码",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_unlock": "解除登录锁定",
    "token_issue": "签发接口令牌",
    "token_revoke": "吊销接口令牌",
    "rollout_set": "设置软件升级",
    "rollout_cancel": "取消软件升级",
}
USER_ROLE = {
    "officer": "民警",
    "supervisor": "主管",
    "technician": "技术员",
    "administrator": "管理员",
    "operator": "命令行操作员",
}
# What each search parameter / audit query key means.
QUERY_KEY = {
    "document": "证件号码",
    "name": "姓名",
    "date_from": "起始日期",
    "date_to": "截止日期",
    "site": "场所",
    "room": "房间",
    "card_type": "证件类型",
    "nationality": "国籍",
    "page": "页码",
    "per_page": "每页",
    "format": "格式",
    "stay_id": "住宿记录",
    "guest_id": "旅客",
    "user": "用户",
    "role": "角色",
    "district": "辖区",
    "was": "原为",
    "token_id": "令牌",
    "expires_at": "有效期至",
    "tokens_revoked": "吊销令牌",
    "had_failures": "失败次数",
    "version": "软件版本",
    "scope": "升级范围",
    "targets": "辖区或场所",
    "percent": "终端比例（%）",
    "spread_s": "分散时长（秒）",
    "rollout_id": "升级批次",
}
GUEST_FIELD = {
    "name": "姓名",
    "surname_en": "英文姓",
    "given_names_en": "英文名",
    "sex": "性别",
    "birth_date": "出生日期",
    "nationality": "国籍",
    "nation_code": "民族",
    "address": "住址",
    "phone": "电话",
    "accompanied_by": "同行成年人",
    "relationship": "与同行人/监护人关系",
    "role": "身份",
}
DOCUMENT_FIELD = {
    "number": "证件号码",
    "valid_until": "证件有效期至",
    "issuing_country": "签发国",
    "issuing_authority": "签发机关",
}
STAY_FIELD = {"room": "房号", "expected_check_out": "预计退房日期"}


def document_type(code: str | None) -> str:
    if not code:
        return ""
    return codetables.names().document_types.get(code, code)


def country(code: str | None) -> str:
    if not code:
        return ""
    return codetables.names().countries.get(code, code)


def sex(code: str | None) -> str:
    if not code:
        return ""
    return codetables.names().sexes.get(code, code)


def nation(code: str | None) -> str:
    """民族 with its suffix ("01" -> "汉族"); an unknown code as it is."""
    if not code:
        return ""
    name = codetables.names().nations.get(code)
    return f"{name}族" if name and not name.endswith("族") else (name or code)


def relationship(code: str | None) -> str:
    if not code:
        return ""
    return codetables.names().relationships.get(code, code)


def field_name(path: str, guest_names: dict[str, str] | None = None) -> str:
    """An amendment's field path in words: "guest.<id>.document.number" -> "张三 的 证件号码"."""
    parts = path.split(".")
    if len(parts) == 1:
        return STAY_FIELD.get(path, path)
    if parts[0] == "guest" and len(parts) >= 3:
        who = (guest_names or {}).get(parts[1]) or "旅客"
        rest = parts[2:]
        if rest[0] == "document" and len(rest) == 2:
            return f"{who} 的 {DOCUMENT_FIELD.get(rest[1], rest[1])}"
        return f"{who} 的 {GUEST_FIELD.get(rest[0], rest[0])}"
    return path


def field_value(path: str, value: Any, guest_names: dict[str, str] | None = None) -> str:
    """An amended value in words (a sex code as 男, a country code as its name)."""
    if value is None or value == "":
        return "（空）"
    last = path.rsplit(".", 1)[-1]
    text = str(value)
    named = {
        "sex": sex,
        "nationality": country,
        "issuing_country": country,
        "nation_code": nation,
        "relationship": relationship,
        "role": lambda v: ROLE.get(v or "", v or ""),
    }.get(last)
    if named is not None:
        return named(text)
    if last == "accompanied_by":
        return (guest_names or {}).get(text, text)
    if isinstance(value, bool):
        return "是" if value else "否"
    return text


def choices(table: str) -> list[tuple[str, str]]:
    """(code, "name（code）") pairs for a picker, ordered by code (document types) or name."""
    names = getattr(codetables.names(), table)
    if table == "countries":
        ordered = sorted(names.items(), key=lambda kv: (kv[0] != "CHN", kv[1]))
        return [(code, f"{name}（{code}）") for code, name in ordered]
    return [(code, f"{name}（{code}）") for code, name in sorted(names.items())]
