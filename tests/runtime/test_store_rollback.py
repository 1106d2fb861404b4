"""In-memory state mirrored from the stable store follows it on rollback (the canister clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.runtime.clock import CanisterClock
from emulator.runtime.stable_store import StableStore


class Boom(Exception):
    pass


def test_a_rolled_back_write_restores_the_clock_offset(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    clock = CanisterClock(store, wall_clock=lambda: 1_000)
    with store.write():
        clock.advance(10)
    assert clock.offset_ns == 10
    with pytest.raises(Boom), store.write():
        clock.advance(5_000)
        raise Boom
    assert clock.offset_ns == 10
    assert clock.now() < 1_000 + 5_000  # `now` does not stay ahead of the stored offset either
    clock.reload()
    assert clock.offset_ns == 10


def test_a_rolled_back_savepoint_undoes_only_its_own_changes(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    clock = CanisterClock(store, wall_clock=lambda: 0)
    with store.write():
        clock.advance(1)
        with pytest.raises(Boom), store.savepoint():
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
    with pytest.raises(Exception, match="FOREIGN KEY"), store.write() as db:
        clock.advance(7)
        db.execute("INSERT INTO child VALUES (42)")  # violates the deferred key at COMMIT
    assert not store.conn.in_transaction
    assert clock.offset_ns == 0
    with store.write() as db:  # a later write works: the failed COMMIT left no open transaction
        db.execute("INSERT INTO t VALUES (1)")
    assert store.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
