"""The client commands' arguments, help and exit codes: argparse only, no client imports.

`storeforever emulator` builds the same top-level parser; keeping this module free of the client stack
means starting the emulator does not pay for importing httpx, icp-py-core and the uploader. Each
command's implementation is imported from `clients.cli` only when that command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable

from clients.edges import cli_args as edges_args
from contract import ARTIFACT_CANISTER_ID, DEFAULT_URL

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PERMANENT = 3
EXIT_UNAVAILABLE = 4
EXIT_PARTIAL = 5
EXIT_INTERRUPTED = 130

DEFAULT_CANISTER_ID = ARTIFACT_CANISTER_ID

EXIT_CODES_HELP = """\
exit codes:
  0  success
  2  usage error: bad arguments, unreadable file, invalid manifest
  3  permanent failure: the target refused (Unauthorized, NotFound, InvalidHash, validation, quota,
     a trap) or a verification failed; repeating the command will not help
  4  retries exhausted or target unavailable (transport errors, HTTP 429/5xx, transient rejects,
     rate limit, circuit breaker open); try again later
  5  partial success: store-gallery stored some memories but not all (see the per-memory outcomes)
  130 interrupted (Ctrl-C); an upload in progress is cancelled first

environment: STOREFOREVER_URL, STOREFOREVER_CANISTER_ID, STOREFOREVER_IDENTITY set the defaults of
--url, --canister-id and --identity."""


def _deferred(command: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        commands = importlib.import_module("clients.cli").COMMANDS
        return int(commands[command](args))

    return run


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target and identity")
    g.add_argument(
        "--url",
        default=os.environ.get("STOREFOREVER_URL", DEFAULT_URL),
        help=f"IC HTTP endpoint of the emulator or replica (default {DEFAULT_URL})",
    )
    g.add_argument(
        "--canister-id",
        default=os.environ.get("STOREFOREVER_CANISTER_ID", DEFAULT_CANISTER_ID),
        help=f"artifact canister id (default {DEFAULT_CANISTER_ID})",
    )
    g.add_argument(
        "--identity",
        metavar="PEM",
        default=os.environ.get("STOREFOREVER_IDENTITY"),
        help="dfx identity PEM (Ed25519 or secp256k1); default: a key generated once and kept in "
        "$XDG_CONFIG_HOME/storeforever/identity.pem (mode 0600)",
    )
    g.add_argument(
        "--anonymous", action="store_true", help="call as the anonymous principal (writes are refused)"
    )
    g.add_argument(
        "--timeout", type=float, default=30.0, help="HTTP timeout per request in seconds (default 30)"
    )
    r = p.add_argument_group("retries")
    r.add_argument("--retries", type=_non_negative, default=3, help="retries per idempotent call (default 3)")
    r.add_argument("--retry-base-delay", type=float, default=1.0, help="first backoff in seconds (default 1)")
    r.add_argument(
        "--retry-max-delay", type=float, default=10.0, help="longest backoff in seconds (default 10)"
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print one machine-readable JSON document on stdout")
    o.add_argument("--quiet", action="store_true", help="no progress bars or retry notes on stderr")


def _upload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--chunk-size",
        type=_positive,
        default=None,
        help="bytes per chunk (default: the target's maximum, 1 MiB); keep it the same to resume",
    )
    p.add_argument("--concurrency", type=_positive, default=4, help="chunks in flight at once (default 4)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client subcommands to a parser's subparsers (the lead's ``storeforever`` CLI)."""

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        p = subparsers.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(p)
        return p

    p = add(
        "upload",
        "upload a file as a memory's asset (chunked, resumable, verified)",
        "Hash FILE (SHA-256), begin or resume the memory's upload session, send the missing chunks, "
        "commit, and verify the committed hash and the asset's presence. Re-running after an "
        "interruption resumes; uploading bytes already stored reports 'already present'.",
    )
    p.add_argument("file", help="file to upload ('-' reads standard input)")
    p.add_argument("--memory-id", required=True, help="the memory's canonical UUID v4 (chosen by Web2)")
    _upload_options(p)
    p.add_argument(
        "--expected-hash",
        default=None,
        help="declare this SHA-256 instead of the computed one (tests the target's check)",
    )
    p.add_argument(
        "--keep-session-on-error",
        action="store_true",
        help="do not cancel the session when the upload fails (resume it later)",
    )
    p.add_argument(
        "--stop-after",
        type=_non_negative,
        default=None,
        metavar="N",
        help="send at most N chunks, then stop and leave the session active (staging resumes)",
    )
    p.set_defaults(func=_deferred("upload"))

    p = add(
        "store-gallery",
        "store a gallery and its memories from a manifest (resumable)",
        "Read a gallery manifest (format: clients/artifact/manifest.py), store each memory's metadata "
        "and asset with presence verification, then the gallery record. Writes one storage-edge JSON "
        "line per verified artifact. Re-running skips memories already present.",
    )
    p.add_argument("manifest", help="gallery manifest JSON")
    p.add_argument(
        "--edges", default=None, help="storage-edge JSON lines file (default MANIFEST.edges.jsonl)"
    )
    p.add_argument("--no-edges", action="store_true", help="do not write storage edges")
    p.add_argument(
        "--memory-concurrency",
        type=_positive,
        default=None,
        help="memories processed at once (default and cap: the target's session limit, 3)",
    )
    _upload_options(p)
    edges_args.store_gallery_options(p)
    p.set_defaults(func=_deferred("store-gallery"))

    edges_args.register(subparsers, _common, _deferred, EXIT_CODES_HELP)

    p = add("presence", "show metadata/asset presence of memories", "Presence per memory, paged by 100.")
    p.add_argument("memory_ids", nargs="*", help="memory ids")
    p.add_argument("--from-file", default=None, help="file with one memory id per line")
    p.add_argument("--page-size", type=_positive, default=100, help="ids per presence query (max 100)")
    p.set_defaults(func=_deferred("presence"))

    p = add("progress", "show an upload session's progress", "Progress of one of your upload sessions.")
    p.add_argument("session_id")
    p.set_defaults(func=_deferred("progress"))

    p = add("sessions", "list your active upload sessions", "Your active upload sessions, newest first.")
    p.set_defaults(func=_deferred("sessions"))

    p = add("cancel", "cancel upload sessions", "Cancel upload sessions (idempotent; frees their slots).")
    p.add_argument("session_ids", nargs="+")
    p.set_defaults(func=_deferred("cancel"))


def build_parser(prog: str = "python -m clients.cli") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    register(parser.add_subparsers(dest="command", required=True))
    return parser
