"""Writes a gallery's ICP edges while ``store_gallery`` runs, without putting the database on its path.

Why a thread with a queue: the orchestrator's memory workers must never wait for PostgreSQL (a slow
or briefly unreachable database would otherwise slow every upload). The hooks only enqueue; one
thread owns one connection and writes what accumulated every ``flush_rows`` edges or
``flush_interval`` seconds, each flush one transaction. The one exception is the start: the memories
about to be attempted are marked ``migrating`` (in batches) and committed *before* the orchestrator
attempts any of them, so the table never shows an attempt it did not announce.

Crash behaviour: after a SIGKILL rows stay ``migrating``; the next run's presence pass finds each
memory complete (its edges go ``idle``/present) or not (re-marked, re-attempted), so nothing stays
``migrating``. After an interrupt (Ctrl-C) ``close(interrupted=True)`` marks the memories that never
finished ``failed`` with the reason, so they do not wait for a re-run either.

``gallery_presence`` is refreshed every ``refresh_every`` finished memories or ``refresh_interval``
seconds, whichever comes first, and once at the end (requirement 19.5).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import psycopg

from clients.artifact.manifest import Manifest, MemorySpec
from clients.artifact.orchestrator import MemoryOutcome
from clients.artifact.types import MemoryPresence

from .connection import connect, database_errors
from .errors import EdgeError, EdgeUnavailableError
from .schema import check_schema
from .store import (
    EdgeKey,
    FailedEdge,
    MigratingEdge,
    PresentEdge,
    mark_failed,
    mark_migrating,
    mark_present,
    refresh_gallery_presence,
)

__all__ = ["EdgeWriter", "EdgeWriterStats", "memory_type_of"]

MIGRATING_BATCH = 1000


def memory_type_of(spec: MemorySpec) -> str:
    """The app's spelling of the manifest's memory type (``Image`` → ``image``; see schema.MEMORY_TYPES)."""
    return spec.memory_type.value.lower()


def _artifacts(spec: MemorySpec) -> tuple[str, ...]:
    return ("metadata", "asset") if spec.file is not None else ("metadata",)


def _reason(outcome: MemoryOutcome) -> str:
    error = outcome.error or {}
    kind = error.get("type") or "Error"
    where = f" in {error['method']}" if error.get("method") else ""
    return f"{outcome.status}: {kind}{where}: {error.get('message') or 'no detail'}"


@dataclass
class EdgeWriterStats:
    migrating: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    refreshes: int = 0
    flushes: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "migrating": self.migrating,
            "written": self.written,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "refreshes": self.refreshes,
            "flushes": self.flushes,
            "error": self.error,
        }


@dataclass
class _Pending:
    present: list[PresentEdge] = field(default_factory=list)
    failed: list[FailedEdge] = field(default_factory=list)
    memories: int = 0

    def __len__(self) -> int:
        return len(self.present) + len(self.failed)


_STOP = object()


class EdgeWriter:
    """Hooks for ``store_gallery`` (``on_start``, ``on_memory``) backed by one writer thread."""

    def __init__(
        self,
        database_url: str,
        manifest: Manifest,
        *,
        location: str | None = None,
        refresh_every: int = 50,
        refresh_interval: float = 10.0,
        flush_rows: int = 500,
        flush_interval: float = 0.2,
    ) -> None:
        self._specs = {s.id: s for s in manifest.memories}
        self._location = location
        self._refresh_every = max(1, refresh_every)
        self._refresh_interval = refresh_interval
        self._flush_rows = max(1, flush_rows)
        self._flush_interval = flush_interval
        self.stats = EdgeWriterStats()
        self._queue: queue.Queue[object] = queue.Queue()
        self._announced: set[str] = set()
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection = connect(database_url)
        try:
            with database_errors("checking the storage_edges schema"):
                check_schema(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._thread = threading.Thread(target=self._run, name="edge-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ hooks (any thread)

    def on_start(self, order: list[MemorySpec], presence: dict[str, MemoryPresence]) -> None:
        """Mark every memory about to be attempted ``migrating`` and wait until that is committed."""
        edges: list[MigratingEdge] = []
        for spec in order:
            p = presence.get(spec.id)
            complete = p is not None and p.metadata_present and (spec.file is None or p.asset_present)
            if complete:
                continue  # the orchestrator skips it; its edges arrive as "present" later
            self._announced.add(spec.id)
            for artifact in _artifacts(spec):
                now_present = p is not None and (
                    p.metadata_present if artifact == "metadata" else p.asset_present
                )
                edges.append(MigratingEdge(EdgeKey(spec.id, memory_type_of(spec), artifact), now_present))
        done = threading.Event()
        self._queue.put(("migrating", edges, done))
        done.wait()
        if self.stats.error is not None:
            raise EdgeUnavailableError(f"cannot mark the gallery's edges migrating: {self.stats.error}")

    def on_memory(self, outcome: MemoryOutcome) -> None:
        self._queue.put(("outcome", outcome))

    # ------------------------------------------------------------------ end

    def close(self, *, interrupted: bool = False) -> EdgeWriterStats:
        """Flush, mark unfinished announced memories failed if interrupted, refresh the badges once."""
        self._queue.put(("close", interrupted))
        self._queue.put(_STOP)
        self._thread.join()
        self._conn.close()
        return self.stats

    # ------------------------------------------------------------------ writer thread

    def _outcome_rows(self, outcome: MemoryOutcome, pending: _Pending) -> None:
        spec = self._specs.get(outcome.memory_id)
        if spec is None:
            return
        mtype = memory_type_of(spec)
        pending.memories += 1
        self._finished.add(spec.id)
        if outcome.status in ("stored", "skipped"):
            for edge in outcome.edges:
                key = EdgeKey(spec.id, mtype, edge.artifact)
                pending.present.append(PresentEdge(key, edge.content_hash, self._location))
        else:
            reason = _reason(outcome)
            pending.failed += [FailedEdge(EdgeKey(spec.id, mtype, a), reason) for a in _artifacts(spec)]

    def _flush(self, pending: _Pending) -> None:
        if not len(pending):
            return
        with database_errors("writing storage edges"), self._conn.transaction():
            written = mark_present(self._conn, pending.present)
            failed = mark_failed(self._conn, pending.failed)
        self.stats.written += written
        self.stats.unchanged += len(pending.present) - written
        self.stats.failed += failed
        self.stats.flushes += 1
        pending.present.clear()
        pending.failed.clear()

    def _refresh(self) -> None:
        with database_errors("refreshing gallery_presence"):
            refresh_gallery_presence(self._conn)
        self.stats.refreshes += 1

    def _run(self) -> None:
        pending = _Pending()
        since_refresh = 0
        last_refresh = last_flush = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self._flush_interval)
            except queue.Empty:
                item = None
            try:
                if item is _STOP:
                    return
                if self.stats.error is not None:
                    if isinstance(item, tuple) and item[0] == "migrating":
                        item[2].set()
                    continue  # the database failed: drop writes, the JSON lines still have them
                if isinstance(item, tuple) and item[0] == "migrating":
                    try:
                        edges = item[1]
                        for i in range(0, len(edges), MIGRATING_BATCH):
                            with database_errors("marking edges migrating"), self._conn.transaction():
                                self.stats.migrating += mark_migrating(
                                    self._conn, edges[i : i + MIGRATING_BATCH], self._location
                                )
                    finally:
                        item[2].set()
                    continue
                if isinstance(item, tuple) and item[0] == "outcome":
                    self._outcome_rows(item[1], pending)
                if isinstance(item, tuple) and item[0] == "close":
                    if item[1]:
                        self._fail_unfinished(pending)
                    self._flush(pending)
                    self._refresh()
                    continue
                now = time.monotonic()
                if len(pending) >= self._flush_rows or (
                    len(pending) and now - last_flush >= self._flush_interval
                ):
                    since_refresh += pending.memories
                    pending.memories = 0
                    self._flush(pending)
                    last_flush = now
                    if since_refresh >= self._refresh_every or now - last_refresh >= self._refresh_interval:
                        self._refresh()
                        since_refresh, last_refresh = 0, time.monotonic()
            except EdgeError as exc:
                self.stats.error = str(exc)

    def _fail_unfinished(self, pending: _Pending) -> None:
        for memory_id in sorted(self._announced - self._finished):
            spec = self._specs[memory_id]
            reason = "interrupted: the run stopped before this memory finished"
            pending.failed += [
                FailedEdge(EdgeKey(memory_id, memory_type_of(spec), a), reason) for a in _artifacts(spec)
            ]
