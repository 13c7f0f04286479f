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

from sync.fields import SHA256_RE, TIME_RE, UUID_RE
from sync.messages import Enrolment, EnrolRequest, Heartbeat, HeartbeatAnswer, ServerTime
from sync.protocol import PROTOCOL_VERSION, Batch, BatchAnswer

MESSAGES: tuple[type, ...] = (Batch, BatchAnswer, EnrolRequest, Enrolment, Heartbeat,
                              HeartbeatAnswer, ServerTime)
REF = "#/components/schemas/{model}"
_PATTERNS = {"event_id": UUID_RE, "stay_id": UUID_RE, "target_event_id": UUID_RE,
             "payload_sha256": SHA256_RE, "prev_chain_sha256": SHA256_RE,
             "chain_sha256": SHA256_RE, "wall_time": TIME_RE, "server_time": TIME_RE}
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
        pattern = _PATTERNS.get(prop_name)
        if pattern is None:
            continue
        for variant in prop.get("anyOf", [prop]):
            if variant.get("type") == "string":
                variant["pattern"] = pattern.pattern


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


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                   description=app.description)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                component_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

