"""`ArtifactCanister`: the Store Forever artifact canister on the emulator's canister runtime.

This class is only the service surface: each Candid method is a thin adapter that hands the caller,
the canister clock and the message's transaction to the module that owns the rule (`uploads`,
`metadata`, `galleries`), and every update also leaves an audit row (the `audited` decorator). The
instance holds nothing but its limits; all state is in the stable store, which is what lets a
simulated upgrade discard it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, ClassVar, TypeVar, cast

from contract import artifact_did
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
from emulator.canisters.artifact.running_hash import RunningHashes
from emulator.canisters.artifact.schema import ensure_schema
from emulator.principal import Principal
from emulator.runtime import canister_log
from emulator.runtime.canister import CallContext, Canister, Timer, query, update

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("emulator.canisters.artifact")

API_VERSION = "1.0.0"
CLEANUP_TIMER = "artifact-cleanup"


def candid_name(name: str) -> Callable[[F], F]:
    """Export a method under a Candid name Python cannot spell as a method (a leading `__` mangles)."""

    def mark(fn: F) -> F:
        fn._ic_name = name  # type: ignore[attr-defined]
        return fn

    return mark


def _no_fields(*args: Any) -> Mapping[str, Any]:
    return {}


def audited(
    artifact: str,
    fields: Callable[..., Mapping[str, Any]] = _no_fields,
    *,
    from_result: Callable[[Any], Mapping[str, Any]] = _no_fields,
) -> Callable[[F], F]:
    """Leave one audit row (and a canister log line) for every call of an update, refused or not.

    `fields(*args)` names what the call touches from its arguments, before it runs; `from_result`
    adds what only the reply knows (the new session id, the committed size). The row is written
    in the message's transaction after the method returned, with the outcome read off the reply and
    the method's duration; caller-supplied text is bounded by `audit.record`.
    """

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def audited_method(self: ArtifactCanister, ctx: CallContext, *args: Any) -> Any:
            entry = AuditEntry(
                principal=ctx.caller, method=ctx.method, artifact=artifact, at=ctx.time_ns, **fields(*args)
            )
            started = time.perf_counter_ns()
            result = method(self, ctx, *args)
            for name, value in from_result(result).items():
                setattr(entry, name, value)
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

        return cast(F, audited_method)

    return decorate


def _new_session(result: Any) -> Mapping[str, Any]:
    data = result["data"]
    return {} if data is None or data["session"] is None else {"session_id": data["session"]["session_id"]}


def _committed_bytes(result: Any) -> Mapping[str, Any]:
    return {} if result["data"] is None else {"bytes": result["data"]["total_bytes"]}


def _metadata_size(
    memory_id: str, memory_type: Variant, data: SimpleMemoryMetadata, *_: Any
) -> Mapping[str, Any]:
    size = len(metadata.encode_metadata(metadata.variant_tag(memory_type), data).encode("utf-8"))
    return {"memory_id": memory_id, "bytes": size}


class ArtifactCanister(Canister):
    CANDID: ClassVar[str] = artifact_did()  # the one copy, shared with the client (contract/)
    VERSION: ClassVar[str] = "1"
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = CONFIG_KEYS

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.limits = Limits.from_config(self.config)
        # Heap state, as in a real canister: gone after an upgrade or restart (commits then re-read).
        self.running_hashes = RunningHashes()

    @classmethod
    def module_hash(cls) -> bytes:
        """Covers the whole package and the interface it serves, not just this module.

        The host runs `post_upgrade` (schema migrations) on a restart only when the hash changed; a
        change confined to `schema.py`, `uploads.py` or `contract/artifact.did` must count as new code.
        """
        digest = hashlib.sha256(super().module_hash())
        digest.update(b"artifact.did\0" + cls.CANDID.encode())
        package = resources.files("emulator.canisters.artifact")
        for entry in sorted(package.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".py"):
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
    @audited("capsule")
    def register(self, ctx: CallContext) -> bool:
        return galleries.register(ctx.db, ctx.caller, ctx.time_ns)

    @update
    @audited("capsule")
    def register_capsule(self, ctx: CallContext) -> CapsuleRegistrationResult:
        return galleries.register_capsule(ctx.db, ctx.caller, ctx.time_ns)

    @query
    def get_user(self, ctx: CallContext) -> CapsuleInfo | None:
        return galleries.get_user(ctx.db, ctx.caller)

    # -- galleries ---------------------------------------------------------------------------------

    @update
    @audited("gallery", lambda data: {"gallery_id": data["gallery"]["id"]})
    def store_gallery_forever(self, ctx: CallContext, data: GalleryData) -> StoreGalleryResponse:
        return galleries.store_gallery_forever(ctx.db, ctx.caller, ctx.time_ns, data)

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
    @audited("gallery", lambda gallery_id, data: {"gallery_id": gallery_id})
    def update_gallery(
        self, ctx: CallContext, gallery_id: str, data: GalleryUpdateData
    ) -> UpdateGalleryResponse:
        return galleries.update_gallery(ctx.db, ctx.caller, ctx.time_ns, gallery_id, data)

    @update
    @audited("gallery", lambda gallery_id: {"gallery_id": gallery_id})
    def delete_gallery(self, ctx: CallContext, gallery_id: str) -> DeleteGalleryResponse:
        return galleries.delete_gallery(ctx.db, ctx.caller, ctx.time_ns, gallery_id)

    @update
    @audited(
        "memory",
        lambda memory_id, data: {
            "memory_id": memory_id,
            "bytes": 0 if data["data"] is None else len(data["data"]),
        },
    )
    def add_memory_to_capsule(
        self, ctx: CallContext, memory_id: str, data: MemoryData
    ) -> MemoryOperationResponse:
        return galleries.add_memory_to_capsule(ctx.db, ctx.caller, ctx.time_ns, memory_id, data)

    @query
    def get_memory_from_capsule(self, ctx: CallContext, memory_id: str) -> Memory | None:
        return galleries.get_memory_from_capsule(ctx.db, ctx.caller, memory_id)

    # -- metadata and presence ---------------------------------------------------------------------

    @update
    @audited("metadata", _metadata_size)
    def upsert_metadata(
        self,
        ctx: CallContext,
        memory_id: str,
        memory_type: Variant,
        data: SimpleMemoryMetadata,
        idempotency_key: str,
    ) -> ICPResult[MetadataResponse]:
        return run(
            lambda: metadata.upsert_metadata(
                ctx.db, ctx.caller, ctx.time_ns, self.limits, memory_id, memory_type, data, idempotency_key
            )
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
    @audited("asset", lambda memory_id, *_: {"memory_id": memory_id}, from_result=_new_session)
    def begin_asset_upload(
        self, ctx: CallContext, memory_id: str, expected_hash: str, chunk_count: int, total_size: int
    ) -> ICPResult[UploadSessionResponse]:
        return run(
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

    @update
    @audited(
        "asset",
        lambda session_id, chunk_index, chunk_data: {"session_id": session_id, "bytes": len(chunk_data)},
    )
    def put_chunk(
        self, ctx: CallContext, session_id: str, chunk_index: int, chunk_data: bytes
    ) -> ICPResult[ChunkResponse]:
        return run(
            lambda: uploads.put_chunk(
                ctx.db,
                ctx.caller,
                ctx.time_ns,
                self.limits,
                session_id,
                chunk_index,
                chunk_data,
                self.running_hashes,
                ctx.on_rollback,
            )
        )

    @update
    @audited("asset", lambda session_id, final_hash: {"session_id": session_id}, from_result=_committed_bytes)
    def commit_asset(self, ctx: CallContext, session_id: str, final_hash: str) -> ICPResult[CommitResponse]:
        return run(
            lambda: uploads.commit_asset(
                ctx.db, ctx.caller, ctx.time_ns, session_id, final_hash, self.running_hashes
            )
        )

    @update
    @audited("asset", lambda session_id: {"session_id": session_id})
    def cancel_upload(self, ctx: CallContext, session_id: str) -> ICPResult[object]:
        return run(lambda: uploads.cancel_upload(ctx.db, ctx.caller, ctx.time_ns, session_id))

    @query
    def get_upload_progress(self, ctx: CallContext, session_id: str) -> ICPResult[UploadProgressResponse]:
        return run(lambda: uploads.get_upload_progress(ctx.db, ctx.caller, ctx.time_ns, session_id))

    @query
    def get_user_upload_sessions(self, ctx: CallContext) -> ICPResult[UserUploadSessionsResponse]:
        return run(lambda: uploads.get_user_upload_sessions(ctx.db, ctx.caller, ctx.time_ns, self.limits))
