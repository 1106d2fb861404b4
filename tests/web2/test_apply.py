"""``edges apply``: 100,000 edges in one run, memory_type resolution, and hostile lines refused whole."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clients.cli import EXIT_OK, EXIT_USAGE
from clients.edges.apply import MAX_LINE_BYTES
from tests.web2.helpers import execute, run_cli, write_gallery


def edge_line(memory_id: str, artifact: str = "asset", **extra: Any) -> str:
    doc = {
        "memory_id": memory_id,
        "artifact": artifact,
        "backend": "icp-canister",
        "present": True,
        "content_hash": hashlib.sha256(f"{memory_id}:{artifact}".encode()).hexdigest(),
        "size": 10,
        **extra,
    }
    return json.dumps(doc)


def table(db: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(
            "SELECT memory_id::text, memory_type, artifact::text, backend::text, present, sync_state, "
            "content_hash, updated_at, xmin::text FROM storage_edges ORDER BY 1, 2, 3, 4"
        ).fetchall()


@pytest.mark.slow
def test_one_hundred_thousand_edges_in_one_run(
    edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    types = ["image", "video", "audio", "document", "note"]
    ids = [str(uuid.uuid4()) for _ in range(50_000)]
    path = tmp_path / "edges.jsonl"
    with path.open("w") as fh:
        for i, mid in enumerate(ids):
            for artifact in ("metadata", "asset"):
                fh.write(edge_line(mid, artifact, memory_type=types[i % 5]) + "\n")
    code, doc = run_cli(capsys, "edges", "apply", str(path), "--database-url", edges_db)
    assert code == EXIT_OK, doc
    result = doc["result"]
    assert (result["lines"], result["records"], result["written"], result["unchanged"]) == (
        100_000,
        100_000,
        100_000,
        0,
    )
    assert result["batches"] == 20  # 5,000 rows per batch by default

    with psycopg.connect(edges_db) as conn:
        count = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT memory_id) FROM storage_edges "
            "WHERE present AND sync_state = 'idle' AND backend = 'icp-canister'"
        ).fetchone()
        assert count == (100_000, 50_000)
        sample = random.Random(15).sample(range(50_000), 200)
        for i in sample:
            rows = conn.execute(
                "SELECT artifact::text, memory_type, content_hash FROM storage_edges WHERE memory_id = %s "
                "ORDER BY 1",
                (ids[i],),
            ).fetchall()
            assert rows == [
                (a, types[i % 5], hashlib.sha256(f"{ids[i]}:{a}".encode()).hexdigest())
                for a in ("asset", "metadata")
            ]

    code, doc = run_cli(capsys, "edges", "apply", str(path), "--database-url", edges_db)
    assert code == EXIT_OK and (doc["result"]["written"], doc["result"]["unchanged"]) == (0, 100_000)


def test_memory_type_comes_from_the_line_the_manifest_or_the_apps_own_edges(
    edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = write_gallery(tmp_path, 3)
    from_manifest = gallery.memory_ids[1]  # "video" in the manifest
    from_table, in_line = str(uuid.uuid4()), str(uuid.uuid4())
    execute(
        edges_db,
        "INSERT INTO storage_edges (memory_id, memory_type, artifact, backend, present) "
        "VALUES (%s, 'note', 'metadata', 'neon-db', true)",
        (from_table,),
    )
    path = tmp_path / "e.jsonl"
    lines = [edge_line(from_manifest), edge_line(from_table), edge_line(in_line, memory_type="Audio"), ""]
    path.write_text("\n".join(lines))
    code, doc = run_cli(
        capsys, "edges", "apply", str(path), "--database-url", edges_db, "--manifest", str(gallery.manifest)
    )
    assert code == EXIT_OK, doc
    types = {r[0]: r[1] for r in table(edges_db) if r[3] == "icp-canister"}
    assert types == {from_manifest: "video", from_table: "note", in_line: "audio"}

    unknown = str(uuid.uuid4())
    path.write_text(edge_line(unknown) + "\n")
    before = table(edges_db)
    code, doc = run_cli(capsys, "edges", "apply", str(path), "--database-url", edges_db)
    assert code == EXIT_USAGE
    assert doc["error"]["message"].startswith("line 1: memory_type of " + unknown)
    assert table(edges_db) == before


GOOD = 30


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            '{"memory_id": "not-a-uuid", "artifact": "asset", "backend": "icp-canister", "present": true}',
            "memory_id must be a canonical",
        ),
        (edge_line(str(uuid.uuid4()).upper(), memory_type="image"), "memory_id must be a canonical"),
        (edge_line(str(uuid.uuid4()), "thumbnail", memory_type="image"), "artifact must be one of"),
        (edge_line(str(uuid.uuid4()), backend="s3", memory_type="image"), "backend must be one of"),
        (edge_line(str(uuid.uuid4()), memory_type="image", present="yes"), "present must be true or false"),
        (edge_line(str(uuid.uuid4()), memory_type="image", content_hash="abc"), "content_hash must be 64"),
        (edge_line(str(uuid.uuid4()), memory_type="image", extra=1), "unknown key(s) extra"),
        (edge_line(str(uuid.uuid4()), memory_type="gif"), "memory_type must be one of"),
        (edge_line(str(uuid.uuid4()), memory_type="image", size=-1), "size must be a non-negative"),
        ('{"memory_id": ', "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (b"\xff\xfe{}".decode("latin-1"), "not JSON"),
        (
            edge_line(str(uuid.uuid4()), memory_type="image", location="x" * (MAX_LINE_BYTES + 10)),
            "longer than 65536 bytes",
        ),
    ],
    ids=[
        "bad-uuid",
        "uppercase-uuid",
        "unknown-artifact",
        "unknown-backend",
        "present-not-bool",
        "short-hash",
        "unknown-key",
        "unknown-memory-type",
        "negative-size",
        "truncated-json",
        "not-an-object",
        "not-utf8",
        "huge-line",
    ],
)
def test_a_hostile_line_is_refused_with_its_number_and_nothing_is_applied(
    bad: str, message: str, edges_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = str(uuid.uuid4())
    execute(
        edges_db,
        "INSERT INTO storage_edges (memory_id, memory_type, artifact, backend, present, sync_state) "
        "VALUES (%s, 'image', 'asset', 'icp-canister', false, 'migrating')",
        (existing,),
    )
    before = table(edges_db)
    # Good lines first (two full batches of 10 are upserted before the bad line is read), one of them
    # touching the existing row: the one transaction must roll all of it back.
    lines = [edge_line(existing, memory_type="image")]
    lines += [edge_line(str(uuid.uuid4()), memory_type="image") for _ in range(GOOD - 1)]
    path = tmp_path / "edges.jsonl"
    path.write_bytes(
        ("\n".join([*lines, bad, edge_line(str(uuid.uuid4()), memory_type="image")]) + "\n").encode("latin-1")
    )
    code, doc = run_cli(capsys, "edges", "apply", str(path), "--database-url", edges_db, "--batch-size", "10")
    assert code == EXIT_USAGE, doc
    assert doc["error"]["message"].startswith(f"line {GOOD + 1}: "), doc["error"]
    assert message in doc["error"]["message"]
    assert len(doc["error"]["message"]) < 400
    assert table(edges_db) == before
