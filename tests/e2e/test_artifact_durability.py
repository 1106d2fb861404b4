"""The artifact canister keeps every acknowledged byte across upgrades, restarts and SIGKILL.

Each test runs its own emulator process, drives it through the Python adapter (certificates and query
signatures verified) and checks values: SHA-256 of the stored bytes read back through the admin API,
presence flags, received-chunk bitmaps.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.admin import AdminClient
from clients.ic import Connection, generate_ed25519
from clients.ic.errors import ICError
from tests.e2e.artifact_calls import CANISTER, Artifact, new_id, sha
from tests.emulator_process import EmulatorProcess

CHUNK = 4096


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(tmp_path / "state", canisters=[f"artifact={CANISTER}"], extra_args=["--quiet"])
    proc.start()
    yield proc
    proc.stop()


def stored_sha(admin: AdminClient, memory_id: str) -> str:
    digest = hashlib.sha256()
    for block in admin.download_asset(CANISTER, memory_id):
        digest.update(block)
    return digest.hexdigest()


class World:
    """A gallery, a memory with metadata, a committed 3-chunk asset and a half-finished upload."""

    def __init__(self, art: Artifact) -> None:
        self.art = art
        self.gallery_id, self.memory_id, self.pending_memory = new_id(), new_id(), new_id()
        self.asset = os.urandom(3 * CHUNK - 100)
        self.pending = os.urandom(3 * CHUNK)
        assert art.store_gallery(self.gallery_id, [self.memory_id, self.pending_memory])["success"]
        art.upsert_metadata(self.memory_id, "sunset")
        commit = art.upload(self.memory_id, self.asset, CHUNK)
        assert commit["final_hash"] == sha(self.asset)
        self.session = art.begin(self.pending_memory, self.pending, 3)
        art.put(self.session["session_id"], 0, self.pending[:CHUNK])

    def verify(self, admin: AdminClient) -> None:
        art = self.art
        gallery = art.raw("get_gallery_by_id", self.gallery_id)[0]
        assert gallery["id"] == self.gallery_id and gallery["title"] == "Holiday"
        assert [e["memory_id"] for e in gallery["memory_entries"]] == [self.memory_id, self.pending_memory]
        assert art.presence(self.memory_id) == (True, True)
        assert stored_sha(admin, self.memory_id) == sha(self.asset)
        assert art.presence(self.pending_memory) == (False, False)
        progress = art.progress(self.session["session_id"])
        assert (progress["chunks_received"], progress["bytes_received"]) == (1, CHUNK)
        assert "Active" in progress["status"]

    def finish(self, admin: AdminClient) -> None:
        sid = self.session["session_id"]
        # A client that lost its state resumes: the repeated begin returns the session as it stands.
        resumed = self.art.begin(self.pending_memory, self.pending, 3)
        assert resumed["session_id"] == sid and resumed["chunks_received"] == [True, False, False]
        self.art.put(sid, 1, self.pending[CHUNK : 2 * CHUNK])
        self.art.put(sid, 2, self.pending[2 * CHUNK :])
        assert self.art.commit(sid, self.pending)["total_bytes"] == len(self.pending)
        assert self.art.presence(self.pending_memory) == (False, True)
        assert stored_sha(admin, self.pending_memory) == sha(self.pending)


def test_upgrade_twice_keeps_everything_and_the_upload_finishes(emu: EmulatorProcess) -> None:
    art = Artifact(Connection(emu.url, generate_ed25519()))
    admin = AdminClient(emu.admin_url)
    world = World(art)
    hash_before = admin.canisters()[0]["module_hash"]
    admin.upgrade(CANISTER)
    world.verify(admin)
    admin.upgrade(CANISTER)
    world.verify(admin)
    assert admin.canisters()[0]["module_hash"] == hash_before
    world.finish(admin)


def test_installing_another_version_changes_module_hash_and_keeps_state(emu: EmulatorProcess) -> None:
    conn = Connection(emu.url, generate_ed25519())
    art, admin = Artifact(conn), AdminClient(emu.admin_url)
    world = World(art)
    before = conn.read_state(CANISTER, [["canister", CANISTER_BYTES, "module_hash"]])
    result = admin.upgrade(CANISTER, "tests.e2e.canister_versions:ArtifactNext")
    after = conn.read_state(CANISTER, [["canister", CANISTER_BYTES, "module_hash"]])
    path: list[bytes | str] = ["canister", CANISTER_BYTES, "module_hash"]
    old_hash, new_hash = before.lookup(path), after.lookup(path)
    assert old_hash is not None and new_hash is not None
    assert old_hash.hex() == result["previous_module_hash"]
    assert new_hash.hex() == result["module_hash"] != result["previous_module_hash"]
    assert art.raw("get_api_version") == "next"
    world.verify(admin)
    world.finish(admin)


def test_restart_keeps_everything(emu: EmulatorProcess) -> None:
    identity = generate_ed25519()
    world = World(Artifact(Connection(emu.url, identity)))
    root_key = Connection(emu.url).status()["root_key"]
    emu.restart()
    assert Connection(emu.url).status()["root_key"] == root_key, "the root key survives a restart"
    world.art = Artifact(Connection(emu.url, identity))
    admin = AdminClient(emu.admin_url)
    world.verify(admin)
    world.finish(admin)


def test_sigkill_loses_no_acknowledged_write(emu: EmulatorProcess) -> None:
    """Uploads stream until SIGKILL; afterwards every acknowledged chunk and commit is intact."""
    identity = generate_ed25519()
    art = Artifact(Connection(emu.url, identity))
    acked_commits: dict[str, str] = {}
    acked_chunks: dict[str, tuple[str, set[int]]] = {}
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            memory_id, data = new_id(), os.urandom(2 * CHUNK)
            try:
                session = art.begin(memory_id, data, 2)
                sid = session["session_id"]
                acked_chunks[memory_id] = (sid, set())
                for index in (0, 1):
                    art.put(sid, index, data[index * CHUNK : (index + 1) * CHUNK])
                    acked_chunks[memory_id][1].add(index)
                art.commit(sid, data)
                acked_commits[memory_id] = sha(data)
            except (ICError, OSError, AssertionError):
                return

    worker = threading.Thread(target=stream)
    worker.start()
    deadline = time.monotonic() + 60
    while len(acked_commits) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    emu.kill()
    stop.set()
    worker.join(timeout=30)
    assert len(acked_commits) >= 15

    emu.start()
    art = Artifact(Connection(emu.url, identity))
    admin = AdminClient(emu.admin_url)
    for memory_id, digest in acked_commits.items():
        assert art.presence(memory_id) == (False, True)
        assert stored_sha(admin, memory_id) == digest
    for memory_id, (sid, indices) in acked_chunks.items():
        if memory_id in acked_commits:
            continue
        # Unacknowledged work is all or nothing: either committed with the right bytes, or not present.
        _, present = art.presence(memory_id)
        progress = art.progress(sid)
        if present:
            assert "Completed" in progress["status"]
        else:
            assert progress["chunks_received"] >= len(indices)


CANISTER_BYTES = bytes.fromhex("ffffffffff9000010101")
