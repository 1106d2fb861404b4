"""Filling a canister's store directly (no HTTP) for benchmarks that need a large state quickly.

Every write still goes through the canister's own methods, so rows, counters and audit entries are the
ones real calls would leave; only the replica (envelopes, signatures, certificates) is skipped.
"""

from __future__ import annotations

import hashlib
from typing import Any

from emulator.canisters.artifact import ArtifactCanister
from emulator.canisters.artifact.records import SimpleMemoryMetadata
from emulator.runtime.canister import CallContext


def store_photo(canister: ArtifactCanister, ctx: CallContext, memory_id: str, data: bytes, title: str) -> str:
    """Metadata and a one-chunk asset for `memory_id`, as the orchestrator stores a photo; returns the
    asset's SHA-256 (hex)."""
    digest = hashlib.sha256(data).hexdigest()
    metadata: SimpleMemoryMetadata = {
        "title": title,
        "description": None,
        "tags": [],
        "created_at": 1,
        "updated_at": 1,
        "size": len(data),
        "content_type": "image/jpeg",
        "custom_fields": [],
    }
    canister.upsert_metadata(ctx, memory_id, {"Image": None}, metadata, f"{memory_id}:metadata:{digest}")
    begun: Any = canister.begin_asset_upload(ctx, memory_id, digest, 1, len(data))
    session_id = begun["data"]["session"]["session_id"]
    canister.put_chunk(ctx, session_id, 0, data)
    canister.commit_asset(ctx, session_id, digest)
    return digest
