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
| `gallery_summaries` | `owner`, `after`, `limit`, `now`           | gallery id    |
| `gallery_memories`  | `gallery_id` (required), `after`, `limit`, `now` | entry index |
| `upload_board`      | `now`, `limit`, `before_finished`, `before_sid` | finished_at, sid |
| `audit_search`      | `principal`, `method`, `outcome`, `before`, `limit`, `scan` | audit id |

The last four serve the inspector page (`emulator/server/inspector`): gallery badges with counts,
a gallery's memories with presence, asset and sessions, live and finished upload sessions with
progress figures and reasons, and the audit trail filtered by method and outcome. `now` is the
canister time (ns) against which "Active" is judged (a session past its lifetime is Expired even
before the clean-up timer finishes it); without it stored statuses are shown as stored.

`limit` defaults to 100 and is capped at 1000. Invalid parameters raise `ValueError` (HTTP 400).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from emulator.canisters.artifact import counters
from emulator.canisters.artifact.audit import query_audit
from emulator.canisters.artifact.uploads import (
    SESSION_COLUMNS,
    Session,
    Status,
    estimate_remaining_ns,
    iter_asset_chunks,
)
from emulator.principal import Principal, PrincipalError

__all__ = [
    "VIEWS",
    "asset_chunk",
    "asset_chunk_count",
    "asset_info",
    "audit_search",
    "figures",
    "gallery_memories",
    "gallery_summaries",
    "iter_asset_chunks",
    "list_assets",
    "list_galleries",
    "list_memories",
    "list_sessions",
    "query_audit",
    "upload_board",
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


# -- inspector views --------------------------------------------------------------------------------

# Rows the audit search examines per page at most when filtering by method/outcome (no index on
# those columns): a page costs the same however large the trail is, and says where it stopped.
DEFAULT_AUDIT_SCAN = 5000
MAX_AUDIT_SCAN = 50_000

STORED_FOREVER = "Stored forever"
PARTIALLY_ON_ICP = "Partially on ICP"
STORING = "Storing…"
NOT_STORED = "Not stored"


# Presence counts over one gallery's own entry list, in one statement: SQLite walks the JSON array
# it is given (`json_each` over the parameter, not a table) and probes each id's metadata and asset
# by primary key.
_PRESENCE_COUNTS = (
    "WITH ids(memory_id) AS (SELECT DISTINCT json_extract(value, '$.memory_id') FROM json_each(?)) "
    "SELECT COUNT(*), COUNT(d.memory_id), COUNT(a.memory_id), "
    "COUNT(CASE WHEN d.memory_id IS NOT NULL AND a.memory_id IS NOT NULL THEN 1 END), "
    "COUNT(CASE WHEN d.memory_id IS NOT NULL OR a.memory_id IS NOT NULL THEN 1 END) "
    "FROM ids LEFT JOIN af_metadata d ON d.memory_id = ids.memory_id "
    "LEFT JOIN af_assets a ON a.memory_id = ids.memory_id"
)


def _active_memory_ids(db: sqlite3.Connection, owner: bytes, now: int | None) -> list[str]:
    """Memories with a live upload session of `owner` (a handful: sessions per caller are capped)."""
    rows = db.execute(
        "SELECT memory_id, expires_at FROM af_sessions WHERE owner = ? AND status = 'Active' "
        "AND expires_at >= 0",
        (owner,),
    )
    return sorted({mid for mid, expires in rows if now is None or now <= expires})


def _storing_count(db: sqlite3.Connection, entries_json: str, active: list[str]) -> int:
    if not active:
        return 0
    marks = ", ".join("?" * len(active))
    row = db.execute(
        "SELECT COUNT(DISTINCT json_extract(value, '$.memory_id')) FROM json_each(?) "
        f"WHERE json_extract(value, '$.memory_id') IN ({marks})",
        (entries_json, *active),
    ).fetchone()
    return int(row[0])


def storage_badge(total: int, stored: int, any_present: int, storing: int) -> str:
    """The seed plan's badge: storing wins (the figures are moving), then all / some / none present."""
    if storing:
        return STORING
    if stored == total:
        return STORED_FOREVER
    return PARTIALLY_ON_ICP if any_present else NOT_STORED


def _summary(db: sqlite3.Connection, row: Sequence[Any], now: int | None) -> dict[str, Any]:
    gid, owner, title, public, created, updated, status, entries = row
    total, with_metadata, with_asset, stored, any_present = db.execute(
        _PRESENCE_COUNTS, (entries,)
    ).fetchone()
    (entry_count,) = db.execute("SELECT json_array_length(?)", (entries,)).fetchone()
    storing = _storing_count(db, entries, _active_memory_ids(db, bytes(owner), now))
    return {
        "id": gid,
        "owner": _text(owner),
        "title": title,
        "is_public": bool(public),
        "created_at": created,
        "updated_at": updated,
        "storage_status": status,
        "memories": total,
        "entries": entry_count,
        "stored": stored,
        "metadata_present": with_metadata,
        "asset_present": with_asset,
        "storing": storing,
        "badge": storage_badge(total, stored, any_present, storing),
    }


_GALLERY_ROW = "gallery_id, owner, title, is_public, created_at, updated_at, storage_status, memory_entries"


def gallery_summaries(
    db: sqlite3.Connection,
    *,
    owner: Principal | None = None,
    after: str = "",
    limit: int = DEFAULT_PAGE,
    now: int | None = None,
) -> list[dict[str, Any]]:
    """Galleries with the counts behind their badge: memories stored (metadata and asset), partly, storing.

    Each gallery costs primary-key searches over its own memories only (batched), never a scan.
    """
    if owner is None:
        rows = db.execute(
            f"SELECT {_GALLERY_ROW} FROM af_galleries WHERE gallery_id > ? ORDER BY gallery_id LIMIT ?",
            (after, limit),
        ).fetchall()
    else:
        rows = db.execute(
            f"SELECT {_GALLERY_ROW} FROM af_galleries WHERE owner = ? AND gallery_id > ? "
            "ORDER BY gallery_id LIMIT ?",
            (owner.raw, after, limit),
        ).fetchall()
    return [_summary(db, row, now) for row in rows]


def _session_json(s: Session, stored_bytes: int | None, now: int | None) -> dict[str, Any]:
    status = s.status if now is None else s.effective_status(now)
    elapsed = None if now is None else now - s.created_at
    return {
        "sid": s.sid,
        "session_id": s.session_id,
        "owner": _text(s.owner),
        "memory_id": s.memory_id,
        "expected_hash": s.expected_hash,
        "chunk_count": s.chunk_count,
        "total_size": s.total_size,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "status": status.value,
        "stored_status": s.status.value,
        "chunks_received": s.chunks_received,
        "bytes_received": s.bytes_received,
        "stored_bytes": stored_bytes,
        "last_chunk_at": s.last_chunk_at,
        "finished_at": s.finished_at,
        "final_hash": s.final_hash,
        "progress_percentage": s.chunks_received / s.chunk_count * 100.0 if s.chunk_count else 100.0,
        # The progress API's own figures: average rate since begin, and its remaining-time estimate.
        "bytes_per_second": (
            s.bytes_received * 1_000_000_000 / elapsed if elapsed and status is Status.ACTIVE else None
        ),
        "estimated_time_remaining_ns": None if now is None else estimate_remaining_ns(s, status, now),
    }


def _session_reason(db: sqlite3.Connection, s: Session, status: Status) -> str | None:
    """Why a session ended, from the audit row that ended it (the memory's own audit index)."""
    if status is Status.ACTIVE:
        return None
    if status is Status.EXPIRED:
        return (
            f"lifetime ended at {s.expires_at} ns with {s.chunks_received} of {s.chunk_count} chunks received"
        )
    if status is Status.COMPLETED:
        return f"committed, SHA-256 {s.final_hash}"
    wanted = "cancel_upload" if status is Status.CANCELLED else "commit_asset"
    row = db.execute(
        "SELECT method, outcome, principal FROM af_audit WHERE memory_id = ? AND session_id = ? "
        "AND method = ? ORDER BY id DESC LIMIT 1",
        (s.memory_id, s.session_id, wanted),
    ).fetchone()
    if row is None:
        return status.value.lower()
    method, outcome, principal = row
    if status is Status.CANCELLED:
        return f"cancelled by {_text(principal)} ({method})"
    return f"{method}: {outcome}"


def _memory_sessions(db: sqlite3.Connection, memory_id: str, now: int | None) -> list[dict[str, Any]]:
    """A memory's upload sessions, found through its audit rows (index on memory_id) by session id."""
    session_ids = [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT session_id FROM af_audit WHERE memory_id = ? AND session_id IS NOT NULL "
            "AND method = 'begin_asset_upload'",
            (memory_id,),
        )
    ]
    out = []
    for session_id in session_ids:
        row = db.execute(
            f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            continue  # purged after its retention period
        s = Session.from_row(row)
        item = _session_json(s, None, now)
        item["reason"] = _session_reason(db, s, Status(item["status"]))
        out.append(item)
    out.sort(key=lambda item: int(item["sid"]))
    return out


def gallery_memories(
    db: sqlite3.Connection, gallery_id: str, *, after: int = -1, limit: int = DEFAULT_PAGE, now: int | None
) -> dict[str, Any] | None:
    """One gallery's summary and a page of its memories in gallery order (keyed by entry index)."""
    row = db.execute(
        f"SELECT {_GALLERY_ROW} FROM af_galleries WHERE gallery_id = ?", (gallery_id,)
    ).fetchone()
    if row is None:
        return None
    summary = _summary(db, row, now)
    page = db.execute(
        "SELECT key, value FROM json_each(?) WHERE key > ? ORDER BY key LIMIT ?", (row[-1], after, limit)
    ).fetchall()
    memories = []
    for index, value in page:
        entry = json.loads(value)
        memory_id = str(entry["memory_id"])
        meta = db.execute(
            "SELECT memory_type, body, encoded_size, stored_at FROM af_metadata WHERE memory_id = ?",
            (memory_id,),
        ).fetchone()
        title = None
        if meta is not None:
            try:
                title = json.loads(meta[1]).get("title")
            except (ValueError, AttributeError):
                title = None
        memories.append(
            {
                "index": index,
                "memory_id": memory_id,
                "position": entry.get("position"),
                "gallery_caption": entry.get("gallery_caption"),
                "metadata_present": meta is not None,
                "memory_type": None if meta is None else meta[0],
                "title": title,
                "metadata_bytes": None if meta is None else meta[2],
                "metadata_stored_at": None if meta is None else meta[3],
                "asset": asset_info(db, memory_id),
                "sessions": _memory_sessions(db, memory_id, now),
            }
        )
    next_key = page[-1][0] if len(page) == limit and page[-1][0] + 1 < summary["entries"] else None
    return {"gallery": summary, "memories": memories, "next": next_key}


def upload_board(
    db: sqlite3.Connection,
    *,
    now: int | None,
    limit: int = DEFAULT_PAGE,
    before_finished: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Live sessions (nominally Active, soonest expiry first) and a page of finished ones, newest first.

    Both walk partial indexes (`af_sessions_active_expiry`, `af_sessions_finished`): live sessions
    are capped per caller and finished ones are paged by (finished_at, sid).
    """
    active = []
    for row in db.execute(
        # A range over the partial index of Active rows (every expiry is >= 0): the planner searches it.
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE status = 'Active' AND expires_at >= 0 "
        "ORDER BY expires_at LIMIT ?",
        (limit,),
    ):
        s = Session.from_row(row)
        item = _session_json(s, None, now)
        item["reason"] = _session_reason(db, s, Status(item["status"]))
        active.append(item)
    if before_finished is None:
        rows = db.execute(
            f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, sid DESC LIMIT ?",
            (limit,),
        ).fetchall()
    else:
        rows = db.execute(
            f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE finished_at IS NOT NULL "
            "AND (finished_at, sid) < (?, ?) ORDER BY finished_at DESC, sid DESC LIMIT ?",
            (*before_finished, limit),
        ).fetchall()
    finished = []
    for row in rows:
        s = Session.from_row(row)
        item = _session_json(s, None, now)
        item["reason"] = _session_reason(db, s, s.status)
        finished.append(item)
    next_key = f"{finished[-1]['finished_at']}:{finished[-1]['sid']}" if len(finished) == limit else None
    return {"active": active, "finished": finished, "next": next_key}


def audit_search(
    db: sqlite3.Connection,
    *,
    principal: Principal | None = None,
    method: str | None = None,
    outcome: str | None = None,
    before_id: int | None = None,
    limit: int = DEFAULT_PAGE,
    scan: int = DEFAULT_AUDIT_SCAN,
) -> dict[str, Any]:
    """The audit trail newest first, by principal (indexed) and by method/outcome (checked per row).

    Method and outcome have no index, so at most `scan` rows are examined per page: `next` is the
    id to continue from (older rows), so a sparse match pages on instead of walking the whole trail.
    `outcome` is `ok`, `refused` (anything but ok) or an exact outcome text.
    """
    before = (1 << 62) if before_id is None else before_id
    columns = (
        "id, at, principal, method, artifact, gallery_id, memory_id, session_id, bytes, outcome, duration_ms"
    )
    if principal is None:
        cursor = db.execute(
            f"SELECT {columns} FROM af_audit WHERE id < ? ORDER BY id DESC LIMIT ?", (before, scan)
        )
    else:
        cursor = db.execute(
            f"SELECT {columns} FROM af_audit WHERE principal = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (principal.raw, before, scan),
        )
    matches: list[dict[str, Any]] = []
    scanned, last_id = 0, None
    for row in cursor:
        scanned += 1
        last_id = int(row[0])
        if method and row[3] != method:
            continue
        if outcome == "ok" and row[9] != "ok":
            continue
        if outcome == "refused" and row[9] == "ok":
            continue
        if outcome not in (None, "", "ok", "refused") and row[9] != outcome:
            continue
        matches.append(
            {
                "id": row[0],
                "at": row[1],
                "principal": _text(row[2]),
                "method": row[3],
                "artifact": row[4],
                "gallery_id": row[5],
                "memory_id": row[6],
                "session_id": row[7],
                "bytes": row[8],
                "outcome": row[9],
                "duration_ms": row[10],
            }
        )
        if len(matches) == limit:
            break
    cursor.close()
    exhausted = scanned < scan and len(matches) < limit
    return {"audit": matches, "scanned": scanned, "next": None if exhausted or last_id is None else last_id}


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


def _now(params: Mapping[str, str]) -> int | None:
    return None if params.get("now") is None else _int(params, "now", 0)


def _gallery_summaries(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    limit = _limit(params)
    rows = gallery_summaries(
        db, owner=_principal(params, "owner"), after=params.get("after", ""), limit=limit, now=_now(params)
    )
    return _page("galleries", rows, "id", limit)


def _gallery_memories(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    gallery_id = params.get("gallery_id")
    if not gallery_id:
        raise ValueError("gallery_id is required")
    after = params.get("after")
    page = gallery_memories(
        db,
        gallery_id,
        after=-1 if after is None else _int(params, "after", 0),
        limit=_limit(params),
        now=_now(params),
    )
    if page is None:
        raise ValueError(f"no gallery {gallery_id!r}")
    return page


def _upload_board(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    before = params.get("before_finished")
    key: tuple[int, int] | None = None
    if before:
        finished_at, _, sid = before.partition(":")
        if not (finished_at.isdigit() and sid.isdigit()):
            raise ValueError(f"before_finished must be FINISHED_AT:SID, got {before!r}")
        key = (int(finished_at), int(sid))
    return upload_board(db, now=_now(params), limit=_limit(params), before_finished=key)


def _audit_search(db: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, Any]:
    before = params.get("before")
    return audit_search(
        db,
        principal=_principal(params, "principal"),
        method=params.get("method") or None,
        outcome=params.get("outcome") or None,
        before_id=None if before is None else _int(params, "before", 0),
        limit=_limit(params),
        scan=max(1, min(_int(params, "scan", DEFAULT_AUDIT_SCAN), MAX_AUDIT_SCAN)),
    )


_VIEWS: dict[str, Callable[[sqlite3.Connection, Mapping[str, str]], dict[str, Any]]] = {
    "galleries": _galleries,
    "memories": _memories,
    "sessions": _sessions,
    "assets": _assets,
    "audit": _audit,
    "figures": _figures,
    "gallery_summaries": _gallery_summaries,
    "gallery_memories": _gallery_memories,
    "upload_board": _upload_board,
    "audit_search": _audit_search,
}
VIEWS = tuple(_VIEWS)


def view(db: sqlite3.Connection, name: str, params: Mapping[str, str]) -> dict[str, Any]:
    if name not in _VIEWS:
        raise KeyError(name)
    return _VIEWS[name](db, params)
