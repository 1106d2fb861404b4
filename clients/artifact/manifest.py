"""Gallery manifests: the orchestrator's input, one JSON file describing a gallery and its memories.

Why a file and not arguments: the Web2 side exports exactly what it owns (requirement 25: gallery
membership and metadata live in Web2), and a file can be re-run unchanged, which is what makes
``store-gallery`` resumable. Format (``version`` 1; unknown keys are errors, to catch typos)::

    {
      "version": 1,
      "gallery": {
        "id": "7d0e4f4c-8c1a-4a57-9d55-2f0f3f1f6b10",      canonical lowercase UUID v4 (required)
        "title": "Summer 2024",                            required
        "description": "optional text or null",
        "is_public": false                                 default false
      },
      "memories": [
        {
          "id": "0b6f7c2e-1d3a-4c4f-8e9a-5b6c7d8e9f00",     canonical lowercase UUID v4, unique
          "memory_type": "Image",                          Image | Video | Audio | Document | Note
          "file": "photos/beach.jpg",                      relative to the manifest's folder (or
                                                           absolute); null/absent = metadata only
          "metadata": {                                    SimpleMemoryMetadata, all optional
            "title": "Beach", "description": null,
            "tags": ["sea"],
            "created_at": 1719900000000000000,             ns; default: the file's mtime (0 if none)
            "updated_at": 1719900000000000000,             ns; default: created_at
            "size": null,                                  default: the file's size
            "content_type": "image/jpeg",
            "custom_fields": {"camera": "x100"}            text -> text (or [[k, v], …])
          },
          "position": 0,                                   GalleryMemoryEntry fields, all optional:
          "gallery_caption": null,                         position defaults to the list index
          "is_featured": false,
          "gallery_metadata": ""
        }
      ]
    }

``load_manifest`` reports every problem at once (``ManifestError.problems``, each prefixed with its
JSON path such as ``memories[3].id``), so a Web2 export is fixed in one round.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .types import GalleryMemoryEntry, MemoryType, SimpleMemoryMetadata

__all__ = [
    "GallerySpec",
    "Manifest",
    "ManifestError",
    "MemorySpec",
    "is_canonical_uuid_v4",
    "load_manifest",
    "parse_manifest",
]

_UUID_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_GALLERY_KEYS = {"id", "title", "description", "is_public"}
_MEMORY_KEYS = {
    "id",
    "memory_type",
    "file",
    "metadata",
    "position",
    "gallery_caption",
    "is_featured",
    "gallery_metadata",
}
_METADATA_KEYS = {
    "title",
    "description",
    "tags",
    "created_at",
    "updated_at",
    "size",
    "content_type",
    "custom_fields",
}
_NAT64_MAX = 2**64 - 1


def is_canonical_uuid_v4(text: str) -> bool:
    """The contract's id rule (spec §1): lowercase, hyphenated, version 4, RFC 4122 variant."""
    return _UUID_V4.fullmatch(text) is not None


class ManifestError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid gallery manifest:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class GallerySpec:
    id: str
    title: str
    description: str | None = None
    is_public: bool = False


@dataclass(frozen=True, slots=True)
class MemorySpec:
    id: str
    memory_type: MemoryType
    file: Path | None
    metadata: SimpleMemoryMetadata
    position: int
    gallery_caption: str | None = None
    is_featured: bool = False
    gallery_metadata: str = ""

    def entry(self) -> GalleryMemoryEntry:
        return GalleryMemoryEntry(
            self.id, self.position, self.gallery_caption, self.is_featured, self.gallery_metadata
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    path: Path | None
    gallery: GallerySpec
    memories: tuple[MemorySpec, ...]


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, where: str, obj: Mapping[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(obj) - allowed):
            self.fail(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, where: str, value: Any, *, optional: bool) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.fail(where, "must be a string" + (" or null" if optional else ""))
            return None
        return value

    def nat(self, where: str, value: Any, *, maximum: int = _NAT64_MAX) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            self.fail(where, f"must be an integer in [0, {maximum}]")
            return None
        return value

    def uuid(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not is_canonical_uuid_v4(value):
            self.fail(where, f"must be a canonical lowercase UUID v4, got {value!r:.60}")
            return str(value)
        return value


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    manifest_path = Path(path)
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError([f"cannot read {manifest_path}: {exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise ManifestError([f"{manifest_path} is not JSON: {exc}"]) from exc
    return parse_manifest(data, base_dir=manifest_path.resolve().parent, path=manifest_path)


def parse_manifest(data: Any, *, base_dir: Path, path: Path | None = None) -> Manifest:
    """Validate a decoded manifest; file paths resolve against ``base_dir``."""
    c = _Checker()
    if not isinstance(data, Mapping):
        raise ManifestError(["the manifest must be a JSON object"])
    c.keys("$", data, {"version", "gallery", "memories"})
    if data.get("version", 1) != 1:
        c.fail("version", "only version 1 is understood")
    gallery = _gallery(c, data.get("gallery"))
    raw_memories = data.get("memories")
    memories: list[MemorySpec] = []
    if not isinstance(raw_memories, list):
        c.fail("memories", "must be a list")
    else:
        seen: set[str] = set()
        for i, raw in enumerate(raw_memories):
            spec = _memory(c, f"memories[{i}]", raw, i, base_dir)
            if spec is None:
                continue
            if spec.id in seen:
                c.fail(f"memories[{i}].id", f"duplicate memory id {spec.id}")
            seen.add(spec.id)
            memories.append(spec)
    if c.problems:
        raise ManifestError(c.problems)
    assert gallery is not None
    return Manifest(path, gallery, tuple(memories))


def _gallery(c: _Checker, raw: Any) -> GallerySpec | None:
    if not isinstance(raw, Mapping):
        c.fail("gallery", "must be an object")
        return None
    c.keys("gallery", raw, _GALLERY_KEYS)
    gid = c.uuid("gallery.id", raw.get("id"))
    title = c.text("gallery.title", raw.get("title"), optional=False)
    description = c.text("gallery.description", raw.get("description"), optional=True)
    is_public = raw.get("is_public", False)
    if not isinstance(is_public, bool):
        c.fail("gallery.is_public", "must be true or false")
        is_public = False
    return GallerySpec(gid, title or "", description, is_public)


def _memory(c: _Checker, where: str, raw: Any, index: int, base_dir: Path) -> MemorySpec | None:
    if not isinstance(raw, Mapping):
        c.fail(where, "must be an object")
        return None
    c.keys(where, raw, _MEMORY_KEYS)
    mid = c.uuid(f"{where}.id", raw.get("id"))
    try:
        memory_type = MemoryType.parse(str(raw.get("memory_type", "")))
    except ValueError as exc:
        c.fail(f"{where}.memory_type", str(exc))
        memory_type = MemoryType.IMAGE
    file: Path | None = None
    stat: os.stat_result | None = None
    if raw.get("file") is not None:
        name = c.text(f"{where}.file", raw.get("file"), optional=False)
        if name is not None:
            file = (base_dir / name).resolve()
            try:
                stat = file.stat()
                if not file.is_file():
                    c.fail(f"{where}.file", f"{file} is not a regular file")
            except OSError as exc:
                c.fail(f"{where}.file", f"cannot read {file}: {exc.strerror}")
    metadata = _metadata(c, f"{where}.metadata", raw.get("metadata", {}), stat)
    position = c.nat(f"{where}.position", raw.get("position", index), maximum=2**32 - 1)
    caption = c.text(f"{where}.gallery_caption", raw.get("gallery_caption"), optional=True)
    featured = raw.get("is_featured", False)
    if not isinstance(featured, bool):
        c.fail(f"{where}.is_featured", "must be true or false")
        featured = False
    gallery_metadata = c.text(f"{where}.gallery_metadata", raw.get("gallery_metadata", ""), optional=False)
    return MemorySpec(
        mid, memory_type, file, metadata, position or 0, caption, featured, gallery_metadata or ""
    )


def _metadata(c: _Checker, where: str, raw: Any, stat: os.stat_result | None) -> SimpleMemoryMetadata:
    if not isinstance(raw, Mapping):
        c.fail(where, "must be an object")
        return SimpleMemoryMetadata()
    c.keys(where, raw, _METADATA_KEYS)
    tags_raw = raw.get("tags", [])
    tags: tuple[str, ...] = ()
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        c.fail(f"{where}.tags", "must be a list of strings")
    else:
        tags = tuple(tags_raw)
    default_time = stat.st_mtime_ns if stat is not None else 0
    created = c.nat(f"{where}.created_at", raw.get("created_at", default_time))
    updated = c.nat(f"{where}.updated_at", raw.get("updated_at", created if created is not None else 0))
    size: int | None = None
    if raw.get("size") is not None:
        size = c.nat(f"{where}.size", raw.get("size"))
    elif stat is not None:
        size = stat.st_size
    return SimpleMemoryMetadata(
        title=c.text(f"{where}.title", raw.get("title"), optional=True),
        description=c.text(f"{where}.description", raw.get("description"), optional=True),
        tags=tags,
        created_at=created or 0,
        updated_at=updated or 0,
        size=size,
        content_type=c.text(f"{where}.content_type", raw.get("content_type"), optional=True),
        custom_fields=_custom_fields(c, f"{where}.custom_fields", raw.get("custom_fields", {})),
    )


def _custom_fields(c: _Checker, where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    pairs: list[Any]
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = raw
    else:
        c.fail(where, "must be an object of strings or a list of [key, value] pairs")
        return ()
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            c.fail(where, f"entry {pair!r:.60} is not a pair of strings")
            continue
        out.append((pair[0], pair[1]))
    return tuple(out)
