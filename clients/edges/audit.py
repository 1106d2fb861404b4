"""``storeforever edges audit``: the table's ``icp-canister`` edges against the canister's presence.

Why this shape:

* the table is read in keyset pages of ``PRESENCE_PAGE`` memory ids (``memory_id > last ORDER BY
  memory_id LIMIT n``, an index range scan on the unique key's leading column), never all at once;
* each page is one presence query of at most 100 ids (the contract's maximum page) through the
  project's client, so the audit works on any target, emulator or replica;
* presence answers only for the caller's own memories (spec §3: others' read as not present), so the
  audit must run as the identity that stored them; run as anyone else, every present edge is drift;
* a ``migrating`` row younger than the threshold is a store in flight and is not compared; an older
  one is stuck;
* the badges: ``gallery_presence`` (a materialized view, refreshed by writers) against the same
  aggregation computed live from the table, the difference computed by PostgreSQL.

``--fix`` writes the canister's truth into every drifting row with a ``sync_error`` saying what the
audit found, refreshes ``gallery_presence``, all in one transaction. Each update is conditional on
the row's ``updated_at`` being the one the audit read, so a row a concurrent writer changed meanwhile
is left alone and counted (``changed_during_audit``) instead of being overwritten with stale truth.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from clients.artifact.client import ArtifactClient
from clients.artifact.types import MemoryPresence

from .connection import database_errors
from .schema import ICP_BACKEND, check_schema
from .store import refresh_gallery_presence

__all__ = ["DRIFT_KINDS", "PRESENCE_PAGE", "AuditResult", "Drift", "audit_edges"]

PRESENCE_PAGE = 100
DRIFT_KINDS = (
    "present_in_table_absent_on_canister",
    "present_on_canister_absent_in_table",
    "present_on_canister_missing_in_table",
    "stale_migrating",
    "gallery_badges_stale",
)
_NIL = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    memory_id: str | None = None
    memory_type: str | None = None
    artifact: str | None = None
    table: dict[str, Any] | None = None
    canister: dict[str, Any] | None = None
    gallery_id: str | None = None
    view: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("memory_id", "memory_type", "artifact", "gallery_id", "table", "canister", "view"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class _Fix:
    """The canister's truth for one row (``row_id`` None: a row to insert)."""

    row_id: str | None
    memory_id: str
    memory_type: str
    artifact: str
    present: bool
    note: str
    observed_updated_at: dt.datetime | None


@dataclass
class AuditResult:
    canister_id: str
    principal: str
    memories_checked: int = 0
    edges_checked: int = 0
    galleries_checked: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    drifts: list[Drift] = field(default_factory=list)
    details_truncated: bool = False
    fixed: dict[str, int] | None = None
    max_details: int = 1000

    @property
    def clean(self) -> bool:
        return not self.counts

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "canister_id": self.canister_id,
            "principal": self.principal,
            "memories_checked": self.memories_checked,
            "edges_checked": self.edges_checked,
            "galleries_checked": self.galleries_checked,
            "counts": {kind: self.counts.get(kind, 0) for kind in DRIFT_KINDS},
            "drifts": [d.to_json() for d in self.drifts],
            "details_truncated": self.details_truncated,
            "fixed": self.fixed,
        }


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    memory_id: str
    memory_type: str
    artifact: str
    backend: str
    present: bool
    sync_state: str
    updated_at: dt.datetime
    stale: bool

    def summary(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "sync_state": self.sync_state,
            "updated_at": self.updated_at.isoformat(),
        }


def _scope_sql(galleries: Sequence[str], owners: Sequence[str]) -> tuple[str, list[Any]]:
    if not galleries and not owners:
        return "", []
    return (
        " AND e.memory_id IN (SELECT gi.memory_id FROM gallery_items gi "
        "JOIN galleries g ON g.id = gi.gallery_id "
        "WHERE g.id = ANY(%s::uuid[]) OR g.owner_id = ANY(%s::text[]))",
        [list(galleries), list(owners)],
    )


def _memory_pages(conn: psycopg.Connection, galleries: Sequence[str], owners: Sequence[str]) -> Any:
    scope, params = _scope_sql(galleries, owners)
    last = _NIL
    while True:
        rows = conn.execute(
            f"SELECT DISTINCT e.memory_id FROM storage_edges e WHERE e.memory_id > %s::uuid{scope} "
            "ORDER BY e.memory_id LIMIT %s",
            [last, *params, PRESENCE_PAGE],
        ).fetchall()
        if not rows:
            return
        ids = [str(r[0]) for r in rows]
        yield ids
        last = ids[-1]


def _rows(conn: psycopg.Connection, ids: list[str], stale_after: float) -> list[_Row]:
    result = conn.execute(
        "SELECT id::text, memory_id::text, memory_type, artifact::text, backend::text, present, sync_state, "
        "updated_at, (sync_state = 'migrating' AND updated_at < now() - make_interval(secs => %s)) "
        "FROM storage_edges WHERE memory_id = ANY(%s::uuid[])",
        (stale_after, ids),
    ).fetchall()
    return [_Row(*r) for r in result]


def _compare(
    ids: list[str],
    rows: list[_Row],
    presence: dict[str, MemoryPresence],
    result: AuditResult,
    fixes: list[_Fix],
) -> None:
    by_key: dict[tuple[str, str], list[_Row]] = {}
    types: dict[str, Counter[str]] = {}
    for row in rows:
        types.setdefault(row.memory_id, Counter())[row.memory_type] += 1
        if row.backend == ICP_BACKEND:
            by_key.setdefault((row.memory_id, row.artifact), []).append(row)
            result.edges_checked += 1
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for mid in ids:
        p = presence.get(mid)
        for artifact in ("metadata", "asset"):
            on_canister = bool(p and (p.metadata_present if artifact == "metadata" else p.asset_present))
            canister = {"present": on_canister}
            key_rows = by_key.get((mid, artifact), [])
            if not key_rows:
                known_types = types.get(mid)
                if on_canister and known_types:  # no rows at all: deleted since the page was listed
                    mtype = known_types.most_common(1)[0][0]
                    note = f"audit {stamp}: present on the canister but no row in the table; row created"
                    result.counts["present_on_canister_missing_in_table"] += 1
                    _detail(
                        result,
                        Drift("present_on_canister_missing_in_table", mid, mtype, artifact, None, canister),
                    )
                    fixes.append(_Fix(None, mid, mtype, artifact, True, note, None))
                continue
            for row in key_rows:
                kind: str | None = None
                if row.sync_state == "migrating":
                    if not row.stale:
                        continue  # a store in flight: its writer will settle it
                    kind = "stale_migrating"
                    note = (
                        f"audit {stamp}: stuck in migrating since {row.updated_at.isoformat()}; set to the "
                        f"canister's presence ({'present' if on_canister else 'absent'})"
                    )
                elif row.present and not on_canister:
                    kind = "present_in_table_absent_on_canister"
                    note = f"audit {stamp}: the table said present but the canister reports it absent"
                elif on_canister and not row.present:
                    kind = "present_on_canister_absent_in_table"
                    note = (
                        f"audit {stamp}: present on the canister but the table said absent ({row.sync_state})"
                    )
                if kind is None:
                    continue
                result.counts[kind] += 1
                _detail(result, Drift(kind, mid, row.memory_type, artifact, row.summary(), canister))
                fixes.append(_Fix(row.id, mid, row.memory_type, artifact, on_canister, note, row.updated_at))


def _detail(result: AuditResult, drift: Drift) -> None:
    if len(result.drifts) < result.max_details:
        result.drifts.append(drift)
    else:
        result.details_truncated = True


_LIVE_BADGES = """
WITH live AS (
  SELECT g.id AS gallery_id, g.owner_id, COUNT(gi.memory_id) AS memory_count,
         COUNT(CASE WHEN mp.meta_icp AND mp.asset_icp THEN 1 END) AS icp_memory_count,
         BOOL_AND(mp.meta_icp AND mp.asset_icp) AS icp_complete,
         COUNT(CASE WHEN mp.meta_icp OR mp.asset_icp THEN 1 END) > 0 AS partial_icp
    FROM galleries g LEFT JOIN gallery_items gi ON g.id = gi.gallery_id
    LEFT JOIN memory_presence mp ON gi.memory_id = mp.memory_id
   WHERE {scope}
   GROUP BY g.id, g.owner_id),
view AS (SELECT * FROM gallery_presence gp WHERE {view_scope})
SELECT COALESCE(l.gallery_id, v.gallery_id)::text,
       l.memory_count, l.icp_memory_count, l.icp_complete, l.partial_icp,
       v.memory_count, v.icp_memory_count, v.icp_complete, v.partial_icp
  FROM live l FULL JOIN view v ON v.gallery_id = l.gallery_id
 WHERE (l.owner_id, l.memory_count, l.icp_memory_count, l.icp_complete, l.partial_icp)
       IS DISTINCT FROM (v.owner_id, v.memory_count, v.icp_memory_count, v.icp_complete, v.partial_icp)
 ORDER BY 1
"""


def _badges(
    conn: psycopg.Connection, galleries: Sequence[str], owners: Sequence[str], result: AuditResult
) -> None:
    params: list[Any] = []
    scope = view_scope = "true"
    if galleries or owners:
        scope = "(g.id = ANY(%s::uuid[]) OR g.owner_id = ANY(%s::text[]))"
        view_scope = "(gp.gallery_id = ANY(%s::uuid[]) OR gp.owner_id = ANY(%s::text[]))"
        params = [list(galleries), list(owners), list(galleries), list(owners)]
    rows = conn.execute(_LIVE_BADGES.format(scope=scope, view_scope=view_scope), params).fetchall()
    counted = conn.execute(f"SELECT COUNT(*) FROM galleries g WHERE {scope}", params[:2]).fetchone()
    result.galleries_checked = int(counted[0]) if counted else 0
    names = ("memory_count", "icp_memory_count", "icp_complete", "partial_icp")
    for row in rows:
        table = dict(zip(names, row[1:5], strict=True))
        view = dict(zip(names, row[5:9], strict=True))
        result.counts["gallery_badges_stale"] += 1
        _detail(result, Drift("gallery_badges_stale", gallery_id=row[0], table=table, view=view))


def _apply_fixes(conn: psycopg.Connection, fixes: list[_Fix], refresh: bool) -> dict[str, int]:
    updates = [f for f in fixes if f.row_id is not None]
    inserts = [f for f in fixes if f.row_id is None]
    updated = inserted = 0
    with conn.transaction(), conn.cursor() as cur:
        # executemany pipelines the statements: one round trip per batch, not per row.
        if updates:
            cur.executemany(
                "UPDATE storage_edges SET present = %s, sync_state = %s, sync_error = %s, "
                "updated_at = now(), last_synced_at = now() WHERE id = %s AND updated_at = %s",
                [
                    (f.present, "idle" if f.present else "failed", f.note, f.row_id, f.observed_updated_at)
                    for f in updates
                ],
            )
            updated = max(cur.rowcount, 0)
        if inserts:
            cur.executemany(
                "INSERT INTO storage_edges (memory_id, memory_type, artifact, backend, present, sync_state, "
                "sync_error, last_synced_at) VALUES (%s, %s, %s, %s, true, 'idle', %s, now()) "
                "ON CONFLICT (memory_id, memory_type, artifact, backend) DO NOTHING",
                [(f.memory_id, f.memory_type, f.artifact, ICP_BACKEND, f.note) for f in inserts],
            )
            inserted = max(cur.rowcount, 0)
        if refresh:
            refresh_gallery_presence(conn)
    return {
        "updated": updated,
        "inserted": inserted,
        "changed_during_audit": len(fixes) - updated - inserted,
        "refreshed_gallery_presence": int(refresh),
    }


def audit_edges(
    conn: psycopg.Connection,
    client: ArtifactClient,
    *,
    canister_id: str,
    stale_after: float = 900.0,
    galleries: Sequence[str] = (),
    owners: Sequence[str] = (),
    fix: bool = False,
    max_details: int = 1000,
) -> AuditResult:
    """Compare, report, and with ``fix`` repair; canister errors propagate as ``ArtifactError``."""
    result = AuditResult(canister_id, client.principal, max_details=max_details)
    fixes: list[_Fix] = []
    with database_errors("checking the storage_edges schema"):
        check_schema(conn)
    for ids in _paged(conn, galleries, owners):
        with database_errors("reading storage_edges"):
            rows = _rows(conn, ids, stale_after)
        presence = {p.memory_id: p for p in client.iter_memory_presence(ids, PRESENCE_PAGE)}
        result.memories_checked += len(ids)
        _compare(ids, rows, presence, result, fixes)
    with database_errors("comparing gallery_presence with the table"):
        _badges(conn, galleries, owners, result)
    if fix and not result.clean:
        with database_errors("fixing storage_edges"):
            result.fixed = _apply_fixes(conn, fixes, refresh=True)
    elif fix:
        result.fixed = {
            "updated": 0,
            "inserted": 0,
            "changed_during_audit": 0,
            "refreshed_gallery_presence": 0,
        }
    return result


def _paged(conn: psycopg.Connection, galleries: Sequence[str], owners: Sequence[str]) -> Any:
    with database_errors("reading storage_edges"):
        yield from _memory_pages(conn, galleries, owners)
