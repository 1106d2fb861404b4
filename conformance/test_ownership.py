"""§1, seed task 1.5: the anonymous principal may query but never write; nobody reads another's
private objects (they answer as absent) or writes them (`Unauthorized`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.types import GalleryUpdateData, MemoryType

from .calls import SuiteClient
from .kit import (
    begin,
    gallery_data,
    memory_data,
    metadata,
    metadata_key,
    new_id,
    put_all,
    refused,
    require_methods,
    sha,
)
from .target import Target

pytestmark = [pytest.mark.task("1.5"), pytest.mark.portable]

ANONYMOUS_WRITES = [
    "upsert_metadata",
    "begin_asset_upload",
    "put_chunk",
    "commit_asset",
    "cancel_upload",
    "store_gallery_forever",
    "update_gallery",
    "delete_gallery",
    "add_memory_to_capsule",
    "register_capsule",
    "register",
]


@pytest.mark.req("17.1", "17.3")
@pytest.mark.parametrize("method", ANONYMOUS_WRITES)
@pytest.mark.method("begin_asset_upload", "store_gallery_forever")
def test_anonymous_cannot_write(target: Target, alice: SuiteClient, anon: SuiteClient, method: str) -> None:
    """Every write by the anonymous principal is refused: `Unauthorized` for `ICPResult` methods,
    `success = false` with a message starting `Unauthorized` for the others (`register`: false),
    even against objects that exist."""
    require_methods(target, method)
    mid = new_id()
    staged = begin(alice, new_id(), b"alice's upload")
    gid = new_id()
    alice.store_gallery_forever(gallery_data(alice.principal, gid))
    if method == "upsert_metadata":
        with refused("Unauthorized"):
            anon.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    elif method == "begin_asset_upload":
        with refused("Unauthorized"):
            anon.begin_asset_upload(mid, "ab" * 32, 1, 10)
    elif method == "put_chunk":
        with refused("Unauthorized"):
            anon.put_chunk(staged.session_id, 0, staged.chunks[0])
    elif method == "commit_asset":
        with refused("Unauthorized"):
            anon.commit_asset(staged.session_id, sha(staged.data))
    elif method == "cancel_upload":
        with refused("Unauthorized"):
            anon.cancel_upload(staged.session_id)
    elif method == "store_gallery_forever":
        with refused(None, "Unauthorized"):
            anon.store_gallery_forever(gallery_data(anon.principal, new_id()))
    elif method == "update_gallery":
        with refused(None, "Unauthorized"):
            anon.update_gallery(gid, GalleryUpdateData(title="anon"))
    elif method == "delete_gallery":
        with refused(None, "Unauthorized"):
            anon.delete_gallery(gid)
    elif method == "add_memory_to_capsule":
        with refused(None, "Unauthorized"):
            anon.add_memory_to_capsule(mid, memory_data(b"anon"))
    elif method == "register_capsule":
        with refused(None, "Unauthorized"):
            anon.register_capsule()
    else:
        assert anon.register() is False
    # Nothing changed for the owner: the upload is still hers to finish.
    put_all(alice, staged)
    assert alice.commit_asset(staged.session_id, sha(staged.data)).final_hash == sha(staged.data)
    assert alice.get_gallery_by_id(gid) is not None


@pytest.mark.req("17.1", "25")
@pytest.mark.method(
    "whoami",
    "get_api_version",
    "get_memory_presence_icp",
    "get_memory_list_presence_icp",
    "get_gallery_by_id",
    "get_my_galleries",
    "get_user_galleries",
    "get_memory_from_capsule",
    "get_user",
    "store_gallery_forever",
    "add_memory_to_capsule",
)
def test_anonymous_may_query(alice: SuiteClient, anon: SuiteClient) -> None:
    """The anonymous principal may call queries; it owns nothing and sees only public galleries."""
    public, private, mid = new_id(), new_id(), new_id()
    alice.store_gallery_forever(gallery_data(alice.principal, public, is_public=True))
    alice.store_gallery_forever(gallery_data(alice.principal, private))
    alice.add_memory_to_capsule(mid, memory_data(b"private"))
    assert anon.get_api_version()
    presence = anon.get_memory_presence_icp(mid)
    assert (presence.metadata_present, presence.asset_present) == (False, False)
    assert len(anon.get_memory_list_presence_icp([mid], None, 0).results) == 1
    assert anon.get_gallery_by_id(public) is not None
    assert anon.get_gallery_by_id(private) is None
    assert anon.get_my_galleries() == []
    assert [g.id for g in anon.get_user_galleries(alice.principal)] == [public]
    assert anon.get_memory_from_capsule(mid) is None
    assert anon.get_user() is None


@pytest.mark.req("17.1", "17.3")
@pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset", "cancel_upload")
def test_another_principals_session_is_not_writable(
    alice: SuiteClient, bob: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """Putting a chunk into, committing or cancelling another principal's session is `Unauthorized`,
    and leaves the session exactly as it was."""
    mid, data = new_id(), blob(2000)
    staged = begin(alice, mid, data)
    put_all(alice, staged, [0])
    with refused("Unauthorized"):
        bob.put_chunk(staged.session_id, 1, blob(1000, "bob's"))
    with refused("Unauthorized"):
        bob.put_chunk(staged.session_id, 1, staged.chunks[1])
    with refused("Unauthorized"):
        bob.commit_asset(staged.session_id, sha(data))
    with refused("Unauthorized"):
        bob.cancel_upload(staged.session_id)
    resumed = begin(alice, mid, data)
    assert resumed.session_id == staged.session_id
    assert resumed.session.chunks_received == (True, False), "another principal's chunk landed"
    assert resumed.session.bytes_received == 1000
    put_all(alice, staged, [1])
    assert alice.commit_asset(staged.session_id, sha(data)).final_hash == sha(data)


@pytest.mark.req("17.1", "25")
@pytest.mark.method(
    "add_memory_to_capsule", "get_memory_from_capsule", "upsert_metadata", "get_memory_presence_icp"
)
def test_another_principals_memory_reads_as_absent(alice: SuiteClient, bob: SuiteClient) -> None:
    """Another principal's memory answers as if it did not exist: no capsule memory, no presence."""
    mid = new_id()
    alice.add_memory_to_capsule(mid, memory_data(b"alice"))
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    assert alice.get_memory_from_capsule(mid) is not None
    assert bob.get_memory_from_capsule(mid) is None
    presence = bob.get_memory_presence_icp(mid)
    assert (presence.metadata_present, presence.asset_present) == (False, False)


@pytest.mark.req("17.1")
@pytest.mark.task("1.6")
@pytest.mark.method("begin_asset_upload", "get_upload_progress")
def test_another_principals_session_progress_is_not_found(alice: SuiteClient, bob: SuiteClient) -> None:
    """Progress of another principal's session is `NotFound`, like an unknown one."""
    staged = begin(alice, new_id(), b"alice")
    with refused("NotFound"):
        bob.get_upload_progress(staged.session_id)
