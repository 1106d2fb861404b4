"""The canister log: what `ic0.debug_print` and traps leave behind, read through `fetch_canister_logs`.

On the IC a canister's log lives in a fixed-size buffer next to its memory: records get increasing
indices and the oldest are dropped once the buffer is full, so a busy canister's log never grows. This
module keeps the same ring in the canister's own SQLite file (a runtime table, committed with the message
that wrote it) and bounds it by total content bytes, like the IC's log memory limit, and by a record count.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

# The IC's default canister log memory limit (4 KiB of record content); the `log_memory_limit` setting
# (kept in the runtime metadata under LIMIT_KEY) changes it up to MAX_LOG_MEMORY_LIMIT_BYTES.
LOG_MEMORY_LIMIT_BYTES: Final = 4096
MAX_LOG_MEMORY_LIMIT_BYTES: Final = 2 * 1024 * 1024
LIMIT_KEY: Final = "log_memory_limit"
_SIZE_KEY: Final = "log_stored_bytes"
# A record is at least its index and timestamp; a cap on the count bounds many empty records too.
MAX_LOG_RECORDS: Final = 1024

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS _ic_canister_log (
    idx INTEGER PRIMARY KEY,
    timestamp_nanos INTEGER NOT NULL,
    content BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class LogRecord:
    idx: int
    timestamp_nanos: int
    content: bytes


def ensure_schema(db: sqlite3.Connection) -> None:
    """Idempotent: the table may be missing after a wipe or a restore of an older state file."""
    db.execute(SCHEMA)


def append(db: sqlite3.Connection, timestamp_nanos: int, content: bytes | str) -> None:
    """Add one record inside the caller's transaction and drop the oldest beyond the limits.

    Indices keep increasing across drops, so a reader can tell that records were lost between two
    fetches. Every statement is a key lookup (the size is kept in the metadata): appending costs the same
    whatever the canister logged before.
    """
    data = content.encode("utf-8", "replace") if isinstance(content, str) else bytes(content)
    limit = memory_limit(db)
    data = data[:limit]  # a longer line is cut, as the IC truncates one print to the buffer
    ensure_schema(db)
    low, high = _bounds(db)
    next_idx = 0 if high is None else int(high) + 1
    db.execute(
        "INSERT INTO _ic_canister_log (idx, timestamp_nanos, content) VALUES (?, ?, ?)",
        (next_idx, timestamp_nanos, data),
    )
    oldest = next_idx if low is None else int(low)
    _trim(db, limit, oldest, next_idx, stored_bytes(db) + len(data))


def memory_limit(db: sqlite3.Connection) -> int:
    return _meta_int(db, LIMIT_KEY, LOG_MEMORY_LIMIT_BYTES)


def set_memory_limit(db: sqlite3.Connection, limit: int) -> None:
    """Inside an atomic(); a lower limit drops the oldest records at once."""
    _set_meta_int(db, LIMIT_KEY, limit)
    ensure_schema(db)
    low, high = _bounds(db)
    if low is not None and high is not None:
        _trim(db, limit, low, high, stored_bytes(db))


def _bounds(db: sqlite3.Connection) -> tuple[int | None, int | None]:
    """Oldest and newest index; two statements, as MIN and MAX together make SQLite scan."""
    low = db.execute("SELECT MIN(idx) FROM _ic_canister_log").fetchone()[0]
    high = db.execute("SELECT MAX(idx) FROM _ic_canister_log").fetchone()[0]
    return (None if low is None else int(low)), (None if high is None else int(high))


def stored_bytes(db: sqlite3.Connection) -> int:
    """Total content bytes in the buffer (what the IC reports as `log_memory_store_size`)."""
    return _meta_int(db, _SIZE_KEY, 0)


def _trim(db: sqlite3.Connection, limit: int, oldest: int, newest: int, total: int) -> None:
    """Drop the oldest records until the log fits; the newest record always stays."""
    while oldest < newest and (newest - oldest + 1 > MAX_LOG_RECORDS or total > limit):
        row = db.execute("SELECT LENGTH(content) FROM _ic_canister_log WHERE idx = ?", (oldest,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM _ic_canister_log WHERE idx = ?", (oldest,))
            total -= int(row[0])
        oldest += 1
    _set_meta_int(db, _SIZE_KEY, total)


def _meta_int(db: sqlite3.Connection, key: str, default: int) -> int:
    row = db.execute("SELECT value FROM _ic_meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else int(bytes(row[0]))


def _set_meta_int(db: sqlite3.Connection, key: str, value: int) -> None:
    db.execute(
        "INSERT INTO _ic_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, str(value).encode()),
    )


def records(db: sqlite3.Connection) -> list[LogRecord]:
    """Every record still in the buffer, oldest first."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_ic_canister_log'"
    ).fetchone()
    if exists is None:
        return []
    return [
        LogRecord(int(idx), int(ts), bytes(content))
        for idx, ts, content in db.execute(
            "SELECT idx, timestamp_nanos, content FROM _ic_canister_log ORDER BY idx"
        )
    ]


def replace_all(db: sqlite3.Connection, kept: list[LogRecord]) -> None:
    """Put back a log saved before a snapshot load: the log is not part of a snapshot on the IC."""
    ensure_schema(db)
    db.execute("DELETE FROM _ic_canister_log")
    db.executemany(
        "INSERT INTO _ic_canister_log (idx, timestamp_nanos, content) VALUES (?, ?, ?)",
        [(r.idx, r.timestamp_nanos, r.content) for r in kept],
    )
    _set_meta_int(db, _SIZE_KEY, sum(len(r.content) for r in kept))
