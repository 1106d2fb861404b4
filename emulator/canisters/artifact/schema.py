"""The artifact canister's stable schema and its migrations.

All state lives in these tables so a simulated upgrade (fresh instance, same SQLite file) keeps it.
Every lookup the canister makes is backed by a primary key or an index declared here; the test suite
checks that with `EXPLAIN QUERY PLAN`, because the contract requires that no call's cost grows with
the data stored by all users.

Migrations are numbered; `ensure_schema` applies the pending ones in the caller's transaction (the
runtime runs `init`/`post_upgrade` inside one), so a failed migration leaves the old schema intact.
Statements are executed one by one: `executescript` would commit that transaction.

Table prefix `af_` keeps clear of the runtime's `_ic_` tables.
"""

from __future__ import annotations

import sqlite3

from emulator.runtime.canister import CanisterTrap

SCHEMA_VERSION = 1
_ACTIVE = "WHERE status = 'Active'"

_V1 = (
    "CREATE TABLE IF NOT EXISTS af_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # Global gauges (counters.py): maintained by writes, read by /metrics without a scan.
    "CREATE TABLE IF NOT EXISTS af_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # One capsule per principal; `seq` keeps capsule ids unique even when two are created at the
    # same canister time.
    """CREATE TABLE IF NOT EXISTS af_capsules (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        owner BLOB NOT NULL UNIQUE,
        capsule_id TEXT UNIQUE,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )""",
    # Maintained per-caller counters: quotas never sum over stored rows.
    """CREATE TABLE IF NOT EXISTS af_caller_stats (
        owner BLOB PRIMARY KEY,
        committed_bytes INTEGER NOT NULL DEFAULT 0,
        begins_total INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    # The ownership registry of memory ids (one global namespace, first writer owns).
    """CREATE TABLE IF NOT EXISTS af_memories (
        memory_id TEXT PRIMARY KEY,
        owner BLOB NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS af_memories_owner ON af_memories (owner, memory_id)",
    # What add_memory_to_capsule stored for a memory (inline data may be up to the ingress size).
    """CREATE TABLE IF NOT EXISTS af_capsule_memories (
        memory_id TEXT PRIMARY KEY REFERENCES af_memories (memory_id),
        memory_type TEXT NOT NULL,
        name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        uploaded_at INTEGER NOT NULL,
        blob_kind TEXT NOT NULL,
        locator TEXT NOT NULL,
        blob_hash BLOB,
        data BLOB,
        data_size INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS af_metadata (
        memory_id TEXT PRIMARY KEY REFERENCES af_memories (memory_id),
        memory_type TEXT NOT NULL,
        body TEXT NOT NULL,
        encoded_size INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL,
        stored_at INTEGER NOT NULL
    )""",
    # Every idempotency key ever applied to a memory: a replay of any of them is a no-op.
    """CREATE TABLE IF NOT EXISTS af_metadata_keys (
        memory_id TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        applied_at INTEGER NOT NULL,
        PRIMARY KEY (memory_id, idempotency_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS af_galleries (
        gallery_id TEXT PRIMARY KEY,
        owner BLOB NOT NULL,
        title TEXT NOT NULL,
        description TEXT,
        is_public INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        storage_status TEXT NOT NULL,
        memory_entries TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS af_galleries_owner ON af_galleries (owner, created_at, gallery_id)",
    "CREATE INDEX IF NOT EXISTS af_galleries_public "
    "ON af_galleries (owner, is_public, created_at, gallery_id)",
    # AUTOINCREMENT: a purged session's `sid` is never reused, because a committed asset keeps
    # pointing at the chunk rows stored under its session's sid.
    """CREATE TABLE IF NOT EXISTS af_sessions (
        sid INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL UNIQUE,
        owner BLOB NOT NULL,
        owner_seq INTEGER NOT NULL,
        memory_id TEXT NOT NULL,
        expected_hash TEXT NOT NULL,
        chunk_count INTEGER NOT NULL,
        total_size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        chunks_received INTEGER NOT NULL DEFAULT 0,
        bytes_received INTEGER NOT NULL DEFAULT 0,
        last_chunk_at INTEGER,
        finished_at INTEGER,
        final_hash TEXT,
        UNIQUE (owner, owner_seq)
    )""",
    # Partial indexes over Active sessions only: a caller's rate-limit count, resume lookup and
    # listing touch that caller's few active rows, and clean-up walks only the expired active ones,
    # however many finished sessions (and other callers' sessions) are stored. Queries spell the
    # status as the literal 'Active' so the planner can match these indexes.
    f"CREATE INDEX IF NOT EXISTS af_sessions_owner_active ON af_sessions (owner, expires_at) {_ACTIVE}",
    f"CREATE INDEX IF NOT EXISTS af_sessions_resume ON af_sessions (owner, memory_id) {_ACTIVE}",
    f"CREATE INDEX IF NOT EXISTS af_sessions_active_expiry ON af_sessions (expires_at) {_ACTIVE}",
    "CREATE INDEX IF NOT EXISTS af_sessions_owner ON af_sessions (owner, sid)",
    "CREATE INDEX IF NOT EXISTS af_sessions_finished "
    "ON af_sessions (finished_at) WHERE finished_at IS NOT NULL",
    # One row per chunk; a committed asset keeps its session's rows (no copy).
    """CREATE TABLE IF NOT EXISTS af_chunks (
        id INTEGER PRIMARY KEY,
        sid INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL,
        UNIQUE (sid, idx)
    )""",
    """CREATE TABLE IF NOT EXISTS af_assets (
        memory_id TEXT PRIMARY KEY REFERENCES af_memories (memory_id),
        owner BLOB NOT NULL,
        sid INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        total_bytes INTEGER NOT NULL,
        chunk_count INTEGER NOT NULL,
        committed_at INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS af_assets_owner ON af_assets (owner, memory_id)",
    """CREATE TABLE IF NOT EXISTS af_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        principal BLOB NOT NULL,
        method TEXT NOT NULL,
        artifact TEXT NOT NULL,
        gallery_id TEXT,
        memory_id TEXT,
        session_id TEXT,
        bytes INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        duration_ms REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS af_audit_principal ON af_audit (principal, id)",
    "CREATE INDEX IF NOT EXISTS af_audit_memory ON af_audit (memory_id, id) WHERE memory_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS af_audit_gallery ON af_audit (gallery_id, id) WHERE gallery_id IS NOT NULL",
)

# Migration N brings a store at version N-1 to version N.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1}


def stored_version(db: sqlite3.Connection) -> int:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'af_meta'").fetchone()
    if exists is None:
        return 0
    row = db.execute("SELECT value FROM af_meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def ensure_schema(db: sqlite3.Connection) -> int:
    """Bring the store to `SCHEMA_VERSION`; safe to run on every install, upgrade and restart."""
    version = stored_version(db)
    if version > SCHEMA_VERSION:
        # A downgrade would silently misread newer data; trapping rolls the upgrade back.
        raise CanisterTrap(
            f"stable store has artifact schema v{version}, this code only knows up to v{SCHEMA_VERSION}"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target]:
            db.execute(statement)
        db.execute(
            "INSERT INTO af_meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (target,),
        )
    return SCHEMA_VERSION
