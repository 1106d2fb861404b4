"""§1 and §4, seed task 1.0: Web2 UUIDs are used on ICP unchanged, only in their canonical form, and
storing the same id again is a no-op success."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from clients.artifact.types import (
    BlobRef,
    GalleryStorageStatus,
    GalleryUpdateData,
    MemoryAccess,
    MemoryBlobKind,
    MemoryData,
    MemoryType,
)

from .calls import SuiteClient
from .kit import begin, gallery_data, memory_data, metadata, metadata_key, new_id, refused, require_methods
from .snapshot import Recorder
from .target import Target

pytestmark = [pytest.mark.task("1.0"), pytest.mark.portable]

NS_2017 = 1_483_228_800 * 10**9
"""Any canister-clock reading in nanoseconds since the epoch is above this (1 January 2017)."""

BAD_IDS: dict[str, Callable[[], str]] = {
    "uppercase": lambda: new_id().upper(),
    "no-hyphens": lambda: new_id().replace("-", ""),
    "version-1": lambda: str(uuid.uuid1()),
    "wrong-variant": lambda: (lambda u: u[:19] + "c" + u[20:])(new_id()),
    "braces": lambda: "{" + new_id() + "}",
    "whitespace": lambda: " " + new_id(),
    "urn": lambda: "urn:uuid:" + new_id(),
    "generated-style": lambda: "gallery_1703123456789",
    "empty": lambda: "",
}


@pytest.mark.req("26", "24.1")
@pytest.mark.method("store_gallery_forever", "get_gallery_by_id")
def test_gallery_is_stored_under_the_given_id(alice: SuiteClient) -> None:
    """A gallery is stored under the id Web2 gave, with `ICPOnly` status and canister-clock times
    in nanoseconds (the times Web2 sent are not used)."""
    gid = new_id()
    sent = gallery_data(alice.principal, gid, title="Summer", is_public=False)
    reply = alice.store_gallery_forever(sent)
    assert (reply.success, reply.gallery_id, reply.icp_gallery_id) == (True, gid, gid)
    assert reply.storage_status is GalleryStorageStatus.ICP_ONLY
    stored = alice.get_gallery_by_id(gid)
    assert stored is not None
    assert stored.id == gid
    assert stored.owner_principal == alice.principal
    assert (stored.title, stored.description, stored.is_public) == ("Summer", "a gallery", False)
    assert stored.memory_entries == sent.gallery.memory_entries
    assert stored.storage_status is GalleryStorageStatus.ICP_ONLY
    assert stored.created_at == stored.updated_at
    assert stored.created_at > NS_2017, "created_at must be canister time in nanoseconds, not what was sent"


@pytest.mark.req("26", "18.5")
@pytest.mark.task("1.7")
@pytest.mark.method("store_gallery_forever", "get_gallery_by_id")
def test_storing_the_same_gallery_again_is_idempotent(alice: SuiteClient) -> None:
    """Storing an id the caller already owns succeeds with the same ids, says it already exists,
    and rewrites nothing."""
    gid = new_id()
    alice.store_gallery_forever(gallery_data(alice.principal, gid, title="first"))
    before = alice.get_gallery_by_id(gid)
    again = alice.store_gallery_forever(gallery_data(alice.principal, gid, title="second", is_public=True))
    assert (again.success, again.gallery_id, again.icp_gallery_id) == (True, gid, gid)
    assert "already exists" in again.message.lower(), again.message
    assert again.storage_status is GalleryStorageStatus.ICP_ONLY
    assert alice.get_gallery_by_id(gid) == before


@pytest.mark.req("26", "24.5")
@pytest.mark.method("add_memory_to_capsule", "get_memory_from_capsule")
def test_memory_is_stored_under_the_given_id_with_contract_defaults(
    alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """`add_memory_to_capsule` stores the memory under the given id: type Image, name
    "Memory <id>", octet-stream, Image metadata sized by the inline data, Private, data as sent."""
    mid = new_id()
    data = blob(300)
    sent = memory_data(data, locator="icp://capsule/photo.jpg")
    reply = alice.add_memory_to_capsule(mid, sent)
    assert (reply.success, reply.memory_id) == (True, mid)
    memory = alice.get_memory_from_capsule(mid)
    assert memory is not None
    assert memory.id == mid
    assert memory.info.memory_type is MemoryType.IMAGE
    assert memory.info.name == f"Memory {mid}"
    assert memory.info.content_type == "application/octet-stream"
    assert memory.info.created_at > NS_2017
    assert memory.metadata.kind is MemoryType.IMAGE
    assert memory.metadata.detail.base.size == len(data)
    assert memory.access == MemoryAccess("Private")
    assert memory.data == sent
    assert memory.data.blob_ref.kind is MemoryBlobKind.ICP_CAPSULE


@pytest.mark.req("26", "24.5")
@pytest.mark.method("add_memory_to_capsule", "get_memory_from_capsule")
def test_memory_without_inline_data_has_size_zero(alice: SuiteClient) -> None:
    """A memory added without inline data has metadata size 0 and no data."""
    mid = new_id()
    alice.add_memory_to_capsule(mid, memory_data(None))
    memory = alice.get_memory_from_capsule(mid)
    assert memory is not None
    assert memory.metadata.detail.base.size == 0
    assert memory.data.data is None


@pytest.mark.req("26", "18.5")
@pytest.mark.task("1.7")
@pytest.mark.method("add_memory_to_capsule", "get_memory_from_capsule")
def test_adding_the_same_memory_again_is_idempotent(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A second add of an id the caller owns succeeds, says it already exists, rewrites nothing."""
    mid = new_id()
    alice.add_memory_to_capsule(mid, memory_data(blob(100, "first")))
    before = alice.get_memory_from_capsule(mid)
    again = alice.add_memory_to_capsule(mid, memory_data(blob(200, "second")))
    assert (again.success, again.memory_id) == (True, mid)
    assert "already exists" in again.message.lower(), again.message
    assert alice.get_memory_from_capsule(mid) == before


def _refuse_bad_id(caller: SuiteClient, method: str, bad: str) -> None:
    __tracebackhide__ = True
    h = "ab" * 32
    if method == "store_gallery_forever":
        with refused(None, "Invalid UUID"):
            caller.store_gallery_forever(gallery_data(caller.principal, bad))
    elif method == "add_memory_to_capsule":
        with refused(None, "Invalid UUID"):
            caller.add_memory_to_capsule(bad, memory_data(b"x"))
    elif method == "update_gallery":
        with refused(None, "Invalid UUID"):
            caller.update_gallery(bad, GalleryUpdateData(title="x"))
    elif method == "delete_gallery":
        with refused(None, "Invalid UUID"):
            caller.delete_gallery(bad)
    elif method == "upsert_metadata":
        with refused("Internal", "Invalid UUID"):
            caller.upsert_metadata(bad, MemoryType.IMAGE, metadata(), metadata_key(bad))
    elif method == "begin_asset_upload":
        with refused("Internal", "Invalid UUID"):
            caller.begin_asset_upload(bad, h, 1, 10)
    else:  # pragma: no cover - parametrisation below names only the cases above
        raise AssertionError(method)


@pytest.mark.req("18.2", "24.2", "26")
@pytest.mark.parametrize("kind", sorted(BAD_IDS))
@pytest.mark.parametrize(
    "method",
    [
        "store_gallery_forever",
        "add_memory_to_capsule",
        "update_gallery",
        "delete_gallery",
        "upsert_metadata",
        "begin_asset_upload",
    ],
)
def test_non_canonical_ids_are_refused(
    target: Target, alice: SuiteClient, recorder: Recorder, method: str, kind: str
) -> None:
    """Anything but a canonical lowercase hyphenated UUID v4 is refused with `Invalid UUID`
    (`Internal("Invalid UUID: …")` for ICPResult methods, a message prefix otherwise)."""
    require_methods(target, method)
    bad = BAD_IDS[kind]()
    recorder.alias(bad, f"<{kind} id>")
    _refuse_bad_id(alice, method, bad)


@pytest.mark.req("26", "17.1")
@pytest.mark.task("1.5")
@pytest.mark.method("store_gallery_forever", "get_gallery_by_id")
def test_gallery_id_of_another_principal_cannot_be_claimed(alice: SuiteClient, bob: SuiteClient) -> None:
    """Ids are global: a second principal storing an existing gallery id is `Unauthorized`, and
    the first owner's gallery is untouched."""
    gid = new_id()
    alice.store_gallery_forever(gallery_data(alice.principal, gid, title="alice's"))
    before = alice.get_gallery_by_id(gid)
    with refused(None, "Unauthorized"):
        bob.store_gallery_forever(gallery_data(bob.principal, gid, title="bob's", is_public=True))
    assert alice.get_gallery_by_id(gid) == before


@pytest.mark.req("26", "17.1")
@pytest.mark.task("1.5")
@pytest.mark.parametrize("claimed_by", ["capsule memory", "metadata", "upload session"])
@pytest.mark.method("add_memory_to_capsule", "upsert_metadata", "begin_asset_upload")
def test_memory_id_of_another_principal_cannot_be_claimed(
    alice: SuiteClient, bob: SuiteClient, claimed_by: str
) -> None:
    """A memory id claimed by any write of one principal (capsule memory, metadata or upload) is
    `Unauthorized` for every write of another."""
    mid = new_id()
    if claimed_by == "capsule memory":
        alice.add_memory_to_capsule(mid, memory_data(b"alice"))
    elif claimed_by == "metadata":
        alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    else:
        begin(alice, mid, b"alice's bytes")
    with refused(None, "Unauthorized"):
        bob.add_memory_to_capsule(mid, memory_data(b"bob"))
    with refused("Unauthorized"):
        bob.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    with refused("Unauthorized"):
        bob.begin_asset_upload(mid, "cd" * 32, 1, 10)


@pytest.mark.req("17.1", "26")
@pytest.mark.task("1.5")
@pytest.mark.parametrize("which", ["GalleryData.owner_principal", "gallery.owner_principal"])
@pytest.mark.method("store_gallery_forever", "get_gallery_by_id")
def test_gallery_owner_must_be_the_caller(alice: SuiteClient, bob: SuiteClient, which: str) -> None:
    """A gallery whose declared owner is not the caller is refused `Unauthorized` and not stored."""
    gid = new_id()
    if which == "GalleryData.owner_principal":
        data = gallery_data(alice.principal, gid, data_owner=bob.principal)
    else:
        data = gallery_data(bob.principal, gid, data_owner=alice.principal)
    with refused(None, "Unauthorized"):
        alice.store_gallery_forever(data)
    assert alice.get_gallery_by_id(gid) is None


@pytest.mark.req("18.1", "26")
@pytest.mark.method("add_memory_to_capsule", "get_memory_from_capsule")
@pytest.mark.parametrize("size", [16, 31, 33])
def test_blob_hash_must_be_a_sha256(alice: SuiteClient, size: int) -> None:
    """`BlobRef.hash` is null or 32 bytes (a SHA-256); any other length is refused and nothing is
    stored."""
    mid = new_id()
    sent = MemoryData(BlobRef(MemoryBlobKind.ICP_CAPSULE, "icp://x", b"\x01" * size), b"data")
    with refused(None):
        alice.add_memory_to_capsule(mid, sent)
    assert alice.get_memory_from_capsule(mid) is None
