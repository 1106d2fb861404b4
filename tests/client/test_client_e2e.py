"""Every typed method against the real artifact canister on a running emulator."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from clients.artifact import (
    AlreadyExistsError,
    ArtifactClient,
    InvalidHashError,
    MemoryType,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    SimpleMemoryMetadata,
    UnauthorizedError,
    ValidationError,
    load_artifact_did,
)
from clients.artifact.types import (
    BlobRef,
    Gallery,
    GalleryData,
    GalleryMemoryEntry,
    GalleryStorageStatus,
    GalleryUpdateData,
    MemoryBlobKind,
    MemoryData,
    UploadStatus,
)
from clients.ic import anonymous_identity
from tests.client.conftest import make_client, new_id, sha256
from tests.emulator_process import EmulatorProcess

Factory = Callable[..., ArtifactClient]


def test_identity_and_capsule(client: ArtifactClient) -> None:
    assert client.whoami() == client.principal
    assert client.get_api_version()
    assert client.candid_interface().strip() == load_artifact_did().strip()
    assert client.get_user() is None
    assert client.register() is True
    first = client.register_capsule()
    assert first.success and first.capsule_id and not first.is_new
    info = client.get_user()
    assert info is not None and info.capsule_id == first.capsule_id
    assert info.subject.kind == "Principal" and info.subject.value == client.principal


def test_gallery_lifecycle(client: ArtifactClient, client_factory: Factory) -> None:
    gid, mid = new_id(), new_id()
    gallery = Gallery(
        gid,
        client.principal,
        "Summer",
        "at sea",
        False,
        memory_entries=(GalleryMemoryEntry(mid, 0, "cap", True, "{}"),),
    )
    stored = client.store_gallery_forever(GalleryData(gallery, client.principal))
    assert stored.success and stored.gallery_id == gid == stored.icp_gallery_id
    assert stored.storage_status is GalleryStorageStatus.ICP_ONLY
    again = client.store_gallery_forever(GalleryData(gallery, client.principal))
    assert again.success and "already" in again.message.lower()

    read = client.get_gallery_by_id(gid)
    assert read is not None and read.title == "Summer" and read.memory_entries == gallery.memory_entries
    assert [g.id for g in client.get_my_galleries()] == [gid]
    other = client_factory()
    assert other.get_gallery_by_id(gid) is None  # private: reads as absent
    assert other.get_user_galleries(client.principal) == []
    assert [g.id for g in client.get_user_galleries(client.principal)] == [gid]

    updated = client.update_gallery(gid, GalleryUpdateData(title="Winter", is_public=True))
    assert updated.gallery is not None and updated.gallery.title == "Winter" and updated.gallery.is_public
    assert updated.gallery.description == "at sea"  # absent fields are kept
    public = other.get_gallery_by_id(gid)
    assert public is not None and public.title == "Winter"
    with pytest.raises(UnauthorizedError):
        other.update_gallery(gid, GalleryUpdateData(title="mine"))

    assert client.delete_gallery(gid).success
    with pytest.raises(NotFoundError):
        client.delete_gallery(gid)
    with pytest.raises(NotFoundError):
        client.update_gallery(gid, GalleryUpdateData(title="x"))


def test_gallery_refusals(client: ArtifactClient, client_factory: Factory) -> None:
    anon = client_factory(anonymous_identity())
    gallery = Gallery(new_id(), anon.principal, "x")
    with pytest.raises(UnauthorizedError):
        anon.store_gallery_forever(GalleryData(gallery, anon.principal))
    bad = Gallery("NOT-A-UUID", client.principal, "x")
    with pytest.raises(ValidationError, match="Invalid UUID"):
        client.store_gallery_forever(GalleryData(bad, client.principal))
    foreign_owner = Gallery(new_id(), anon.principal, "x")
    with pytest.raises(UnauthorizedError):
        client.store_gallery_forever(GalleryData(foreign_owner, client.principal))


def test_memories(client: ArtifactClient, client_factory: Factory) -> None:
    mid, data = new_id(), b"inline bytes"
    memory = MemoryData(
        BlobRef(MemoryBlobKind.ICP_CAPSULE, f"icp://{mid}", hashlib.sha256(data).digest()), data
    )
    assert client.add_memory_to_capsule(mid, memory).memory_id == mid
    assert "already" in client.add_memory_to_capsule(mid, memory).message.lower()
    got = client.get_memory_from_capsule(mid)
    assert got is not None and got.id == mid and got.data == memory
    assert got.info.memory_type is MemoryType.IMAGE and got.access.kind == "Private"
    assert got.metadata.detail.base.size == len(data)
    assert client_factory().get_memory_from_capsule(mid) is None
    assert client.get_memory_from_capsule(new_id()) is None


def test_metadata_and_presence(client: ArtifactClient, client_factory: Factory) -> None:
    mid = new_id()
    assert client.get_memory_presence_icp(mid).fully_present is False
    meta = SimpleMemoryMetadata("t", "d", ("a", "b"), 1, 2, 3, "image/png", (("k", "v"),))
    first = client.upsert_metadata(mid, MemoryType.IMAGE, meta)
    assert first.success and first.memory_id == mid
    again = client.upsert_metadata(mid, MemoryType.IMAGE, meta)
    assert "already" in again.message.lower()
    presence = client.get_memory_presence_icp(mid)
    assert presence.metadata_present and not presence.asset_present
    with pytest.raises(ValidationError, match="Invalid idempotency key"):
        client.upsert_metadata(mid, MemoryType.IMAGE, meta, f"{new_id()}:metadata:abc")
    with pytest.raises(ValidationError, match="Invalid UUID"):
        client.upsert_metadata("x", MemoryType.IMAGE, meta)
    with pytest.raises(UnauthorizedError):
        client_factory(anonymous_identity()).upsert_metadata(mid, MemoryType.IMAGE, meta)
    with pytest.raises(UnauthorizedError):
        client_factory().upsert_metadata(mid, MemoryType.IMAGE, meta)  # someone else's memory


def test_list_presence_pages(client: ArtifactClient) -> None:
    ids = [new_id() for _ in range(25)]
    for mid in ids[::5]:
        client.upsert_metadata(mid, MemoryType.NOTE, SimpleMemoryMetadata(title=mid))
    page = client.get_memory_list_presence_icp(ids, None, 10)
    assert len(page.results) == 10 and page.has_more and page.cursor
    assert [p.memory_id for p in page.results] == ids[:10]
    everything = list(client.iter_memory_presence(ids, page_size=10))
    assert [p.memory_id for p in everything] == ids
    assert [p.metadata_present for p in everything] == [i % 5 == 0 for i in range(25)]
    with pytest.raises(ValidationError, match="Invalid cursor"):
        client.get_memory_list_presence_icp(ids, "garbage", 10)


def test_upload_methods_step_by_step(client: ArtifactClient) -> None:
    mid, data = new_id(), b"a" * 1000 + b"b" * 500
    digest = sha256(data)
    begun = client.begin_asset_upload(mid, digest.upper(), 2, len(data))
    session = begun.session
    assert session is not None and session.expected_hash == digest
    assert session.chunks_received == (False, False) and session.missing_chunks == (0, 1)
    sid = session.session_id
    ack = client.put_chunk(sid, 0, data[:1000])
    assert (ack.chunk_index, ack.bytes_received) == (0, 1000)
    assert client.put_chunk(sid, 0, data[:1000]).bytes_received == 1000  # idempotent repeat
    with pytest.raises(AlreadyExistsError):
        client.put_chunk(sid, 0, b"x" * 1000)
    resumed = client.begin_asset_upload(mid, digest, 2, len(data)).session
    assert resumed is not None and resumed.session_id == sid and resumed.chunks_received == (True, False)
    progress = client.get_upload_progress(sid)
    assert progress.status is UploadStatus.ACTIVE and progress.chunks_received == 1
    assert progress.progress_percentage == pytest.approx(50.0)
    assert [s.session_id for s in client.get_user_upload_sessions()] == [sid]
    with pytest.raises(ValidationError, match="Missing chunks"):
        client.commit_asset(sid, digest)
    client.put_chunk(sid, 1, data[1000:])
    commit = client.commit_asset(sid, digest)
    assert (commit.final_hash, commit.total_bytes, commit.memory_id) == (digest, len(data), mid)
    assert client.commit_asset(sid, digest) == commit  # a lost reply retried: same success
    assert client.get_upload_progress(sid).status is UploadStatus.COMPLETED
    assert client.get_user_upload_sessions() == []
    assert client.get_memory_presence_icp(mid).asset_present
    with pytest.raises(AlreadyExistsError):
        client.begin_asset_upload(mid, digest, 2, len(data))


def test_upload_refusals(client: ArtifactClient, client_factory: Factory) -> None:
    data = b"z" * 10
    with pytest.raises(InvalidHashError):
        client.begin_asset_upload(new_id(), "not-a-hash", 1, 10)
    with pytest.raises(ValidationError, match="Invalid chunk count"):
        client.begin_asset_upload(new_id(), sha256(data), 0, 10)
    with pytest.raises(ValidationError, match="File size exceeds"):
        client.begin_asset_upload(new_id(), sha256(data), 1000, 200 * 1024 * 1024)
    session = client.begin_asset_upload(new_id(), sha256(data), 1, 10).session
    assert session is not None
    with pytest.raises(ValidationError, match="Invalid chunk index"):
        client.put_chunk(session.session_id, 1, data)
    with pytest.raises(UnauthorizedError):
        client_factory().put_chunk(session.session_id, 0, data)
    client.put_chunk(session.session_id, 0, data)
    with pytest.raises(InvalidHashError):
        client.commit_asset(session.session_id, "0" * 64)
    assert client.get_upload_progress(session.session_id).status is UploadStatus.FAILED
    with pytest.raises(NotFoundError):
        client.get_upload_progress("no-such-session")
    client.cancel_upload("no-such-session")  # always success


def test_session_limit_is_a_retryable_rate_limit(client_factory: Factory) -> None:
    client = client_factory(policy=RetryPolicy(retries=0))
    sessions = []
    for _ in range(3):
        s = client.begin_asset_upload(new_id(), sha256(b"x"), 1, 1).session
        assert s is not None
        sessions.append(s.session_id)
    with pytest.raises(RateLimitedError, match="Rate limit exceeded") as info:
        client.begin_asset_upload(new_id(), sha256(b"x"), 1, 1)
    assert info.value.retryable and info.value.retries_exhausted
    client.cancel_upload(sessions[0])
    assert client.get_upload_progress(sessions[0]).status is UploadStatus.CANCELLED
    assert client.begin_asset_upload(new_id(), sha256(b"x"), 1, 1).session is not None


def test_anonymous_may_query_but_not_write(artifact_emulator: EmulatorProcess) -> None:
    anon = make_client(artifact_emulator.url, anonymous_identity())
    assert anon.whoami() == "2vxsx-fae"
    assert anon.get_memory_presence_icp(new_id()).metadata_present is False
    with pytest.raises(UnauthorizedError):
        anon.begin_asset_upload(new_id(), sha256(b"x"), 1, 1)
    with pytest.raises(UnauthorizedError):
        anon.cancel_upload("x")
