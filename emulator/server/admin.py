"""The admin API: JSON over HTTP on its own listener (loopback by default), never on the IC endpoints.

It does what a replica cannot: simulated upgrades, moving the canister clock, reset, snapshot and
restore, fault rules, inspection of stored state and metrics. Everything touching a canister runs on
that canister's worker thread, so admin actions interleave with messages exactly like messages do.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator.canisters import load_kind
from emulator.principal import Principal, PrincipalError
from emulator.runtime.clock import ClockError
from emulator.runtime.host import CanisterHost
from emulator.server.admin_guard import ADMIN_LISTENER, ZIP_TYPE, AdminListener, same_origin_guard
from emulator.server.admin_openapi import OPENAPI
from emulator.server.faults import FaultRule, FaultRuleError
from emulator.server.inspector import setup_inspector
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import Replica

REPLICA_KEY: web.AppKey[Replica] = web.AppKey("admin_replica")
METRICS_KEY: web.AppKey[EmulatorMetrics] = web.AppKey("admin_metrics")
SNAPSHOT_FORMAT = 1
log = logging.getLogger("emulator.admin")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure answers JSON `{"error": reason}`; nothing reaches aiohttp's bare HTML 500."""
    try:
        return await handler(request)
    except AdminError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (FaultRuleError, ClockError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return web.json_response({"error": exc.reason}, status=exc.status, headers=_allow(exc))
        raise
    except Exception as exc:  # the last line of defence; tests show malformed input never gets here
        log.exception("admin %s %s failed", request.method, request.path)
        return web.json_response({"error": f"internal error: {type(exc).__name__}"}, status=500)


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _host(request: web.Request) -> CanisterHost:
    text = request.match_info["cid"]
    try:
        cid = Principal.from_text(text)
    except PrincipalError as exc:
        raise AdminError(400, f"invalid canister id {text!r}") from exc
    host = request.app[REPLICA_KEY].hosts.get(cid)
    if host is None:
        raise AdminError(404, f"canister {text} is not hosted here")
    return host


async def _on(request: web.Request, host: CanisterHost, fn: Callable[[], Any]) -> Any:
    return await request.app[REPLICA_KEY].run_on(host.canister_id, fn)


def _describe(host: CanisterHost) -> dict[str, Any]:
    return {
        "canister_id": str(host.canister_id),
        "kind": f"{host.canister_cls.__module__}:{host.canister_cls.__qualname__}",
        "version": host.canister_cls.VERSION,
        "module_hash": host.canister_cls.module_hash().hex(),
        "time_ns": host.clock.now(),
        "clock_offset_ns": host.clock.offset_ns,
    }


# -- health, docs, metrics -------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    replica = request.app[REPLICA_KEY]
    return web.json_response({"ready": True, "canisters": [str(c) for c in replica.hosts]})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def metrics(request: web.Request) -> web.Response:
    replica, registry = request.app[REPLICA_KEY], request.app[METRICS_KEY]
    for cid, host in replica.hosts.items():
        figures = await replica.run_on(cid, lambda h=host: h.figures())  # type: ignore[misc]
        registry.set_figures(str(cid), dict(figures))
    return web.Response(body=registry.render(), content_type="text/plain", charset="utf-8")


# -- canisters -------------------------------------------------------------------------------------


async def list_canisters(request: web.Request) -> web.Response:
    return web.json_response([_describe(h) for h in request.app[REPLICA_KEY].hosts.values()])


async def upgrade(request: web.Request) -> web.Response:
    host = _host(request)
    body = await _json(request)
    new_cls = load_kind(body["kind"]) if body.get("kind") else None
    before = host.canister_cls.module_hash().hex()
    try:
        await _on(request, host, lambda: host.upgrade(new_cls))
    except Exception as exc:
        raise AdminError(409, f"upgrade failed and was rolled back: {exc}") from exc
    return web.json_response({"previous_module_hash": before, **_describe(host)})


async def advance_clock(request: web.Request) -> web.Response:
    host = _host(request)
    body = await _json(request)
    if "nanoseconds" in body:
        delta = int(body["nanoseconds"])
    elif "seconds" in body:
        delta = int(float(body["seconds"]) * 1_000_000_000)
    else:
        raise AdminError(400, "give 'seconds' or 'nanoseconds'")
    if delta < 0:
        raise AdminError(400, "the canister clock only moves forward")
    now = await _on(request, host, lambda: host.advance_clock(delta))
    return web.json_response({"time_ns": now, "clock_offset_ns": host.clock.offset_ns})


async def get_clock(request: web.Request) -> web.Response:
    host = _host(request)
    return web.json_response({"time_ns": host.clock.now(), "clock_offset_ns": host.clock.offset_ns})


async def run_timers(request: web.Request) -> web.Response:
    host = _host(request)
    return web.json_response({"fired": await _on(request, host, host.run_due_timers)})


async def reset(request: web.Request) -> web.Response:
    host = _host(request)
    await _on(request, host, host.reinstall)
    return web.json_response(_describe(host))


async def inspect_view(request: web.Request) -> web.Response:
    host = _host(request)
    view = request.match_info["view"]
    if view not in host.instance.inspect_views():
        raise AdminError(404, f"no view {view!r}; views: {', '.join(host.instance.inspect_views())}")
    params = dict(request.query)
    rows = await _on(request, host, lambda: host.inspect(view, params))
    return web.json_response(rows)


async def download_asset(request: web.Request) -> web.StreamResponse:
    """Streams a stored asset chunk by chunk; each chunk is read on the canister thread."""
    host = _host(request)
    key = request.match_info["key"]
    count = await _on(request, host, lambda: host.asset_chunk_count(key))
    if count is None:
        raise AdminError(404, f"no committed asset for {key}")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await response.prepare(request)
    for index in range(count):
        data = await _on(request, host, lambda i=index: host.asset_chunk(key, i))  # type: ignore[misc]
        await response.write(data)
    await response.write_eof()
    return response


# -- snapshots -------------------------------------------------------------------------------------


async def snapshot(request: web.Request) -> web.StreamResponse:
    """The whole state of every canister as one zip (keys excluded: a restore must not change root_key)."""
    replica = request.app[REPLICA_KEY]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "snapshot.zip"
        manifest: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "canisters": {}}
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
            for cid, host in replica.hosts.items():
                db_copy = Path(tmp) / f"{cid}.sqlite3"
                await replica.run_on(cid, lambda h=host, p=db_copy: h.store.backup_to(p))  # type: ignore[misc]
                zf.write(db_copy, f"canisters/{cid}.sqlite3")
                manifest["canisters"][str(cid)] = _describe(host)
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        # Streamed before the temporary directory goes away (a FileResponse would be sent too late).
        response = web.StreamResponse(headers={"Content-Type": "application/zip"})
        response.content_length = archive.stat().st_size
        await response.prepare(request)
        with archive.open("rb") as fh:
            while block := fh.read(1 << 20):
                await response.write(block)
        await response.write_eof()
        return response


async def restore(request: web.Request) -> web.Response:
    replica = request.app[REPLICA_KEY]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "snapshot.zip"
        with archive.open("wb") as fh:
            async for block in request.content.iter_chunked(1 << 20):
                fh.write(block)
        try:
            zf = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as exc:
            raise AdminError(400, "body is not a snapshot zip") from exc
        with zf:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") != SNAPSHOT_FORMAT:
                raise AdminError(400, f"unsupported snapshot format {manifest.get('format')!r}")
            missing = [c for c in manifest["canisters"] if Principal.from_text(c) not in replica.hosts]
            if missing:
                raise AdminError(409, f"snapshot holds canisters not hosted here: {', '.join(missing)}")
            restored = []
            for text in manifest["canisters"]:
                cid = Principal.from_text(text)
                db_copy = Path(zf.extract(f"canisters/{text}.sqlite3", tmp))
                host = replica.hosts[cid]
                await replica.run_on(cid, lambda h=host, p=db_copy: h.restore(p))  # type: ignore[misc]
                restored.append(text)
    return web.json_response({"restored": restored})


# -- faults ----------------------------------------------------------------------------------------


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response([r.to_json() for r in request.app[REPLICA_KEY].faults.list()])


async def add_fault(request: web.Request) -> web.Response:
    rule = request.app[REPLICA_KEY].faults.add(FaultRule.from_json(await _json(request)))
    return web.json_response(rule.to_json(), status=201)


async def clear_faults(request: web.Request) -> web.Response:
    removed = request.app[REPLICA_KEY].faults.clear()
    return web.json_response({"removed": removed})


async def delete_fault(request: web.Request) -> web.Response:
    removed = request.app[REPLICA_KEY].faults.clear(int(request.match_info["rule_id"]))
    if not removed:
        raise AdminError(404, "no such rule")
    return web.json_response({"removed": removed})


def create_admin_app(
    replica: Replica,
    metrics_registry: EmulatorMetrics,
    token: str | None,
    bind_host: str = "127.0.0.1",
) -> web.Application:
    """The admin app; whoever binds it must set `app[ADMIN_LISTENER].port` before serving."""
    app = web.Application(middlewares=[errors, same_origin_guard], client_max_size=1024**4)
    app[REPLICA_KEY] = replica
    app[METRICS_KEY] = metrics_registry
    app[ADMIN_LISTENER] = AdminListener(
        bind_host=bind_host, token=token, upload_types={("PUT", "/snapshot"): ZIP_TYPE}
    )
    r = app.router
    r.add_get("/health", health)
    r.add_get("/ready", ready)
    r.add_get("/openapi.json", openapi)
    r.add_get("/metrics", metrics)
    r.add_get("/canisters", list_canisters)
    r.add_post("/canisters/{cid}/upgrade", upgrade)
    r.add_get("/canisters/{cid}/clock", get_clock)
    r.add_post("/canisters/{cid}/clock/advance", advance_clock)
    r.add_post("/canisters/{cid}/timers/run", run_timers)
    r.add_post("/canisters/{cid}/reset", reset)
    r.add_get("/canisters/{cid}/inspect/{view}", inspect_view)
    r.add_get("/canisters/{cid}/assets/{key}/content", download_asset)
    r.add_get("/snapshot", snapshot)
    r.add_put("/snapshot", restore)
    r.add_get("/faults", list_faults)
    r.add_post("/faults", add_fault)
    r.add_delete("/faults", clear_faults)
    r.add_delete("/faults/{rule_id}", delete_fault)
    setup_inspector(app, replica, metrics_registry)
    return app
