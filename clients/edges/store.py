"""The SQL of requirement 12's transitions on ``storage_edges`` (ICP backend), one statement per batch.

Every write is an ``INSERT … ON CONFLICT (memory_id, memory_type, artifact, backend) DO UPDATE`` over
``unnest`` arrays, so a batch of any size is one round trip and a row that does not exist yet (the app
had no ICP edge for the memory) is created. The transitions:

* ``mark_migrating``: ``idle|failed → migrating`` before a memory is attempted; ``present`` is set to
  what the canister's presence pass said just before (verified truth, never a hope);
* ``mark_present``: ``→ idle`` with ``present = true``, the content hash and ``last_synced_at``, only
  after presence was verified. Guarded by ``WHERE … IS DISTINCT FROM …``: a row that already says
  exactly that is not rewritten (no new tuple, ``updated_at`` kept), which is what makes a re-run of
  a stored gallery write nothing;
* ``mark_failed``: ``migrating → failed`` with the reason in ``sync_error`` for artifacts not
  verified present; artifacts the presence pass had verified go back to ``idle``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from .schema import ICP_BACKEND

__all__ = [
    "EdgeKey",
    "FailedEdge",
    "MigratingEdge",
    "PresentEdge",
    "mark_failed",
    "mark_migrating",
    "mark_present",
    "refresh_gallery_presence",
]

MAX_ERROR_TEXT = 2000


@dataclass(frozen=True, slots=True)
class EdgeKey:
    memory_id: str
    memory_type: str
    artifact: str


@dataclass(frozen=True, slots=True)
class MigratingEdge:
    key: EdgeKey
    present: bool


@dataclass(frozen=True, slots=True)
class PresentEdge:
    key: EdgeKey
    content_hash: str
    location: str | None = None
    present: bool = True


@dataclass(frozen=True, slots=True)
class FailedEdge:
    key: EdgeKey
    error: str


def _keys(keys: Sequence[EdgeKey]) -> tuple[list[str], list[str], list[str]]:
    return [k.memory_id for k in keys], [k.memory_type for k in keys], [k.artifact for k in keys]


_MIGRATING = f"""
INSERT INTO storage_edges AS e (memory_id, memory_type, artifact, backend, present, sync_state, location)
SELECT u.m::uuid, u.t, u.a::artifact_t, '{ICP_BACKEND}', u.p, 'migrating', %s
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::bool[]) AS u(m, t, a, p)
ON CONFLICT (memory_id, memory_type, artifact, backend) DO UPDATE
  SET present = EXCLUDED.present, sync_state = 'migrating', sync_error = NULL, updated_at = now()
"""


def mark_migrating(conn: psycopg.Connection, edges: Sequence[MigratingEdge], location: str | None) -> int:
    if not edges:
        return 0
    ids, types, artifacts = _keys([e.key for e in edges])
    cur = conn.execute(_MIGRATING, (location, ids, types, artifacts, [e.present for e in edges]))
    return max(cur.rowcount, 0)


SETTLE_ON_CONFLICT = """ON CONFLICT (memory_id, memory_type, artifact, backend) DO UPDATE
  SET present = EXCLUDED.present, sync_state = 'idle', sync_error = NULL,
      content_hash = EXCLUDED.content_hash, location = COALESCE(EXCLUDED.location, e.location),
      last_synced_at = now(), updated_at = now()
  WHERE e.present IS DISTINCT FROM EXCLUDED.present OR e.sync_state <> 'idle' OR e.sync_error IS NOT NULL
     OR e.content_hash IS DISTINCT FROM EXCLUDED.content_hash
     OR (EXCLUDED.location IS NOT NULL AND e.location IS DISTINCT FROM EXCLUDED.location)
"""
"""How a verified edge settles on the row of its key (`storage_edges AS e`), for `store-gallery` and
`edges apply` alike: `idle` with the new presence and hash; a row already saying exactly that is not
written again (so a re-run rewrites nothing)."""


_PRESENT = f"""
INSERT INTO storage_edges AS e
  (memory_id, memory_type, artifact, backend, present, sync_state, content_hash, location, last_synced_at)
SELECT u.m::uuid, u.t, u.a::artifact_t, '{ICP_BACKEND}', u.p, 'idle', u.h, u.l, now()
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::bool[], %s::text[], %s::text[]) AS u(m, t, a, p, h, l)
{SETTLE_ON_CONFLICT}"""


def mark_present(conn: psycopg.Connection, edges: Sequence[PresentEdge]) -> int:
    """Rows written (inserted or changed); rows already saying the same are left untouched."""
    if not edges:
        return 0
    ids, types, artifacts = _keys([e.key for e in edges])
    params = (
        ids,
        types,
        artifacts,
        [e.present for e in edges],
        [e.content_hash for e in edges],
        [e.location for e in edges],
    )
    return max(conn.execute(_PRESENT, params).rowcount, 0)


_FAILED = f"""
INSERT INTO storage_edges AS e (memory_id, memory_type, artifact, backend, present, sync_state, sync_error)
SELECT u.m::uuid, u.t, u.a::artifact_t, '{ICP_BACKEND}', false, 'failed', u.r
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(m, t, a, r)
ON CONFLICT (memory_id, memory_type, artifact, backend) DO UPDATE
  SET sync_state = CASE WHEN e.present THEN 'idle' ELSE 'failed' END,
      sync_error = CASE WHEN e.present THEN NULL ELSE EXCLUDED.sync_error END,
      updated_at = now()
  WHERE e.sync_state IS DISTINCT FROM (CASE WHEN e.present THEN 'idle' ELSE 'failed' END)
     OR e.sync_error IS DISTINCT FROM (CASE WHEN e.present THEN NULL ELSE EXCLUDED.sync_error END)
"""


def mark_failed(conn: psycopg.Connection, edges: Sequence[FailedEdge]) -> int:
    if not edges:
        return 0
    ids, types, artifacts = _keys([e.key for e in edges])
    reasons = [e.error[:MAX_ERROR_TEXT] for e in edges]
    return max(conn.execute(_FAILED, (ids, types, artifacts, reasons)).rowcount, 0)


def refresh_gallery_presence(conn: psycopg.Connection) -> None:
    """Recompute the badges (requirement 19.5).

    ``CONCURRENTLY`` (readers not blocked) needs a unique index on the view, which the app's design
    does not have; when the app adds one, it is used.
    """
    row = conn.execute(
        "SELECT c.relispopulated, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
        "AND i.indisunique AND i.indpred IS NULL) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = 'gallery_presence'"
    ).fetchone()
    concurrently = row is not None and bool(row[0]) and bool(row[1])
    conn.execute(
        "REFRESH MATERIALIZED VIEW CONCURRENTLY gallery_presence"
        if concurrently
        else "REFRESH MATERIALIZED VIEW gallery_presence"
    )
