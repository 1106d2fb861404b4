"""`ArtifactCanister`: the Store Forever artifact canister on the emulator's canister runtime.

This class is only the service surface: each Candid method is a thin adapter that hands the caller,
the canister clock and the message's transaction to the module that owns the rule (`uploads`,
`metadata`, `galleries`), and every update also leaves an audit row. The instance holds nothing but
its limits; all state is in the stable store, which is what lets a simulated upgrade discard it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar, TypeVar

from emulator.canisters.artifact import galleries, inspection, log_lines, metadata, uploads
from emulator.canisters.artifact.audit import AuditEntry, outcome_of, record
from emulator.canisters.artifact.errors import run
from emulator.canisters.artifact.limits import CONFIG_KEYS, Limits
from emulator.canisters.artifact.records import (
    CapsuleInfo,
    CapsuleRegistrationResult,
    ChunkResponse,
    CommitResponse,
    DeleteGalleryResponse,
    Gallery,
    GalleryData,
    GalleryUpdateData,
    ICPResult,
    Memory,
    MemoryData,
    MemoryListPresenceResponse,
    MemoryOperationResponse,
    MemoryPresenceResponse,
    MetadataResponse,
    SimpleMemoryMetadata,
    StoreGalleryResponse,
    UpdateGalleryResponse,
    UploadProgressResponse,
    UploadSessionResponse,
    UserUploadSessionsResponse,
    Variant,
)
from emulator.canisters.artifact.schema import ensure_schema
from emulator.principal import Principal
from emulator.runtime import canister_log
from emulator.runtime.canister import CallContext, Canister, Timer, query, update

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("emulator.canisters.artifact")

API_VERSION = "1.0.0"
CLEANUP_TIMER = "artifact-cleanup"


def _load_candid() -> str:
    return (resources.files("emulator.canisters.artifact") / "artifact.did").read_text(encoding="utf-8")


def candid_name(name: str) -> Callable[[F], F]:
    """Export a method under a Candid name Python cannot spell as a method (a leading `__` mangles)."""

    def mark(fn: F) -> F:
        fn._ic_name = name  # type: ignore[attr-defined]
        return fn

    return mark


class ArtifactCanister(Canister):
    CANDID: ClassVar[str] = _load_candid()
    VERSION: ClassVar[str] = "1"
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = CONFIG_KEYS

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.limits = Limits.from_config(self.config)

    @classmethod
    def module_hash(cls) -> bytes:
        """Covers the whole package, not just this module.

        The host runs `post_upgrade` (schema migrations) on a restart only when the hash changed; a
        change confined to `schema.py` or `uploads.py` must count as new code too.
        """
        digest = hashlib.sha256(super().module_hash())
        package = resources.files("emulator.canisters.artifact")
        for entry in sorted(package.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".py", ".did")):
                digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
        return digest.digest()

    # -- lifecycle ---------------------------------------------------------------------------------

    def init(self, ctx: CallContext) -> None:
        ensure_schema(ctx.db)

    def post_upgrade(self, ctx: CallContext) -> None:
        ensure_schema(ctx.db)

    def timers(self) -> Sequence[Timer]:
        return (Timer(CLEANUP_TIMER, self.limits.cleanup_interval_ns, self.cleanup),)

    def cleanup(self, ctx: CallContext) -> None:
        """The clean-up timer: frees expired sessions' chunks and purges old finished sessions."""
        report = uploads.cleanup(ctx.db, ctx.time_ns, self.limits)
        if report.expired or report.purged:
            canister_log.append(
                ctx.db, ctx.time_ns, log_lines.cleanup(report.expired, report.chunks_freed, report.purged)
            )
            log.info(
                "artifact clean-up: %d sessions expired (%d chunks freed), %d finished sessions purged",
                report.expired,
                report.chunks_freed,
                report.purged,
            )

    # -- emulator-only inspection (admin API) ------------------------------------------------------

    def inspect_views(self) -> Sequence[str]:
        return inspection.VIEWS

    def inspect(self, db: sqlite3.Connection, view: str, params: Mapping[str, str]) -> Any:
        return inspection.view(db, view, params)

    def asset_chunk_count(self, db: sqlite3.Connection, key: str) -> int | None:
        return inspection.asset_chunk_count(db, key)

    def asset_chunk(self, db: sqlite3.Connection, key: str, index: int) -> bytes:
        return inspection.asset_chunk(db, key, index)

    def figures(self, db: sqlite3.Connection) -> Mapping[str, float]:
        return inspection.figures(db)

    # -- helpers -----------------------------------------------------------------------------------

    def _audited(self, ctx: CallContext, entry: AuditEntry, operation: Callable[[], R]) -> R:
        started = time.perf_counter_ns()
        result = operation()
        entry.outcome = outcome_of(result)
        record(
            ctx.db,
            entry,
            (time.perf_counter_ns() - started) / 1e6,
            keep_rows=self.limits.audit_retention_rows,
        )
        line = log_lines.describe(entry)
        if line is not None:
            canister_log.append(ctx.db, ctx.time_ns, line)
        return result

    @staticmethod
    def _entry(ctx: CallContext, artifact: str, **fields: Any) -> AuditEntry:
        return AuditEntry(
            principal=ctx.caller, method=ctx.method, artifact=artifact, at=ctx.time_ns, **fields
        )

    # -- identity and capsules ---------------------------------------------------------------------

    @query
    def whoami(self, ctx: CallContext) -> Principal:
        return ctx.caller

    @query
    def get_api_version(self, ctx: CallContext) -> str:
        return API_VERSION

    @query
    @candid_name("__get_candid_interface_tmp_hack")
    def candid_interface(self, ctx: CallContext) -> str:
        return self.CANDID

    @update
    def register(self, ctx: CallContext) -> bool:
        entry = self._entry(ctx, "capsule")
        return self._audited(ctx, entry, lambda: galleries.register(ctx.db, ctx.caller, ctx.time_ns))

    @update
    def register_capsule(self, ctx: CallContext) -> CapsuleRegistrationResult:
        entry = self._entry(ctx, "capsule")
        return self._audited(ctx, entry, lambda: galleries.register_capsule(ctx.db, ctx.caller, ctx.time_ns))

    @query
    def get_user(self, ctx: CallContext) -> CapsuleInfo | None:
        return galleries.get_user(ctx.db, ctx.caller)

    # -- galleries ---------------------------------------------------------------------------------

    @update
    def store_gallery_forever(self, ctx: CallContext, data: GalleryData) -> StoreGalleryResponse:
        entry = self._entry(ctx, "gallery", gallery_id=data["gallery"]["id"])
        return self._audited(
            ctx, entry, lambda: galleries.store_gallery_forever(ctx.db, ctx.caller, ctx.time_ns, data)
        )

    @query
    def get_gallery_by_id(self, ctx: CallContext, gallery_id: str) -> Gallery | None:
        return galleries.get_gallery_by_id(ctx.db, ctx.caller, gallery_id)

    @query
    def get_my_galleries(self, ctx: CallContext) -> list[Gallery]:
        return galleries.get_user_galleries(ctx.db, ctx.caller, ctx.caller)

    @query
    def get_user_galleries(self, ctx: CallContext, owner: Principal) -> list[Gallery]:
        return galleries.get_user_galleries(ctx.db, ctx.caller, owner)

    @update
    def update_gallery(
        self, ctx: CallContext, gallery_id: str, data: GalleryUpdateData
    ) -> UpdateGalleryResponse:
        entry = self._entry(ctx, "gallery", gallery_id=gallery_id)
        return self._audited(
            ctx, entry, lambda: galleries.update_gallery(ctx.db, ctx.caller, ctx.time_ns, gallery_id, data)
        )

    @update
    def delete_gallery(self, ctx: CallContext, gallery_id: str) -> DeleteGalleryResponse:
        entry = self._entry(ctx, "gallery", gallery_id=gallery_id)
        return self._audited(
            ctx, entry, lambda: galleries.delete_gallery(ctx.db, ctx.caller, ctx.time_ns, gallery_id)
        )

    @update
    def add_memory_to_capsule(
        self, ctx: CallContext, memory_id: str, data: MemoryData
    ) -> MemoryOperationResponse:
        inline = data["data"]
        entry = self._entry(ctx, "memory", memory_id=memory_id, bytes=0 if inline is None else len(inline))
        return self._audited(
            ctx,
            entry,
            lambda: galleries.add_memory_to_capsule(ctx.db, ctx.caller, ctx.time_ns, memory_id, data),
        )

    @query
    def get_memory_from_capsule(self, ctx: CallContext, memory_id: str) -> Memory | None:
        return galleries.get_memory_from_capsule(ctx.db, ctx.caller, memory_id)

    # -- metadata and presence ---------------------------------------------------------------------

    @update
    def upsert_metadata(
        self,
        ctx: CallContext,
        memory_id: str,
        memory_type: Variant,
        data: SimpleMemoryMetadata,
        idempotency_key: str,
    ) -> ICPResult[MetadataResponse]:
        size = len(metadata.encode_metadata(metadata.variant_tag(memory_type), data).encode("utf-8"))
        entry = self._entry(ctx, "metadata", memory_id=memory_id, bytes=size)
        return self._audited(
            ctx,
            entry,
            lambda: run(
                lambda: metadata.upsert_metadata(
                    ctx.db,
                    ctx.caller,
                    ctx.time_ns,
                    self.limits,
                    memory_id,
                    memory_type,
                    data,
                    idempotency_key,
                )
            ),
        )

    @query
    def get_memory_presence_icp(self, ctx: CallContext, memory_id: str) -> ICPResult[MemoryPresenceResponse]:
        return run(lambda: metadata.get_memory_presence(ctx.db, ctx.caller, memory_id))

    @query
    def get_memory_list_presence_icp(
        self, ctx: CallContext, memory_ids: list[str], cursor: str | None, limit: int
    ) -> ICPResult[MemoryListPresenceResponse]:
        return run(
            lambda: metadata.get_memory_list_presence(
                ctx.db, ctx.caller, self.limits, memory_ids, cursor, limit
            )
        )

    # -- uploads -----------------------------------------------------------------------------------

    @update
    def begin_asset_upload(
        self, ctx: CallContext, memory_id: str, expected_hash: str, chunk_count: int, total_size: int
    ) -> ICPResult[UploadSessionResponse]:
        entry = self._entry(ctx, "asset", memory_id=memory_id)

        def begin() -> ICPResult[UploadSessionResponse]:
            result = run(
                lambda: uploads.begin_asset_upload(
                    ctx.db,
                    ctx.caller,
                    ctx.time_ns,
                    self.limits,
                    memory_id,
                    expected_hash,
                    chunk_count,
                    total_size,
                )
            )
            if result["data"] is not None and result["data"]["session"] is not None:
                entry.session_id = result["data"]["session"]["session_id"]
            return result

        return self._audited(ctx, entry, begin)

    @update
    def put_chunk(
        self, ctx: CallContext, session_id: str, chunk_index: int, chunk_data: bytes
    ) -> ICPResult[ChunkResponse]:
        entry = self._entry(ctx, "asset", session_id=session_id, bytes=len(chunk_data))
        return self._audited(
            ctx,
            entry,
            lambda: run(
                lambda: uploads.put_chunk(
                    ctx.db, ctx.caller, ctx.time_ns, self.limits, session_id, chunk_index, chunk_data
                )
            ),
        )

    @update
    def commit_asset(self, ctx: CallContext, session_id: str, final_hash: str) -> ICPResult[CommitResponse]:
        entry = self._entry(ctx, "asset", session_id=session_id)

        def commit() -> ICPResult[CommitResponse]:
            result = run(
                lambda: uploads.commit_asset(ctx.db, ctx.caller, ctx.time_ns, session_id, final_hash)
            )
            if result["data"] is not None:
                entry.bytes = result["data"]["total_bytes"]
            return result

        return self._audited(ctx, entry, commit)

    @update
    def cancel_upload(self, ctx: CallContext, session_id: str) -> ICPResult[object]:
        entry = self._entry(ctx, "asset", session_id=session_id)
        return self._audited(
            ctx,
            entry,
            lambda: run(lambda: uploads.cancel_upload(ctx.db, ctx.caller, ctx.time_ns, session_id)),
        )

    @query
    def get_upload_progress(self, ctx: CallContext, session_id: str) -> ICPResult[UploadProgressResponse]:
        return run(lambda: uploads.get_upload_progress(ctx.db, ctx.caller, ctx.time_ns, session_id))

    @query
    def get_user_upload_sessions(self, ctx: CallContext) -> ICPResult[UserUploadSessionsResponse]:
        return run(lambda: uploads.get_user_upload_sessions(ctx.db, ctx.caller, ctx.time_ns, self.limits))
