"""The Python shapes of the Candid values the artifact canister receives and returns.

They mirror `artifact.did` field by field, so mypy catches a misspelt field before the codec would
refuse to encode it (a misspelt field is a wire incompatibility with generated clients). Mapping, as
the project's Candid codec defines it: record -> dict by field name, tuple record -> tuple, variant ->
single-key dict, `opt T` -> `None` or the value (`Some(x)` for `opt null`), blob -> bytes.
"""

from __future__ import annotations

from typing import Any, Generic, TypedDict, TypeVar

from emulator.principal import Principal

T = TypeVar("T")

# A variant value: exactly one key, the tag, with the payload (or None) as its value.
Variant = dict[str, Any]
ErrorCode = dict[str, str | None]


class ICPResult(TypedDict, Generic[T]):
    success: bool
    data: T | None
    error: ErrorCode | None


class SimpleMemoryMetadata(TypedDict):
    title: str | None
    description: str | None
    tags: list[str]
    created_at: int
    updated_at: int
    size: int | None
    content_type: str | None
    custom_fields: list[tuple[str, str]]


class MetadataResponse(TypedDict):
    success: bool
    memory_id: str | None
    message: str
    error: ErrorCode | None


class MemoryPresenceResponse(TypedDict):
    success: bool
    metadata_present: bool
    asset_present: bool
    error: ErrorCode | None


class MemoryPresenceResult(TypedDict):
    memory_id: str
    metadata_present: bool
    asset_present: bool


class MemoryListPresenceResponse(TypedDict):
    success: bool
    results: list[MemoryPresenceResult]
    cursor: str | None
    has_more: bool
    error: ErrorCode | None


class UploadSession(TypedDict):
    session_id: str
    memory_id: str
    expected_hash: str
    chunk_count: int
    total_size: int
    created_at: int
    chunks_received: list[bool]
    bytes_received: int


class UploadSessionResponse(TypedDict):
    success: bool
    session: UploadSession | None
    message: str
    error: ErrorCode | None


class ChunkResponse(TypedDict):
    success: bool
    chunk_index: int
    bytes_received: int
    message: str
    error: ErrorCode | None


class CommitResponse(TypedDict):
    success: bool
    memory_id: str
    final_hash: str
    total_bytes: int
    message: str
    error: ErrorCode | None


class UploadProgressResponse(TypedDict):
    session_id: str
    memory_id: str
    total_chunks: int
    chunks_received: int
    bytes_received: int
    total_size: int
    progress_percentage: float
    estimated_time_remaining: int | None
    status: Variant
    created_at: int
    expires_at: int


class UserUploadSessionsResponse(TypedDict):
    sessions: list[UploadProgressResponse]


class GalleryMemoryEntry(TypedDict):
    memory_id: str
    position: int
    gallery_caption: str | None
    is_featured: bool
    gallery_metadata: str


class Gallery(TypedDict):
    id: str
    owner_principal: Principal
    title: str
    description: str | None
    is_public: bool
    created_at: int
    updated_at: int
    storage_status: Variant
    memory_entries: list[GalleryMemoryEntry]


class GalleryData(TypedDict):
    gallery: Gallery
    owner_principal: Principal


class GalleryUpdateData(TypedDict):
    title: str | None
    description: str | None
    is_public: bool | None
    memory_entries: list[GalleryMemoryEntry] | None


class StoreGalleryResponse(TypedDict):
    success: bool
    gallery_id: str | None
    icp_gallery_id: str | None
    message: str
    storage_status: Variant


class UpdateGalleryResponse(TypedDict):
    success: bool
    gallery: Gallery | None
    message: str


class DeleteGalleryResponse(TypedDict):
    success: bool
    message: str


class BlobRef(TypedDict):
    kind: Variant
    locator: str
    hash: bytes | None


class MemoryData(TypedDict):
    blob_ref: BlobRef
    data: bytes | None


class MemoryInfo(TypedDict):
    memory_type: Variant
    name: str
    content_type: str
    created_at: int
    updated_at: int
    uploaded_at: int
    date_of_memory: int | None


class MemoryMetadataBase(TypedDict):
    size: int
    mime_type: str
    original_name: str
    uploaded_at: str
    date_of_memory: str | None
    people_in_memory: list[str] | None
    format: str | None


class Memory(TypedDict):
    id: str
    info: MemoryInfo
    metadata: Variant
    access: Variant
    data: MemoryData


class MemoryOperationResponse(TypedDict):
    success: bool
    memory_id: str | None
    message: str


class CapsuleRegistrationResult(TypedDict):
    success: bool
    capsule_id: str | None
    is_new: bool
    message: str


class CapsuleInfo(TypedDict):
    capsule_id: str
    subject: Variant
    is_owner: bool
    is_controller: bool
    is_self_capsule: bool
    bound_to_web2: bool
    created_at: int
    updated_at: int
