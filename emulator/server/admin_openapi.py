"""OpenAPI 3.1 description of the admin API, served at `/openapi.json`, kept beside the routes."""

from __future__ import annotations

from typing import Any

_CID = {
    "name": "cid",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "textual canister id, e.g. uxrrr-q7777-77774-qaaaq-cai",
}
_ERR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}


def _op(
    summary: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": ok or _OK, "400": _ERR, "401": _ERR, "403": _ERR, "404": _ERR, "415": _ERR},
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "storeforever emulator admin API",
        "version": "1",
        "description": "Controls that a replica does not offer: upgrades, the canister clock, reset, "
        "snapshots, fault injection, inspection. Bound to loopback by default; with --admin-token every "
        "route except /health and /ready needs 'Authorization: Bearer <token>' (or the sf_admin_token "
        "cookie). Requests with a foreign Host or Origin header are refused (403); POST, PUT, DELETE and "
        "PATCH must carry Content-Type: application/json, also without a body (PUT /snapshot: "
        "application/zip), else 415. Every error is a JSON {error: reason}. See docs/security.md.",
    },
    "components": {
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "FaultRule": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": ["reject", "http_status", "latency", "drop_reply"]},
                    "method": {"type": "string", "default": "*", "description": "canister method or *"},
                    "endpoint": {"enum": ["call", "query", "any"], "default": "any"},
                    "count": {"type": ["integer", "null"], "description": "fire for the next N matches"},
                    "probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "reject_code": {"type": "integer", "minimum": 1, "maximum": 6, "default": 2},
                    "reject_message": {"type": "string"},
                    "error_code": {"type": ["string", "null"]},
                    "http_status": {"type": "integer", "default": 503},
                    "latency_ms": {"type": "integer", "default": 0},
                },
            },
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "paths": {
        "/health": {"get": _op("Liveness")},
        "/ready": {"get": _op("Readiness: the canisters are loaded and serving")},
        "/metrics": {
            "get": _op(
                "Prometheus metrics",
                ok={"description": "text exposition format", "content": {"text/plain": {}}},
            )
        },
        "/canisters": {"get": _op("Hosted canisters with module hash and clock")},
        "/canisters/{cid}/upgrade": {
            "post": _op(
                "Simulated upgrade: pre_upgrade, fresh instance, post_upgrade; optionally another version",
                params=[_CID],
                body={"type": "object", "properties": {"kind": {"type": "string"}}},
            )
        },
        "/canisters/{cid}/clock": {"get": _op("Canister clock", params=[_CID])},
        "/canisters/{cid}/clock/advance": {
            "post": _op(
                "Move the canister clock forward (never back); due timers fire",
                params=[_CID],
                body={
                    "type": "object",
                    "properties": {
                        "seconds": {"type": "number", "minimum": 0, "maximum": 18446744073},
                        "nanoseconds": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
                    },
                },
            )
        },
        "/canisters/{cid}/timers/run": {"post": _op("Fire due timers now", params=[_CID])},
        "/canisters/{cid}/reset": {"post": _op("Reinstall with empty stable memory", params=[_CID])},
        "/canisters/{cid}/inspect/{view}": {
            "get": _op(
                "Read-only view of stored state (galleries, memories, sessions, assets, audit)",
                params=[_CID, {"name": "view", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        },
        "/canisters/{cid}/assets/{key}/content": {
            "get": _op(
                "Download a committed asset's stored bytes (streamed)",
                params=[_CID, {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                ok={"description": "bytes", "content": {"application/octet-stream": {}}},
            )
        },
        "/snapshot": {
            "get": _op(
                "Whole state as a zip (keys excluded)",
                ok={"description": "zip", "content": {"application/zip": {}}},
            ),
            "put": {
                "summary": "Restore a snapshot zip made by GET /snapshot",
                "description": "The archive is checked completely (member names and sizes, manifest, "
                "SQLite integrity_check, schema, a dry-run upgrade) before all canisters are swapped at "
                "once; any failure changes nothing.",
                "requestBody": {"required": True, "content": {"application/zip": {}}},
                "responses": {
                    "200": _OK,
                    "400": _ERR,
                    "401": _ERR,
                    "403": _ERR,
                    "409": _ERR,
                    "413": _ERR,
                    "415": _ERR,
                },
            },
        },
        "/faults": {
            "get": _op("Active fault rules"),
            "post": {
                "summary": "Add a fault rule",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FaultRule"}}},
                },
                "responses": {"201": _OK, "400": _ERR, "401": _ERR, "403": _ERR, "415": _ERR},
            },
            "delete": _op("Remove every fault rule"),
        },
        "/faults/{rule_id}": {
            "delete": _op(
                "Remove one fault rule",
                params=[{"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            )
        },
    },
}
