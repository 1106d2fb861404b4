"""`StableStore.atomic()`: one nestable all-or-nothing scope, and in-memory state that follows it.

The outermost level is a transaction, inner levels are savepoints; each level's rollback undoes its
own rows and runs only the undo hooks registered inside it (the canister clock uses them).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emulator.runtime.clock import CanisterClock
from emulator.runtime.stable_store import StableStore, StorageFull


class Boom(Exception):
    pass


def rows(store: StableStore) -> list[int]:
    with store.read() as db:
        return [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")]


@pytest.fixture
def store(tmp_path: Path) -> StableStore:
    s = StableStore(tmp_path / "c.sqlite3")
    s.conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    return s


def test_an_inner_rollback_keeps_the_outer_work(store: StableStore) -> None:
    with store.atomic() as db:
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(Boom), store.atomic():
            db.execute("INSERT INTO t VALUES (2)")
            with store.atomic():  # a third level, released into the second
                db.execute("INSERT INTO t VALUES (3)")
            raise Boom
        db.execute("INSERT INTO t VALUES (4)")
        with store.atomic():
            db.execute("INSERT INTO t VALUES (5)")
    assert rows(store) == [1, 4, 5]


def test_an_outer_rollback_undoes_every_level(store: StableStore) -> None:
    with pytest.raises(Boom), store.atomic() as db:
        db.execute("INSERT INTO t VALUES (1)")
        with store.atomic():
            db.execute("INSERT INTO t VALUES (2)")
        raise Boom
    assert rows(store) == []
    assert not store.conn.in_transaction
    with store.atomic() as db:  # the next outermost level is a fresh transaction again
        db.execute("INSERT INTO t VALUES (9)")
    assert rows(store) == [9]


def test_levels_are_transaction_then_savepoints(store: StableStore) -> None:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    with store.atomic(), store.atomic(), store.atomic():
        pass
    store.conn.set_trace_callback(None)
    assert statements == [
        "BEGIN IMMEDIATE",
        "SAVEPOINT level1",
        "SAVEPOINT level2",
        "RELEASE level2",
        "RELEASE level1",
        "COMMIT",
    ]


def test_undo_hooks_run_per_level_newest_first(store: StableStore) -> None:
    ran: list[str] = []
    with store.atomic():
        store.on_rollback(lambda: ran.append("outer"))
        with pytest.raises(Boom), store.atomic():
            store.on_rollback(lambda: ran.append("inner-a"))
            with store.atomic():
                store.on_rollback(lambda: ran.append("inner-b"))
            raise Boom
        assert ran == ["inner-b", "inner-a"]  # the released third level's undo belongs to the second
        with store.atomic():
            store.on_rollback(lambda: ran.append("kept"))
    assert ran == ["inner-b", "inner-a"]  # a commit runs no undo
    ran.clear()
    with pytest.raises(Boom), store.atomic():
        store.on_rollback(lambda: ran.append("first"))
        with store.atomic():
            store.on_rollback(lambda: ran.append("second"))
        raise Boom
    assert ran == ["second", "first"]


def test_a_rolled_back_write_restores_the_clock_offset(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    clock = CanisterClock(store, wall_clock=lambda: 1_000)
    with store.atomic():
        clock.advance(10)
    assert clock.offset_ns == 10
    with pytest.raises(Boom), store.atomic():
        clock.advance(5_000)
        raise Boom
    assert clock.offset_ns == 10
    assert clock.now() < 1_000 + 5_000  # `now` does not stay ahead of the stored offset either
    clock.reload()
    assert clock.offset_ns == 10


def test_a_rolled_back_inner_level_undoes_only_its_own_changes(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    clock = CanisterClock(store, wall_clock=lambda: 0)
    with store.atomic():
        clock.advance(1)
        with pytest.raises(Boom), store.atomic():
            clock.advance(100)
            raise Boom
        assert clock.offset_ns == 1
    assert clock.offset_ns == 1
    clock.reload()
    assert clock.offset_ns == 1


def test_a_failed_commit_is_rolled_back_and_the_store_stays_usable(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    store.conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    store.conn.execute("CREATE TABLE child (x INTEGER REFERENCES t(x) DEFERRABLE INITIALLY DEFERRED)")
    clock = CanisterClock(store, wall_clock=lambda: 0)
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), store.atomic() as db:
        clock.advance(7)
        with store.atomic():  # the undo of an inner level that was released runs too
            clock.advance(3)
            db.execute("INSERT INTO child VALUES (42)")  # violates the deferred key at COMMIT
    assert not store.conn.in_transaction
    assert clock.offset_ns == 0
    with store.atomic() as db:  # a later write works: the failed COMMIT left no open transaction
        db.execute("INSERT INTO t VALUES (1)")
    assert store.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_a_storage_failure_comes_out_as_storage_full_with_nothing_stored(store: StableStore) -> None:
    """SQLITE_FULL (here: the page limit) is the store's refusal, not the canister's fault."""
    store.conn.execute("CREATE TABLE big (b BLOB)")
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 2}")
    with pytest.raises(StorageFull), store.atomic() as db:
        db.execute("INSERT INTO t VALUES (1)")
        with store.atomic():
            db.execute("INSERT INTO big VALUES (?)", (b"x" * 1_000_000,))
    assert not store.conn.in_transaction
    assert rows(store) == []
