"""``ArtifactClient``: one typed method per method of the artifact canister (spec §2.2, §2.3).

Why a hand-written client on top of ``clients.ic`` instead of the ``.did`` proxy alone: callers need
values (dataclasses), not ``{"success": …, "data": [ … ]}``; one failure convention; and retries,
a retry budget and a circuit breaker applied the same way to every call.

Failure convention (one rule for every method): a method either returns its payload or raises an
``ArtifactError``. ``ICPResult`` failures (``success = false`` + ``error``) raise with the
``ICPErrorCode``; the plain-record methods (galleries, memories, capsules) raise when their record says
``success = false``, classified by the message (``Unauthorized…`` → ``UnauthorizedError``,
``Invalid UUID…`` → ``ValidationError``, ``Gallery not found…`` → ``NotFoundError``). A success that
the canister describes in its message ("already exists", "already applied") is returned, not raised:
the message is on the returned record. The methods whose reply has no failure shape return the
reply as is: ``register`` (a bool), ``get_*`` lookups (None when absent).

Queries go to the query endpoint and updates to the call endpoint, as the ``.did`` declares them.
The interface is the canister's own ``.did`` file, read as text (``emulator/canisters/artifact/
artifact.did`` next to this package, or ``did_text=``); no emulator code is imported.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from clients.cli_args import DEFAULT_CANISTER_ID
from clients.ic.candid import DidService, decode_reply, encode_args
from clients.ic.identity import principal_of

from .breaker import CircuitBreaker
from .errors import (
    TargetError,
    error_from_code,
    error_from_exception,
    error_from_message,
)
from .retry import RetryBudget, RetryEvent, RetryPolicy, run_with_retry
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
    "DID_PATH",
    "ArtifactClient",
    "TargetLimits",
    "canonical_metadata_json",
    "load_artifact_did",
    "metadata_idempotency_key",
]

DID_PATH = Path(__file__).resolve().parents[2] / "emulator" / "canisters" / "artifact" / "artifact.did"
"""Where the canister's interface lives, both in a checkout and in an installed wheel (package data)."""

R = TypeVar("R", bound=CandidRecord)
T = TypeVar("T")

# delete_gallery's repeat answers "Gallery not found": retrying it after a lost reply would turn a
# success into an error, so it is the one write never retried (see retry.py for the others).
NON_IDEMPOTENT = frozenset({"delete_gallery"})


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
    target = Path(path) if path is not None else DID_PATH
    try:
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot read the artifact canister's interface at {target}: {exc}; pass did_text="
        ) from exc


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


class ArtifactClient:
    """Typed access to one artifact canister through a ``clients.ic.Connection``.

    ``retry_policy``, ``budget`` and ``breaker`` default to fresh ones per client: the budget and
    the breaker describe one target as seen by one client, so they are shared by all its threads.
    ``sleep`` and ``rng`` are injectable for tests; ``on_retry`` sees every retry (the CLI logs them).
    ``with_options`` makes a copy that shares connection, breaker and budget but has, for example,
    an interruptible ``sleep`` for one upload, or ``use_breaker=False`` for a clean-up call that
    must be tried once even while the breaker is open (the uploader's ``cancel_upload``).
    """

    def __init__(
        self,
        connection: Any,
        canister_id: str = DEFAULT_CANISTER_ID,
        *,
        retry_policy: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        breaker: CircuitBreaker | None = None,
        limits: TargetLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        did_text: str | None = None,
    ) -> None:
        self.connection = connection
        self.canister_id = canister_id
        self.retry_policy = retry_policy or RetryPolicy()
        self.budget = budget if budget is not None else RetryBudget()
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.limits = limits or TargetLimits()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.on_retry = on_retry
        self.use_breaker = True
        self.service = DidService.from_text(did_text if did_text is not None else load_artifact_did())

    def with_options(
        self,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        connection: Any = None,
        use_breaker: bool | None = None,
    ) -> ArtifactClient:
        clone = object.__new__(type(self))  # a subclass (e.g. an instrumented one) stays itself
        clone.__dict__.update(self.__dict__)
        if retry_policy is not None:
            clone.retry_policy = retry_policy
        if sleep is not None:
            clone.sleep = sleep
        if on_retry is not None:
            clone.on_retry = on_retry
        if connection is not None:
            clone.connection = connection
        if use_breaker is not None:
            clone.use_breaker = use_breaker
        return clone

    @property
    def principal(self) -> str:
        """The caller's principal (text), as the canister will see it."""
        return principal_of(self.connection.identity)

    # ------------------------------------------------------------------ plumbing

    def _invoke(self, method: str, args: Sequence[Any], check: Callable[[Any], T]) -> T:
        m = self.service[method]
        arg = encode_args(m.arg_types, args)
        send = self.connection.query_raw if m.is_query else self.connection.update_raw

        def transport() -> Any:
            try:
                return decode_reply(send(self.canister_id, method, arg), m.ret_types)
            except ValueError as exc:
                raise TargetError(f"undecodable reply: {exc}", method=method, kind="protocol") from exc
            except Exception as exc:
                wrapped = error_from_exception(exc, method)
                if wrapped is None or wrapped is exc:
                    raise
                raise wrapped from exc

        def attempt() -> T:
            raw = self.breaker.call(transport, method) if self.use_breaker else transport()
            try:
                return check(raw)
            except (ValueError, KeyError, TypeError) as exc:
                raise TargetError(
                    f"reply does not match the contract: {exc}", method=method, kind="protocol"
                ) from exc

        return run_with_retry(
            attempt,
            self.retry_policy,
            idempotent=method not in NON_IDEMPOTENT,
            sleep=self.sleep,
            rng=self.rng,
            budget=self.budget,
            on_retry=self.on_retry,
            operation=method,
        )

    @staticmethod
    def _payload(method: str, value: Any) -> Any:
        """The ``data`` of an ``ICPResult`` envelope, or the envelope's error raised."""
        if not value["success"]:
            errors = value["error"]
            code = ErrorCode.from_candid(errors[0]) if errors else ErrorCode("Internal", "no error code")
            raise error_from_code(code, method)
        data = value["data"]
        if len(data) != 1:
            raise ValueError("success without data")
        payload = data[0]
        if isinstance(payload, dict) and payload.get("success") is False:
            inner = payload.get("error") or []
            if inner:
                raise error_from_code(ErrorCode.from_candid(inner[0]), method)
            raise error_from_message(str(payload.get("message", "failure")), method)
        return payload

    def _icp(self, method: str, args: Sequence[Any], cls: type[R]) -> R:
        return self._invoke(method, args, lambda v: cls.from_candid(self._payload(method, v)))

    def _plain(self, method: str, args: Sequence[Any], cls: type[R]) -> R:
        def check(value: Any) -> R:
            record = cls.from_candid(value)
            if not getattr(record, "success", True):
                raise error_from_message(str(getattr(record, "message", "")), method)
            return record

        return self._invoke(method, args, check)

    # ------------------------------------------------------------------ identity and capsules

    def whoami(self) -> str:
        return str(self._invoke("whoami", (), lambda v: v))

    def get_api_version(self) -> str:
        return str(self._invoke("get_api_version", (), lambda v: v))

    def candid_interface(self) -> str:
        """``__get_candid_interface_tmp_hack``: the ``.did`` the canister says it serves."""
        return str(self._invoke("__get_candid_interface_tmp_hack", (), lambda v: v))

    def register(self) -> bool:
        return bool(self._invoke("register", (), lambda v: v))

    def register_capsule(self) -> CapsuleRegistrationResult:
        return self._plain("register_capsule", (), CapsuleRegistrationResult)

    def get_user(self) -> CapsuleInfo | None:
        return self._invoke("get_user", (), lambda v: CapsuleInfo.from_candid(v[0]) if v else None)

    # ------------------------------------------------------------------ galleries

    def store_gallery_forever(self, data: GalleryData) -> StoreGalleryResponse:
        return self._plain("store_gallery_forever", (data.to_candid(),), StoreGalleryResponse)

    def get_gallery_by_id(self, gallery_id: str) -> Gallery | None:
        return self._invoke(
            "get_gallery_by_id", (gallery_id,), lambda v: Gallery.from_candid(v[0]) if v else None
        )

    def get_my_galleries(self) -> list[Gallery]:
        return self._invoke("get_my_galleries", (), lambda v: [Gallery.from_candid(g) for g in v])

    def get_user_galleries(self, owner: str) -> list[Gallery]:
        return self._invoke("get_user_galleries", (owner,), lambda v: [Gallery.from_candid(g) for g in v])

    def update_gallery(self, gallery_id: str, data: GalleryUpdateData) -> UpdateGalleryResponse:
        return self._plain("update_gallery", (gallery_id, data.to_candid()), UpdateGalleryResponse)

    def delete_gallery(self, gallery_id: str) -> DeleteGalleryResponse:
        return self._plain("delete_gallery", (gallery_id,), DeleteGalleryResponse)

    # ------------------------------------------------------------------ memories

    def add_memory_to_capsule(self, memory_id: str, data: MemoryData) -> MemoryOperationResponse:
        return self._plain("add_memory_to_capsule", (memory_id, data.to_candid()), MemoryOperationResponse)

    def get_memory_from_capsule(self, memory_id: str) -> Memory | None:
        return self._invoke(
            "get_memory_from_capsule", (memory_id,), lambda v: Memory.from_candid(v[0]) if v else None
        )

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
        return self._icp("upsert_metadata", args, MetadataResponse)

    def get_memory_presence_icp(self, memory_id: str) -> MemoryPresence:
        def check(value: Any) -> MemoryPresence:
            p = self._payload("get_memory_presence_icp", value)
            return MemoryPresence(memory_id, bool(p["metadata_present"]), bool(p["asset_present"]))

        return self._invoke("get_memory_presence_icp", (memory_id,), check)

    def get_memory_list_presence_icp(
        self, memory_ids: Sequence[str], cursor: str | None = None, limit: int = 0
    ) -> MemoryListPresencePage:
        args = (list(memory_ids), [] if cursor is None else [cursor], limit)
        return self._icp("get_memory_list_presence_icp", args, MemoryListPresencePage)

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
        return self._icp("begin_asset_upload", args, UploadSessionResponse)

    def put_chunk(self, session_id: str, chunk_index: int, chunk_data: bytes) -> ChunkResponse:
        return self._icp("put_chunk", (session_id, chunk_index, bytes(chunk_data)), ChunkResponse)

    def commit_asset(self, session_id: str, final_hash: str) -> CommitResponse:
        return self._icp("commit_asset", (session_id, final_hash), CommitResponse)

    def cancel_upload(self, session_id: str) -> None:
        """Always succeeds for one's own ids, unknown and finished ones included (spec §5)."""

        def check(value: Any) -> None:
            self._payload("cancel_upload", value)

        self._invoke("cancel_upload", (session_id,), check)

    def get_upload_progress(self, session_id: str) -> UploadProgress:
        return self._icp("get_upload_progress", (session_id,), UploadProgress)

    def get_user_upload_sessions(self) -> list[UploadProgress]:
        def check(value: Any) -> list[UploadProgress]:
            payload = self._payload("get_user_upload_sessions", value)
            return [UploadProgress.from_candid(s) for s in payload["sessions"]]

        return self._invoke("get_user_upload_sessions", (), check)
