"""The emulator's own command line: its options, the configuration they make, and the server start.

`storeforever emulator` (composed in `storeforever.cli` with the admin and client commands) uses
these; this module imports nothing of the client side, so a principal given as a PEM identity file is
resolved by a function the composing CLI passes in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract import ARTIFACT_CANISTER_ID, DEFAULT_ADMIN_PORT, DEFAULT_PORT
from emulator import dev_env
from emulator.canisters import load_kind
from emulator.principal import Principal
from emulator.server.config import DEFAULT_STATE_DIR, CanisterSpec, ConnectionLimits, EmulatorConfig

DEFAULT_KIND = "artifact"


def _canister_spec(text: str) -> CanisterSpec:
    kind, sep, cid = text.partition("=")
    return CanisterSpec(kind, Principal.from_text(cid if sep else ARTIFACT_CANISTER_ID))


def principal_arg(text: str) -> Principal:
    """`--controller` as the emulator alone understands it: a textual principal."""
    try:
        return Principal.from_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a principal") from exc


def add_emulator_options(
    p: argparse.ArgumentParser, controller: Callable[[str], Principal] = principal_arg
) -> None:
    """The server's options; `controller` turns a `--controller` value into a principal."""
    p.add_argument("--host", default="127.0.0.1", help="address of the IC HTTP interface (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"IC interface port, 0 = any free (default {DEFAULT_PORT})",
    )
    p.add_argument(
        "--admin-host", default="127.0.0.1", help="address of the admin API (default loopback only)"
    )
    p.add_argument(
        "--admin-port",
        type=int,
        default=DEFAULT_ADMIN_PORT,
        help=f"admin API port, 0 = any free (default {DEFAULT_ADMIN_PORT})",
    )
    p.add_argument(
        "--admin-token", default=None, help="require 'Authorization: Bearer TOKEN' on the admin API"
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where keys and canister state live (default ./{DEFAULT_STATE_DIR})",
    )
    p.add_argument(
        "--canister",
        action="append",
        type=_canister_spec,
        metavar="KIND[=ID]",
        help=f"host a canister of KIND (artifact, example, or module:Class) under ID "
        f"(default {DEFAULT_KIND}={ARTIFACT_CANISTER_ID}); repeatable",
    )
    p.add_argument(
        "--controller",
        action="append",
        type=controller,
        default=[],
        metavar="PRINCIPAL|PEM",
        help="controller of every hosted canister (management canister calls, read_state controllers), "
        "a principal or a PEM identity file; repeatable. Controllers set later with update_settings "
        "are kept in the state directory and win over this flag",
    )
    p.add_argument(
        "--durability",
        choices=["full", "normal"],
        default="full",
        help="full: fsync every commit (survives power loss); normal: survives process kill only",
    )
    p.add_argument(
        "--config", type=Path, default=None, help="JSON file of canister limits (docs/emulator.md)"
    )
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one canister limit, overriding --config (e.g. max_active_sessions=5); repeatable",
    )
    p.add_argument(
        "--timer-tick", type=float, default=1.0, help="seconds between canister timer checks (default 1)"
    )
    p.add_argument(
        "--port-file", type=Path, default=None, help="write the bound ports as JSON here once ready"
    )
    p.add_argument(
        "--write-env",
        type=Path,
        default=None,
        metavar="FILE",
        help="once ready, write the variables a web app reads to reach the emulator (host, canister ids "
        "under the dfx and icp-cli names, network) as NAME=VALUE lines",
    )
    p.add_argument("--quiet", action="store_true", help="no per-call log lines")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=ConnectionLimits().idle_timeout_s,
        metavar="SECONDS",
        help="close a connection idle (or sending its headers) this long (default %(default)g)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=ConnectionLimits().body_timeout_s,
        metavar="SECONDS",
        help="answer 408 to a body not complete after this long, or silent for a quarter of it "
        "(default %(default)g: a 1 MiB chunk may arrive at ~10 KB/s)",
    )
    p.add_argument(
        "--no-sync-call",
        dest="sync_call",
        action="store_false",
        help="answer 404 on v3/v4 call: agent-js falls back to v2 call + polling; icp-cli 1.5.0 "
        "(ic-agent 0.49) sends only v4 calls and fails, so do not use it with icp-cli",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    canister_config: dict[str, Any] = {}
    if args.config is not None:
        canister_config.update(json.loads(args.config.read_text()))
    for item in args.limit:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--limit expects NAME=VALUE, got {item!r}")
        canister_config[name] = json.loads(value)
    canisters = tuple(args.canister or [_canister_spec(DEFAULT_KIND)])
    known = {key for spec in canisters for key in load_kind(spec.kind).CONFIG_KEYS}
    unknown = sorted(set(canister_config) - known)
    if unknown:
        raise SystemExit(
            f"unknown canister config key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        admin_token=args.admin_token,
        state_dir=args.state_dir,
        canisters=canisters,
        controllers=tuple(args.controller),
        durability=args.durability,
        canister_config=canister_config,
        timer_tick_seconds=args.timer_tick,
        log_calls=not args.quiet,
        sync_call=args.sync_call,
        connection_limits=_connection_limits(args),
    )


def _connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    try:
        return ConnectionLimits(
            idle_timeout_s=args.idle_timeout,
            body_idle_timeout_s=args.body_timeout / 4,
            body_timeout_s=args.body_timeout,
        )
    except ValueError as exc:
        raise SystemExit(f"--idle-timeout/--body-timeout: {exc}") from exc


async def serve(config: EmulatorConfig, port_file: Path | None, env_file: Path | None = None) -> None:
    from aiohttp import web

    from emulator.server.app import create_apps
    from emulator.server.app_keys import ADMIN_LISTENER, CONNECTION_LIMITS, REPLICA
    from emulator.server.snapshot_archive import clear_work_dir, work_dir_of

    # Copies left by a snapshot or restore that was killed mid-way.
    clear_work_dir(work_dir_of(config.state_dir))
    app, admin_app = create_apps(config)
    admin_app[CONNECTION_LIMITS] = config.connection_limits
    connection_options = config.connection_limits.runner_kwargs()
    runner = web.AppRunner(app, access_log=None, **connection_options)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    admin_runner = web.AppRunner(admin_app, access_log=None, **connection_options)
    await admin_runner.setup()
    await web.TCPSite(admin_runner, config.admin_host, config.admin_port).start()
    port = runner.addresses[0][1]
    admin_port = admin_runner.addresses[0][1]
    # The admin app's Host/Origin rules need the real port (known only now when --admin-port 0).
    admin_app[ADMIN_LISTENER].port = admin_port
    info = {
        "url": f"http://{config.host}:{port}",
        "port": port,
        "admin_url": f"http://{config.admin_host}:{admin_port}",
        "canisters": {spec.kind: str(spec.canister_id) for spec in config.canisters},
        "controllers": {
            str(cid): [c.to_text() for c in host.controllers] for cid, host in app[REPLICA].hosts.items()
        },
        "state_dir": str(config.state_dir.resolve()),
    }
    if port_file is not None:
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(port_file)
    if env_file is not None:
        dev_env.write(
            env_file,
            dev_env.variables(
                str(info["url"]),
                str(info["admin_url"]),
                app[REPLICA].root_key.der,
                {spec.kind: str(spec.canister_id) for spec in config.canisters},
            ),
        )
    print(f"storeforever emulator ready: {json.dumps(info)}", flush=True)
    for cid, host in app[REPLICA].hosts.items():
        owners = ", ".join(c.to_text() for c in host.controllers)
        print(
            f"canister {cid} is controlled by {owners}"
            if owners
            else f"canister {cid} has no controllers: management calls (status, stop, logs, snapshots) "
            "are refused; start with --controller PRINCIPAL|PEM",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await admin_runner.cleanup()
    await runner.cleanup()


def run_emulator(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    config = config_from_args(args)
    asyncio.run(serve(config, args.port_file, args.write_env))
    return 0
