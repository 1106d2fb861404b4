"""Gallery manifest validation (no server)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from clients.artifact.manifest import ManifestError, is_canonical_uuid_v4, load_manifest
from clients.artifact.types import MemoryType


def uid() -> str:
    return str(uuid.uuid4())


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "gallery.json"
    path.write_text(json.dumps(doc))
    return path


def test_valid_manifest_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x" * 10)
    os.utime(tmp_path / "photos" / "a.jpg", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    gid, m1, m2 = uid(), uid(), uid()
    manifest = load_manifest(
        write(
            tmp_path,
            {
                "version": 1,
                "gallery": {"id": gid, "title": "Summer"},
                "memories": [
                    {
                        "id": m1,
                        "memory_type": "image",
                        "file": "photos/a.jpg",
                        "metadata": {"title": "A", "tags": ["sea"], "custom_fields": {"camera": "x100"}},
                    },
                    {
                        "id": m2,
                        "memory_type": "Note",
                        "metadata": {"created_at": 5},
                        "position": 7,
                        "is_featured": True,
                    },
                ],
            },
        )
    )
    assert manifest.gallery.id == gid and manifest.gallery.is_public is False
    a, b = manifest.memories
    assert a.memory_type is MemoryType.IMAGE
    assert a.file == (tmp_path / "photos" / "a.jpg").resolve()
    assert a.metadata.size == 10
    assert a.metadata.created_at == 1_700_000_000_000_000_000 == a.metadata.updated_at
    assert a.metadata.custom_fields == (("camera", "x100"),)
    assert a.position == 0
    assert b.file is None and b.metadata.size is None
    assert (b.metadata.created_at, b.metadata.updated_at) == (5, 5)
    assert b.entry().position == 7 and b.entry().is_featured


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    mid = uid()
    path = write(
        tmp_path,
        {
            "gallery": {"id": "NOT-A-UUID", "title": 3, "colour": "red"},
            "memories": [
                {"id": mid, "memory_type": "Painting", "file": "missing.jpg"},
                {"id": mid, "memory_type": "Image", "metadata": {"tags": "x", "created_at": -1}},
                {"id": str(uuid.uuid1()), "memory_type": "Image", "metadata": {"custom_fields": {"a": 1}}},
                "not an object",
            ],
        },
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    text = "\n".join(info.value.problems)
    for expected in (
        "gallery.id: must be a canonical lowercase UUID v4",
        "gallery.title: must be a string",
        "gallery.colour: unknown key",
        "memories[0].memory_type: memory_type must be one of",
        "memories[0].file: cannot read",
        "memories[1].id: duplicate memory id",
        "memories[1].metadata.tags: must be a list of strings",
        "memories[1].metadata.created_at: must be an integer",
        "memories[2].id: must be a canonical lowercase UUID v4",
        "memories[2].metadata.custom_fields: entry",
        "memories[3]: must be an object",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("doc", ["[]", "{", '{"gallery": {}, "memories": {}}'])
def test_malformed_documents(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(doc)
    with pytest.raises(ManifestError):
        load_manifest(path)


def test_unreadable_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "nope.json")


def test_uuid_rule() -> None:
    assert is_canonical_uuid_v4("0b6f7c2e-1d3a-4c4f-8e9a-5b6c7d8e9f00")
    assert not is_canonical_uuid_v4("0B6F7C2E-1D3A-4C4F-8E9A-5B6C7D8E9F00")
    assert not is_canonical_uuid_v4("0b6f7c2e-1d3a-1c4f-8e9a-5b6c7d8e9f00")
    assert not is_canonical_uuid_v4("0b6f7c2e1d3a4c4f8e9a5b6c7d8e9f00")
