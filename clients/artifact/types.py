"""The artifact contract's records and variants as Python values (spec §2.1, §2.3 and §8).

Why dataclasses and not the decoded dicts: a caller of the client should get a typo caught by mypy,
not a ``KeyError`` at run time, and should never have to know that Candid ``opt`` decodes to ``[]`` /
``[v]``. Conversion is driven by the field annotations (one small codec below) rather than written out
per type, so a record here cannot drift from its own field list: each class declares its fields once.

Python shapes of Candid types:

=============================  ==============================================================
Candid                         field annotation here
=============================  ==============================================================
``text`` / ``bool``            ``str`` / ``bool``
``nat32`` / ``nat64`` / …      ``int``
``float64``                    ``float``
``principal``                  ``str`` (textual form)
``blob``                       ``bytes``
``opt T``                      ``T | None``
``vec T``                      ``tuple[T, ...]`` (immutable, so records can be frozen)
``record { T; U }``            ``tuple[T, U]`` (encoded as ``{"0": t, "1": u}`` for icp-py-core)
``variant { A; B }``           an ``Enum`` (``MemoryType``, ``UploadStatus``, …)
variant with payloads          a class with its own ``from_candid``/``to_candid`` (``PersonRef``…)
=============================  ==============================================================

Every class has ``from_candid(value)`` (the shape ``clients.ic`` decodes to) and ``to_candid()``
(the shape it encodes from), and ``to_json()`` for the CLI's machine-readable output.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, Union

__all__ = [
    "AccessEvent",
    "AudioMetadata",
    "BlobRef",
    "CandidRecord",
    "CapsuleInfo",
    "CapsuleRegistrationResult",
    "ChunkResponse",
    "CommitResponse",
    "DeleteGalleryResponse",
    "DocumentMetadata",
    "ErrorCode",
    "Gallery",
    "GalleryData",
    "GalleryMemoryEntry",
    "GalleryStorageStatus",
    "GalleryUpdateData",
    "ImageMetadata",
    "Memory",
    "MemoryAccess",
    "MemoryBlobKind",
    "MemoryData",
    "MemoryInfo",
    "MemoryListPresencePage",
    "MemoryMetadata",
    "MemoryMetadataBase",
    "MemoryOperationResponse",
    "MemoryPresence",
    "MemoryType",
    "MetadataResponse",
    "NoteMetadata",
    "PersonRef",
    "SimpleMemoryMetadata",
    "StoreGalleryResponse",
    "UpdateGalleryResponse",
    "UploadProgress",
    "UploadSession",
    "UploadSessionResponse",
    "UploadStatus",
    "VideoMetadata",
    "from_candid_value",
    "to_candid_value",
    "to_json_value",
]

R = TypeVar("R", bound="CandidRecord")


# ---------------------------------------------------------------------------------------------- enums


class CandidEnum(enum.Enum):
    """A Candid variant whose cases carry no payload: ``{"Image": None}`` on the wire."""

    def to_candid(self) -> dict[str, None]:
        return {self.value: None}

    @classmethod
    def from_candid(cls, value: Any) -> Any:
        tag = _single_tag(value, cls.__name__)
        try:
            return cls(tag)
        except ValueError:
            raise ValueError(f"unknown {cls.__name__} case {tag!r}") from None


class MemoryType(CandidEnum):
    IMAGE = "Image"
    VIDEO = "Video"
    AUDIO = "Audio"
    DOCUMENT = "Document"
    NOTE = "Note"

    @classmethod
    def parse(cls, text: str) -> MemoryType:
        """Accept ``Image``/``image``/``IMAGE`` (manifests and the CLI are written by people)."""
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        raise ValueError(f"memory_type must be one of {', '.join(m.value for m in cls)}, got {text!r}")


class UploadStatus(CandidEnum):
    ACTIVE = "Active"
    COMPLETED = "Completed"
    EXPIRED = "Expired"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class GalleryStorageStatus(CandidEnum):
    WEB2_ONLY = "Web2Only"
    ICP_ONLY = "ICPOnly"
    BOTH = "Both"
    MIGRATING = "Migrating"
    FAILED = "Failed"


class MemoryBlobKind(CandidEnum):
    ICP_CAPSULE = "ICPCapsule"
    EXTERNAL = "MemoryBlobKindExternal"


def _single_tag(value: Any, what: str) -> str:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError(f"{what} must be a one-entry variant mapping, got {value!r:.80}")
    (tag,) = value.keys()
    return str(tag)


# ---------------------------------------------------------------------------------------------- codec


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """Resolved field annotations, cached (``from __future__ import annotations`` makes them text)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _optional_inner(tp: Any) -> Any | None:
    """``T`` for ``T | None`` (``opt T``), else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def to_candid_value(value: Any, tp: Any) -> Any:
    """Python value (annotated ``tp``) -> the shape ``clients.ic`` encodes."""
    inner = _optional_inner(tp)
    if inner is not None:
        return [] if value is None else [to_candid_value(value, inner)]
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return [to_candid_value(v, args[0]) for v in value]
        # icp-py-core encodes a tuple record from a mapping keyed "0", "1", … (it decodes to a list).
        return {str(i): to_candid_value(v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))}
    if tp is bytes:
        return bytes(value)
    if isinstance(tp, type) and (issubclass(tp, CandidEnum) or hasattr(tp, "to_candid")):
        return value.to_candid()
    return value


def from_candid_value(raw: Any, tp: Any) -> Any:
    """The shape ``clients.ic`` decodes to -> the Python value annotated ``tp``."""
    inner = _optional_inner(tp)
    if inner is not None:
        if raw is None or raw == []:
            return None
        if isinstance(raw, list) and len(raw) == 1:
            return from_candid_value(raw[0], inner)
        raise ValueError(f"opt value must be [] or [v], got {raw!r:.80}")
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_candid_value(v, args[0]) for v in raw)
        items = [raw[str(i)] for i in range(len(args))] if isinstance(raw, Mapping) else raw
        return tuple(from_candid_value(v, a) for v, a in zip(items, args, strict=True))
    if tp is bytes:
        return bytes(raw)
    if tp is float:
        return float(raw)
    if isinstance(tp, type) and hasattr(tp, "from_candid"):
        return tp.from_candid(raw)
    return raw


def to_json_value(value: Any) -> Any:
    """A JSON-ready form of any value here: enums by name, bytes as hex, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


class CandidRecord:
    """Base of the records: field-driven conversion to and from decoded Candid records."""

    __slots__ = ()

    @classmethod
    def from_candid(cls: type[R], value: Any) -> R:
        if not isinstance(value, Mapping):
            raise ValueError(f"{cls.__name__} must be a record mapping, got {value!r:.80}")
        hints = _hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in value:
                raise ValueError(f"{cls.__name__} record has no field {f.name!r}")
            kwargs[f.name] = from_candid_value(value[f.name], hints[f.name])
        return cls(**kwargs)

    def to_candid(self) -> dict[str, Any]:
        hints = _hints(type(self))
        return {
            f.name: to_candid_value(getattr(self, f.name), hints[f.name])
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    def to_json(self) -> Any:
        return to_json_value(self)


# ---------------------------------------------------------------------------------- payload variants


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """``ICPErrorCode``: ``kind`` is the tag; ``detail`` is the text of ``Internal`` (else None)."""

    kind: str
    detail: str | None = None

    KINDS: ClassVar[tuple[str, ...]] = (
        "Unauthorized",
        "AlreadyExists",
        "NotFound",
        "InvalidHash",
        "Internal",
    )

    @classmethod
    def from_candid(cls, value: Any) -> ErrorCode:
        tag = _single_tag(value, "ICPErrorCode")
        payload = value[tag]
        return cls(tag, None if payload is None else str(payload))

    def to_candid(self) -> dict[str, Any]:
        return {self.kind: self.detail if self.kind == "Internal" else None}

    def __str__(self) -> str:
        return self.kind if self.detail is None else f"{self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PersonRef:
    """``variant { Principal : principal; Opaque : text }``; ``kind`` names the case."""

    kind: str
    value: str

    @classmethod
    def from_candid(cls, value: Any) -> PersonRef:
        tag = _single_tag(value, "PersonRef")
        if tag not in ("Principal", "Opaque"):
            raise ValueError(f"unknown PersonRef case {tag!r}")
        return cls(tag, str(value[tag]))

    def to_candid(self) -> dict[str, Any]:
        return {self.kind: self.value}


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """``AccessEvent``: cases without payload have ``value=None``; the nat32 cases an int; Custom text."""

    kind: str
    value: int | str | None = None

    WITH_NAT: ClassVar[frozenset[str]] = frozenset(
        {"Anniversary", "Birthday", "CapsuleMaturity", "ConnectionCount"}
    )
    BARE: ClassVar[frozenset[str]] = frozenset({"AfterDeath", "Graduation", "Wedding"})

    @classmethod
    def from_candid(cls, value: Any) -> AccessEvent:
        tag = _single_tag(value, "AccessEvent")
        if tag not in cls.WITH_NAT | cls.BARE | {"Custom"}:
            raise ValueError(f"unknown AccessEvent case {tag!r}")
        return cls(tag, value[tag])

    def to_candid(self) -> dict[str, Any]:
        return {self.kind: None if self.kind in self.BARE else self.value}


@dataclass(frozen=True, slots=True)
class MemoryAccess:
    """``MemoryAccess`` (recursive): the fields that a case does not use stay at their defaults.

    Public / Private: ``kind`` only. Custom: ``individuals``, ``groups``. Scheduled:
    ``accessible_after`` and the nested ``access``. EventTriggered: ``trigger_event`` and ``access``.
    """

    kind: str
    individuals: tuple[PersonRef, ...] = ()
    groups: tuple[str, ...] = ()
    accessible_after: int | None = None
    trigger_event: AccessEvent | None = None
    access: MemoryAccess | None = None

    @classmethod
    def from_candid(cls, value: Any) -> MemoryAccess:
        tag = _single_tag(value, "MemoryAccess")
        body = value[tag]
        if tag in ("Public", "Private"):
            return cls(tag)
        if tag == "Custom":
            return cls(
                tag,
                individuals=tuple(PersonRef.from_candid(p) for p in body["individuals"]),
                groups=tuple(str(g) for g in body["groups"]),
            )
        if tag == "Scheduled":
            return cls(
                tag, accessible_after=int(body["accessible_after"]), access=cls.from_candid(body["access"])
            )
        if tag == "EventTriggered":
            return cls(
                tag,
                trigger_event=AccessEvent.from_candid(body["trigger_event"]),
                access=cls.from_candid(body["access"]),
            )
        raise ValueError(f"unknown MemoryAccess case {tag!r}")

    def to_candid(self) -> dict[str, Any]:
        if self.kind in ("Public", "Private"):
            return {self.kind: None}
        if self.kind == "Custom":
            return {
                "Custom": {
                    "individuals": [p.to_candid() for p in self.individuals],
                    "groups": list(self.groups),
                }
            }
        if self.access is None:
            raise ValueError(f"MemoryAccess {self.kind} needs a nested access")
        if self.kind == "Scheduled":
            after = self.accessible_after or 0
            return {"Scheduled": {"accessible_after": after, "access": self.access.to_candid()}}
        if self.kind == "EventTriggered":
            if self.trigger_event is None:
                raise ValueError("MemoryAccess EventTriggered needs a trigger_event")
            return {
                "EventTriggered": {
                    "trigger_event": self.trigger_event.to_candid(),
                    "access": self.access.to_candid(),
                }
            }
        raise ValueError(f"unknown MemoryAccess case {self.kind!r}")


# ------------------------------------------------------------------------------ metadata and presence


@dataclass(frozen=True, slots=True)
class SimpleMemoryMetadata(CandidRecord):
    title: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    created_at: int = 0
    updated_at: int = 0
    size: int | None = None
    content_type: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MetadataResponse(CandidRecord):
    success: bool
    memory_id: str | None
    message: str
    error: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class MemoryPresence(CandidRecord):
    """``MemoryPresenceResult``; also what ``get_memory_presence_icp`` returns (its id filled in)."""

    memory_id: str
    metadata_present: bool
    asset_present: bool

    @property
    def fully_present(self) -> bool:
        return self.metadata_present and self.asset_present


@dataclass(frozen=True, slots=True)
class MemoryListPresencePage(CandidRecord):
    """``MemoryListPresenceResponse`` without the envelope fields (failures are raised)."""

    results: tuple[MemoryPresence, ...]
    cursor: str | None
    has_more: bool


# -------------------------------------------------------------------------------------------- uploads


@dataclass(frozen=True, slots=True)
class UploadSession(CandidRecord):
    session_id: str
    memory_id: str
    expected_hash: str
    chunk_count: int
    total_size: int
    created_at: int
    chunks_received: tuple[bool, ...]
    bytes_received: int

    @property
    def missing_chunks(self) -> tuple[int, ...]:
        """Indices still to send: what a resumed upload uploads."""
        return tuple(i for i, got in enumerate(self.chunks_received) if not got)


@dataclass(frozen=True, slots=True)
class UploadSessionResponse(CandidRecord):
    success: bool
    session: UploadSession | None
    message: str
    error: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class ChunkResponse(CandidRecord):
    success: bool
    chunk_index: int
    bytes_received: int
    message: str
    error: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class CommitResponse(CandidRecord):
    success: bool
    memory_id: str
    final_hash: str
    total_bytes: int
    message: str
    error: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class UploadProgress(CandidRecord):
    """``UploadProgressResponse`` (seed 1.6); ``estimated_time_remaining`` is in nanoseconds."""

    session_id: str
    memory_id: str
    total_chunks: int
    chunks_received: int
    bytes_received: int
    total_size: int
    progress_percentage: float
    estimated_time_remaining: int | None
    status: UploadStatus
    created_at: int
    expires_at: int


# ----------------------------------------------------------------------------------------- galleries


@dataclass(frozen=True, slots=True)
class GalleryMemoryEntry(CandidRecord):
    memory_id: str
    position: int
    gallery_caption: str | None = None
    is_featured: bool = False
    gallery_metadata: str = ""


@dataclass(frozen=True, slots=True)
class Gallery(CandidRecord):
    id: str
    owner_principal: str
    title: str
    description: str | None = None
    is_public: bool = False
    created_at: int = 0
    updated_at: int = 0
    storage_status: GalleryStorageStatus = GalleryStorageStatus.ICP_ONLY
    memory_entries: tuple[GalleryMemoryEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class GalleryData(CandidRecord):
    gallery: Gallery
    owner_principal: str


@dataclass(frozen=True, slots=True)
class GalleryUpdateData(CandidRecord):
    """Each field that is not None replaces the stored one (spec §4)."""

    title: str | None = None
    description: str | None = None
    is_public: bool | None = None
    memory_entries: tuple[GalleryMemoryEntry, ...] | None = None


@dataclass(frozen=True, slots=True)
class StoreGalleryResponse(CandidRecord):
    success: bool
    gallery_id: str | None
    icp_gallery_id: str | None
    message: str
    storage_status: GalleryStorageStatus


@dataclass(frozen=True, slots=True)
class UpdateGalleryResponse(CandidRecord):
    success: bool
    gallery: Gallery | None
    message: str


@dataclass(frozen=True, slots=True)
class DeleteGalleryResponse(CandidRecord):
    success: bool
    message: str


# ------------------------------------------------------------------------------------------ memories


@dataclass(frozen=True, slots=True)
class BlobRef(CandidRecord):
    kind: MemoryBlobKind
    locator: str
    hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class MemoryData(CandidRecord):
    blob_ref: BlobRef
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class MemoryInfo(CandidRecord):
    memory_type: MemoryType
    name: str
    content_type: str
    created_at: int
    updated_at: int
    uploaded_at: int
    date_of_memory: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryMetadataBase(CandidRecord):
    size: int
    mime_type: str
    original_name: str
    uploaded_at: str
    date_of_memory: str | None = None
    people_in_memory: tuple[str, ...] | None = None
    format: str | None = None


@dataclass(frozen=True, slots=True)
class ImageMetadata(CandidRecord):
    base: MemoryMetadataBase
    dimensions: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class VideoMetadata(CandidRecord):
    base: MemoryMetadataBase
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    thumbnail: str | None = None


@dataclass(frozen=True, slots=True)
class AudioMetadata(CandidRecord):
    base: MemoryMetadataBase
    duration: int | None = None
    format: str | None = None
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None


@dataclass(frozen=True, slots=True)
class DocumentMetadata(CandidRecord):
    base: MemoryMetadataBase


@dataclass(frozen=True, slots=True)
class NoteMetadata(CandidRecord):
    base: MemoryMetadataBase
    tags: tuple[str, ...] | None = None


_METADATA_CASES: dict[MemoryType, type[CandidRecord]] = {
    MemoryType.IMAGE: ImageMetadata,
    MemoryType.VIDEO: VideoMetadata,
    MemoryType.AUDIO: AudioMetadata,
    MemoryType.DOCUMENT: DocumentMetadata,
    MemoryType.NOTE: NoteMetadata,
}


@dataclass(frozen=True, slots=True)
class MemoryMetadata:
    """``MemoryMetadata`` variant: ``kind`` picks the case, ``detail`` is that case's record."""

    kind: MemoryType
    detail: ImageMetadata | VideoMetadata | AudioMetadata | DocumentMetadata | NoteMetadata

    def __post_init__(self) -> None:
        if not isinstance(self.detail, _METADATA_CASES[self.kind]):
            raise TypeError(f"MemoryMetadata {self.kind.value} needs a {_METADATA_CASES[self.kind].__name__}")

    @classmethod
    def from_candid(cls, value: Any) -> MemoryMetadata:
        kind = MemoryType(_single_tag(value, "MemoryMetadata"))
        detail = _METADATA_CASES[kind].from_candid(value[kind.value])
        return cls(kind, detail)  # type: ignore[arg-type]

    def to_candid(self) -> dict[str, Any]:
        return {self.kind.value: self.detail.to_candid()}


@dataclass(frozen=True, slots=True)
class Memory(CandidRecord):
    id: str
    info: MemoryInfo
    metadata: MemoryMetadata
    access: MemoryAccess
    data: MemoryData


@dataclass(frozen=True, slots=True)
class MemoryOperationResponse(CandidRecord):
    success: bool
    memory_id: str | None
    message: str


# ------------------------------------------------------------------------------------------ capsules


@dataclass(frozen=True, slots=True)
class CapsuleRegistrationResult(CandidRecord):
    success: bool
    capsule_id: str | None
    is_new: bool
    message: str


@dataclass(frozen=True, slots=True)
class CapsuleInfo(CandidRecord):
    capsule_id: str
    subject: PersonRef
    is_owner: bool
    is_controller: bool
    is_self_capsule: bool
    bound_to_web2: bool
    created_at: int
    updated_at: int
