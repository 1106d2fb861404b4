"""``ArtifactClient``: one typed method per method of the artifact canister (spec §2.2, §2.3).

Why a hand-written client on top of ``clients.ic`` instead of the ``.did`` proxy alone: callers need
values (dataclasses), not ``{"success": …, "data": [ … ]}``; one failure convention; and retries,
a retry budget and a circuit breaker applied the same way to every call (by ``pipeline.py``: every
typed method is one ``invoke`` with a check, and the layers around it come from ``ClientOptions``).

Failure convention (one rule for every method): a method either returns its payload or raises an
``ArtifactError``. ``ICPResult`` failures (``success = false`` + ``error``) raise with the
``ICPErrorCode``; the plain-record methods (galleries, memories, capsules) raise when their record says
``success = false``, classified by the message (``Unauthorized…`` → ``UnauthorizedError``,
``Invalid UUID…`` → ``ValidationError``, ``Gallery not found…`` → ``NotFoundError``). A success that
the canister describes in its message ("already exists", "already applied") is returned, not raised:
the message is on the returned record. The methods whose reply has no failure shape return the
reply as is: ``register`` (a bool), ``get_*`` lookups (None when absent). Each rule is one check
function below (``icp_record``, ``plain_record``, ``optional``…), named by the reply shape it reads.

Queries go to the query endpoint and updates to the call endpoint, as the ``.did`` declares them.
The interface is the canister's own ``.did`` file, read as text (``contract/artifact.did``, the one
copy the emulator serves too, or ``did_text=``); no emulator code is imported.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from clients.ic.candid import DidService
from clients.ic.identity import principal_of
from contract import ARTIFACT_CANISTER_ID as DEFAULT_CANISTER_ID
from contract import artifact_did

from .errors import error_from_code, error_from_message
from .pipeline import Call, CanisterConnection, Check, ClientOptions, Exchange, compose
from .types import (
    CandidRecord,
    CapsuleInfo,
    CapsuleRegistrationResult,
    ChunkResponse,
    CommitResponse,
    DeleteGalleryResponse,
    ErrorCode,
    Gallery,
    GalleryData,
    GalleryUpdateData,
    Memory,
    MemoryData,
    MemoryListPresencePage,
    MemoryOperationResponse,
    MemoryPresence,
    MemoryType,
    MetadataResponse,
    SimpleMemoryMetadata,
    StoreGalleryResponse,
    UpdateGalleryResponse,
    UploadProgress,
    UploadSessionResponse,
    to_json_value,
)

__all__ = [
    "DEFAULT_CANISTER_ID",
    "ArtifactClient",
    "TargetLimits",
    "as_is",
    "canonical_metadata_json",
    "each",
    "icp_payload",
    "icp_record",
    "load_artifact_did",
    "metadata_idempotency_key",
    "optional",
    "parse_did",
    "plain_record",
]


R = TypeVar("R", bound=CandidRecord)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TargetLimits:
    """The target's contract limits as the client assumes them (spec defaults).

    The canister does not publish its limits, so a target built with other values is described here
    (the CLI's ``--chunk-size`` etc.); the canister remains the judge and refuses what breaks them.
    """

    max_chunk_size: int = 1024 * 1024
    max_asset_size: int = 100 * 1024 * 1024
    max_chunk_count: int = 1000
    max_active_sessions: int = 3
    presence_page_max: int = 100


def load_artifact_did(path: str | Path | None = None) -> str:
    """The interface the client speaks: `contract/artifact.did` (the emulator serves the same file),
    or another `.did` file, for a target built from a different version of the contract."""
    if path is None:
        return artifact_did()
    target = Path(path)
    try:
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot read the artifact canister's interface at {target}: {exc}; pass did_text="
        ) from exc


@functools.lru_cache(maxsize=8)
def parse_did(did_text: str) -> DidService:
    """The parsed interface, shared by every client of the same text (a parse costs milliseconds,
    and ``with_options`` and Locust build many clients from one text)."""
    return DidService.from_text(did_text)


def canonical_metadata_json(memory_type: MemoryType, metadata: SimpleMemoryMetadata) -> bytes:
    """The bytes whose SHA-256 names a metadata version (sorted keys, no spaces, UTF-8).

    The memory type is included because changing it changes what is stored, so it must not be
    swallowed as "already applied".
    """
    body = {"memory_type": memory_type.value, "metadata": to_json_value(metadata)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def metadata_idempotency_key(memory_id: str, memory_type: MemoryType, metadata: SimpleMemoryMetadata) -> str:
    """``<memoryId>:metadata:<sha256 of canonical metadata JSON>`` (requirement 22.5)."""
    digest = hashlib.sha256(canonical_metadata_json(memory_type, metadata)).hexdigest()
    return f"{memory_id}:metadata:{digest}"


# ---------------------------------------------------------------------- checks
# A check turns (method, decoded reply) into what a typed method returns, or raises the contract's
# error (module docstring). ``ArtifactClient.invoke`` runs it inside the retries, outside the breaker.


def as_is(method: str, reply: Any) -> Any:
    """For the methods whose reply has no failure shape (``whoami``, ``register``…)."""
    return reply


def icp_payload(method: str, reply: Any) -> Any:
    """The ``data`` of an ``ICPResult`` envelope, or the envelope's error raised."""
    if not reply["success"]:
        errors = reply["error"]
        code = ErrorCode.from_candid(errors[0]) if errors else ErrorCode("Internal", "no error code")
        raise error_from_code(code, method)
    data = reply["data"]
    if len(data) != 1:
        raise ValueError("success without data")
    payload = data[0]
    if isinstance(payload, dict) and payload.get("success") is False:
        inner = payload.get("error") or []
        if inner:
            raise error_from_code(ErrorCode.from_candid(inner[0]), method)
        raise error_from_message(str(payload.get("message", "failure")), method)
    return payload


def icp_record(cls: type[R]) -> Check[R]:
    """An ``ICPResult`` whose payload is a ``cls`` record."""
    return lambda method, reply: cls.from_candid(icp_payload(method, reply))


def plain_record(cls: type[R]) -> Check[R]:
    """A plain record that says ``success = false`` with a message when it failed."""

    def check(method: str, reply: Any) -> R:
        record = cls.from_candid(reply)
        if not getattr(record, "success", True):
            raise error_from_message(str(getattr(record, "message", "")), method)
        return record

    return check


def optional(cls: type[R]) -> Check[R | None]:
    """A lookup's ``opt`` record: None when absent."""
    return lambda method, reply: cls.from_candid(reply[0]) if reply else None


def each(cls: type[R]) -> Check[list[R]]:
    """A ``vec`` of records."""
    return lambda method, reply: [cls.from_candid(item) for item in reply]


class ArtifactClient:
    """Typed access to one artifact canister through a connection (``clients.ic.Connection``).

    How calls are made (retries, back-off, breaker, observers) is ``options``, a ``ClientOptions``
    value; the default is a fresh retry budget and breaker per client, shared by all its threads.
    ``with_options`` derives a client that shares connection, breaker and budget but differs in
    what was changed: an interruptible ``sleep`` for one upload, or ``breaker=None`` for a clean-up
    call that must be tried once even while the breaker is open (the uploader's ``cancel_upload``).
    The connection, canister and options are fixed at construction because the pipeline is composed
    from them once.
    """

    def __init__(
        self,
        connection: CanisterConnection,
        canister_id: str = DEFAULT_CANISTER_ID,
        options: ClientOptions | None = None,
        *,
        limits: TargetLimits | None = None,
        did_text: str | None = None,
    ) -> None:
        self._connection = connection
        self._canister_id = canister_id
        self._options = options if options is not None else ClientOptions()
        self.limits = limits or TargetLimits()
        self._did_text = did_text if did_text is not None else load_artifact_did()
        self.service = parse_did(self._did_text)
        self._call = compose(connection, canister_id, self._options)

    @property
    def connection(self) -> CanisterConnection:
        return self._connection

    @property
    def canister_id(self) -> str:
        return self._canister_id

    @property
    def options(self) -> ClientOptions:
        return self._options

    def with_options(self, **changes: Any) -> ArtifactClient:
        """A client like this one with ``dataclasses.replace(self.options, **changes)``."""
        options = replace(self._options, **changes)
        return ArtifactClient(
            self._connection, self._canister_id, options, limits=self.limits, did_text=self._did_text
        )

    @property
    def principal(self) -> str:
        """The caller's principal (text), as the canister will see it."""
        return principal_of(self._connection.identity)

    def invoke(self, method: str, args: Sequence[Any], check: Check[T]) -> T:
        """Call ``method`` with Candid-ready ``args`` through the pipeline; ``check`` makes the result.

        Every typed method below is one line around this; it is public so that callers with needs
        the typed methods do not cover (the conformance suite sending arguments as given) still go
        through the same layers and error rules.
        """
        signature = self.service[method]
        call = Call(method, tuple(args), "query" if signature.is_query else "update")
        return cast(T, self._call(Exchange(call, signature, check)))

    # ------------------------------------------------------------------ identity and capsules

    def whoami(self) -> str:
        return str(self.invoke("whoami", (), as_is))

    def get_api_version(self) -> str:
        return str(self.invoke("get_api_version", (), as_is))

    def candid_interface(self) -> str:
        """``__get_candid_interface_tmp_hack``: the ``.did`` the canister says it serves."""
        return str(self.invoke("__get_candid_interface_tmp_hack", (), as_is))

    def register(self) -> bool:
        return bool(self.invoke("register", (), as_is))

    def register_capsule(self) -> CapsuleRegistrationResult:
        return self.invoke("register_capsule", (), plain_record(CapsuleRegistrationResult))

    def get_user(self) -> CapsuleInfo | None:
        return self.invoke("get_user", (), optional(CapsuleInfo))

    # ------------------------------------------------------------------ galleries

    def store_gallery_forever(self, data: GalleryData) -> StoreGalleryResponse:
        return self.invoke("store_gallery_forever", (data.to_candid(),), plain_record(StoreGalleryResponse))

    def get_gallery_by_id(self, gallery_id: str) -> Gallery | None:
        return self.invoke("get_gallery_by_id", (gallery_id,), optional(Gallery))

    def get_my_galleries(self) -> list[Gallery]:
        return self.invoke("get_my_galleries", (), each(Gallery))

    def get_user_galleries(self, owner: str) -> list[Gallery]:
        return self.invoke("get_user_galleries", (owner,), each(Gallery))

    def update_gallery(self, gallery_id: str, data: GalleryUpdateData) -> UpdateGalleryResponse:
        args = (gallery_id, data.to_candid())
        return self.invoke("update_gallery", args, plain_record(UpdateGalleryResponse))

    def delete_gallery(self, gallery_id: str) -> DeleteGalleryResponse:
        return self.invoke("delete_gallery", (gallery_id,), plain_record(DeleteGalleryResponse))

    # ------------------------------------------------------------------ memories

    def add_memory_to_capsule(self, memory_id: str, data: MemoryData) -> MemoryOperationResponse:
        args = (memory_id, data.to_candid())
        return self.invoke("add_memory_to_capsule", args, plain_record(MemoryOperationResponse))

    def get_memory_from_capsule(self, memory_id: str) -> Memory | None:
        return self.invoke("get_memory_from_capsule", (memory_id,), optional(Memory))

    # ------------------------------------------------------------------ metadata and presence

    def upsert_metadata(
        self,
        memory_id: str,
        memory_type: MemoryType,
        metadata: SimpleMemoryMetadata,
        idempotency_key: str | None = None,
    ) -> MetadataResponse:
        """Upsert; the key defaults to ``<memoryId>:metadata:<sha256 of the canonical metadata>``."""
        key = (
            idempotency_key
            if idempotency_key is not None
            else metadata_idempotency_key(memory_id, memory_type, metadata)
        )
        args = (memory_id, memory_type.to_candid(), metadata.to_candid(), key)
        return self.invoke("upsert_metadata", args, icp_record(MetadataResponse))

    def get_memory_presence_icp(self, memory_id: str) -> MemoryPresence:
        def check(method: str, reply: Any) -> MemoryPresence:
            p = icp_payload(method, reply)
            return MemoryPresence(memory_id, bool(p["metadata_present"]), bool(p["asset_present"]))

        return self.invoke("get_memory_presence_icp", (memory_id,), check)

    def get_memory_list_presence_icp(
        self, memory_ids: Sequence[str], cursor: str | None = None, limit: int = 0
    ) -> MemoryListPresencePage:
        args = (list(memory_ids), [] if cursor is None else [cursor], limit)
        return self.invoke("get_memory_list_presence_icp", args, icp_record(MemoryListPresencePage))

    def iter_memory_presence(
        self, memory_ids: Sequence[str], page_size: int = 100
    ) -> Iterator[MemoryPresence]:
        """Presence of every id, in order, following the canister's cursor page by page."""
        ids = list(memory_ids)
        if not ids:
            return
        cursor: str | None = None
        while True:
            page = self.get_memory_list_presence_icp(ids, cursor, page_size)
            yield from page.results
            if not page.has_more or page.cursor is None:
                return
            cursor = page.cursor

    # ------------------------------------------------------------------ uploads

    def begin_asset_upload(
        self, memory_id: str, expected_hash: str, chunk_count: int, total_size: int
    ) -> UploadSessionResponse:
        args = (memory_id, expected_hash, chunk_count, total_size)
        return self.invoke("begin_asset_upload", args, icp_record(UploadSessionResponse))

    def put_chunk(self, session_id: str, chunk_index: int, chunk_data: bytes) -> ChunkResponse:
        args = (session_id, chunk_index, bytes(chunk_data))
        return self.invoke("put_chunk", args, icp_record(ChunkResponse))

    def commit_asset(self, session_id: str, final_hash: str) -> CommitResponse:
        return self.invoke("commit_asset", (session_id, final_hash), icp_record(CommitResponse))

    def cancel_upload(self, session_id: str) -> None:
        """Always succeeds for one's own ids, unknown and finished ones included (spec §5)."""
        self.invoke("cancel_upload", (session_id,), icp_payload)

    def get_upload_progress(self, session_id: str) -> UploadProgress:
        return self.invoke("get_upload_progress", (session_id,), icp_record(UploadProgress))

    def get_user_upload_sessions(self) -> list[UploadProgress]:
        def check(method: str, reply: Any) -> list[UploadProgress]:
            return [UploadProgress.from_candid(s) for s in icp_payload(method, reply)["sessions"]]

        return self.invoke("get_user_upload_sessions", (), check)
