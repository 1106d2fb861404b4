"""Store a whole gallery forever, memory by memory (seed 3.1; requirements 15, 22.5, 25, 26).

Why memory by memory: ICP reports presence per memory only (25.3), and Web2 may mark a memory
"stored forever" only once ICP says its artifacts are present (18.1). So each memory is processed on
its own and ends in one of four outcomes, and a gallery where some memories failed is a normal,
reportable result (``status = "partial"``), not an exception:

* ``stored``  – metadata upserted, asset uploaded (or already there), presence verified;
* ``skipped`` – presence said it was complete before we touched it (a re-run);
* ``failed``  – an error, with its category, kept on the outcome;
* ``not_attempted`` – the run stopped early because the target became unavailable (breaker open).

Per memory: ``upsert_metadata`` with the key ``<memoryId>:metadata:<sha256 of canonical metadata
JSON>`` (so a re-run with unchanged metadata is "already applied"), ``upload`` of the file (hash first,
resume, verify), then ``get_memory_presence_icp`` must report both artifacts. Only then one
storage-edge JSON line per artifact is emitted, for the Web2 side to upsert into ``storage_edges``::

    {"memory_id": "…", "artifact": "asset", "backend": "icp-canister", "present": true,
     "content_hash": "<sha256 hex>", "size": 4096}

(``artifact = "metadata"`` lines carry the SHA-256 and length of the canonical metadata JSON.) Edges
are written as each memory is verified, so a run that dies midway has still recorded what it did.

Resumable: a run starts with presence in pages of 100 (``get_memory_list_presence_icp``) and skips
memories already complete; it also resumes the memories that have an active upload session first, so
sessions left by a killed run are finished rather than blocking the 3-session limit. Skipped memories'
edges are re-emitted from local hashes (presence verified by the canister, so Web2 can rebuild edges).
Finally the gallery record is stored (idempotent by id; if it exists with other fields, it is
updated to the manifest's). Memories run ``memory_concurrency`` at a time, by default the target's
per-caller session limit (``client.limits.max_active_sessions``, 3 by contract) and never more: each
memory in flight holds one upload session, and a single client's calls overlap (certificate pairings
run without the GIL), so the limit is also the fastest setting (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Literal

from .client import ArtifactClient, canonical_metadata_json
from .errors import ArtifactError, CircuitOpenError, IntegrityError
from .manifest import Manifest, MemorySpec
from .types import Gallery, GalleryData, GalleryStorageStatus, GalleryUpdateData, MemoryPresence
from .uploader import ProgressEvent, UploadResult, open_source, upload

__all__ = [
    "BACKEND",
    "GalleryOutcome",
    "MemoryOutcome",
    "StorageEdge",
    "store_gallery",
]

BACKEND = "icp-canister"
_UNAVAILABLE = CircuitOpenError.__name__
PRESENCE_PAGE = 100
MemoryStatus = Literal["stored", "skipped", "failed", "not_attempted"]


@dataclass(frozen=True, slots=True)
class StorageEdge:
    """One verified artifact, in the shape the Web2 ``storage_edges`` upsert takes."""

    memory_id: str
    artifact: Literal["asset", "metadata"]
    content_hash: str
    size: int
    backend: str = BACKEND
    present: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "memory_id": self.memory_id,
            "artifact": self.artifact,
            "backend": self.backend,
            "present": self.present,
            "content_hash": self.content_hash,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class MemoryOutcome:
    memory_id: str
    status: MemoryStatus
    edges: tuple[StorageEdge, ...] = ()
    upload: UploadResult | None = None
    metadata_message: str | None = None
    error: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "memory_id": self.memory_id,
            "status": self.status,
            "edges": [e.to_json() for e in self.edges],
            "upload": None if self.upload is None else self.upload.to_json(),
            "metadata_message": self.metadata_message,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class GalleryOutcome:
    gallery_id: str
    status: Literal["complete", "partial", "failed"]
    gallery_stored: bool
    gallery_message: str | None
    memories: tuple[MemoryOutcome, ...]
    edges_written: int
    error: dict[str, object] | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "gallery_id": self.gallery_id,
            "status": self.status,
            "gallery_stored": self.gallery_stored,
            "gallery_message": self.gallery_message,
            "counts": self.counts,
            "edges_written": self.edges_written,
            "error": self.error,
            "memories": [m.to_json() for m in self.memories],
        }


def _error_json(exc: BaseException) -> dict[str, object]:
    if isinstance(exc, ArtifactError):
        return exc.to_json()
    return {"type": type(exc).__name__, "message": str(exc), "category": "permanent", "code": None}


def _unavailable(message: str) -> dict[str, object]:
    return {
        "type": _UNAVAILABLE,
        "code": None,
        "message": message,
        "category": "retryable",
        "kind": "circuit_open",
    }


class _EdgeSink:
    """Writes edges as JSON lines, one flush per line, from any thread."""

    def __init__(self, out: IO[str] | Callable[[StorageEdge], None] | None) -> None:
        self._out = out
        self._lock = threading.Lock()
        self.written = 0

    def emit(self, edges: tuple[StorageEdge, ...]) -> None:
        with self._lock:
            for edge in edges:
                if callable(self._out):
                    self._out(edge)
                elif self._out is not None:
                    self._out.write(json.dumps(edge.to_json(), sort_keys=False) + "\n")
                    self._out.flush()
                self.written += 1


def _metadata_edge(spec: MemorySpec) -> StorageEdge:
    body = canonical_metadata_json(spec.memory_type, spec.metadata)
    return StorageEdge(spec.id, "metadata", hashlib.sha256(body).hexdigest(), len(body))


def _local_asset_edge(spec: MemorySpec) -> StorageEdge | None:
    if spec.file is None:
        return None
    src = open_source(spec.file)
    try:
        return StorageEdge(spec.id, "asset", src.sha256(), src.size)
    finally:
        src.close()


def _complete(spec: MemorySpec, presence: MemoryPresence | None) -> bool:
    if presence is None or not presence.metadata_present:
        return False
    return spec.file is None or presence.asset_present


def store_gallery(
    client: ArtifactClient,
    manifest: Manifest,
    *,
    edges: IO[str] | Callable[[StorageEdge], None] | None = None,
    memory_concurrency: int | None = None,
    chunk_concurrency: int = 4,
    chunk_size: int | None = None,
    on_memory: Callable[[MemoryOutcome], None] | None = None,
    on_upload: Callable[[ProgressEvent], None] | None = None,
    on_start: Callable[[list[MemorySpec], dict[str, MemoryPresence]], None] | None = None,
) -> GalleryOutcome:
    """Run the protocol above; returns the outcome, raises only if the presence pass itself fails."""
    sink = _EdgeSink(edges)
    specs = list(manifest.memories)
    presence = {p.memory_id: p for p in client.iter_memory_presence([s.id for s in specs], PRESENCE_PAGE)}
    order = _resume_first(client, specs)
    if on_start is not None:
        on_start(order, presence)

    abort = threading.Event()
    outcomes: dict[str, MemoryOutcome] = {}
    lock = threading.Lock()

    def process(spec: MemorySpec) -> None:
        if abort.is_set():
            outcome = MemoryOutcome(
                spec.id, "not_attempted", error=_unavailable("not attempted: the target became unavailable")
            )
        else:
            outcome = _store_memory(
                client, spec, presence.get(spec.id), sink, chunk_concurrency, chunk_size, on_upload
            )
            if outcome.status == "failed" and outcome.error and outcome.error.get("type") == _UNAVAILABLE:
                abort.set()
        with lock:
            outcomes[spec.id] = outcome
        if on_memory is not None:
            on_memory(outcome)

    limit = client.limits.max_active_sessions
    workers = max(1, min(memory_concurrency or limit, limit))
    pool = ThreadPoolExecutor(workers, thread_name_prefix="memory")
    try:
        for fut in [pool.submit(process, s) for s in order]:
            fut.result()
    except BaseException:
        # Interrupted (Ctrl-C, a stopping load-test user) or failed: drop the memories not started
        # yet instead of uploading them all before the exception can surface.
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)

    ordered = tuple(outcomes[s.id] for s in specs)
    counts = {
        k: sum(1 for o in ordered if o.status == k) for k in ("stored", "skipped", "failed", "not_attempted")
    }
    gallery_stored, gallery_message = False, None
    gallery_error: dict[str, object] | None = None
    if abort.is_set():
        gallery_error = _unavailable("gallery not stored: the target became unavailable")
    else:
        try:
            gallery_message = _store_gallery_record(client, manifest)
            gallery_stored = True
        except ArtifactError as exc:
            gallery_error = exc.to_json()
    ok = counts["stored"] + counts["skipped"]
    if gallery_stored and ok == len(specs):
        status: Literal["complete", "partial", "failed"] = "complete"
    elif ok == 0 and not gallery_stored:
        status = "failed"
    else:
        status = "partial"
    return GalleryOutcome(
        manifest.gallery.id,
        status,
        gallery_stored,
        gallery_message,
        ordered,
        sink.written,
        gallery_error,
        counts,
    )


def _resume_first(client: ArtifactClient, specs: list[MemorySpec]) -> list[MemorySpec]:
    """Memories with an active session go first, so leftover sessions do not block the limit."""
    try:
        active = {s.memory_id for s in client.get_user_upload_sessions()}
    except ArtifactError as exc:
        if exc.retryable:
            raise
        return specs  # e.g. a canister without the seed 1.6 progress API: nothing to prefer
    return sorted(specs, key=lambda s: s.id not in active)


def _store_memory(
    client: ArtifactClient,
    spec: MemorySpec,
    before: MemoryPresence | None,
    sink: _EdgeSink,
    chunk_concurrency: int,
    chunk_size: int | None,
    on_upload: Callable[[ProgressEvent], None] | None,
) -> MemoryOutcome:
    try:
        if _complete(spec, before):
            asset_edge = _local_asset_edge(spec)
            edges = (_metadata_edge(spec),) + ((asset_edge,) if asset_edge else ())
            sink.emit(edges)
            return MemoryOutcome(spec.id, "skipped", edges, metadata_message="already present")
        meta = client.upsert_metadata(spec.id, spec.memory_type, spec.metadata)
        result: UploadResult | None = None
        if spec.file is not None:
            result = upload(
                client,
                spec.id,
                spec.file,
                concurrency=chunk_concurrency,
                chunk_size=chunk_size,
                progress=on_upload,
            )
        after = client.get_memory_presence_icp(spec.id)
        if not _complete(spec, after):
            raise IntegrityError(
                f"presence after storing: metadata={after.metadata_present}, asset={after.asset_present}",
                method="get_memory_presence_icp",
            )
        edges = (_metadata_edge(spec),)
        if result is not None:
            edges += (StorageEdge(spec.id, "asset", result.sha256, result.size),)
        sink.emit(edges)
        return MemoryOutcome(spec.id, "stored", edges, result, meta.message)
    except ArtifactError as exc:
        return MemoryOutcome(spec.id, "failed", error=_error_json(exc))
    except OSError as exc:
        return MemoryOutcome(spec.id, "failed", error=_error_json(exc))


def _store_gallery_record(client: ArtifactClient, manifest: Manifest) -> str:
    spec = manifest.gallery
    entries = tuple(m.entry() for m in manifest.memories)
    owner = client.principal
    gallery = Gallery(
        spec.id,
        owner,
        spec.title,
        spec.description,
        spec.is_public,
        storage_status=GalleryStorageStatus.ICP_ONLY,
        memory_entries=entries,
    )
    reply = client.store_gallery_forever(GalleryData(gallery, owner))
    stored = client.get_gallery_by_id(spec.id)
    if stored is None:
        raise IntegrityError(
            "store_gallery_forever succeeded but the gallery cannot be read back", method="get_gallery_by_id"
        )
    wanted = (spec.title, spec.description, spec.is_public, entries)
    have = (stored.title, stored.description, stored.is_public, stored.memory_entries)
    if wanted != have:
        update = GalleryUpdateData(spec.title, spec.description, spec.is_public, entries)
        client.update_gallery(spec.id, update)
        return f"{reply.message}; updated to the manifest"
    return reply.message
