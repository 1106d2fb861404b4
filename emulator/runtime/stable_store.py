"""The stable store: one SQLite file per canister holding its stable memory and the runtime's records.

Why SQLite: it needs no server, it is durable per transaction, and an update message maps onto one
`BEGIN IMMEDIATE … COMMIT`, so a trap rolls back with a savepoint and a reply is only sent after the
commit that made it true. The runtime's own tables (request statuses, clock, installed module) live in
the same file so that a message's effects and its recorded reply commit together: a dropped reply can
be answered again from the stored status without executing twice.

WAL mode keeps readers (queries, admin inspection) cheap. `synchronous=FULL` fsyncs every commit, so an
acknowledged write survives SIGKILL and power loss; `normal` survives SIGKILL only and is faster.

New databases get 16 KiB pages: SQLite's cost of storing a 1 MiB chunk is per page (a WAL frame
written, later read back and written again by the checkpoint), and 16 KiB pages cut it by about a
third against SQLite's default 4 KiB (docs/performance.md, "16 KiB pages for the canister stores"). A
database created with other pages keeps them: changing a page size needs a VACUUM out of WAL mode, a
full rewrite of the file that would make start-up with 1 GiB of state take seconds. A restore takes
the snapshot's page size (`restore_from`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

Durability = Literal["full", "normal"]

PAGE_SIZE = 16384
# SQLite checkpoints the WAL after this many bytes of frames: its default (1000 pages of its default
# 4 KiB), kept in bytes whatever the page size, so the WAL file, the recovery after a crash and the
# disk a canister needs stay as they were with 4 KiB pages.
WAL_CHECKPOINT_BYTES = 1000 * 4096

RUNTIME_SCHEMA = """
CREATE TABLE IF NOT EXISTS _ic_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS _ic_request_status (
    request_id BLOB PRIMARY KEY,
    sender BLOB NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    reply BLOB,
    reject_code INTEGER,
    reject_message TEXT,
    error_code TEXT,
    expires_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _ic_request_status_expiry ON _ic_request_status (expires_at_ns);
"""


class StorageFull(Exception):
    """The store could not write (disk or file system full, or an I/O error); nothing was committed.

    Distinct from a trap: the canister's code did nothing wrong, and the same message can succeed once
    space is freed, so the replica answers with a transient reject instead of recording a trap.
    """


def is_storage_failure(exc: BaseException) -> bool:
    """SQLite refused to write for lack of space or an I/O error (SQLITE_FULL, SQLITE_IOERR_*)."""
    if isinstance(exc, StorageFull):
        return True
    code = exc.sqlite_errorcode if isinstance(exc, sqlite3.Error) else None
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)


class StableStore:
    """A canister's SQLite database; every access goes through `atomic()` or `read()`.

    The connection is shared with one worker thread at a time (the host serialises execution), hence
    `check_same_thread=False` plus a lock that turns accidental concurrent use into waiting, not
    corruption.
    """

    def __init__(self, path: Path | str, *, durability: Durability = "full") -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._durability = durability
        self._lock = threading.RLock()
        self._undo: list[Callable[[], None]] = []
        self._depth = 0  # open `atomic()` levels: 0 outside, 1 in the transaction, more in savepoints
        self.conn = self._open(str(path))

    def _open(self, path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Only takes effect while the file is empty (a new database); it must precede WAL mode, which
        # fixes the page size for good.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._durability == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=ON")
        _checkpoint_by_bytes(conn)
        conn.executescript(RUNTIME_SCHEMA)
        return conn

    @property
    def page_size(self) -> int:
        """The database's page size: `PAGE_SIZE` if it was created here, else what it was created with."""
        with self._lock:
            return _page_size(self.conn)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing scope; nested scopes roll back alone.

        The outermost level is `BEGIN IMMEDIATE … COMMIT` (one message, one durable commit); an inner
        level is a SAVEPOINT, so a trapped message or timer undoes only its own changes while the
        request status written around it still commits. Any exception rolls the level back and runs
        the undos registered inside it, newest first. A COMMIT that fails (a full disk can refuse
        the last WAL frames) is rolled back too: left open, the transaction would make every later
        `BEGIN` fail. A write refused for lack of space comes out as `StorageFull` at the outermost
        level, with nothing of the message stored.
        """
        with self._lock:
            if self._depth == 0:
                with self._transaction():
                    yield self.conn
            else:
                with self._savepoint():
                    yield self.conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._undo.clear()
        self._depth = 1
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._run_undo(0)
                raise
        except sqlite3.Error as exc:
            if is_storage_failure(exc):
                raise StorageFull(str(exc)) from exc
            raise
        finally:
            self._depth = 0
            self._undo.clear()

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        # Savepoint names only need to be unique among the open levels; the depth is.
        name = f"level{self._depth}"
        mark = len(self._undo)
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            # SQLite may already have rolled back the whole transaction (SQLITE_FULL, SQLITE_IOERR):
            # then the savepoint is gone and the outermost level reports the original error.
            if self.conn.in_transaction:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            self._run_undo(mark)
            raise
        finally:
            self._depth -= 1
        self.conn.execute(f"RELEASE {name}")

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Undo in-memory state changed inside the current `atomic()` level if its rows are rolled back.

        State mirrored outside SQLite (the clock offset) must not run ahead of what was stored: an
        inner level rolled back runs only the undos registered inside it; the outermost level rolled
        back (or its COMMIT refused by a full disk) runs all of them.
        """
        self._undo.append(undo)

    def _run_undo(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read whose writes, if any, are discarded: an unconditional rollback.

        That is the IC's rule for queries: a query may change its state while it runs, and every
        change is thrown away when it ends. It counts as the outermost level, so an `atomic()`
        inside it (a query runs the same execution path as an update) is a savepoint within the
        read, not a second transaction; in-memory undos registered inside run at the end too.

        No `PRAGMA query_only` around it (there was, until issue 13): changing a flag pragma makes
        SQLite expire every prepared statement of the connection, so each query re-prepared its own
        statements and the next update re-prepared its own (the read scope cost 24 µs instead of
        8 µs, 0.06-0.08 ms of CPU per signed query in the server). The rollback alone already keeps
        every write from being stored.
        """
        with self._lock:
            self.conn.execute("BEGIN")
            self._depth = 1
            try:
                yield self.conn
            finally:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                self._run_undo(0)

    def get_meta(self, key: str) -> bytes | None:
        row = self.conn.execute("SELECT value FROM _ic_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.conn.execute(
            "INSERT INTO _ic_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the whole database (SQLite online backup), safe while serving."""
        with self._lock:
            dest = sqlite3.connect(str(target))
            try:
                self.conn.backup(dest)
            finally:
                dest.close()

    def restore_from(self, source: Path) -> None:
        """Replace every table with the contents of a snapshot file made by `backup_to`.

        The store takes the snapshot's page size. A snapshot's pages need not match the store's: one
        taken before new stores got 16 KiB pages has 4 KiB ones, and an old 4 KiB store may load a
        new snapshot. SQLite's backup refuses to copy into a WAL database whose page size differs
        from the source's (SQLITE_READONLY, "attempt to write a readonly database", nothing
        written), so for that case the connection leaves WAL mode for the copy and returns to it
        after. Out of WAL mode the backup rewrites the page size and every page in one transaction
        under a rollback journal: a failure rolls it back, and after a SIGKILL the next open rolls
        the hot journal back, so a refused or interrupted restore leaves the old database as it was.

        Chosen over the alternatives because it stays one transaction on the store's own
        connection: swapping in a converted file would mean closing the connection and replacing
        the file with its -wal and -shm beside it (not atomic), and converting the snapshot to the
        store's page size would cost a VACUUM, one more full copy, on every such restore. Leaving
        WAL mode needs the only connection to the file, which the store is while the emulator
        runs; another process holding it open makes the restore fail (SQLITE_BUSY) with nothing
        changed. A same-size restore stays in WAL mode, as before.
        """
        with self._lock:
            src = sqlite3.connect(str(source))
            try:
                if _page_size(src) == _page_size(self.conn) or not self._in_wal_mode():
                    src.backup(self.conn)
                else:
                    self._backup_outside_wal(src)
            finally:
                src.close()
            self.conn.executescript(RUNTIME_SCHEMA)

    def _in_wal_mode(self) -> bool:
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"

    def _backup_outside_wal(self, src: sqlite3.Connection) -> None:
        left = str(self.conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]).lower()
        if left != "delete":
            raise sqlite3.OperationalError(f"cannot leave WAL mode to restore (journal mode {left})")
        try:
            src.backup(self.conn)
        finally:
            # Also after a failed copy: the store must serve in WAL mode again either way.
            self.conn.execute("PRAGMA journal_mode=WAL")
            _checkpoint_by_bytes(self.conn)

    def wipe(self) -> None:
        """Drop every table: the state of a freshly created canister."""
        with self._lock:
            names = [
                r[0]
                for r in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            # Foreign keys between the canister's tables would make the drop order matter; the
            # pragma only changes outside a transaction.
            self.conn.execute("PRAGMA foreign_keys=OFF")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for name in names:
                        self.conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("VACUUM")
            self.conn.executescript(RUNTIME_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _page_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_size").fetchone()[0])


def _checkpoint_by_bytes(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA wal_autocheckpoint={max(1, WAL_CHECKPOINT_BYTES // _page_size(conn))}")
