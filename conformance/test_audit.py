"""Requirements 17.2 and 17.4: each write is logged (principal, gallery/memory id, artifact, bytes,
outcome, duration) and the trail can be queried. The contract gives the canister no method for it,
so this needs a target whose stored state the suite can read (the emulator's admin API)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.types import MemoryType

from .calls import SuiteClient
from .kit import begin, gallery_data, metadata, metadata_key, new_id, put_all, refused, sha
from .target import Target

pytestmark = [pytest.mark.task("1.5"), pytest.mark.req("17.2", "17.4"), pytest.mark.needs("inspect")]


@pytest.mark.method(
    "begin_asset_upload", "put_chunk", "commit_asset", "upsert_metadata", "store_gallery_forever"
)
def test_every_write_is_logged(
    target: Target, alice: SuiteClient, bob: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """Each write leaves one audit row with who, what, which ids, how many bytes, the outcome and
    how long it took; refused writes are logged too."""
    mid, gid, data = new_id(), new_id(), blob(1500)
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    staged = begin(alice, mid, data)
    put_all(alice, staged)
    alice.commit_asset(staged.session_id, sha(data))
    alice.store_gallery_forever(gallery_data(alice.principal, gid))
    with refused("Unauthorized"):
        bob.put_chunk(staged.session_id, 0, b"x")
    rows = list(reversed(target.inspect("audit", principal=alice.principal)))
    assert [r["method"] for r in rows] == [
        "upsert_metadata",
        "begin_asset_upload",
        "put_chunk",
        "put_chunk",
        "commit_asset",
        "store_gallery_forever",
    ]
    assert all(r["principal"] == alice.principal and r["outcome"] == "ok" for r in rows)
    assert all(r["duration_ms"] is not None and r["duration_ms"] >= 0 for r in rows)
    assert [r["memory_id"] for r in rows[:5]] == [mid] * 5
    assert rows[5]["gallery_id"] == gid
    assert [r["bytes"] for r in rows[2:4]] == [1000, 500]
    assert rows[4]["bytes"] == len(data)
    (refusal,) = target.inspect("audit", principal=bob.principal)
    assert (refusal["method"], refusal["outcome"], refusal["memory_id"]) == ("put_chunk", "Unauthorized", mid)
