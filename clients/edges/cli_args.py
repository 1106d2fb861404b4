"""Arguments of ``storeforever edges …`` and of ``store-gallery --database-url``: argparse only.

Kept apart from the implementations (``commands``) for the same reason as ``clients/cli_args.py``: the
emulator builds the same parser and must not import psycopg to do so.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable

__all__ = ["parse_duration", "register", "store_gallery_options"]

DATABASE_URL_ENV = "STOREFOREVER_DATABASE_URL"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``500ms`` → seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 2h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _database_url(p: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
    default = os.environ.get(DATABASE_URL_ENV)
    p.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        required=required and default is None,
        help=f"{help_text} (postgresql://user:pass@host/db; default ${DATABASE_URL_ENV})",
    )


def store_gallery_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Web2 storage edges (PostgreSQL)")
    g.add_argument(
        "--database-url",
        metavar="URL",
        default=None,
        help="also write the gallery's icp-canister rows of storage_edges in this database as memories "
        "are stored (migrating before, present/idle after verified presence, failed with the reason), "
        "and refresh gallery_presence; the JSON-lines edges file is still written",
    )
    g.add_argument(
        "--refresh-every",
        type=_positive,
        default=50,
        metavar="K",
        help="refresh gallery_presence after every K finished memories (default 50) and at the end",
    )
    g.add_argument(
        "--refresh-interval",
        type=parse_duration,
        default=10.0,
        metavar="T",
        help="... or when T has passed since the last refresh (default 10s)",
    )


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
    deferred: Callable[[str], Callable[[argparse.Namespace], int]],
    epilog: str,
) -> None:
    """``storeforever edges init-dev|apply|audit``; ``common`` adds the target/identity/output options."""
    edges = subparsers.add_parser(
        "edges",
        help="the gallery app's storage_edges table: init a dev database, apply edge files, audit",
        description="Write and audit the Web2 app's storage_edges table (PostgreSQL) against the canister. "
        "See docs/web2.md.",
    )
    sub = edges.add_subparsers(dest="edges_command", required=True, metavar="{init-dev,apply,audit}")

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def output(p: argparse.ArgumentParser) -> None:
        o = p.add_argument_group("output")
        o.add_argument("--json", action="store_true", help="print one machine-readable JSON document")
        o.add_argument("--quiet", action="store_true", help="no notes on stderr")

    p = add(
        "init-dev",
        "create the app's schema (fixture) on an EMPTY development database",
        "Create galleries, gallery_items, storage_edges, memory_presence and gallery_presence exactly as the "
        "gallery app has them. Refuses a database that already holds any of them in another shape: this is "
        "a fixture for development and tests, never a migration of the app's database. With --gallery "
        "MANIFEST, also insert that gallery and its items (what the app would already have).",
    )
    _database_url(p, required=True, help_text="the development database")
    p.add_argument("--gallery", action="append", default=[], metavar="MANIFEST", help="seed this gallery")
    p.add_argument("--owner", default="dev-user", help="owner_id of seeded galleries (default dev-user)")
    output(p)
    p.set_defaults(func=deferred("edges init-dev"))

    p = add(
        "apply",
        "upsert storage-edge JSON lines (store-gallery's --edges file) into storage_edges",
        "Validate every line (canonical UUID v4 memory_id, artifact metadata|asset, backend neon-db|"
        "vercel-blob|icp-canister, present true|false, content_hash 64 hex, lines up to 64 KiB) and upsert "
        "them in batches inside ONE transaction: a refused line (reported with its number) leaves the table "
        "exactly as it was. memory_type comes from the line, else --manifest, else the memory's existing "
        "edges in the table.",
    )
    p.add_argument("file", help="JSON-lines file ('-' reads standard input)")
    _database_url(p, required=True, help_text="the app's database")
    p.add_argument(
        "--manifest",
        action="append",
        default=[],
        metavar="MANIFEST",
        help="gallery manifest(s) giving memory_type for lines without one",
    )
    p.add_argument("--batch-size", type=_positive, default=5000, help="rows per upsert (default 5000)")
    p.add_argument(
        "--refresh", action="store_true", help="refresh gallery_presence after applying (same transaction)"
    )
    output(p)
    p.set_defaults(func=deferred("edges apply"))

    p = add(
        "audit",
        "compare storage_edges' icp-canister rows with the canister's presence; --fix repairs",
        "Read every memory the table knows (keyset pages), ask the canister for presence in pages of 100 "
        "(as --identity: presence answers only for the caller's own memories, so audit with the identity "
        "that stored them), and report drift: present in the table but absent on the canister, present on "
        "the canister but absent or missing in the table, migrating for longer than the threshold, and "
        "gallery_presence badges that disagree with the table. Exit 0 clean, 1 drift. --fix sets the rows "
        "to the canister's truth (with an explanatory sync_error) and refreshes gallery_presence, in one "
        "transaction.",
    )
    _database_url(p, required=True, help_text="the app's database")
    common(p)
    p.add_argument("--fix", action="store_true", help="repair the drift in one transaction")
    p.add_argument(
        "--stale-migrating-after",
        type=parse_duration,
        default=900.0,
        metavar="DURATION",
        help="a migrating row not updated for this long is stuck (default 15m)",
    )
    p.add_argument(
        "--gallery",
        action="append",
        default=[],
        metavar="GALLERY_ID",
        help="only the memories of this gallery (gallery_items); repeatable",
    )
    p.add_argument(
        "--owner", action="append", default=[], metavar="OWNER_ID", help="only galleries of this owner_id"
    )
    p.add_argument("--max-details", type=_positive, default=1000, help="drift rows listed (default 1000)")
    p.set_defaults(func=deferred("edges audit"))
