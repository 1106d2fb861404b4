"""Client commands of ``storeforever``: upload, store-gallery, presence, progress, sessions, cancel.

``register(subparsers)`` adds them to the project's one entry point (``storeforever/cli.py``);
``main(argv)`` runs them standalone (``python -m clients.cli …``). They talk to any IC target, the
emulator or a dfx replica, through ``clients.artifact``.

Why the exit codes are distinct: scripts and CI must tell "fix your input" (2), "the target said no
and will keep saying no" (3), "try again later" (4) and "some memories made it" (5) apart without
parsing text. ``--json`` prints exactly one JSON document on stdout, on success and on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from clients.artifact import (
    ArtifactClient,
    ArtifactError,
    ClientOptions,
    ManifestError,
    ProgressEvent,
    RetryEvent,
    RetryPolicy,
    load_manifest,
    store_gallery,
    upload,
)
from clients.artifact.manifest import MemorySpec
from clients.artifact.orchestrator import MemoryOutcome
from clients.artifact.types import MemoryPresence, to_json_value
from clients.cli_args import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_PERMANENT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    build_parser,
    register,
)
from clients.edges import EdgeError
from clients.edges import commands as edges_commands
from clients.ic import Connection, anonymous_identity, generate_ed25519, load_pem_file, save_pem

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_PERMANENT",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "default_identity_path",
    "main",
    "register",
]


class UsageError(Exception):
    """Bad input caught before talking to the target (exit code 2)."""


# ------------------------------------------------------------------------------------------ identity


def default_identity_path() -> Path:
    """``$XDG_CONFIG_HOME/storeforever/identity.pem`` (``~/.config`` when XDG_CONFIG_HOME is unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "storeforever" / "identity.pem"


def _default_identity() -> Any:
    """The user's own key, generated on first use with mode 0600.

    Created with a hard link from a temporary file so two commands starting at once agree on one key
    (the loser of the race reads the winner's file instead of silently using a key nobody kept).
    """
    path = default_identity_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".identity.", suffix=".pem")
        os.close(fd)
        try:
            save_pem(generate_ed25519(), tmp)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return load_pem_file(path)


def _identity(args: argparse.Namespace) -> Any:
    if args.anonymous:
        return anonymous_identity()
    if args.identity:
        try:
            return load_pem_file(args.identity)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load identity {args.identity}: {exc}") from exc
    return _default_identity()


# ------------------------------------------------------------------------------------------ output


class Output:
    """Where a command's results go: one JSON document (``--json``) or readable text (rich)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from rich.console import Console

        self.json = bool(args.json)
        self.quiet = bool(getattr(args, "quiet", False))
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def show_progress(self) -> bool:
        return not self.json and not self.quiet and self.err.is_terminal

    def note(self, text: str) -> None:
        if not self.quiet:
            self.err.print(text, markup=False)

    def result(self, command: str, value: Any, human: Callable[[], None]) -> None:
        if self.json:
            print(json.dumps({"ok": True, "command": command, "result": to_json_value(value)}))
        else:
            human()

    def failure(self, command: str, code: int, error: dict[str, Any], extra: Any = None) -> None:
        if self.json:
            doc = {"ok": False, "command": command, "exit_code": code, "error": error}
            if extra is not None:
                doc["result"] = to_json_value(extra)
            print(json.dumps(doc))
        else:
            detail = f" [{error.get('category')}, {error.get('code') or error.get('type')}]"
            self.err.print(f"error: {error.get('message')}{detail}", markup=False, highlight=False)


def _client(args: argparse.Namespace, out: Output) -> ArtifactClient:
    policy = RetryPolicy(
        retries=args.retries,
        base_delay=args.retry_base_delay,
        max_delay=args.retry_max_delay,
        jitter=min(args.retry_base_delay, 1.0),
    )

    def on_retry(event: RetryEvent) -> None:
        out.note(
            f"retry {event.retry}/{args.retries} of {event.operation} in {event.delay:.1f}s: {event.error}"
        )

    connection = Connection(args.url, _identity(args), timeout=args.timeout)
    return ArtifactClient(connection, args.canister_id, ClientOptions(retry_policy=policy, on_retry=on_retry))


def _exit_code_for(exc: ArtifactError) -> int:
    return EXIT_UNAVAILABLE if exc.retryable else EXIT_PERMANENT


def _run(
    command: str, body: Callable[[argparse.Namespace, Output], int]
) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: map failures to exit codes and print them the way the user asked."""

    def run(args: argparse.Namespace) -> int:
        out = Output(args)
        try:
            return body(args, out)
        except UsageError as exc:
            out.failure(command, EXIT_USAGE, {"type": "UsageError", "message": str(exc), "category": "usage"})
            return EXIT_USAGE
        except ManifestError as exc:
            out.failure(
                command,
                EXIT_USAGE,
                {"type": "ManifestError", "message": str(exc), "category": "usage", "problems": exc.problems},
            )
            return EXIT_USAGE
        except OSError as exc:  # a local file (manifest, edges, --from-file) cannot be read or written
            out.failure(
                command, EXIT_USAGE, {"type": type(exc).__name__, "message": str(exc), "category": "usage"}
            )
            return EXIT_USAGE
        except ArtifactError as exc:
            code = _exit_code_for(exc)
            out.failure(command, code, exc.to_json())
            return code
        except EdgeError as exc:  # the database side (clients/edges): one line, its own exit code
            error = {"type": type(exc).__name__, "message": str(exc), "category": exc.category}
            out.failure(command, exc.exit_code, error)
            return exc.exit_code
        except KeyboardInterrupt:
            out.failure(
                command,
                EXIT_INTERRUPTED,
                {"type": "KeyboardInterrupt", "message": "interrupted", "category": "interrupted"},
            )
            return EXIT_INTERRUPTED

    return run


@contextlib.contextmanager
def _bytes_progress(out: Output, description: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """A rich bar over bytes on stderr; yields ``update(done_bytes, status_text)`` (no-op when hidden)."""
    if not out.show_progress:
        yield lambda done, text: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[status]}"),
        console=out.err,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total or 1, status="")
        yield lambda done, text: bar.update(task, completed=done, status=text)


def _rate_text(event: ProgressEvent) -> str:
    parts = [event.phase, f"{event.chunks_done}/{event.chunks_total} chunks"]
    if event.rate:
        parts.append(f"{event.rate / 1e6:.1f} MB/s")
    if event.eta_seconds is not None and event.phase == "uploading":
        parts.append(f"ETA {event.eta_seconds:.0f}s")
    return "  ".join(parts)


# ------------------------------------------------------------------------------------------ commands


def _cmd_upload(args: argparse.Namespace, out: Output) -> int:
    if args.file == "-":
        source: Any = sys.stdin.buffer
        total = 0
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"{path} is not a readable file")
        source, total = path, path.stat().st_size
    client = _client(args, out)
    with _bytes_progress(out, f"upload {args.memory_id[:8]}", total) as update:

        def on_progress(event: ProgressEvent) -> None:
            update(event.bytes_done, _rate_text(event))

        result = upload(
            client,
            args.memory_id,
            source,
            chunk_size=args.chunk_size,
            concurrency=args.concurrency,
            progress=on_progress,
            expected_hash=args.expected_hash,
            cancel_on_error=not args.keep_session_on_error,
            stop_after_chunks=args.stop_after,
        )

    def human() -> None:
        if result.already_present:
            out.out.print(f"already stored: {result.memory_id} sha256={result.sha256} ({result.size} bytes)")
        elif not result.completed:
            out.out.print(
                f"stopped after {result.chunks_sent} chunk(s); session {result.session_id} left active"
            )
        else:
            out.out.print(
                f"stored: {result.memory_id} sha256={result.final_hash} ({result.total_bytes} bytes, "
                f"{result.chunks_sent} sent, {result.chunks_resumed} resumed, {result.duration:.2f}s)"
            )

    out.result("upload", result, human)
    return EXIT_OK


def _cmd_store_gallery(args: argparse.Namespace, out: Output) -> int:
    manifest = load_manifest(args.manifest)
    client = _client(args, out)
    edges_path: Path | None = None
    if not args.no_edges:
        edges_path = Path(args.edges) if args.edges else Path(args.manifest).with_suffix(".edges.jsonl")
    sizes = {m.id: (m.file.stat().st_size if m.file else 0) for m in manifest.memories}
    database = edges_commands.open_writer(args, manifest, client) if args.database_url else None
    with contextlib.ExitStack() as stack:
        edges_file: IO[str] | None = None
        if edges_path is not None:
            edges_file = stack.enter_context(edges_path.open("w", encoding="utf-8"))
        on_memory, on_upload, on_start = _gallery_progress(out, stack, manifest.gallery.title, sizes)
        if database is not None:
            on_memory, on_start = database.chain(on_memory, on_start)
            stack.callback(database.finish)
        outcome = store_gallery(
            client,
            manifest,
            edges=edges_file,
            memory_concurrency=args.memory_concurrency,
            chunk_concurrency=args.concurrency,
            chunk_size=args.chunk_size,
            on_memory=on_memory,
            on_upload=on_upload,
            on_start=on_start,
        )
        if database is not None:
            stack.pop_all()
            database.finish(completed=True)

    def human() -> None:
        c = outcome.counts
        out.out.print(
            f"gallery {outcome.gallery_id}: {outcome.status} — {c['stored']} stored, {c['skipped']} "
            f"already present, {c['failed']} failed, {c['not_attempted']} not attempted; "
            f"gallery record {'stored' if outcome.gallery_stored else 'NOT stored'}; "
            f"{outcome.edges_written} edge(s) written" + (f" to {edges_path}" if edges_path else "")
        )
        for m in outcome.memories:
            if m.error:
                out.out.print(f"  {m.memory_id}: {m.status}: {m.error.get('message')}")
        if database is not None:
            out.out.print(database.summary(edges_path))

    if database is not None and database.error is not None and outcome.status == "complete":
        out.failure("store-gallery", EXIT_UNAVAILABLE, database.error, extra=database.report(outcome))
        return EXIT_UNAVAILABLE
    if outcome.status == "complete":
        out.result("store-gallery", outcome if database is None else database.report(outcome), human)
        return EXIT_OK
    errors = [m.error for m in outcome.memories if m.error] + ([outcome.error] if outcome.error else [])
    unavailable = any(e.get("category") == "retryable" for e in errors)
    code = (
        EXIT_PARTIAL if outcome.status == "partial" else (EXIT_UNAVAILABLE if unavailable else EXIT_PERMANENT)
    )
    if out.json:
        summary = {
            "type": "GalleryIncomplete",
            "category": "partial" if code == EXIT_PARTIAL else ("retryable" if unavailable else "permanent"),
            "code": None,
            "message": f"gallery {outcome.status}: {outcome.counts}",
        }
        out.failure(
            "store-gallery", code, summary, extra=outcome if database is None else database.report(outcome)
        )
    else:
        human()
    return code


def _gallery_progress(
    out: Output, stack: contextlib.ExitStack, title: str, sizes: dict[str, int]
) -> tuple[
    Callable[[MemoryOutcome], None],
    Callable[[ProgressEvent], None] | None,
    Callable[[list[MemorySpec], dict[str, MemoryPresence]], None] | None,
]:
    """Two bars (memories, bytes) when the terminal can show them; one note per memory otherwise."""
    if not out.show_progress:
        return (lambda o: out.note(f"{o.memory_id}: {o.status}")), None, None
    from rich.progress import BarColumn, Progress, TextColumn

    bar = stack.enter_context(
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            console=out.err,
        )
    )
    total_bytes = sum(sizes.values())
    memories = bar.add_task(f"{title[:30]}: memories", total=len(sizes), detail=f"0/{len(sizes)}")
    data = bar.add_task("bytes", total=max(1, total_bytes), detail="")
    done: dict[str, int] = {}
    finished = [0]
    lock = threading.Lock()

    def refresh() -> None:
        sent = sum(done.values())
        bar.update(data, completed=sent, detail=f"{sent / 1e6:.1f}/{total_bytes / 1e6:.1f} MB")
        bar.update(memories, completed=finished[0], detail=f"{finished[0]}/{len(sizes)}")

    def on_start(order: list[MemorySpec], presence: dict[str, MemoryPresence]) -> None:
        with lock:
            for spec in order:
                p = presence.get(spec.id)
                if p is not None and p.asset_present:
                    done[spec.id] = sizes.get(spec.id, 0)
            refresh()

    def on_upload(event: ProgressEvent) -> None:
        if event.phase in ("uploading", "done"):
            with lock:
                done[event.memory_id] = event.bytes_done
                refresh()

    def on_memory(outcome: MemoryOutcome) -> None:
        with lock:
            finished[0] += 1
            if outcome.status in ("stored", "skipped"):
                done[outcome.memory_id] = sizes.get(outcome.memory_id, 0)
            refresh()

    return on_memory, on_upload, on_start


def _cmd_presence(args: argparse.Namespace, out: Output) -> int:
    ids = list(args.memory_ids)
    if args.from_file:
        ids += [line.strip() for line in Path(args.from_file).read_text().splitlines() if line.strip()]
    if not ids:
        raise UsageError("give memory ids as arguments or with --from-file")
    client = _client(args, out)
    results = list(client.iter_memory_presence(ids, args.page_size))

    def human() -> None:
        for p in results:
            out.out.print(
                f"{p.memory_id}  metadata={'yes' if p.metadata_present else 'no'}  "
                f"asset={'yes' if p.asset_present else 'no'}"
            )

    out.result("presence", results, human)
    return EXIT_OK


def _cmd_progress(args: argparse.Namespace, out: Output) -> int:
    progress = _client(args, out).get_upload_progress(args.session_id)

    def human() -> None:
        eta = progress.estimated_time_remaining
        out.out.print(
            f"{progress.session_id} {progress.status.value} memory={progress.memory_id} "
            f"{progress.chunks_received}/{progress.total_chunks} chunks "
            f"{progress.bytes_received}/{progress.total_size} bytes "
            f"({progress.progress_percentage:.1f}%)" + ("" if eta is None else f" ETA {eta / 1e9:.0f}s")
        )

    out.result("progress", progress, human)
    return EXIT_OK


def _cmd_sessions(args: argparse.Namespace, out: Output) -> int:
    sessions = _client(args, out).get_user_upload_sessions()

    def human() -> None:
        if not sessions:
            out.out.print("no active upload sessions")
        for s in sessions:
            out.out.print(
                f"{s.session_id}  memory={s.memory_id}  {s.chunks_received}/{s.total_chunks} chunks  "
                f"{s.progress_percentage:.1f}%  {s.status.value}"
            )

    out.result("sessions", sessions, human)
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace, out: Output) -> int:
    client = _client(args, out)
    for session_id in args.session_ids:
        client.cancel_upload(session_id)
    result = {"cancelled": list(args.session_ids)}
    out.result("cancel", result, lambda: out.out.print(f"cancelled {len(args.session_ids)} session(s)"))
    return EXIT_OK


def _cmd_edges_audit(args: argparse.Namespace, out: Output) -> int:
    return edges_commands.cmd_audit(args, out, _client(args, out))


# ------------------------------------------------------------------------------------------ parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "upload": _run("upload", _cmd_upload),
    "store-gallery": _run("store-gallery", _cmd_store_gallery),
    "presence": _run("presence", _cmd_presence),
    "progress": _run("progress", _cmd_progress),
    "sessions": _run("sessions", _cmd_sessions),
    "cancel": _run("cancel", _cmd_cancel),
    "edges init-dev": _run("edges init-dev", edges_commands.cmd_init_dev),
    "edges apply": _run("edges apply", edges_commands.cmd_apply),
    "edges audit": _run("edges audit", _cmd_edges_audit),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
