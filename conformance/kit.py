"""Small builders and assertions the conformance tests share.

Why a kit and not fixtures: these are plain functions of their arguments (a caller, some bytes), so
a test reads as the contract rule it checks, and a helper frame never hides which call failed
(`__tracebackhide__` keeps the helpers out of pytest's tracebacks).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest

from clients.artifact.errors import ArtifactError
from clients.artifact.types import (
    BlobRef,
    ChunkResponse,
    CommitResponse,
    Gallery,
    GalleryData,
    GalleryMemoryEntry,
    MemoryBlobKind,
    MemoryData,
    SimpleMemoryMetadata,
    UploadSession,
)

from .calls import SuiteClient
from .catalog import MISSING_CAPABILITY, NOT_IMPLEMENTED
from .target import Target

__all__ = [
    "ANY_CODE",
    "CHUNK",
    "Refused",
    "Staged",
    "begin",
    "gallery_data",
    "metadata",
    "metadata_key",
    "new_id",
    "put_all",
    "refused",
    "require_limit",
    "require_methods",
    "sha",
    "sibling_id",
    "split",
    "upload",
]

ANY_CODE = "<any ICPErrorCode>"
CHUNK = 1000
"""Chunk size of the suite's own uploads: small enough to make multi-chunk uploads cheap, and not a
power of two, so off-by-one errors in offsets show."""


def new_id() -> str:
    """A fresh canonical UUID v4, as Web2 would generate it."""
    return str(uuid.uuid4())


def sibling_id(memory_id: str) -> str:
    """Another canonical UUID v4 sharing all but the last hex digit: tells exact matching apart from
    prefix matching."""
    last = memory_id[-1]
    return memory_id[:-1] + ("0" if last != "0" else "1")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def metadata(title: str = "a memory", **changes: Any) -> SimpleMemoryMetadata:
    fields: dict[str, Any] = {
        "title": title,
        "description": "stored forever",
        "tags": ("family",),
        "created_at": 1_700_000_000_000_000_000,
        "updated_at": 1_700_000_000_000_000_000,
        "size": 1234,
        "content_type": "image/jpeg",
        "custom_fields": (("camera", "x100"),),
    }
    fields.update(changes)
    return SimpleMemoryMetadata(**fields)


def metadata_key(memory_id: str, content: str = "v1") -> str:
    """`<memoryId>:metadata:<contentHash>` (requirement 22.5); `content` names the version."""
    return f"{memory_id}:metadata:{sha(content.encode())}"


def gallery_data(
    owner: str,
    gallery_id: str,
    *,
    title: str = "Summer 2024",
    is_public: bool = False,
    entries: Sequence[GalleryMemoryEntry] = (),
    data_owner: str | None = None,
) -> GalleryData:
    gallery = Gallery(
        id=gallery_id,
        owner_principal=owner,
        title=title,
        description="a gallery",
        is_public=is_public,
        created_at=0,
        updated_at=0,
        memory_entries=tuple(entries),
    )
    return GalleryData(gallery=gallery, owner_principal=data_owner or owner)


def memory_data(
    data: bytes | None, *, locator: str = "s3://bucket/key", with_hash: bool = True
) -> MemoryData:
    digest = hashlib.sha256(data).digest() if (data is not None and with_hash) else None
    return MemoryData(
        blob_ref=BlobRef(kind=MemoryBlobKind.ICP_CAPSULE, locator=locator, hash=digest), data=data
    )


class Refused:
    """`with refused("Internal", "Invalid UUID"): call()` asserts the call is refused that way.

    `code` is the `ICPErrorCode` tag for `ICPResult` methods, or None for the plain-record methods
    (galleries, memories, capsules) whose refusals are `success = false` with a message prefix, or
    `ANY_CODE` where the contract requires a refusal but leaves its code open.
    """

    def __init__(self, code: str | None, prefix: str | None = None) -> None:
        self.code = code
        self.prefix = prefix
        self.error: ArtifactError | None = None

    def __enter__(self) -> Refused:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        __tracebackhide__ = True
        expected = f"{self.code or 'success = false'}" + (
            f" with a message starting {self.prefix!r}" if self.prefix else ""
        )
        if exc is None:
            pytest.fail(f"expected a refusal ({expected}), but the call succeeded")
        if not isinstance(exc, ArtifactError):
            return False
        self.error = exc
        if self.code == ANY_CODE:
            assert exc.code is not None, f"expected a refusal with an ICPErrorCode, got {exc!r}"
        else:
            assert exc.code == self.code, f"expected {expected}, got code {exc.code!r}: {exc.message!r}"
        if self.prefix is not None:
            assert exc.message.startswith(self.prefix), (
                f"expected {expected}, got {exc.code!r}: {exc.message!r}"
            )
        return True

    @property
    def message(self) -> str:
        assert self.error is not None
        return self.error.message


def refused(code: str | None, prefix: str | None = None) -> Refused:
    return Refused(code, prefix)


@dataclass
class Staged:
    """An upload begun but not committed: the session and the chunks it is meant to receive."""

    session: UploadSession
    data: bytes
    chunks: list[bytes] = field(default_factory=list)

    @property
    def session_id(self) -> str:
        return self.session.session_id


def begin(
    caller: SuiteClient,
    memory_id: str,
    data: bytes,
    *,
    chunk_size: int = CHUNK,
    declared_hash: str | None = None,
    chunk_count: int | None = None,
    total_size: int | None = None,
) -> Staged:
    chunks = split(data, chunk_size)
    reply = caller.begin_asset_upload(
        memory_id,
        declared_hash or sha(data),
        len(chunks) if chunk_count is None else chunk_count,
        len(data) if total_size is None else total_size,
    )
    assert reply.session is not None, f"begin_asset_upload succeeded without a session: {reply}"
    return Staged(reply.session, data, chunks)


def put_all(caller: SuiteClient, staged: Staged, indices: Sequence[int] | None = None) -> list[ChunkResponse]:
    order = range(len(staged.chunks)) if indices is None else indices
    return [caller.put_chunk(staged.session_id, i, staged.chunks[i]) for i in order]


def upload(caller: SuiteClient, memory_id: str, data: bytes, *, chunk_size: int = CHUNK) -> CommitResponse:
    """Begin, send every chunk, commit: the happy path, for tests about what comes after."""
    staged = begin(caller, memory_id, data, chunk_size=chunk_size)
    put_all(caller, staged)
    return caller.commit_asset(staged.session_id, sha(data))


def require_methods(target: Target, *names: str) -> None:
    """For tests whose methods come from a parameter (a `method` marker cannot name them)."""
    absent = [n for n in names if n not in target.methods]
    if absent:
        pytest.skip(f"{NOT_IMPLEMENTED}{', '.join(absent)}")


def require_limit(target: Target, key: str, *, at_most: int | None = None, why: str = "") -> int:
    """A limit the test must exhaust: only a stated one, and only if small enough to reach."""
    if not target.limits.is_stated(key):
        pytest.skip(f"{MISSING_CAPABILITY}limit {key} is not stated (put it in the target profile's limits)")
    value = target.limits[key]
    if at_most is not None and value > at_most:
        pytest.skip(
            f"{MISSING_CAPABILITY}limit {key}={value} is too large to reach in a test (> {at_most}){why}"
        )
    return value
