"""`storeforever`: the project's one command line entry point.

`storeforever emulator` starts the local replica (options from `emulator.cli`); its subcommands drive
a running emulator through the admin API (`storeforever.admin_cli`). The client commands (upload,
store-gallery, edges, …) come from `clients.cli_args`. This is the one package allowed to import both
sides: the emulator never imports the client, nor the client the emulator.

Only argparse-level modules are imported up front, so `storeforever emulator` does not pay for the
client stack; each command imports its implementation when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clients import cli_args as client_cli
from emulator.cli import add_emulator_options, principal_arg, run_emulator
from emulator.principal import Principal
from storeforever import admin_cli


def controller_arg(text: str) -> Principal:
    """A principal, or a PEM identity file (what `icp identity export` / `dfx identity export` write).

    PEM files are read with the client's identity loader, which knows the formats dfx and icp-cli
    write; the emulator itself only takes principals.
    """
    if Path(text).is_file():
        from clients.ic.identity import load_pem_file, principal_of

        try:
            return Principal.from_text(principal_of(load_pem_file(text)))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text}: not a PEM identity ({exc})") from exc
    try:
        return principal_arg(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a principal nor a PEM file") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storeforever", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    emu = sub.add_parser(
        "emulator",
        help="start the local IC replica (or control a running one)",
        description="Start a local IC replica hosting the Store Forever canister on http://127.0.0.1:4943.",
    )
    add_emulator_options(emu, controller=controller_arg)
    emu.set_defaults(func=run_emulator)
    admin_cli.register(emu)
    client_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
