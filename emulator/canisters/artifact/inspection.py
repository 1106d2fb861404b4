"""Read-only views of the artifact canister's state for the emulator's admin API.

Never served on the IC endpoints (they bypass ownership on purpose). Every listing is keyset-paged
(`after` = the last key of the previous page) so a page costs the same however much is stored, and
values are JSON-ready (principals as text, bytes left out; asset bytes stream through
`uploads.iter_asset_chunks`). Call them inside a read transaction of the canister's stable store.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from emulator.canisters.artifact.audit import query_audit
from emulator.canisters.artifact.uploads import SESSION_COLUMNS, Session, iter_asset_chunks
from emulator.principal import Principal

__all__ = [
    "asset_info",
    "iter_asset_chunks",
    "list_assets",
    "list_galleries",
    "list_memories",
    "list_sessions",
    "query_audit",
]

DEFAULT_PAGE = 100


def _text(principal: bytes) -> str:
    return Principal(bytes(principal)).to_text()


def list_galleries(
    db: sqlite3.Connection, *, owner: Principal | None = None, after: str = "", limit: int = DEFAULT_PAGE
) -> list[dict[str, Any]]:
    columns = "gallery_id, owner, title, is_public, created_at, updated_at, storage_status, memory_entries"
    if owner is None:
        rows = db.execute(
            f"SELECT {columns} FROM af_galleries WHERE gallery_id > ? ORDER BY gallery_id LIMIT ?",
            (after, limit),
        )
    else:
        rows = db.execute(
            f"SELECT {columns} FROM af_galleries WHERE owner = ? AND gallery_id > ? "
            "ORDER BY gallery_id LIMIT ?",
            (owner.raw, after, limit),
        )
    return [
        {
            "id": gid,
            "owner": _text(own),
            "title": title,
            "is_public": bool(public),
            "created_at": created,
            "updated_at": updated,
            "storage_status": status,
            "memory_entries_json": entries,
        }
        for gid, own, title, public, created, updated, status, entries in rows
    ]


_MEMORY_SQL = (
    "SELECT m.memory_id, m.owner, m.created_at, "
    "EXISTS (SELECT 1 FROM af_metadata d WHERE d.memory_id = m.memory_id), "
    "EXISTS (SELECT 1 FROM af_assets a WHERE a.memory_id = m.memory_id), "
    "EXISTS (SELECT 1 FROM af_capsule_memories c WHERE c.memory_id = m.memory_id) FROM af_memories m "
)


def list_memories(
    db: sqlite3.Connection, *, owner: Principal | None = None, after: str = "", limit: int = DEFAULT_PAGE
) -> list[dict[str, Any]]:
    if owner is None:
        rows = db.execute(_MEMORY_SQL + "WHERE m.memory_id > ? ORDER BY m.memory_id LIMIT ?", (after, limit))
    else:
        rows = db.execute(
            _MEMORY_SQL + "WHERE m.owner = ? AND m.memory_id > ? ORDER BY m.memory_id LIMIT ?",
            (owner.raw, after, limit),
        )
    return [
        {
            "memory_id": mid,
            "owner": _text(own),
            "created_at": created,
            "metadata_present": bool(meta),
            "asset_present": bool(asset),
            "in_capsule": bool(capsule),
        }
        for mid, own, created, meta, asset, capsule in rows
    ]


def list_sessions(
    db: sqlite3.Connection,
    *,
    owner: Principal | None = None,
    status: str | None = None,
    after: int = 0,
    limit: int = DEFAULT_PAGE,
) -> list[dict[str, Any]]:
    """Sessions by ascending internal id, optionally of one owner and/or status (stored status)."""
    clauses: list[str] = ["sid > ?"]
    args: list[Any] = [after]
    if owner is not None:
        clauses.append("owner = ?")
        args.append(owner.raw)
    if status is not None:
        clauses.append("status = ?")
        args.append(status)
    rows = db.execute(
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE {' AND '.join(clauses)} ORDER BY sid LIMIT ?",
        (*args, limit),
    )
    out = []
    for row in rows:
        s = Session.from_row(row)
        out.append(
            {
                "sid": s.sid,
                "session_id": s.session_id,
                "owner": _text(s.owner),
                "memory_id": s.memory_id,
                "expected_hash": s.expected_hash,
                "chunk_count": s.chunk_count,
                "total_size": s.total_size,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "status": s.status.value,
                "chunks_received": s.chunks_received,
                "bytes_received": s.bytes_received,
                "finished_at": s.finished_at,
                "final_hash": s.final_hash,
            }
        )
    return out


_ASSET_COLUMNS = "memory_id, owner, sha256, total_bytes, chunk_count, committed_at"


def _asset_row(row: Any) -> dict[str, Any]:
    mid, own, sha, total, count, committed = row
    return {
        "memory_id": mid,
        "owner": _text(own),
        "sha256": sha,
        "total_bytes": total,
        "chunk_count": count,
        "committed_at": committed,
    }


def list_assets(
    db: sqlite3.Connection, *, owner: Principal | None = None, after: str = "", limit: int = DEFAULT_PAGE
) -> list[dict[str, Any]]:
    if owner is None:
        rows = db.execute(
            f"SELECT {_ASSET_COLUMNS} FROM af_assets WHERE memory_id > ? ORDER BY memory_id LIMIT ?",
            (after, limit),
        )
    else:
        rows = db.execute(
            f"SELECT {_ASSET_COLUMNS} FROM af_assets WHERE owner = ? AND memory_id > ? "
            "ORDER BY memory_id LIMIT ?",
            (owner.raw, after, limit),
        )
    return [_asset_row(r) for r in rows]


def asset_info(db: sqlite3.Connection, memory_id: str) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {_ASSET_COLUMNS} FROM af_assets WHERE memory_id = ?", (memory_id,)).fetchone()
    return None if row is None else _asset_row(row)
