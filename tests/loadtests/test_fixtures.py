"""Made-up galleries: what the GalleryStorer hands to the client's orchestrator."""

from __future__ import annotations

import random
from pathlib import Path

from clients.artifact.manifest import is_canonical_uuid_v4
from loadtests.fixtures import gallery_manifest, new_uuid, scratch_directory
from loadtests.sizes import SizeDistribution

SIZES = SizeDistribution("lognormal", min=1024, max=64 * 1024, median=8 * 1024, sigma=0.6)


def test_gallery_manifest_writes_one_file_per_memory(tmp_path: Path) -> None:
    manifest = gallery_manifest(tmp_path, random.Random(1), 25, SIZES)
    assert is_canonical_uuid_v4(manifest.gallery.id)
    assert len(manifest.memories) == 25 and len({m.id for m in manifest.memories}) == 25
    for position, memory in enumerate(manifest.memories):
        assert is_canonical_uuid_v4(memory.id)
        assert memory.position == position and memory.is_featured == (position == 0)
        assert memory.file is not None and memory.file.parent == tmp_path
        assert memory.file.stat().st_size == memory.metadata.size
        assert 1024 <= memory.file.stat().st_size <= 64 * 1024
        assert ("gallery_id", manifest.gallery.id) in memory.metadata.custom_fields


def test_ids_never_repeat_even_with_the_same_seed(tmp_path: Path) -> None:
    """Two workers share a seed; the canister's ids are global, so ids must still differ."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = gallery_manifest(tmp_path / "a", random.Random(9), 5, SIZES)
    b = gallery_manifest(tmp_path / "b", random.Random(9), 5, SIZES)
    assert not {m.id for m in a.memories} & {m.id for m in b.memories}
    assert [m.metadata.size for m in a.memories] == [m.metadata.size for m in b.memories]
    assert new_uuid() != new_uuid()


def test_scratch_directory_is_removed_after_use() -> None:
    with scratch_directory() as scratch:
        path = Path(scratch)
        (path / "x").write_bytes(b"1")
    assert not path.exists()
