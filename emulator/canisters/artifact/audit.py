"""The audit trail (requirements 17.2, 17.4): one row per update call, refused ones included.

The row is written in the call's own transaction, so the trail and the state it describes cannot
disagree: a call that traps leaves neither. Refusals are logged too, because "who tried to write
what they do not own" is the question an audit trail exists to answer.

Both refusals and the trail itself are bounded, because an anonymous caller can make refused calls
for free: caller-supplied text is cut to `MAX_AUDIT_TEXT` characters before it is recorded (a 2 MB
"memory id" leaves a 100-byte row, not a 2 MB one), and the trail keeps only the newest
`audit_retention_rows` rows, pruned a few at a time on insert through the primary key.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.canisters.artifact.errors import outcome_label
from emulator.principal import Principal


@dataclass(slots=True)
class AuditEntry:
    """What one call touched; filled in by the method, written once it has replied."""

    principal: Principal
    method: str
    artifact: str
    at: int
    gallery_id: str | None = None
    memory_id: str | None = None
    session_id: str | None = None
    bytes: int = 0
    outcome: str = "ok"


def outcome_of(result: Any) -> str:
    """`ok` or the refusal, read off any reply shape the canister returns."""
    if isinstance(result, bool):
        return "ok" if result else "Unauthorized"
    if isinstance(result, dict):
        if "data" in result and "error" in result:
            return outcome_label(result["error"])
        if result.get("success") is False:
            return str(result.get("message", "refused"))
    return "ok"


MAX_AUDIT_TEXT = 80
"""Longest caller-supplied text kept in a row: a canonical UUID is 36, a session id 40 characters."""

PRUNE_BATCH = 16
"""Rows pruned per insert at most: twice as many rows leave as arrive, so a lowered retention catches up
without one call deleting a million rows."""


def bounded(value: str | None) -> str | None:
    """Caller-supplied text as the trail stores it: cut, with the original length, when too long."""
    if value is None or len(value) <= MAX_AUDIT_TEXT:
        return value
    return f"{value[:MAX_AUDIT_TEXT]}…(+{len(value) - MAX_AUDIT_TEXT} chars)"


def record(db: sqlite3.Connection, entry: AuditEntry, duration_ms: float, *, keep_rows: int) -> None:
    if entry.memory_id is None and entry.session_id is not None:
        row = db.execute(
            "SELECT memory_id FROM af_sessions WHERE session_id = ?", (entry.session_id,)
        ).fetchone()
        entry.memory_id = None if row is None else str(row[0])
    db.execute(
        "INSERT INTO af_audit (at, principal, method, artifact, gallery_id, memory_id, session_id, bytes, "
        "outcome, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.at,
            entry.principal.raw,
            entry.method,
            entry.artifact,
            bounded(entry.gallery_id),
            bounded(entry.memory_id),
            bounded(entry.session_id),
            entry.bytes,
            # An outcome can quote caller text (a refusal's message); 4x the id bound keeps it readable.
            entry.outcome
            if len(entry.outcome) <= 4 * MAX_AUDIT_TEXT
            else entry.outcome[: 4 * MAX_AUDIT_TEXT] + "…",
            duration_ms,
        ),
    )
    newest = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    db.execute(
        "DELETE FROM af_audit WHERE id IN (SELECT id FROM af_audit WHERE id <= ? ORDER BY id LIMIT ?)",
        (newest - keep_rows, PRUNE_BATCH),
    )


_AUDIT_COLUMNS = (
    "id, at, principal, method, artifact, gallery_id, memory_id, session_id, bytes, outcome, duration_ms"
)


def _audit_row(row: Any) -> dict[str, Any]:
    (
        audit_id,
        at,
        principal,
        method,
        artifact,
        gallery_id,
        memory_id,
        session_id,
        size,
        outcome,
        duration,
    ) = row
    return {
        "id": audit_id,
        "at": at,
        "principal": Principal(bytes(principal)).to_text(),
        "method": method,
        "artifact": artifact,
        "gallery_id": gallery_id,
        "memory_id": memory_id,
        "session_id": session_id,
        "bytes": size,
        "outcome": outcome,
        "duration_ms": duration,
    }


def query_audit(
    db: sqlite3.Connection,
    *,
    principal: Principal | None = None,
    memory_id: str | None = None,
    gallery_id: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated: pass the last row's `id` as `before_id` for the next page.

    At most one filter; each has its own index, and an unfiltered read walks the primary key.
    """
    before = (1 << 62) if before_id is None else before_id
    if sum(x is not None for x in (principal, memory_id, gallery_id)) > 1:
        raise ValueError("filter the audit trail by one of principal, memory_id, gallery_id")
    arg: bytes | str
    if principal is not None:
        where, arg = "principal = ?", principal.raw
    elif memory_id is not None:
        where, arg = "memory_id = ?", memory_id
    elif gallery_id is not None:
        where, arg = "gallery_id = ?", gallery_id
    else:
        rows = db.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM af_audit WHERE id < ? ORDER BY id DESC LIMIT ?", (before, limit)
        )
        return [_audit_row(r) for r in rows]
    rows = db.execute(
        f"SELECT {_AUDIT_COLUMNS} FROM af_audit WHERE {where} AND id < ? ORDER BY id DESC LIMIT ?",
        (arg, before, limit),
    )
    return [_audit_row(r) for r in rows]
