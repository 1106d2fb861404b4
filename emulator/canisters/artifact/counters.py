"""Global gauges kept as counters, updated by the writes that change them.

The metrics endpoint reads them on every scrape, so they must cost a key lookup, never a sum or
count over stored rows (contract: no operation scans all stored data).
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum


class Counter(StrEnum):
    STORED_BYTES = "stored_bytes"  # bytes in chunk rows: committed assets and uploads in progress
    ASSET_BYTES = "asset_bytes"
    ASSETS = "assets"
    ACTIVE_SESSIONS = "active_sessions"  # status Active, whether or not their lifetime has passed
    GALLERIES = "galleries"
    MEMORIES = "memories"


def bump(db: sqlite3.Connection, counter: Counter, delta: int) -> None:
    if delta:
        db.execute(
            "INSERT INTO af_counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (counter.value, delta),
        )


def read(db: sqlite3.Connection) -> dict[str, int]:
    values = {c.value: 0 for c in Counter}
    for counter in Counter:
        row = db.execute("SELECT value FROM af_counters WHERE name = ?", (counter.value,)).fetchone()
        if row is not None:
            values[counter.value] = int(row[0])
    return values
