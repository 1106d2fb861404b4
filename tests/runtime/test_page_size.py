"""16 KiB pages for new stores; old 4 KiB stores and snapshots keep working (issue 13, item 4).

Real files and real SQLite throughout. The cross-size restore is the part SQLite makes hard: its
backup refuses to write into a WAL database of another page size, so `restore_from` leaves WAL mode
for the copy. These tests check that it gives the snapshot's data, that a restore which fails or is
SIGKILLed half-way leaves the old database as it was, and that the store serves in WAL mode after.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.runtime.stable_store import PAGE_SIZE, StableStore
from tests.store_files import OLD_PAGE_SIZE, old_database, page_size_of
from tests.system_deps import mounted_tmpfs


def fill(store: StableStore, blobs: int, size: int, tag: str) -> None:
    """Blobs of `size` bytes, one transaction each, as chunks are stored."""
    with store.atomic() as db:
        db.execute("CREATE TABLE IF NOT EXISTS data (k INTEGER PRIMARY KEY, tag TEXT, v BLOB)")
    for _ in range(blobs):
        with store.atomic() as db:
            db.execute("INSERT INTO data (tag, v) VALUES (?, ?)", (tag, os.urandom(size)))


def digest(store: StableStore) -> str:
    h = hashlib.sha256()
    with store.read() as db:
        for tag, value in db.execute("SELECT tag, v FROM data ORDER BY k"):
            h.update(tag.encode() + bytes(value))
    return h.hexdigest()


def state_of(store: StableStore) -> tuple[int, str, str, int]:
    """Page size, journal mode, integrity, autocheckpoint pages: what a restore must leave right."""
    conn = store.conn
    return (
        store.page_size,
        str(conn.execute("PRAGMA journal_mode").fetchone()[0]),
        str(conn.execute("PRAGMA integrity_check").fetchone()[0]),
        int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
    )


def checkpoint_pages(page_size: int) -> int:
    return 1000 * 4096 // page_size  # the WAL is checkpointed every ~4 MiB whatever the page size


def test_a_new_store_has_16_kib_pages_and_checkpoints_every_4_mib(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    store = StableStore(path)
    fill(store, 2, 100_000, "a")
    assert state_of(store) == (PAGE_SIZE, "wal", "ok", checkpoint_pages(PAGE_SIZE))
    assert PAGE_SIZE == 16384
    store.close()
    assert page_size_of(path) == PAGE_SIZE
    reopened = StableStore(path)
    assert reopened.page_size == PAGE_SIZE
    reopened.close()


def test_an_old_4_kib_store_keeps_its_pages_and_serves(tmp_path: Path) -> None:
    path = old_database(tmp_path / "old.sqlite3")
    store = StableStore(path)
    fill(store, 3, 300_000, "before")
    before = digest(store)
    store.close()

    store = StableStore(path)  # a restart: no VACUUM, the file keeps its pages
    assert state_of(store) == (OLD_PAGE_SIZE, "wal", "ok", checkpoint_pages(OLD_PAGE_SIZE))
    assert digest(store) == before
    fill(store, 2, 300_000, "after")
    assert digest(store) != before
    store.close()
    assert page_size_of(path) == OLD_PAGE_SIZE


@pytest.mark.parametrize(
    ("store_pages", "snapshot_pages"),
    [(PAGE_SIZE, OLD_PAGE_SIZE), (OLD_PAGE_SIZE, PAGE_SIZE), (PAGE_SIZE, PAGE_SIZE)],
    ids=["old snapshot into a new store", "new snapshot into an old store", "same size"],
)
def test_restore_across_page_sizes_gives_the_snapshots_data(
    tmp_path: Path, store_pages: int, snapshot_pages: int
) -> None:
    source = StableStore(old_database(tmp_path / "source.sqlite3", snapshot_pages))
    fill(source, 3, 700_000, "snapshot")
    wanted = digest(source)
    snapshot = tmp_path / "snapshot.sqlite3"
    source.backup_to(snapshot)
    source.close()
    assert page_size_of(snapshot) == snapshot_pages

    path = old_database(tmp_path / "live.sqlite3", store_pages)
    store = StableStore(path)
    fill(store, 4, 500_000, "live")
    store.restore_from(snapshot)

    assert digest(store) == wanted
    assert state_of(store) == (snapshot_pages, "wal", "ok", checkpoint_pages(snapshot_pages))
    fill(store, 1, 500_000, "later")  # serves writes after the restore
    later = digest(store)
    store.close()
    store = StableStore(path)
    assert digest(store) == later and store.page_size == snapshot_pages
    store.close()


def test_a_cross_size_restore_that_fails_changes_nothing(tmp_path: Path) -> None:
    source = StableStore(old_database(tmp_path / "source.sqlite3"))
    fill(source, 8, 500_000, "snapshot")
    snapshot = tmp_path / "snapshot.sqlite3"
    source.backup_to(snapshot)
    source.close()
    whole = snapshot.read_bytes()
    snapshot.write_bytes(whole[: len(whole) // 2])  # a truncated copy: read fails part-way

    store = StableStore(tmp_path / "live.sqlite3")
    fill(store, 2, 500_000, "live")
    before = digest(store)
    with pytest.raises(sqlite3.DatabaseError):
        store.restore_from(snapshot)
    assert digest(store) == before
    assert state_of(store) == (PAGE_SIZE, "wal", "ok", checkpoint_pages(PAGE_SIZE))
    fill(store, 1, 1000, "later")
    store.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 MiB tmpfs: a cross-size restore of a bigger snapshot runs out of space half-way."""
    with mounted_tmpfs(tmp_path / "disk", 12, "the full-disk restore test") as disk:
        yield disk


def test_a_cross_size_restore_on_a_full_disk_changes_nothing(tmp_path: Path, small_disk: Path) -> None:
    source = StableStore(old_database(tmp_path / "source.sqlite3"))
    fill(source, 16, 1 << 20, "snapshot")  # 16 MiB: more than the disk holds
    snapshot = tmp_path / "snapshot.sqlite3"
    source.backup_to(snapshot)
    source.close()

    store = StableStore(small_disk / "live.sqlite3")
    fill(store, 2, 1 << 20, "live")
    before = digest(store)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.restore_from(snapshot)
    assert digest(store) == before
    assert state_of(store) == (PAGE_SIZE, "wal", "ok", checkpoint_pages(PAGE_SIZE))
    fill(store, 1, 1 << 20, "later")  # the space the failed copy took was given back
    store.close()
    assert page_size_of(small_disk / "live.sqlite3") == PAGE_SIZE


_RESTORE_IN_A_CHILD = """
import sys
from pathlib import Path
from emulator.runtime.stable_store import StableStore
store = StableStore(Path(sys.argv[1]))
print("copying", flush=True)
store.restore_from(Path(sys.argv[2]))
print("restored", flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 0.02, 0.06, 0.15, None])
def test_sigkill_during_a_cross_size_restore_leaves_the_old_or_the_new_database(
    tmp_path: Path, delay_s: float | None
) -> None:
    """Killed at some point of the copy (where exactly depends on the machine; `None` lets it finish),
    the next open finds either the whole old database or the whole snapshot, never a mix."""
    source = StableStore(old_database(tmp_path / "source.sqlite3"))
    fill(source, 16, 1 << 20, "snapshot")
    new = digest(source)
    snapshot = tmp_path / "snapshot.sqlite3"
    source.backup_to(snapshot)
    source.close()
    path = tmp_path / "live.sqlite3"
    store = StableStore(path)
    fill(store, 6, 1 << 20, "live")
    old = digest(store)
    store.close()

    child = subprocess.Popen(
        [sys.executable, "-c", _RESTORE_IN_A_CHILD, str(path), str(snapshot)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "copying"
        if delay_s is None:
            assert child.stdout.readline().strip() == "restored"
        else:
            time.sleep(delay_s)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()

    store = StableStore(path)
    found = digest(store)
    assert found in (old, new)
    if delay_s is None:
        assert found == new
    assert state_of(store) == (
        OLD_PAGE_SIZE if found == new else PAGE_SIZE,
        "wal",
        "ok",
        checkpoint_pages(OLD_PAGE_SIZE if found == new else PAGE_SIZE),
    )
    fill(store, 1, 1000, "later")
    store.close()
