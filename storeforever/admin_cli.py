"""`storeforever emulator <command>`: the admin API from the shell (a running emulator is needed)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import ARTIFACT_CANISTER_ID, DEFAULT_ADMIN_URL

if TYPE_CHECKING:
    from clients.admin import AdminClient


def _client(args: argparse.Namespace) -> AdminClient:
    # Imported here: starting the emulator should not pay for the HTTP client it does not use.
    from clients.admin import AdminClient

    return AdminClient(args.admin_url, args.admin_token)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2) if not isinstance(value, str) else value)


def _fault_rule(args: argparse.Namespace) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": args.action, "method": args.method, "endpoint": args.endpoint}
    for name in ("count", "probability", "reject_code", "http_status", "latency_ms"):
        if getattr(args, name) is not None:
            rule[name] = getattr(args, name)
    return rule


def run(args: argparse.Namespace) -> int:
    from clients.admin import AdminError, atomic_output

    cid = args.canister_id
    try:
        with _client(args) as admin:
            match args.admin_command:
                case "status":
                    _print(admin.canisters())
                case "upgrade":
                    _print(admin.upgrade(cid, args.kind))
                case "advance-clock":
                    _print(admin.advance_clock(cid, args.seconds))
                case "clock":
                    _print(admin.clock(cid))
                case "reset":
                    _print(admin.reset(cid))
                case "snapshot":
                    _print({"snapshot": str(admin.snapshot(args.file))})
                case "restore":
                    _print(admin.restore(args.file))
                case "faults":
                    _print(admin.faults())
                case "fault-add":
                    _print(admin.add_fault(**_fault_rule(args)))
                case "faults-clear":
                    _print({"removed": admin.clear_faults()})
                case "inspect":
                    params = dict(p.split("=", 1) for p in args.param)
                    _print(admin.inspect(cid, args.view, **params))
                case "download":
                    with contextlib.ExitStack() as stack:
                        # A file is replaced only once every byte arrived (clients.admin.atomic_output).
                        out = (
                            sys.stdout.buffer
                            if args.output == "-"
                            else stack.enter_context(atomic_output(Path(args.output)))
                        )
                        for block in admin.download_asset(cid, args.key):
                            out.write(block)
                        out.flush()
                case "metrics":
                    _print(admin.metrics())
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def register(emulator_parser: argparse.ArgumentParser) -> None:
    """Adds the admin commands as optional subcommands of `storeforever emulator`."""
    sub = emulator_parser.add_subparsers(dest="admin_command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="admin API URL")
        p.add_argument("--admin-token", default=None, help="bearer token, if the emulator requires one")
        p.add_argument("--canister-id", default=ARTIFACT_CANISTER_ID, help="canister to act on")
        p.set_defaults(func=run)
        return p

    command("status", "list hosted canisters with module hash and canister clock")
    command("upgrade", "simulated upgrade (pre_upgrade, fresh instance, post_upgrade)").add_argument(
        "--kind", default=None, help="install another canister version (registered kind or module:Class)"
    )
    command("advance-clock", "move the canister clock forward; due timers fire").add_argument(
        "seconds", type=float
    )
    command("clock", "show the canister clock")
    command("reset", "reinstall the canister with empty stable memory")
    command("snapshot", "save the whole state to a zip file").add_argument("file", type=Path)
    command("restore", "restore a snapshot zip").add_argument("file", type=Path)
    command("faults", "list fault rules")
    add = command("fault-add", "add a fault rule (first match wins)")
    add.add_argument("action", choices=["reject", "http_status", "latency", "drop_reply"])
    add.add_argument("--method", default="*", help="canister method, * for all")
    add.add_argument("--endpoint", choices=["call", "query", "any"], default="any")
    add.add_argument("--count", type=int, default=None, help="fire for the next N matching calls")
    add.add_argument("--probability", type=float, default=None, help="fire with this probability")
    add.add_argument("--reject-code", type=int, default=None, help="reject code for 'reject' (default 2)")
    add.add_argument("--http-status", type=int, default=None, help="status for 'http_status' (default 503)")
    add.add_argument("--latency-ms", type=int, default=None, help="delay before handling")
    command("faults-clear", "remove every fault rule")
    ins = command("inspect", "read-only view of stored state (galleries, memories, sessions, assets, audit)")
    ins.add_argument("view")
    ins.add_argument("param", nargs="*", help="filters as key=value (e.g. owner=<principal> limit=50)")
    dl = command("download", "download a committed asset's stored bytes")
    dl.add_argument("key", help="memory id of the asset")
    dl.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    command("metrics", "print the Prometheus metrics")
