"""Persistence: simulated upgrades and process restarts keep every piece of state (requirement 23)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.canisters.artifact.schema import SCHEMA_VERSION
from emulator.runtime.canister import CanisterTrap
from emulator.runtime.stable_store import StableStore
from tests.canister.artifact_harness import (
    ALICE,
    BOB,
    MINUTE,
    SMALL_LIMITS,
    Harness,
    chunks_of,
    data_of,
    err,
    gallery_data,
    idem_key,
    internal_text,
    memory_data,
    metadata_value,
    new_uuid,
    payload,
    sha,
)


def seed(h: Harness) -> dict[str, object]:
    """A bit of everything, including an upload half done and a finished one."""
    gallery_id, memory_id, capsule_memory = new_uuid(), new_uuid(), new_uuid()
    h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id, is_public=True))
    h.call(ALICE, "add_memory_to_capsule", capsule_memory, memory_data(b"inline"))
    data_of(
        h.call(ALICE, "upsert_metadata", memory_id, {"Video": None}, metadata_value(), idem_key(memory_id))
    )
    asset = payload(1500)
    done = h.upload(ALICE, memory_id, asset)
    partial_memory, partial_data = new_uuid(), payload(3000)
    partial = data_of(h.begin(ALICE, partial_memory, partial_data))["session"]["session_id"]
    data_of(h.call(ALICE, "put_chunk", partial, 0, chunks_of(partial_data, 1024)[0]))
    for _ in range(2):
        data_of(h.begin(ALICE, new_uuid(), payload(10)))
    return {
        "gallery_id": gallery_id,
        "memory_id": memory_id,
        "capsule_memory": capsule_memory,
        "asset": asset,
        "done": done,
        "partial": partial,
        "partial_memory": partial_memory,
        "partial_data": partial_data,
    }


def check(h: Harness, s: dict[str, object]) -> None:
    memory_id, done, partial = str(s["memory_id"]), str(s["done"]), str(s["partial"])
    asset, partial_data = s["asset"], s["partial_data"]
    assert isinstance(asset, bytes) and isinstance(partial_data, bytes)
    assert h.query(BOB, "get_gallery_by_id", s["gallery_id"])["id"] == s["gallery_id"]
    assert h.query(ALICE, "get_memory_from_capsule", s["capsule_memory"])["data"]["data"] == b"inline"
    presence = data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))
    assert presence["metadata_present"] and presence["asset_present"]
    # Idempotency keys, ownership, finished-session records and rate-limit accounting carried over.
    again = data_of(
        h.call(ALICE, "upsert_metadata", memory_id, {"Video": None}, metadata_value(), idem_key(memory_id))
    )
    assert "already applied" in again["message"]
    assert h.call(BOB, "add_memory_to_capsule", memory_id, memory_data())["message"].startswith(
        "Unauthorized"
    )
    assert data_of(h.call(ALICE, "commit_asset", done, sha(asset)))["final_hash"] == sha(asset)
    assert internal_text(h.begin(ALICE, new_uuid(), payload(10))).startswith("Rate limit exceeded: 3")
    # The half-done upload resumes where it stopped and completes.
    resumed = data_of(h.begin(ALICE, str(s["partial_memory"]), partial_data))["session"]
    assert resumed["session_id"] == partial and resumed["chunks_received"] == [True, False, False]
    for index, chunk in enumerate(chunks_of(partial_data, 1024)[1:], start=1):
        data_of(h.call(ALICE, "put_chunk", partial, index, chunk))
    assert data_of(h.call(ALICE, "commit_asset", partial, sha(partial_data)))["total_bytes"] == 3000


def test_state_survives_a_simulated_upgrade(h: Harness) -> None:
    s = seed(h)
    before = h.state()
    old = h.canister
    h.upgrade()
    assert h.canister is not old
    assert h.state() == before
    check(h, s)


def test_state_survives_several_upgrade_cycles(h: Harness) -> None:
    s = seed(h)
    before = h.state()
    for _ in range(3):
        h.upgrade()
        assert h.state() == before
    check(h, s)


def test_state_survives_a_process_restart(tmp_path: Path) -> None:
    path = tmp_path / "artifact.sqlite3"
    h = Harness(store=StableStore(path))
    s = seed(h)
    before = h.state()
    h.store.close()
    reopened = Harness(store=StableStore(path), now=h.now)  # finds state: runs post_upgrade
    assert reopened.state() == before
    check(reopened, s)
    reopened.store.close()


def test_timers_are_rearmed_and_keep_cleaning_after_an_upgrade(h: Harness) -> None:
    sid = data_of(h.begin(ALICE, new_uuid(), payload(1024)))["session"]["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, payload(1024)))
    h.upgrade()
    assert [t.name for t in h.canister.timers()] == ["artifact-cleanup"]
    h.advance(31 * MINUTE)
    h.run_cleanup_timer()
    assert h.count("af_chunks") == 0
    assert data_of(h.query(ALICE, "get_upload_progress", sid))["status"] == {"Expired": None}


def test_schema_version_is_recorded_and_setup_is_idempotent(h: Harness) -> None:
    assert h.sql("SELECT value FROM af_meta WHERE key = 'schema_version'") == [(SCHEMA_VERSION,)]
    with h.store.atomic() as db:
        h.canister.init(h._ctx(ALICE, "canister_init"))
        h.canister.post_upgrade(h._ctx(ALICE, "canister_post_upgrade"))
        assert db.execute("SELECT COUNT(*) FROM af_meta").fetchone()[0] == 1


def test_a_store_from_newer_code_refuses_the_upgrade(h: Harness) -> None:
    s = seed(h)
    with h.store.atomic() as db:
        db.execute("UPDATE af_meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    with pytest.raises(CanisterTrap, match="schema"):
        h.upgrade()
    with h.store.atomic() as db:
        db.execute("UPDATE af_meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
    h.upgrade()
    check(h, s)


def test_new_limits_apply_after_an_upgrade(h: Harness) -> None:
    memory_id = new_uuid()
    h.upgrade({**SMALL_LIMITS, "max_asset_size": 512})
    assert internal_text(h.begin(ALICE, memory_id, payload(600))) == "File size exceeds 512 bytes limit"
    assert err(h.call(ALICE, "commit_asset", "missing", "0" * 64)) == {"NotFound": None}


def test_module_hash_covers_the_whole_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A change anywhere in the package makes a restart run post_upgrade (schema migrations)."""
    import importlib.resources
    import shutil

    from emulator.canisters.artifact import ArtifactCanister
    from emulator.canisters.artifact import canister as canister_module

    package = Path(canister_module.__file__).parent
    copy = tmp_path / "artifact"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = ArtifactCanister.module_hash()
    monkeypatch.setattr(importlib.resources, "files", lambda _: copy)
    assert ArtifactCanister.module_hash() == before
    (copy / "schema.py").write_text((copy / "schema.py").read_text() + "\n# changed\n")
    assert ArtifactCanister.module_hash() != before
