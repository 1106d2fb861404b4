"""Galleries made up for the load test, in the form the client's gallery orchestrator takes.

Why files on disk: ``clients.artifact.orchestrator.store_gallery`` (what ``storeforever store-gallery``
and the gallery app run) reads each memory's asset from a path, so the GalleryStorer writes its gallery
to a scratch directory first (outside the timed part) and then drives the very same code path a
person's upload takes. The directory is ``/dev/shm`` when it exists: the files only live for one
gallery, and writing 200+ MB per gallery to a real disk would load the machine for nothing.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from clients.artifact.manifest import GallerySpec, Manifest, MemorySpec
from clients.artifact.types import MemoryType, SimpleMemoryMetadata

from .sizes import SizeDistribution

__all__ = ["gallery_manifest", "new_uuid", "scratch_directory", "scratch_root"]


def new_uuid() -> str:
    """A canonical UUID v4 from the OS's randomness, never from the seeded ``rng``.

    Ids are global on the canister: two workers (or two runs against one staging canister) drawing
    the same seeded ids would collide and see ``Unauthorized``. Sizes may repeat across workers; ids
    must not.
    """
    return str(uuid.uuid4())


def scratch_root() -> str | None:
    """``/dev/shm`` when usable, else None (the platform's temporary directory)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def gallery_manifest(directory: Path, rng: random.Random, memories: int, sizes: SizeDistribution) -> Manifest:
    """A gallery of ``memories`` photos: metadata plus one asset file each, sizes drawn from ``sizes``."""
    gallery_id = new_uuid()
    now = time.time_ns()
    specs = []
    for position in range(memories):
        memory_id = new_uuid()
        size = sizes.sample(rng)
        path = directory / f"{position:05d}.jpg"
        path.write_bytes(rng.randbytes(size))
        metadata = SimpleMemoryMetadata(
            title=f"Photo {position + 1}",
            description="written by the storeforever load test",
            tags=("loadtest",),
            created_at=now,
            updated_at=now,
            size=size,
            content_type="image/jpeg",
            custom_fields=(("gallery_id", gallery_id),),
        )
        specs.append(
            MemorySpec(
                id=memory_id,
                memory_type=MemoryType.IMAGE,
                file=path,
                metadata=metadata,
                position=position,
                is_featured=position == 0,
                gallery_metadata="{}",
            )
        )
    gallery = GallerySpec(id=gallery_id, title=f"Load test gallery {gallery_id[:8]}")
    return Manifest(path=None, gallery=gallery, memories=tuple(specs))


def scratch_directory() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="storeforever-loadtest-", dir=scratch_root())
