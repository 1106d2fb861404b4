"""Canister store files as the tests need them: one made the way stores were made before 16 KiB pages,
and the page size of a store file read beside whoever has it open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from emulator.runtime.stable_store import RUNTIME_SCHEMA

OLD_PAGE_SIZE = 4096  # SQLite's default, what every store had before 16 KiB pages


def old_database(path: Path, page_size: int = OLD_PAGE_SIZE) -> Path:
    """A store file as the emulator created it before 16 KiB pages: SQLite's default pages, WAL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(RUNTIME_SCHEMA)
    conn.close()
    return path


def page_size_of(path: Path) -> int:
    """As a second reader sees it (read-only, closed at once: a restore wants the only connection)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()
