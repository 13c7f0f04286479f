"""The OpenAPI document (/openapi.json): message schemas generated from sync's dataclasses.

Bodies are read raw (they are signed and may be gzip), so FastAPI cannot infer them; each route
names its request and answer schema here, and `install` merges the components into the document
FastAPI builds. Field formats the dataclasses cannot express (ids, hashes, times) are patched in.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from sync.fields import DATE_RE, SHA256_RE, TEXT_PATTERN, TIME_RE, UUID_RE
from sync.messages import (
    READER_STATES,
    Enrolment,
    EnrolRequest,
    Heartbeat,
    HeartbeatAnswer,
    ServerTime,
)
from sync.protocol import PROTOCOL_VERSION, Batch, BatchAnswer
from sync.update_messages import UPDATE_STATES, VERSION_RE

MESSAGES: tuple[type, ...] = (Batch, BatchAnswer, EnrolRequest, Enrolment, Heartbeat,
                              HeartbeatAnswer, ServerTime)
REF = "#/components/schemas/{model}"
_PATTERNS = {"event_id": UUID_RE, "stay_id": UUID_RE, "target_event_id": UUID_RE,
             "payload_sha256": SHA256_RE, "prev_chain_sha256": SHA256_RE,
             "chain_sha256": SHA256_RE, "wall_time": TIME_RE, "server_time": TIME_RE,
             "version": VERSION_RE, "previous": VERSION_RE, "at": TIME_RE}
# The limits `from_json` enforces (sync/protocol.py, sync/messages.py), for fuzzers and readers.
_LENGTHS = {"device_id": (1, 64), "site_code": (1, 32), "boot_id": (1, 64), "operator": (1, 64),
            "kind": (1, 16), "token": (1, 128), "installation_id": (8, 64),
            "software_version": (1, 64), "reader_status": (1, 32), "last_error": (0, 500),
            "reader_detail": (0, 200), "version": (1, 64), "previous": (1, 64),
            "detail": (0, 300), "sync_state": (1, 32), "doctor_class": (1, 32),
            "secret": (32, 128), "site_name": (1, 200), "payload": (0, 4 * 64 * 1024)}
_MINIMUMS = {"sequence": 1, "monotonic_ns": 0, "backlog": 0, "disk_free_bytes": 0,
             "rejected": 0, "check_ins": 0, "oldest_queued_age_s": 0, "next_heartbeat_s": 1,
             "reader_state_age_s": 0, "reader_seen_age_s": 0, "after_s": 0, "rollout_id": 1,
             "sync_state_age_s": 0, "disk_min_free_bytes": 0, "doctor_age_s": 0}
_MAXIMUMS = {"reader_state_age_s": 10 * 365 * 86400, "reader_seen_age_s": 10 * 365 * 86400,
             "after_s": 366 * 86400, "rollout_id": 2**62,
             "sync_state_age_s": 10 * 365 * 86400, "disk_min_free_bytes": 2**62,
             "doctor_age_s": 10 * 365 * 86400}
_ENUMS = {"kind": ["check_in", "add_guest", "check_out", "amend", "void", "check_out_undone"],
          "reader_status": list(READER_STATES), "state": list(UPDATE_STATES),
          "withheld": ["purged", "superseded"], "status": ["accepted", "duplicate", "rejected"]}
ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"], "additionalProperties": True,
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def body(name: str, *, gzip: bool) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON request body of message `name`."""
    description = "JSON; send it gzip-compressed with `Content-Encoding: gzip`." if gzip else (
        "JSON (gzip allowed).")
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": ref(name)}}}}


def answers(name: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        200: {"description": "OK", "content": {"application/json": {"schema": ref(name)}}}}
    for status in (*errors, 503):
        out[status] = {"description": "error", "content": {"application/json": {
            "schema": ref("Error")}}}
    return out


def _patch(schema: dict[str, Any]) -> None:
    for prop_name, prop in schema.get("properties", {}).items():
        for variant in prop.get("anyOf", [prop]):
            if variant.get("type") == "string":
                if prop_name in _PATTERNS:
                    variant["pattern"] = _PATTERNS[prop_name].pattern
                if prop_name in _LENGTHS:
                    variant["minLength"], variant["maxLength"] = _LENGTHS[prop_name]
                if prop_name in _ENUMS:
                    variant["enum"] = _ENUMS[prop_name]
                if prop_name == "date":
                    variant["pattern"] = DATE_RE.pattern
                if prop_name in ("sync_state", "doctor_class"):  # sync.messages.SYNC_STATE_RE
                    variant["pattern"] = "^[a-z_]{1,32}$"
                variant.setdefault("pattern", TEXT_PATTERN)  # sync.fields.text_problem
            elif variant.get("type") in ("integer", "number") and prop_name in _MINIMUMS:
                variant["minimum"] = _MINIMUMS[prop_name]
                if prop_name in _MAXIMUMS:
                    variant["maximum"] = _MAXIMUMS[prop_name]


def component_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for message in MESSAGES:
        schema = TypeAdapter(message).json_schema(ref_template=REF, mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            _patch(sub)
            schemas[name] = sub
        _patch(schema)
        schema["properties"] = {"protocol": {"type": "integer", "const": PROTOCOL_VERSION},
                                **schema["properties"]}
        schema["required"] = ["protocol", *schema.get("required", [])]
        schemas[message.__name__] = schema
    return schemas


def _handover_schemas() -> dict[str, Any]:
    """Hand-written: a hand-over part travels as the old device signed it (sync/handover.py)."""
    part = {"type": "object", "required": ["format", "device_id", "site_code", "events",
                                           "signature"],
            "properties": {"format": {"type": "string", "const": "anju-handover/1"},
                           "device_id": {"type": "string", "minLength": 1, "maxLength": 64},
                           "site_code": {"type": "string", "minLength": 1, "maxLength": 32},
                           "events": {"type": "array", "items": ref("WireEvent")},
                           "signature": {"type": "string", "pattern": SHA256_RE.pattern}}}
    return {
        "Handover": {"type": "object", "required": ["clock", "part"],
                     "properties": {"clock": ref("SenderClock"), "part": part}},
        "Decommission": {"type": "object", "required": ["clock"],
                         "properties": {"clock": ref("SenderClock")}},
        "Decommissioned": {"type": "object", "required": ["device_id", "revoked_at"],
                           "properties": {"device_id": {"type": "string"},
                                          "revoked_at": {"type": "string"}}},
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                   description=app.description)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                {**component_schemas(), **_handover_schemas()})
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

