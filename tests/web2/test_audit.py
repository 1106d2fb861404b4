"""``edges audit``: each planted kind of drift is found, ``--fix`` repairs it, the next audit is clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clients.admin import AdminClient
from clients.cli import EXIT_OK
from clients.edges.commands import EXIT_DRIFT
from tests.client.conftest import start_artifact_emulator
from tests.emulator_process import DEFAULT_ID, EmulatorProcess
from tests.web2.helpers import (
    Gallery,
    execute,
    gallery_presence,
    icp_rows,
    new_identity,
    run_cli,
    target_args,
    write_gallery,
)

AMNESIA = "tests.web2.canister_versions:ArtifactAmnesia"


def store(
    capsys: pytest.CaptureFixture[str], url: str, db: str, directory: Path, identity: Path, count: int
) -> Gallery:
    gallery = write_gallery(directory, count)
    code, doc = run_cli(
        capsys, "edges", "init-dev", "--database-url", db, "--gallery", str(gallery.manifest), "--owner", "o1"
    )
    assert code == EXIT_OK, doc
    code, doc = run_cli(
        capsys, "store-gallery", str(gallery.manifest), *target_args(url, identity), "--database-url", db
    )
    assert code == EXIT_OK, doc
    return gallery


def audit(
    capsys: pytest.CaptureFixture[str], url: str, db: str, identity: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, doc = run_cli(capsys, "edges", "audit", "--database-url", db, *target_args(url, identity), *extra)
    return code, doc["result"]


@pytest.mark.slow
def test_each_planted_drift_is_found_fix_repairs_and_the_next_audit_is_clean(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = new_identity(tmp_path)
    gallery = store(capsys, artifact_emulator.url, edges_db, tmp_path, identity, 12)
    code, result = audit(capsys, artifact_emulator.url, edges_db, identity)
    assert code == EXIT_OK and result["clean"] is True, result

    a, b, c, d = gallery.memory_ids[:4]
    ghost = str(uuid.uuid4())  # a memory the app knows (its neon-db edge) that never reached the canister
    execute(
        edges_db,
        "INSERT INTO storage_edges (memory_id, memory_type, artifact, backend, present) VALUES "
        "(%s, 'image', 'metadata', 'neon-db', true), (%s, 'image', 'metadata', 'icp-canister', false)",
        (ghost, ghost),
    )
    # 1. a row flipped to present for a memory absent on the canister
    assert (
        execute(
            edges_db,
            "UPDATE storage_edges SET present = true WHERE memory_id = %s AND backend = 'icp-canister'",
            (ghost,),
        )
        == 1
    )
    # 2. a row deleted for a present memory
    assert (
        execute(edges_db, "DELETE FROM storage_edges WHERE memory_id = %s AND artifact = 'asset'", (a,)) == 1
    )
    # 3. a row saying absent for a present memory
    assert (
        execute(
            edges_db,
            "UPDATE storage_edges SET present = false WHERE memory_id = %s AND artifact = 'metadata'",
            (b,),
        )
        == 1
    )
    # 4. a stale migrating row, and a fresh one (a store in flight: not drift)
    assert (
        execute(
            edges_db,
            "UPDATE storage_edges SET sync_state = 'migrating', updated_at = now() - interval '2 hours' "
            "WHERE memory_id = %s AND artifact = 'asset'",
            (c,),
        )
        == 1
    )
    assert (
        execute(
            edges_db,
            "UPDATE storage_edges SET sync_state = 'migrating' WHERE memory_id = %s AND artifact = 'asset'",
            (d,),
        )
        == 1
    )
    # 5. the materialized view is stale: the table changed above and nobody refreshed it
    assert gallery_presence(edges_db, gallery.gallery_id)["icp_complete"] is True

    code, result = audit(capsys, artifact_emulator.url, edges_db, identity, "--stale-migrating-after", "15m")
    assert code == EXIT_DRIFT, result
    assert result["counts"] == {
        "present_in_table_absent_on_canister": 1,
        "present_on_canister_absent_in_table": 1,
        "present_on_canister_missing_in_table": 1,
        "stale_migrating": 1,
        "gallery_badges_stale": 1,
    }
    by_kind = {d["kind"]: d for d in result["drifts"]}
    assert by_kind["present_in_table_absent_on_canister"]["memory_id"] == ghost
    assert (
        by_kind["present_on_canister_missing_in_table"]["memory_id"],
        by_kind["present_on_canister_missing_in_table"]["artifact"],
    ) == (a, "asset")
    assert by_kind["present_on_canister_absent_in_table"]["memory_id"] == b
    assert by_kind["stale_migrating"]["memory_id"] == c
    badge = by_kind["gallery_badges_stale"]
    assert badge["gallery_id"] == gallery.gallery_id
    assert badge["view"]["icp_complete"] is True and badge["table"]["icp_complete"] is False

    code, result = audit(capsys, artifact_emulator.url, edges_db, identity, "--fix")
    assert code == EXIT_DRIFT
    assert result["fixed"] == {
        "updated": 3,
        "inserted": 1,
        "changed_during_audit": 0,
        "refreshed_gallery_presence": 1,
    }
    rows = {(r["memory_id"], r["artifact"]): r for r in icp_rows(edges_db)}
    assert (
        rows[(ghost, "metadata")]["present"] is False and rows[(ghost, "metadata")]["sync_state"] == "failed"
    )
    assert "canister reports it absent" in rows[(ghost, "metadata")]["sync_error"]
    assert rows[(a, "asset")]["present"] is True and "no row in the table" in rows[(a, "asset")]["sync_error"]
    assert rows[(b, "metadata")]["present"] is True and rows[(b, "metadata")]["sync_state"] == "idle"
    assert (
        rows[(c, "asset")]["sync_state"] == "idle"
        and "stuck in migrating" in rows[(c, "asset")]["sync_error"]
    )
    assert rows[(d, "asset")]["sync_state"] == "migrating"  # in flight: left to its writer
    assert gallery_presence(edges_db, gallery.gallery_id)["icp_complete"] is True

    code, result = audit(capsys, artifact_emulator.url, edges_db, identity)
    assert code == EXIT_OK and result["clean"] is True, result


@pytest.mark.slow
def test_audit_as_another_identity_sees_every_edge_as_drift(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Presence answers only for the caller's own memories: the identity rule of docs/web2.md."""
    owner = new_identity(tmp_path, "owner.pem")
    store(capsys, artifact_emulator.url, edges_db, tmp_path, owner, 5)
    stranger = new_identity(tmp_path, "stranger.pem")
    code, result = audit(capsys, artifact_emulator.url, edges_db, stranger)
    assert code == EXIT_DRIFT
    assert result["counts"]["present_in_table_absent_on_canister"] == 10
    code, result = audit(capsys, artifact_emulator.url, edges_db, owner)
    assert code == EXIT_OK, result


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    proc = start_artifact_emulator(tmp_path / "state")
    yield proc
    proc.stop()


@pytest.mark.slow
def test_an_upgrade_that_lost_the_canisters_state_is_drift(
    own_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = new_identity(tmp_path)
    gallery = store(capsys, own_emulator.url, edges_db, tmp_path, identity, 8)
    code, result = audit(capsys, own_emulator.url, edges_db, identity)
    assert code == EXIT_OK, result
    with AdminClient(own_emulator.admin_url) as admin:
        admin.upgrade(DEFAULT_ID, AMNESIA)

    code, result = audit(capsys, own_emulator.url, edges_db, identity)
    assert code == EXIT_DRIFT
    counts = result["counts"]
    assert counts["present_in_table_absent_on_canister"] == 16
    assert sum(counts.values()) == 16

    code, result = audit(capsys, own_emulator.url, edges_db, identity, "--fix")
    assert code == EXIT_DRIFT and result["fixed"]["updated"] == 16
    badges = gallery_presence(edges_db, gallery.gallery_id)
    assert badges["icp_complete"] is False and badges["partial_icp"] is False
    with psycopg.connect(edges_db) as conn:
        states = conn.execute(
            "SELECT sync_state, present, COUNT(*) FROM storage_edges GROUP BY 1, 2"
        ).fetchall()
    assert states == [("failed", False, 16)]
    code, result = audit(capsys, own_emulator.url, edges_db, identity)
    assert code == EXIT_OK, result
