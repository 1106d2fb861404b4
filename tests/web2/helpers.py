"""Shared by the Web2 edge tests: galleries on disk, the CLI in-process, table queries."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clients.artifact import canonical_metadata_json, load_manifest
from clients.cli import main
from clients.ic import generate_ed25519, save_pem

TYPES = ["Image", "Video", "Audio", "Document", "Note"]


@dataclass(frozen=True)
class Gallery:
    manifest: Path
    gallery_id: str
    contents: dict[str, bytes]
    types: dict[str, str]

    @property
    def memory_ids(self) -> list[str]:
        return list(self.contents)

    def expected_hashes(self) -> dict[tuple[str, str], str]:
        """(memory_id, artifact) -> SHA-256 of the file, and of the canonical metadata JSON."""
        out: dict[tuple[str, str], str] = {}
        for spec in load_manifest(self.manifest).memories:
            out[(spec.id, "asset")] = hashlib.sha256(self.contents[spec.id]).hexdigest()
            body = canonical_metadata_json(spec.memory_type, spec.metadata)
            out[(spec.id, "metadata")] = hashlib.sha256(body).hexdigest()
        return out


def write_gallery(directory: Path, count: int, size: int = 2048) -> Gallery:
    (directory / "files").mkdir(parents=True, exist_ok=True)
    memories, contents, types = [], {}, {}
    for i in range(count):
        mid = str(uuid.uuid4())
        data = os.urandom(size)
        (directory / "files" / f"{i}.bin").write_bytes(data)
        contents[mid] = data
        types[mid] = TYPES[i % 5].lower()
        memories.append(
            {
                "id": mid,
                "memory_type": TYPES[i % 5],
                "file": f"files/{i}.bin",
                "metadata": {"title": f"memory {i}", "created_at": 1_700_000_000_000_000_000 + i},
            }
        )
    gallery_id = str(uuid.uuid4())
    path = directory / "gallery.json"
    path.write_text(
        json.dumps({"version": 1, "gallery": {"id": gallery_id, "title": "G"}, "memories": memories})
    )
    return Gallery(path, gallery_id, contents, types)


def new_identity(directory: Path, name: str = "id.pem") -> Path:
    path = directory / name
    save_pem(generate_ed25519(), str(path))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """``storeforever ARGS --json`` in-process: (exit code, the one JSON document it printed)."""
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def target_args(url: str, identity: Path) -> list[str]:
    return [
        "--url",
        url,
        "--identity",
        str(identity),
        "--retry-base-delay",
        "0.01",
        "--retry-max-delay",
        "0.02",
    ]


def icp_rows(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT id::text, memory_id::text, memory_type, artifact::text, present, sync_state, sync_error, "
            "content_hash, location, last_synced_at, updated_at, xmin::text AS xmin FROM storage_edges "
            "WHERE backend = 'icp-canister' ORDER BY memory_id, artifact"
        )
        return list(cur.fetchall())


def gallery_presence(db: str, gallery_id: str) -> dict[str, Any]:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM gallery_presence WHERE gallery_id = %s", (gallery_id,))
        row = cur.fetchone()
        assert row is not None, f"gallery {gallery_id} not in gallery_presence"
        return dict(row)


def execute(db: str, sql: str, params: Any = None) -> int:
    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute(sql, params).rowcount
