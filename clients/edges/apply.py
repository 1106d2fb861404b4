"""``storeforever edges apply``: upsert storage-edge JSON lines into ``storage_edges``, all or nothing.

Why one transaction for the whole file: the file is one producer's statement of what it verified;
applying half of it (up to a malformed line) would leave a table that matches neither the file nor
its previous state, and a fixed file re-applied afterwards is idempotent anyway. Memory stays bounded:
lines are read one at a time (a line longer than ``MAX_LINE_BYTES`` is refused without reading it
whole) and written in batches: each batch is COPYed into a temporary table and upserted from there
with one ``INSERT … SELECT DISTINCT ON … ON CONFLICT … DO UPDATE … WHERE <something changed>``, so
rows that already say the same are not rewritten and a repeated key within a batch keeps its last
line.

Line format (what ``store-gallery --edges`` writes, plus optional ``memory_type`` and ``location``)::

    {"memory_id": "<uuid v4>", "artifact": "metadata|asset", "backend": "icp-canister", "present": true,
     "content_hash": "<64 hex>", "size": 4096, "memory_type": "image", "location": "…"}

``memory_type`` (the table's key includes it) comes from the line, else from ``--manifest``, else
from the memory's existing edges in the table (the app writes its ``neon-db`` edges first); a line
whose type cannot be found, or is ambiguous, is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import psycopg

from clients.artifact.manifest import is_canonical_uuid_v4

from .connection import database_errors
from .errors import EdgeInputError
from .schema import ARTIFACTS, BACKENDS, MEMORY_TYPES, check_schema
from .store import SETTLE_ON_CONFLICT

__all__ = ["MAX_LINE_BYTES", "ApplyResult", "EdgeRecord", "apply_edges", "parse_edge_line", "read_lines"]

MAX_LINE_BYTES = 64 * 1024
MAX_LOCATION = 2048
_KEYS = {"memory_id", "artifact", "backend", "present", "content_hash", "size", "memory_type", "location"}
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    line: int
    memory_id: str
    artifact: str
    backend: str
    present: bool
    content_hash: str | None
    memory_type: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    lines: int
    records: int
    written: int
    unchanged: int
    batches: int
    seconds: float
    refreshed: bool

    def to_json(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "records": self.records,
            "written": self.written,
            "unchanged": self.unchanged,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.records / self.seconds, 1) if self.seconds > 0 else None,
            "refreshed_gallery_presence": self.refreshed,
        }


def _memory_type(value: Any, line: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in MEMORY_TYPES:
        raise EdgeInputError(f"memory_type must be one of {', '.join(MEMORY_TYPES)}, got {value!r:.60}", line)
    return value.strip().lower()


def parse_edge_line(raw: bytes, line: int) -> EdgeRecord | None:
    """One validated record, None for a blank line, EdgeInputError naming the line otherwise."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeInputError(f"not JSON: {exc}", line) from None
    if not isinstance(data, Mapping):
        raise EdgeInputError("must be a JSON object", line)
    unknown = set(data) - _KEYS
    if unknown:
        raise EdgeInputError(f"unknown key(s) {', '.join(sorted(unknown))[:200]}", line)
    memory_id = data.get("memory_id")
    if not isinstance(memory_id, str) or not is_canonical_uuid_v4(memory_id):
        raise EdgeInputError(f"memory_id must be a canonical lowercase UUID v4, got {memory_id!r:.60}", line)
    artifact = data.get("artifact")
    if artifact not in ARTIFACTS:
        raise EdgeInputError(f"artifact must be one of {', '.join(ARTIFACTS)}, got {artifact!r:.60}", line)
    backend = data.get("backend")
    if backend not in BACKENDS:
        raise EdgeInputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r:.60}", line)
    present = data.get("present")
    if not isinstance(present, bool):
        raise EdgeInputError("present must be true or false", line)
    content_hash = data.get("content_hash")
    if content_hash is not None and (
        not isinstance(content_hash, str) or len(content_hash) != 64 or not set(content_hash) <= _HEX
    ):
        raise EdgeInputError(f"content_hash must be 64 lowercase hex digits, got {content_hash!r:.80}", line)
    if present and content_hash is None:
        raise EdgeInputError("a present edge needs its content_hash", line)
    size = data.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise EdgeInputError(f"size must be a non-negative integer, got {size!r:.40}", line)
    location = data.get("location")
    if location is not None and (not isinstance(location, str) or len(location) > MAX_LOCATION):
        raise EdgeInputError(f"location must be a string of at most {MAX_LOCATION} characters", line)
    return EdgeRecord(
        line,
        memory_id,
        str(artifact),
        str(backend),
        present,
        content_hash,
        _memory_type(data.get("memory_type"), line),
        location,
    )


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)``; a line over ``MAX_LINE_BYTES`` is refused before it is read whole."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise EdgeInputError(f"longer than {MAX_LINE_BYTES} bytes", number)
        yield number, raw


_STAGE = """
CREATE TEMPORARY TABLE storeforever_edge_stage (
  line INTEGER NOT NULL, memory_id UUID NOT NULL, memory_type TEXT NOT NULL, artifact artifact_t NOT NULL,
  backend backend_t NOT NULL, present BOOLEAN NOT NULL, content_hash TEXT, location TEXT) ON COMMIT DROP
"""

_UPSERT = (
    """
INSERT INTO storage_edges AS e
  (memory_id, memory_type, artifact, backend, present, sync_state, content_hash, location, last_synced_at)
SELECT DISTINCT ON (memory_id, memory_type, artifact, backend)
       memory_id, memory_type, artifact, backend, present, 'idle', content_hash, location, now()
  FROM storeforever_edge_stage
 ORDER BY memory_id, memory_type, artifact, backend, line DESC
"""
    + SETTLE_ON_CONFLICT
)


class _Batch:
    def __init__(self) -> None:
        self.records: list[EdgeRecord] = []

    def resolve_types(
        self, conn: psycopg.Connection, known: Mapping[str, str]
    ) -> list[tuple[EdgeRecord, str]]:
        unknown = sorted(
            {r.memory_id for r in self.records if r.memory_type is None and r.memory_id not in known}
        )
        from_table: dict[str, list[str]] = {}
        if unknown:
            rows = conn.execute(
                "SELECT memory_id::text, array_agg(DISTINCT memory_type) FROM storage_edges "
                "WHERE memory_id = ANY(%s::uuid[]) GROUP BY memory_id",
                (unknown,),
            ).fetchall()
            from_table = {str(mid): list(types) for mid, types in rows}
        out: list[tuple[EdgeRecord, str]] = []
        for r in self.records:
            mtype = r.memory_type or known.get(r.memory_id)
            if mtype is None:
                found = from_table.get(r.memory_id, [])
                if len(found) != 1:
                    why = "no edge of this memory in the table" if not found else f"the table has {found}"
                    raise EdgeInputError(
                        f"memory_type of {r.memory_id} unknown ({why}): "
                        "give it in the line or with --manifest",
                        r.line,
                    )
                mtype = found[0]
            out.append((r, mtype))
        return out


def _write_batch(conn: psycopg.Connection, rows: list[tuple[EdgeRecord, str]]) -> int:
    conn.execute("TRUNCATE storeforever_edge_stage")
    with conn.cursor() as cur:
        with cur.copy(
            "COPY storeforever_edge_stage (line, memory_id, memory_type, artifact, backend, present, "
            "content_hash, location) FROM STDIN"
        ) as copy:
            for r, mtype in rows:
                copy.write_row(
                    (r.line, r.memory_id, mtype, r.artifact, r.backend, r.present, r.content_hash, r.location)
                )
        cur.execute(_UPSERT)
        return max(cur.rowcount, 0)


def apply_edges(
    conn: psycopg.Connection,
    stream: IO[bytes],
    *,
    memory_types: Mapping[str, str] | None = None,
    batch_size: int = 5000,
    refresh: bool = False,
) -> ApplyResult:
    """Validate and upsert every line of ``stream`` in one transaction (see the module's docstring)."""
    started = time.perf_counter()
    known = dict(memory_types or {})
    lines = records = written = batches = 0
    with database_errors("checking the storage_edges schema"):
        check_schema(conn, need_galleries=refresh)
    with database_errors("applying edges"), conn.transaction():
        conn.execute(_STAGE)
        batch = _Batch()

        def flush() -> None:
            nonlocal written, batches
            if batch.records:
                written += _write_batch(conn, batch.resolve_types(conn, known))
                batches += 1
                batch.records.clear()

        for number, raw in read_lines(stream):
            lines = number
            record = parse_edge_line(raw, number)
            if record is None:
                continue
            records += 1
            batch.records.append(record)
            if len(batch.records) >= batch_size:
                flush()
        flush()
        if refresh:
            from .store import refresh_gallery_presence

            refresh_gallery_presence(conn)
    seconds = time.perf_counter() - started
    return ApplyResult(lines, records, written, records - written, batches, seconds, refresh)
