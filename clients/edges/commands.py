"""The ``storeforever edges`` commands and the ``store-gallery --database-url`` wiring.

Each command body takes the parsed arguments and the CLI's ``Output`` and returns an exit code;
``clients/cli.py`` wraps it (``_run``) so EdgeErrors become one line (or one JSON document) with the
exit code they carry. Drift is not an error: ``audit`` returns 1 and prints its report normally.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from clients.artifact.client import ArtifactClient
from clients.artifact.manifest import Manifest, MemorySpec, load_manifest
from clients.artifact.orchestrator import MemoryOutcome
from clients.artifact.types import MemoryPresence

from .errors import EdgeInputError

__all__ = ["EXIT_DRIFT", "cmd_apply", "cmd_audit", "cmd_init_dev", "open_writer"]

EXIT_DRIFT = 1


class Output(Protocol):
    json: bool

    def note(self, text: str) -> None: ...

    def result(self, command: str, value: Any, human: Callable[[], None]) -> None: ...

    @property
    def out(self) -> Any: ...


# ------------------------------------------------------------------------------------ store-gallery


class GalleryEdges:
    """``store-gallery``'s hooks chained with the edge writer's; ``close`` returns the writer's stats."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.stats: Any = None

    def finish(self, *, completed: bool = False) -> None:
        """Flush and refresh; a run that did not complete marks its unfinished memories failed."""
        if self.stats is None:
            self.stats = self.writer.close(interrupted=not completed)

    @property
    def error(self) -> dict[str, Any] | None:
        if self.stats is None or self.stats.error is None:
            return None
        return {
            "type": "EdgeUnavailableError",
            "category": "retryable",
            "code": None,
            "message": f"storage_edges not fully written: {self.stats.error}; every edge is in the "
            "JSON-lines file: apply it with `storeforever edges apply FILE --database-url URL`",
        }

    def summary(self, edges_path: Path | None) -> str:
        s = self.stats
        text = (
            f"storage_edges: {s.migrating} marked migrating, {s.written} written present, {s.unchanged} "
            f"already up to date, {s.failed} failed; gallery_presence refreshed {s.refreshes} time(s)"
        )
        if s.error is not None:
            text += f"; DATABASE ERROR: {s.error}" + (f" (apply {edges_path} later)" if edges_path else "")
        return text

    def report(self, outcome: Any) -> dict[str, Any]:
        return {**outcome.to_json(), "database": self.stats.to_json()}

    def chain(
        self,
        on_memory: Callable[[MemoryOutcome], None] | None,
        on_start: Callable[[list[MemorySpec], dict[str, MemoryPresence]], None] | None,
    ) -> tuple[
        Callable[[MemoryOutcome], None], Callable[[list[MemorySpec], dict[str, MemoryPresence]], None]
    ]:
        def memory(outcome: MemoryOutcome) -> None:
            self.writer.on_memory(outcome)
            if on_memory is not None:
                on_memory(outcome)

        def start(order: list[MemorySpec], presence: dict[str, MemoryPresence]) -> None:
            self.writer.on_start(order, presence)
            if on_start is not None:
                on_start(order, presence)

        return memory, start


def open_writer(args: argparse.Namespace, manifest: Manifest, client: ArtifactClient) -> GalleryEdges:
    """Connect and check the schema before the canister is touched (a bad URL costs nothing)."""
    from .writer import EdgeWriter

    writer = EdgeWriter(
        args.database_url,
        manifest,
        location=f"icp://{client.canister_id}",
        refresh_every=args.refresh_every,
        refresh_interval=args.refresh_interval,
    )
    return GalleryEdges(writer)


# ------------------------------------------------------------------------------------------ init-dev


def cmd_init_dev(args: argparse.Namespace, out: Output) -> int:
    from .connection import connect, database_errors
    from .schema import init_dev, seed_gallery

    manifests = [load_manifest(path) for path in args.gallery]
    with contextlib.closing(connect(args.database_url)) as conn:
        with database_errors("initialising the development schema"):
            result = init_dev(conn)
        seeded: list[dict[str, Any]] = []
        for manifest in manifests:
            with database_errors("seeding a gallery"):
                added = seed_gallery(
                    conn,
                    manifest.gallery.id,
                    args.owner,
                    manifest.gallery.title,
                    [m.id for m in manifest.memories],
                )
            seeded.append({"gallery_id": manifest.gallery.id, "items_added": added})
    value = {"created": result.created, "message": result.message, "seeded": seeded}

    def human() -> None:
        out.out.print(result.message)
        for s in seeded:
            out.out.print(f"gallery {s['gallery_id']}: {s['items_added']} item(s) added (owner {args.owner})")

    out.result("edges init-dev", value, human)
    return 0


# ------------------------------------------------------------------------------------------- apply


def _memory_types(paths: list[str]) -> dict[str, str]:
    from .writer import memory_type_of

    types: dict[str, str] = {}
    for path in paths:
        for spec in load_manifest(path).memories:
            types[spec.id] = memory_type_of(spec)
    return types


def cmd_apply(args: argparse.Namespace, out: Output) -> int:
    from .apply import apply_edges
    from .connection import connect

    types = _memory_types(args.manifest)
    with contextlib.ExitStack() as stack:
        stream: IO[bytes]
        if args.file == "-":
            stream = sys.stdin.buffer
        else:
            path = Path(args.file)
            if not path.is_file():
                raise EdgeInputError(f"{path} is not a readable file")
            stream = stack.enter_context(path.open("rb"))
        conn = stack.enter_context(contextlib.closing(connect(args.database_url)))
        result = apply_edges(
            conn, stream, memory_types=types, batch_size=args.batch_size, refresh=args.refresh
        )

    def human() -> None:
        rate = result.records / result.seconds if result.seconds > 0 else 0.0
        out.out.print(
            f"applied {result.records} edge(s) from {result.lines} line(s) in {result.batches} batch(es): "
            f"{result.written} written, {result.unchanged} already up to date; {result.seconds:.2f}s "
            f"({rate:,.0f} rows/s)" + ("; gallery_presence refreshed" if result.refreshed else "")
        )

    out.result("edges apply", result.to_json(), human)
    return 0


# ------------------------------------------------------------------------------------------- audit


def cmd_audit(args: argparse.Namespace, out: Output, client: ArtifactClient) -> int:
    from .audit import DRIFT_KINDS, audit_edges
    from .connection import connect

    for gallery_id in args.gallery:
        try:
            uuid.UUID(gallery_id)
        except ValueError:
            raise EdgeInputError(f"--gallery {gallery_id!r:.60} is not a UUID") from None
    with contextlib.closing(connect(args.database_url)) as conn:
        result = audit_edges(
            conn,
            client,
            canister_id=args.canister_id,
            stale_after=args.stale_migrating_after,
            galleries=args.gallery,
            owners=args.owner,
            fix=args.fix,
            max_details=args.max_details,
        )

    def human() -> None:
        from rich.table import Table

        out.out.print(
            f"audit of storage_edges against canister {result.canister_id} as {result.principal}: "
            f"{result.memories_checked} memories, {result.edges_checked} icp-canister edges, "
            f"{result.galleries_checked} galleries checked"
        )
        summary = Table("drift", "count", title=None)
        for kind in DRIFT_KINDS:
            summary.add_row(kind, str(result.counts.get(kind, 0)))
        out.out.print(summary)
        for d in result.drifts:  # one line each: greppable, and readable in a narrow terminal or a log
            subject = d.memory_id or d.gallery_id or ""
            if d.view is not None:
                out.out.print(
                    f"{d.kind}  gallery {subject}  table: {_short(d.table)}  view: {_short(d.view)}"
                )
            else:
                out.out.print(
                    f"{d.kind}  {subject} {d.artifact}  table: {_short(d.table) or 'no row'}  "
                    f"canister: {_short(d.canister)}"
                )
        if result.details_truncated:
            out.out.print(f"(first {len(result.drifts)} drift rows shown; --max-details N for more)")
        if result.fixed is not None:
            f = result.fixed
            out.out.print(
                f"fixed: {f['updated']} row(s) updated, {f['inserted']} inserted, "
                f"{f['changed_during_audit']} changed by someone else during the audit (left alone); "
                + ("gallery_presence refreshed" if f["refreshed_gallery_presence"] else "nothing to refresh")
            )
        if result.clean:
            out.out.print("clean: the table agrees with the canister")
        else:
            out.out.print(
                "DRIFT found" + (" and fixed (run the audit again to confirm)" if result.fixed else "")
            )

    out.result("edges audit", result.to_json(), human)
    return 0 if result.clean else EXIT_DRIFT


def _short(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    return ", ".join(f"{k}={v}" for k, v in value.items() if k != "updated_at")
