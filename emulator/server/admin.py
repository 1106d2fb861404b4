"""The admin API: JSON over HTTP on its own listener (loopback by default), never on the IC endpoints.

It does what a replica cannot: simulated upgrades, moving the canister clock, reset, snapshot and
restore, fault rules, inspection of stored state and metrics. Everything touching a canister runs on
that canister's worker thread, so admin actions interleave with messages exactly like messages do.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from emulator.canisters import load_kind
from emulator.principal import Principal, PrincipalError
from emulator.runtime.clock import ClockError
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import is_storage_failure
from emulator.server import admin_inputs
from emulator.server.admin_guard import ZIP_TYPE, same_origin_guard
from emulator.server.admin_openapi import OPENAPI
from emulator.server.app_keys import (
    ADMIN_LISTENER,
    METRICS,
    REPLICA,
    RESTORE_LIMITS,
    RESTORE_LOCK,
    WORK_DIR,
)
from emulator.server.config import AdminListener
from emulator.server.faults import FaultRule, FaultRuleError
from emulator.server.inspector import setup_inspector
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import Replica
from emulator.server.snapshot_archive import (
    SNAPSHOT_FORMAT,
    RestoreLimits,
    SnapshotRejected,
    check_archive,
    check_database,
    disk_budget,
)

# JSON bodies are small; the restore upload is streamed with its own cap (RestoreLimits).
MAX_JSON_BODY = 1 << 20
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
    except (FaultRuleError, ClockError, admin_inputs.InputError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return web.json_response({"error": exc.reason}, status=exc.status, headers=_allow(exc))
        raise
    except Exception as exc:  # the last line of defence; tests show malformed input never gets here
        if is_storage_failure(exc) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            return _out_of_space(str(exc))
        log.exception("admin %s %s failed", request.method, request.path)
        return web.json_response({"error": f"internal error: {type(exc).__name__}"}, status=500)


def _out_of_space(detail: str) -> web.Response:
    """507 Insufficient Storage: the request was fine, the disk is not; nothing was changed."""
    return web.json_response(
        {"error": f"the emulator's state directory is out of space ({detail}); nothing was changed"},
        status=507,
    )


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


async def _json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; anything else (not JSON, NaN/Infinity, too deep, not an object) is 400."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = admin_inputs.strict_json(raw)
    except admin_inputs.InputError as exc:
        raise AdminError(400, str(exc)) from None
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _host(request: web.Request) -> CanisterHost:
    text = request.match_info["cid"]
    try:
        cid = Principal.from_text(text)
    except PrincipalError as exc:
        raise AdminError(400, f"invalid canister id {text[:100]!r}") from exc
    host = request.app[REPLICA].hosts.get(cid)
    if host is None:
        raise AdminError(404, f"canister {text[:100]} is not hosted here")
    return host


async def _on(request: web.Request, host: CanisterHost, fn: Callable[[], Any]) -> Any:
    return await request.app[REPLICA].run_on(host.canister_id, fn)


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
    replica = request.app[REPLICA]
    return web.json_response({"ready": True, "canisters": [str(c) for c in replica.hosts]})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def metrics(request: web.Request) -> web.Response:
    replica, registry = request.app[REPLICA], request.app[METRICS]
    for cid, host in replica.hosts.items():
        figures = await replica.run_on(cid, lambda h=host: h.figures())  # type: ignore[misc]
        registry.set_figures(str(cid), dict(figures))
    return web.Response(body=registry.render(), content_type="text/plain", charset="utf-8")


# -- canisters -------------------------------------------------------------------------------------


async def list_canisters(request: web.Request) -> web.Response:
    return web.json_response([_describe(h) for h in request.app[REPLICA].hosts.values()])


async def upgrade(request: web.Request) -> web.Response:
    host = _host(request)
    kind = admin_inputs.upgrade_kind(await _json(request))
    try:
        new_cls = load_kind(kind) if kind else None
    except Exception as exc:  # whatever importing the named module raised: the name is the problem
        raise AdminError(400, f"cannot load canister kind {kind!r}: {exc}"[:400]) from None
    before = host.canister_cls.module_hash().hex()
    try:
        await _on(request, host, lambda: host.upgrade(new_cls))
    except Exception as exc:
        raise AdminError(409, f"upgrade failed and was rolled back: {exc}") from exc
    return web.json_response({"previous_module_hash": before, **_describe(host)})


async def advance_clock(request: web.Request) -> web.Response:
    host = _host(request)
    delta = admin_inputs.clock_delta_ns(await _json(request))
    now = await _on(request, host, lambda: _advance_within_range(host, delta))
    return web.json_response({"time_ns": now, "clock_offset_ns": host.clock.offset_ns})


def _advance_within_range(host: CanisterHost, delta_ns: int) -> int:
    """On the canister thread: a clock moved too far would make every later message trap, across
    restarts, since the offset is stored (see `admin_inputs.MAX_CANISTER_TIME_NS`)."""
    if host.clock.now() + delta_ns > admin_inputs.MAX_CANISTER_TIME_NS:
        raise ClockError(
            f"advancing by {delta_ns} ns would move the canister clock past 2^62 ns: canisters store "
            "times as signed 64-bit integers and add durations to them"
        )
    return host.advance_clock(delta_ns)


async def get_clock(request: web.Request) -> web.Response:
    host = _host(request)
    return web.json_response({"time_ns": host.clock.now(), "clock_offset_ns": host.clock.offset_ns})


async def run_timers(request: web.Request) -> web.Response:
    host = _host(request)
    admin_inputs.no_fields(await _json(request))
    return web.json_response({"fired": await _on(request, host, host.run_due_timers)})


async def reset(request: web.Request) -> web.Response:
    host = _host(request)
    admin_inputs.no_fields(await _json(request))
    await _on(request, host, host.reinstall)
    return web.json_response(_describe(host))


async def inspect_view(request: web.Request) -> web.Response:
    host = _host(request)
    view = request.match_info["view"]
    if view not in host.instance.inspect_views():
        views = ", ".join(host.instance.inspect_views())
        raise AdminError(404, f"no view {view[:100]!r}; views: {views}")
    params = dict(request.query)
    if any(len(k) > 64 or len(v) > 1024 for k, v in params.items()):
        raise AdminError(400, "query parameter too long (names up to 64, values up to 1024 characters)")
    try:
        rows = await _on(request, host, lambda: host.inspect(view, params))
    except (ValueError, OverflowError, KeyError) as exc:
        raise AdminError(400, f"bad parameters for view {view!r}: {exc}"[:400]) from None
    return web.json_response(rows)


async def download_asset(request: web.Request) -> web.StreamResponse:
    """Streams a stored asset chunk by chunk; each chunk is read on the canister thread."""
    host = _host(request)
    key = request.match_info["key"]
    count = await _on(request, host, lambda: host.asset_chunk_count(key))
    if count is None:
        raise AdminError(404, f"no committed asset for {key[:200]}")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await response.prepare(request)
    for index in range(count):
        data = await _on(request, host, lambda i=index: host.asset_chunk(key, i))  # type: ignore[misc]
        await response.write(data)
    await response.write_eof()
    return response


# -- snapshots -------------------------------------------------------------------------------------


def _work_dir(request: web.Request, prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A private directory under `<state>/tmp`; removed on exit, or at the next start if killed."""
    root = request.app[WORK_DIR]
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=root)


async def snapshot(request: web.Request) -> web.StreamResponse:
    """The whole state of every canister as one zip (keys excluded: a restore must not change root_key)."""
    replica = request.app[REPLICA]
    with _work_dir(request, "snapshot-") as tmp:
        archive = Path(tmp) / "snapshot.zip"
        manifest: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "canisters": {}}
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
            for cid, host in replica.hosts.items():
                db_copy = Path(tmp) / f"{cid}.sqlite3"
                await replica.run_on(cid, lambda h=host, p=db_copy: h.store.backup_to(p))  # type: ignore[misc]
                zf.write(db_copy, f"canisters/{cid}.sqlite3")
                db_copy.unlink()
                manifest["canisters"][str(cid)] = _describe(host)
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        # Streamed before the temporary directory goes away (a FileResponse would be sent too late).
        response = web.StreamResponse(headers={"Content-Type": ZIP_TYPE})
        response.content_length = archive.stat().st_size
        await response.prepare(request)
        with archive.open("rb") as fh:
            while block := fh.read(1 << 20):
                await response.write(block)
        await response.write_eof()
        return response


async def _receive_upload(request: web.Request, target: Path, limits: RestoreLimits) -> None:
    """Streams the body to `target`, refusing it (413) once it passes the cap or the free disk space."""
    cap = disk_budget(target.parent, limits, limits.max_upload_bytes)
    declared = request.content_length
    if declared is not None and declared > cap:
        raise AdminError(413, f"snapshot upload of {declared} bytes exceeds the {cap} bytes allowed")
    received = 0
    with target.open("wb") as fh:
        try:
            async for block in request.content.iter_chunked(1 << 20):
                received += len(block)
                if received > cap:
                    raise AdminError(413, f"snapshot upload exceeds the {cap} bytes allowed")
                fh.write(block)
        except (RequestPayloadError, ConnectionResetError) as exc:
            raise AdminError(400, f"snapshot upload interrupted: {exc}"[:300]) from None
    if received == 0:
        raise AdminError(400, "empty body: upload a snapshot zip")


async def restore(request: web.Request) -> web.Response:
    """Checks the whole archive off the canister threads, then swaps every canister's store in turn;
    if one swap fails, those already swapped are put back from copies taken just before."""
    lock = request.app[RESTORE_LOCK]
    if lock.locked():
        raise AdminError(409, "another restore is running; try again when it has finished")
    async with lock:
        return await _restore(request)


async def _restore(request: web.Request) -> web.Response:
    replica = request.app[REPLICA]
    limits = request.app[RESTORE_LIMITS]
    loop = asyncio.get_running_loop()
    with _work_dir(request, "restore-") as tmp:
        work = Path(tmp)
        archive = work / "upload.zip"
        await _receive_upload(request, archive, limits)
        try:
            checked = await loop.run_in_executor(None, check_archive, archive, work, replica.hosts, limits)
            archive.unlink()
            for cid, db in checked.databases.items():
                scratch = work / f"{cid}.trial.sqlite3"
                await loop.run_in_executor(None, check_database, db, replica.hosts[cid], scratch)
                _remove_db(scratch)
        except SnapshotRejected as exc:
            raise AdminError(exc.status, exc.reason) from None
        try:
            await swap_in(replica, checked.databases, work)
        except Exception as exc:
            raise AdminError(500, f"restore failed and was rolled back: {exc}"[:800]) from None
    return web.json_response({"restored": [str(cid) for cid in checked.databases]})


async def swap_in(replica: Replica, databases: dict[Principal, Path], work: Path) -> None:
    """Restores each canister from its checked database, in turn on its own thread. All or nothing:
    when one fails, those already swapped are put back from the copies taken just before theirs."""
    swapped: list[tuple[CanisterHost, Path]] = []
    try:
        for cid, db in databases.items():
            host = replica.hosts[cid]
            rollback = work / f"{cid}.rollback.sqlite3"
            await replica.run_on(cid, lambda h=host, d=db, r=rollback: _swap(h, d, r))  # type: ignore[misc]
            swapped.append((host, rollback))
    except Exception:
        log.exception("restore failed; rolling back %d canister(s)", len(swapped))
        for host, rollback in swapped:
            await replica.run_on(host.canister_id, lambda h=host, r=rollback: h.restore(r))  # type: ignore[misc]
        raise


def _swap(host: CanisterHost, snapshot_db: Path, rollback: Path) -> None:
    """On the canister's thread: keep a copy of the live store, then restore (undone if it fails)."""
    host.store.backup_to(rollback)
    try:
        host.restore(snapshot_db)
    except BaseException:
        host.restore(rollback)
        raise


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# -- faults ----------------------------------------------------------------------------------------


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response([r.to_json() for r in request.app[REPLICA].faults.list()])


async def add_fault(request: web.Request) -> web.Response:
    fields = admin_inputs.fault_rule_fields(await _json(request))
    rule = request.app[REPLICA].faults.add(FaultRule.from_json(fields))
    return web.json_response(rule.to_json(), status=201)


async def clear_faults(request: web.Request) -> web.Response:
    admin_inputs.no_fields(await _json(request))
    removed = request.app[REPLICA].faults.clear()
    return web.json_response({"removed": removed})


async def delete_fault(request: web.Request) -> web.Response:
    text = request.match_info["rule_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise AdminError(400, f"rule id must be a positive integer, got {text[:40]!r}")
    removed = request.app[REPLICA].faults.clear(int(text))
    if not removed:
        raise AdminError(404, "no such rule")
    return web.json_response({"removed": removed})


def create_admin_app(
    replica: Replica,
    metrics_registry: EmulatorMetrics,
    token: str | None,
    bind_host: str = "127.0.0.1",
    work_dir: Path | None = None,
    restore_limits: RestoreLimits | None = None,
) -> web.Application:
    """The admin app; whoever binds it must set `app[ADMIN_LISTENER].port` before serving.

    `work_dir` (normally `<state>/tmp`) holds snapshot and restore copies."""
    app = web.Application(middlewares=[errors, same_origin_guard], client_max_size=MAX_JSON_BODY)
    app[REPLICA] = replica
    app[WORK_DIR] = work_dir if work_dir is not None else Path(tempfile.gettempdir())
    app[RESTORE_LIMITS] = restore_limits or RestoreLimits()
    app[RESTORE_LOCK] = asyncio.Lock()
    app[METRICS] = metrics_registry
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
