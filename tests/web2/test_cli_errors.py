"""Database trouble gives one clear message and the project's exit codes, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from clients.cli import EXIT_OK, EXIT_PERMANENT, EXIT_UNAVAILABLE, EXIT_USAGE
from clients.edges.schema import APP_SCHEMA_SQL
from tests.emulator_process import EmulatorProcess
from tests.web2.conftest import Cluster
from tests.web2.helpers import icp_rows, new_identity, run_cli, target_args, write_gallery

REPO = Path(__file__).resolve().parents[2]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://postgres:secret@127.0.0.1:{port}/nowhere"


def storeforever(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storeforever", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_an_unreachable_database_is_one_line_and_exit_4_with_the_password_hidden(tmp_path: Path) -> None:
    proc = storeforever("edges", "apply", str(tmp_path / "none.jsonl"), "--database-url", closed_port_url())
    assert proc.returncode == EXIT_USAGE and "is not a readable file" in proc.stderr  # input checked first
    (tmp_path / "e.jsonl").write_text("")
    proc = storeforever("edges", "apply", str(tmp_path / "e.jsonl"), "--database-url", closed_port_url())
    assert proc.returncode == EXIT_UNAVAILABLE, proc.stderr
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr
    assert proc.stderr.startswith("error: cannot connect to postgresql://postgres:***@127.0.0.1")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_store_gallery_with_a_bad_database_fails_before_touching_the_canister(
    artifact_emulator: EmulatorProcess, empty_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 2)
    identity = new_identity(tmp_path)
    base = ["store-gallery", str(gallery.manifest), *target_args(artifact_emulator.url, identity)]
    code, doc = run_cli(capsys, *base, "--database-url", closed_port_url())
    assert code == EXIT_UNAVAILABLE and doc["error"]["type"] == "EdgeUnavailableError"
    code, doc = run_cli(capsys, *base, "--database-url", empty_db)  # no schema
    assert code == EXIT_PERMANENT
    assert "table storage_edges does not exist" in doc["error"]["message"]
    assert "storeforever edges init-dev" in doc["error"]["message"]
    code, doc = run_cli(
        capsys, "presence", *gallery.memory_ids, *target_args(artifact_emulator.url, identity)
    )
    assert code == EXIT_OK and not any(p["metadata_present"] for p in doc["result"])


def test_an_enum_without_our_labels_is_refused_by_name(empty_db: str, tmp_path: Path) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        tables = APP_SCHEMA_SQL.split("CREATE VIEW")[0]  # the views would not even compile
        conn.execute(tables.replace("'vercel-blob', 'icp-canister'", "'vercel-blob'").encode())
    (tmp_path / "e.jsonl").write_text("")
    proc = storeforever("edges", "apply", str(tmp_path / "e.jsonl"), "--database-url", empty_db)
    assert proc.returncode == EXIT_PERMANENT, proc.stderr
    assert "enum backend_t lacks the label(s) icp-canister" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_init_dev_creates_on_empty_accepts_its_own_schema_and_refuses_anything_else(
    pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    db = pg_cluster.create_database()
    code, doc = run_cli(capsys, "edges", "init-dev", "--database-url", db)
    assert code == EXIT_OK and doc["result"]["created"] is True
    assert icp_rows(db) == []
    code, doc = run_cli(capsys, "edges", "init-dev", "--database-url", db)
    assert code == EXIT_OK and doc["result"]["created"] is False

    other = pg_cluster.create_database()
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE galleries (id UUID PRIMARY KEY, owner_id INTEGER NOT NULL)")
        before = conn.execute(
            "SELECT COUNT(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchone()
    code, doc = run_cli(capsys, "edges", "init-dev", "--database-url", other)
    assert code == EXIT_PERMANENT
    assert doc["error"]["message"].startswith("refusing to initialise")
    assert "galleries.owner_id is int4, expected text" in doc["error"]["message"]
    with psycopg.connect(other) as conn:
        after = conn.execute(
            "SELECT COUNT(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchone()
    assert after == before


def test_audit_without_the_schema_is_one_message(
    artifact_emulator: EmulatorProcess, empty_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = new_identity(tmp_path)
    code, doc = run_cli(
        capsys, "edges", "audit", "--database-url", empty_db, *target_args(artifact_emulator.url, identity)
    )
    assert code == EXIT_PERMANENT and "does not exist" in doc["error"]["message"]


def test_audit_refuses_a_gallery_scope_that_is_not_a_uuid(
    artifact_emulator: EmulatorProcess, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = new_identity(tmp_path)
    args = ["edges", "audit", "--database-url", edges_db, *target_args(artifact_emulator.url, identity)]
    code, doc = run_cli(capsys, *args, "--gallery", "1; DROP TABLE storage_edges")
    assert code == EXIT_USAGE and "is not a UUID" in doc["error"]["message"]
    code, doc = run_cli(capsys, *args, "--owner", "x' OR '1'='1")  # a parameter, never SQL
    assert code == EXIT_OK and doc["result"]["memories_checked"] == 0
