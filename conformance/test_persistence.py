"""§6, seed task 1.2 (requirement 23): everything is stable state. The module seeds every kind of
state (with an upload in flight), upgrades the canister twice (two upgrade cycles), and each test
then checks one kind of state is exactly as before.

On a replica the upgrade is the `--upgrade-command` (for dfx: `dfx deploy NAME --mode upgrade`),
run between the seed and the checks; without one these tests are skipped."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from clients.artifact.errors import ArtifactError
from clients.artifact.types import GalleryUpdateData, MemoryType
from clients.ic import generate_ed25519

from .calls import SuiteClient
from .kit import (
    Staged,
    begin,
    gallery_data,
    memory_data,
    metadata,
    metadata_key,
    new_id,
    put_all,
    refused,
    sha,
)
from .snapshot import Recorder
from .target import Target

pytestmark = [pytest.mark.task("1.2"), pytest.mark.req("23"), pytest.mark.needs("upgrade")]

UPGRADES = 2


def _bytes(label: str, size: int) -> bytes:
    seed = hashlib.sha256(label.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class World:
    """What was seeded and what was read back before the upgrades."""

    owner: SuiteClient
    busy: SuiteClient
    public_gallery: str = ""
    private_gallery: str = ""
    galleries_before: list[Any] = field(default_factory=list)
    memory_id: str = ""
    memory_before: Any = None
    meta_id: str = ""
    asset_id: str = ""
    asset_data: bytes = b""
    asset_commit: Any = None
    asset_session: str = ""
    in_flight: Staged | None = None
    cancelled: str = ""
    failed: str = ""
    progress_before: dict[str, Any] = field(default_factory=dict)
    capsule_before: Any = None
    presence_before: dict[str, tuple[bool, bool]] = field(default_factory=dict)


def _presence(caller: SuiteClient, memory_id: str) -> tuple[bool, bool]:
    p = caller.get_memory_presence_icp(memory_id)
    return p.metadata_present, p.asset_present


def _seed(target: Target) -> World:
    owner = target.client("owner", generate_ed25519())
    busy = target.client("busy", generate_ed25519())
    w = World(owner=owner, busy=busy)
    w.public_gallery, w.private_gallery = new_id(), new_id()
    owner.store_gallery_forever(
        gallery_data(owner.principal, w.public_gallery, is_public=True, title="public")
    )
    owner.store_gallery_forever(gallery_data(owner.principal, w.private_gallery, title="private"))
    w.galleries_before = owner.get_my_galleries()
    w.memory_id = new_id()
    owner.add_memory_to_capsule(w.memory_id, memory_data(_bytes("memory", 700)))
    w.memory_before = owner.get_memory_from_capsule(w.memory_id)
    w.meta_id = new_id()
    owner.upsert_metadata(w.meta_id, MemoryType.VIDEO, metadata("kept"), metadata_key(w.meta_id, "kept"))
    w.asset_id, w.asset_data = w.meta_id, _bytes("asset", 2600)
    staged = begin(owner, w.asset_id, w.asset_data)
    put_all(owner, staged)
    w.asset_commit = owner.commit_asset(staged.session_id, sha(w.asset_data))
    w.asset_session = staged.session_id
    in_flight_data = _bytes("in flight", 3300)
    w.in_flight = begin(owner, new_id(), in_flight_data)
    put_all(owner, w.in_flight, [0, 2])
    cancelled = begin(owner, new_id(), _bytes("cancelled", 100))
    owner.cancel_upload(cancelled.session_id)
    w.cancelled = cancelled.session_id
    failing = begin(owner, new_id(), _bytes("failing", 100), declared_hash=sha(b"other bytes"))
    put_all(owner, failing)
    with contextlib.suppress(ArtifactError):  # refused: the bytes are not the declared ones
        owner.commit_asset(failing.session_id, sha(b"other bytes"))
    w.failed = failing.session_id
    if "get_upload_progress" in target.methods:
        for sid in (w.asset_session, w.cancelled, w.failed):
            w.progress_before[sid] = owner.get_upload_progress(sid)
    for i in range(target.limits["max_active_sessions"]):
        begin(busy, new_id(), _bytes(f"busy {i}", 50))
    w.capsule_before = owner.get_user()
    for mid in (w.memory_id, w.meta_id, w.in_flight.session.memory_id):
        w.presence_before[mid] = _presence(owner, mid)
    return w


@pytest.fixture(scope="module")
def world(target: Target) -> Iterator[World]:
    """Seed, then upgrade twice: the phases between which the upgrade command runs."""
    seeded = _seed(target)
    for _ in range(UPGRADES):
        target.upgrade()
    yield seeded


@pytest.fixture(autouse=True)
def _observed(world: World, recorder: Recorder) -> None:
    """The seeded principals' calls in each test go into that test's parity record."""
    world.owner.observe(recorder)
    world.busy.observe(recorder)


@pytest.mark.task("1.0")
@pytest.mark.req("17.1")
@pytest.mark.method("store_gallery_forever", "get_my_galleries", "get_gallery_by_id", "update_gallery")
def test_galleries_survive(world: World, bob: SuiteClient) -> None:
    """Galleries are exactly as before, times and visibility included."""
    owner = world.owner
    assert owner.get_my_galleries() == world.galleries_before
    public = owner.get_gallery_by_id(world.public_gallery)
    assert public is not None and bob.get_gallery_by_id(world.public_gallery) == public
    assert bob.get_gallery_by_id(world.private_gallery) is None
    with refused(None, "Unauthorized"):  # ownership survived too
        bob.update_gallery(world.public_gallery, GalleryUpdateData(title="bob's now"))


@pytest.mark.task("1.0")
@pytest.mark.method("add_memory_to_capsule", "get_memory_from_capsule")
def test_capsule_memories_survive(world: World) -> None:
    """Capsule memories (data included) and the capsule itself are exactly as before."""
    assert world.owner.get_memory_from_capsule(world.memory_id) == world.memory_before
    assert world.owner.get_user() == world.capsule_before


@pytest.mark.task("1.3")
@pytest.mark.req("22.5")
@pytest.mark.method("upsert_metadata", "get_memory_presence_icp")
def test_metadata_presence_and_idempotency_keys_survive(world: World) -> None:
    """Presence is as before, and an idempotency key applied before the upgrade is still known."""
    for mid, before in world.presence_before.items():
        assert _presence(world.owner, mid) == before, mid
    again = world.owner.upsert_metadata(
        world.meta_id, MemoryType.VIDEO, metadata("x"), metadata_key(world.meta_id, "kept")
    )
    assert "already applied" in again.message.lower(), again.message


@pytest.mark.task("1.4")
@pytest.mark.req("18.5")
@pytest.mark.method("begin_asset_upload", "commit_asset")
def test_committed_asset_survives(world: World) -> None:
    """The committed asset is still present and still the same bytes (same hash: `AlreadyExists`),
    and retrying its commit still returns the same success."""
    assert _presence(world.owner, world.asset_id)[1]
    with refused("AlreadyExists"):
        world.owner.begin_asset_upload(world.asset_id, sha(world.asset_data), 3, len(world.asset_data))
    again = world.owner.commit_asset(world.asset_session, sha(world.asset_data))
    assert (again.final_hash, again.total_bytes) == (
        world.asset_commit.final_hash,
        world.asset_commit.total_bytes,
    )


@pytest.mark.task("1.4")
@pytest.mark.req("6")
@pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset")
def test_upload_in_flight_resumes(world: World) -> None:
    """An upload in flight across upgrades resumes where it was: same session, same chunks
    received, and once finished its hash is that of the bytes sent before and after."""
    staged = world.in_flight
    assert staged is not None
    resumed = begin(world.owner, staged.session.memory_id, staged.data)
    assert resumed.session_id == staged.session_id
    assert resumed.session.chunks_received == (True, False, True, False)
    assert resumed.session.bytes_received == 2000
    assert resumed.session.created_at == staged.session.created_at
    put_all(world.owner, staged, [1, 3])
    reply = world.owner.commit_asset(staged.session_id, sha(staged.data))
    assert (reply.final_hash, reply.total_bytes) == (sha(staged.data), len(staged.data))


@pytest.mark.task("1.4")
@pytest.mark.method("put_chunk", "commit_asset")
def test_finished_sessions_stay_finished(world: World) -> None:
    """Cancelled and failed sessions are still finished: they take no chunk and no commit."""
    for sid in (world.cancelled, world.failed):
        with pytest.raises(ArtifactError):
            world.owner.put_chunk(sid, 0, b"x")
        with pytest.raises(ArtifactError):
            world.owner.commit_asset(sid, sha(b"x"))


@pytest.mark.task("1.6")
@pytest.mark.method("get_upload_progress")
def test_session_progress_survives(world: World) -> None:
    """Progress of completed, cancelled and failed sessions reads as before (status, counts, times)."""
    assert world.progress_before
    for sid, before in world.progress_before.items():
        after = world.owner.get_upload_progress(sid)
        assert (
            after.status,
            after.chunks_received,
            after.bytes_received,
            after.created_at,
            after.expires_at,
        ) == (
            before.status,
            before.chunks_received,
            before.bytes_received,
            before.created_at,
            before.expires_at,
        ), sid


@pytest.mark.task("1.5")
@pytest.mark.req("20.1")
@pytest.mark.method("begin_asset_upload")
def test_rate_limit_accounting_survives(target: Target, world: World) -> None:
    """A caller at its session limit before the upgrades is still at it after them."""
    limit = target.limits["max_active_sessions"]
    with refused("Internal", f"Rate limit exceeded: {limit} concurrent uploads"):
        world.busy.begin_asset_upload(new_id(), sha(b"after upgrade"), 1, 13)
