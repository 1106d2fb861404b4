"""`create_app(config)`: the IC interface application and its lifecycle (stores, timers, shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator
from json.encoder import encode_basestring_ascii as _json_text

from aiohttp import web

from emulator.canisters import load_kind
from emulator.protocol.envelope import MAX_INGRESS_BYTES
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import StableStore, StorageFull
from emulator.server import ic_routes
from emulator.server.admin import create_admin_app
from emulator.server.app_keys import CONNECTION_LIMITS, REPLICA
from emulator.server.config import CANISTER_RANGE, EmulatorConfig
from emulator.server.connections import refuse_encoded_bodies
from emulator.server.keys import load_or_create_keys
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import CallRecord, Replica
from emulator.server.snapshot_archive import work_dir_of

call_log = logging.getLogger("emulator.calls")
log = logging.getLogger("emulator.server")


_CALL_LINE = (
    '{"event": "call", "endpoint": %s, "canister": %s, "method": %s, "caller": %s, "outcome": %s, '
    '"duration_ms": %s}'
)


def log_call(record: CallRecord) -> None:
    """One structured JSON line per message: what an engineer greps when a client misbehaves.

    The line is what `json.dumps` makes of the record's dict (same escaping function, separators
    and number form), filled into a fixed template: every message writes one, and building and
    encoding the dict took as long as the rest of the log call.
    """
    duration_ms = round(record.duration_s * 1000, 3)
    call_log.info(
        _CALL_LINE
        % (
            _json_text(record.endpoint),
            _json_text(record.canister_id),
            _json_text(record.method),
            _json_text(record.caller),
            _json_text(record.outcome),
            float.__repr__(duration_ms) if math.isfinite(duration_ms) else json.dumps(duration_ms),
        )
    )


def build_replica(config: EmulatorConfig, metrics: EmulatorMetrics | None = None) -> Replica:
    state_dir = config.state_dir
    (state_dir / "canisters").mkdir(parents=True, exist_ok=True)
    root_key, node_key = load_or_create_keys(state_dir)
    hosts = []
    for spec in config.canisters:
        store = StableStore(
            state_dir / "canisters" / f"{spec.canister_id}.sqlite3",
            durability="full" if config.durability == "full" else "normal",
        )
        hosts.append(
            CanisterHost(
                canister_id=spec.canister_id,
                canister_cls=load_kind(spec.kind),
                store=store,
                clock=CanisterClock(store),
                config=config.canister_config,
                controllers=config.controllers,
            )
        )

    def on_call(record: CallRecord) -> None:
        if metrics is not None:
            metrics.observe(record)
        if config.log_calls:
            log_call(record)

    replica = Replica(root_key, node_key, hosts, [CANISTER_RANGE], on_call=on_call)
    if metrics is not None:
        metrics.watch_decoding(replica.decoding)
    return replica


async def _timer_loop(replica: Replica, period: float) -> None:
    """Fire canister timers as (virtual) time passes, on each canister's own worker thread."""
    while True:
        await asyncio.sleep(period)
        for cid, host in replica.hosts.items():
            try:
                await replica.run_on(cid, host.run_due_timers)
            except StorageFull as exc:  # the timer retries next tick, once space is freed
                log.error("canister %s: timers not run, store full: %s", cid, exc)


def create_apps(config: EmulatorConfig) -> tuple[web.Application, web.Application]:
    """The IC interface app and the admin app, sharing one replica; the IC app owns its lifecycle."""
    metrics = EmulatorMetrics()
    replica = build_replica(config, metrics)
    return create_app(config, replica), create_admin_app(
        replica,
        metrics,
        config.admin_token,
        bind_host=config.admin_host,
        work_dir=work_dir_of(config.state_dir),
    )


def create_app(config: EmulatorConfig, replica: Replica | None = None) -> web.Application:
    app = web.Application(
        middlewares=[ic_routes.cors, ic_routes.protocol_errors, refuse_encoded_bodies],
        # aiohttp's own cap for `request.read()`; the IC routes read through `read_body`, which
        # enforces the ingress limit itself, so this only keeps any other reader to the same figure.
        client_max_size=MAX_INGRESS_BYTES,
    )
    app[REPLICA] = replica or build_replica(config)
    app[CONNECTION_LIMITS] = config.connection_limits
    ic_routes.add_routes(app, sync_call=config.sync_call)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_timer_loop(app[REPLICA], config.timer_tick_seconds))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app[REPLICA].close()

    app.cleanup_ctx.append(lifecycle)
    return app
