"""``store-gallery --database-url``: the table follows the canister, failures carry reasons, re-runs heal.

Real parts only: the emulator process over HTTP, a real PostgreSQL cluster (tests/web2/conftest.py),
the CLI as users run it (in-process ``main`` or a subprocess where it must be killed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from clients.admin import AdminClient
from clients.cli import EXIT_OK, EXIT_PARTIAL
from tests.client.conftest import start_artifact_emulator
from tests.emulator_process import DEFAULT_ID, EmulatorProcess
from tests.web2.helpers import (
    gallery_presence,
    icp_rows,
    new_identity,
    run_cli,
    target_args,
    write_gallery,
)

REPO = Path(__file__).resolve().parents[2]


def seed(capsys: pytest.CaptureFixture[str], db: str, manifest: Path, owner: str = "owner-1") -> None:
    code, doc = run_cli(
        capsys, "edges", "init-dev", "--database-url", db, "--gallery", str(manifest), "--owner", owner
    )
    assert code == EXIT_OK, doc
    assert doc["result"]["created"] is False  # the schema was there already and matches: nothing changed


@pytest.mark.slow
def test_two_hundred_memories_end_present_idle_with_the_files_hashes(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 200)
    seed(capsys, edges_db, gallery.manifest)
    identity = new_identity(tmp_path)
    edges_file = tmp_path / "edges.jsonl"
    args = [
        "store-gallery",
        str(gallery.manifest),
        *target_args(artifact_emulator.url, identity),
        "--memory-concurrency",
        "3",
        "--edges",
        str(edges_file),
        "--database-url",
        edges_db,
        "--refresh-every",
        "40",
    ]
    code, doc = run_cli(capsys, *args)
    assert code == EXIT_OK, doc
    assert doc["result"]["counts"]["stored"] == 200
    db_stats = doc["result"]["database"]
    assert db_stats["error"] is None and db_stats["migrating"] == 400 and db_stats["written"] == 400
    assert db_stats["refreshes"] >= 2  # every 40 memories (or 10 s) and once at the end

    rows = icp_rows(edges_db)
    assert len(rows) == 400
    expected = gallery.expected_hashes()
    for row in rows:
        key = (row["memory_id"], row["artifact"])
        assert row["present"] is True and row["sync_state"] == "idle" and row["sync_error"] is None, row
        assert row["content_hash"] == expected[key], key
        assert row["memory_type"] == gallery.types[row["memory_id"]]
        assert row["location"] == f"icp://{DEFAULT_ID}" and row["last_synced_at"] is not None
    badges = gallery_presence(edges_db, gallery.gallery_id)
    assert badges["memory_count"] == 200 and badges["icp_memory_count"] == 200
    assert badges["icp_complete"] is True and badges["partial_icp"] is True
    assert len(edges_file.read_text().splitlines()) == 400  # the JSON lines stay

    # A re-run skips every memory and rewrites no row (same tuple: xmin and updated_at unchanged).
    code, doc = run_cli(capsys, *args)
    assert code == EXIT_OK, doc
    assert doc["result"]["counts"]["skipped"] == 200
    db_stats = doc["result"]["database"]
    assert (db_stats["migrating"], db_stats["written"], db_stats["unchanged"]) == (0, 0, 400)
    again = icp_rows(edges_db)
    assert [(r["xmin"], r["updated_at"]) for r in again] == [(r["xmin"], r["updated_at"]) for r in rows]

    code, doc = run_cli(
        capsys, "edges", "audit", "--database-url", edges_db, *target_args(artifact_emulator.url, identity)
    )
    assert code == EXIT_OK and doc["result"]["clean"] is True, doc
    assert doc["result"]["memories_checked"] == 200 and doc["result"]["edges_checked"] == 400


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[EmulatorProcess]:
    proc = start_artifact_emulator(tmp_path / "state")
    yield proc
    proc.stop()


@pytest.mark.slow
def test_ten_failed_memories_leave_failed_edges_with_reasons_and_a_rerun_fixes_them(
    faulty: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 40)
    seed(capsys, edges_db, gallery.manifest)
    identity = new_identity(tmp_path)
    with AdminClient(faulty.admin_url) as admin:
        # reject code 4 (CANISTER_REJECT) is permanent: each of the next 10 begins fails its memory.
        admin.add_fault(
            action="reject",
            method="begin_asset_upload",
            endpoint="call",
            count=10,
            reject_code=4,
            reject_message="Fault injected: upload refused",
        )
    args = [
        "store-gallery",
        str(gallery.manifest),
        *target_args(faulty.url, identity),
        "--database-url",
        edges_db,
    ]
    code, doc = run_cli(capsys, *args)
    assert code == EXIT_PARTIAL, doc
    failed_ids = {m["memory_id"] for m in doc["result"]["memories"] if m["status"] == "failed"}
    assert len(failed_ids) == 10

    rows = icp_rows(edges_db)
    failed = [r for r in rows if r["sync_state"] == "failed"]
    assert {r["memory_id"] for r in failed} == failed_ids
    assert len(failed) == 20  # both ICP edges (metadata, asset) of each failed memory: neither verified
    for row in failed:
        assert row["present"] is False
        assert (
            "Fault injected: upload refused" in row["sync_error"]
            and "begin_asset_upload" in row["sync_error"]
        )
    ok = [r for r in rows if r["memory_id"] not in failed_ids]
    assert len(ok) == 60 and all(r["present"] and r["sync_state"] == "idle" for r in ok)
    assert not [r for r in rows if r["sync_state"] == "migrating"]
    badges = gallery_presence(edges_db, gallery.gallery_id)
    assert badges["partial_icp"] is True and badges["icp_complete"] is False
    assert badges["icp_memory_count"] == 30

    code, doc = run_cli(capsys, *args)  # the rules have fired: the re-run stores the 10
    assert code == EXIT_OK, doc
    assert doc["result"]["counts"] == {"stored": 10, "skipped": 30, "failed": 0, "not_attempted": 0}
    rows = icp_rows(edges_db)
    assert len(rows) == 80
    assert all(r["present"] and r["sync_state"] == "idle" and r["sync_error"] is None for r in rows)
    expected = gallery.expected_hashes()
    assert all(r["content_hash"] == expected[(r["memory_id"], r["artifact"])] for r in rows)
    badges = gallery_presence(edges_db, gallery.gallery_id)
    assert badges["icp_complete"] is True and badges["icp_memory_count"] == 40


def _count(db: str, where: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(f"SELECT COUNT(*) FROM storage_edges WHERE {where}").fetchone()
        return int(row[0]) if row else 0


@pytest.mark.slow
def test_sigkill_mid_gallery_then_rerun_leaves_nothing_migrating_and_no_duplicates(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 60)
    seed(capsys, edges_db, gallery.manifest)
    identity = new_identity(tmp_path)
    args = [
        "store-gallery",
        str(gallery.manifest),
        *target_args(artifact_emulator.url, identity),
        "--memory-concurrency",
        "1",
        "--database-url",
        edges_db,
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "storeforever", *args, "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60  # hang guard, not a timing assertion
        while _count(edges_db, "backend = 'icp-canister' AND present AND sync_state = 'idle'") < 20:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the run never wrote 10 memories' edges"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stuck = _count(edges_db, "sync_state = 'migrating'")
    assert stuck > 0, "the kill left no memory announced but unfinished (it came too late)"

    code, doc = run_cli(capsys, *args)
    assert code == EXIT_OK, json.dumps(doc)[:2000]
    rows = icp_rows(edges_db)
    assert len(rows) == 120 and len({(r["memory_id"], r["artifact"]) for r in rows}) == 120
    assert _count(edges_db, "sync_state = 'migrating'") == 0
    assert all(r["present"] and r["sync_state"] == "idle" for r in rows)
    expected = gallery.expected_hashes()
    assert all(r["content_hash"] == expected[(r["memory_id"], r["artifact"])] for r in rows)
    assert gallery_presence(edges_db, gallery.gallery_id)["icp_complete"] is True


@pytest.mark.slow
def test_a_database_lost_mid_run_does_not_stop_the_canister_path_and_the_edges_file_repairs_the_table(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 60)
    seed(capsys, edges_db, gallery.manifest)
    identity = new_identity(tmp_path)
    edges_file = tmp_path / "edges.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storeforever",
            "store-gallery",
            str(gallery.manifest),
            *target_args(artifact_emulator.url, identity),
            "--memory-concurrency",
            "1",
            "--edges",
            str(edges_file),
            "--database-url",
            edges_db,
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60  # hang guard
        while _count(edges_db, "backend = 'icp-canister' AND present") < 10:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with psycopg.connect(edges_db, autocommit=True) as conn:  # the writer's connection dies
            killed = conn.execute(
                "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'storeforever' AND datname = current_database()"
            ).fetchone()
        assert killed == (1,)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 4, stderr.decode()[-3000:]
    doc = json.loads(stdout)
    assert doc["result"]["counts"]["stored"] == 60  # every memory reached the canister regardless
    assert "storage_edges not fully written" in doc["error"]["message"]
    assert "edges apply" in doc["error"]["message"]
    assert b"Traceback" not in stderr
    assert len(edges_file.read_text().splitlines()) == 120

    code, applied = run_cli(
        capsys,
        "edges",
        "apply",
        str(edges_file),
        "--database-url",
        edges_db,
        "--manifest",
        str(gallery.manifest),
        "--refresh",
    )
    assert code == EXIT_OK, applied
    assert applied["result"]["refreshed_gallery_presence"] is True
    assert gallery_presence(edges_db, gallery.gallery_id)["icp_complete"] is True
    assert _count(edges_db, "sync_state <> 'idle' OR NOT present") == 0
    assert _count(edges_db, "backend = 'icp-canister'") == 120
