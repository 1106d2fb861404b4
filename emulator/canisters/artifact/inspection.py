"""Read-only views of the artifact canister's state for the emulator's admin API.

Never served on the IC endpoints: they bypass ownership on purpose. Every listing is keyset-paged
(`after` = the key of the previous page's last row, returned as `next`) so a page costs the same
however much is stored, and values are JSON-ready (principals as text, no bytes; asset bytes are read
one chunk at a time through `asset_chunk`). Call everything inside a read transaction of the
canister's stable store.

`view(db, name, params)` serves `GET /canisters/<id>/inspect/<name>?param=…`:

| view        | params                                             | rows keyed by |
|-------------|----------------------------------------------------|---------------|
| `galleries` | `owner`, `after`, `limit`                          | gallery id    |
| `memories`  | `owner`, `after`, `limit`                          | memory id     |
| `sessions`  | `owner`, `status`, `after`, `limit`                | internal sid  |
| `assets`    | `owner`, `after`, `limit`                          | memory id     |
| `audit`     | one of `principal`/`memory_id`/`gallery_id`, `before`, `limit` (newest first) | audit id |
| `figures`   | none                                               | -             |

`limit` defaults to 100 and is capped at 1000. Invalid parameters raise `ValueError` (HTTP 400).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from emulator.canisters.artifact import counters
from emulator.canisters.artifact.audit import query_audit
from emulator.canisters.artifact.uploads import SESSION_COLUMNS, Session, Status, iter_asset_chunks
from emulator.principal import Principal, PrincipalError

__all__ = [
    "VIEWS",
    "asset_chunk",
    "asset_chunk_count",
    "asset_info",
    "figures",
    "iter_asset_chunks",
    "list_assets",
    "list_galleries",
    "list_memories",
    "list_sessions",
    "query_audit",
    "view",
]

DEFAULT_PAGE = 100
MAX_PAGE = 1000


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
    """Sessions by ascending internal id, optionally of one owner and/or stored status.

    `stored_bytes` is what the session's chunk rows hold now: 0 once its chunks were freed, and
    for a completed session the bytes its asset still keeps (0 after the asset was replaced).
    """
    clauses: list[str] = ["s.sid > ?"]
    args: list[Any] = [after]
    if owner is not None:
        clauses.append("s.owner = ?")
        args.append(owner.raw)
    if status is not None:
        clauses.append("s.status = ?")
        args.append(Status(status).value)
    columns = ", ".join(f"s.{c.strip()}" for c in SESSION_COLUMNS.split(","))
    rows = db.execute(
        f"SELECT {columns}, (SELECT COALESCE(SUM(c.size), 0) FROM af_chunks c WHERE c.sid = s.sid) "
        f"FROM af_sessions s WHERE {' AND '.join(clauses)} ORDER BY s.sid LIMIT ?",
        (*args, limit),
    )
    out = []
    for row in rows:
        s = Session.from_row(row[:-1])
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
                "stored_bytes": int(row[-1]),
                "last_chunk_at": s.last_chunk_at,
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


def asset_chunk_count(db: sqlite3.Connection, memory_id: str) -> int | None:
    row = db.execute("SELECT chunk_count FROM af_assets WHERE memory_id = ?", (memory_id,)).fetchone()
    return None if row is None else int(row[0])


def asset_chunk(db: sqlite3.Connection, memory_id: str, index: int) -> bytes:
    """One chunk of a committed asset; `KeyError` if there is no such asset or chunk."""
    row = db.execute(
        "SELECT c.data FROM af_assets a JOIN af_chunks c ON c.sid = a.sid AND c.idx = ? "
        "WHERE a.memory_id = ?",
        (index, memory_id),
    ).fetchone()
    if row is None:
        raise KeyError(f"{memory_id}[{index}]")
    return bytes(row[0])


def figures(db: sqlite3.Connection) -> dict[str, int]:
    """Gauges for /metrics; maintained counters, so a scrape costs a few key lookups."""
    return counters.read(db)


# -- the admin API's entry point -------------------------------------------------------------------


def _principal(params: Mapping[str, str], name: str) -> Principal | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return Principal.from_text(text)
    except PrincipalError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a non-negative integer, got {text!r}")
    return int(text)


def _limit(params: Mapping[str, str]) -> int:
    return max(1, min(_int(params, "limit", DEFAULT_PAGE), MAX_PAGE))


def _page(name: str, rows: list[dict[str, Any]], key: str, limit: int) -> dict[str, Any]:
    return {name: rows, "next": rows[-1][key] if len(rows) == limit else None}


def _galleries(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    rows = list_galleries(db, owner=_principal(params, "owner"), after=params.get("after", ""), limit=limit)
    return _page("galleries", rows, "id", limit)


def _memories(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    rows = list_memories(db, owner=_principal(params, "owner"), after=params.get("after", ""), limit=limit)
    return _page("memories", rows, "memory_id", limit)


def _sessions(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    status = params.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise ValueError(f"status must be one of {', '.join(s.value for s in Status)}")
    rows = list_sessions(
        db, owner=_principal(params, "owner"), status=status, after=_int(params, "after", 0), limit=limit
    )
    return _page("sessions", rows, "sid", limit)


def _assets(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    rows = list_assets(db, owner=_principal(params, "owner"), after=params.get("after", ""), limit=limit)
    return _page("assets", rows, "memory_id", limit)


def _audit(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    before = params.get("before")
    rows = query_audit(
        db,
        principal=_principal(params, "principal"),
        memory_id=params.get("memory_id"),
        gallery_id=params.get("gallery_id"),
        before_id=None if before is None else _int(params, "before", 0),
        limit=limit,
    )
    return _page("audit", rows, "id", limit)


def _figures(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    return {"figures": figures(db)}


_VIEWS: dict[str, Callable[[sqlite3.Connection, Mapping[str, str]], dict[str, Any]]] = {
    "galleries": _galleries,
    "memories": _memories,
    "sessions": _sessions,
    "assets": _assets,
    "audit": _audit,
    "figures": _figures,
}
VIEWS = tuple(_VIEWS)


def view(db: sqlite3.Connection, name: str, params: Mapping[str, str]) -> dict[str, Any]:
    if name not in _VIEWS:
        raise KeyError(name)
    return _VIEWS[name](db, params)
