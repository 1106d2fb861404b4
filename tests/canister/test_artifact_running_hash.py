"""The commit uses the hash kept as chunks arrived, and falls back to re-reading only when it must.

A statement trace on the store's connection shows which chunk bytes are read: none at commit for a
session whose chunks all arrived on this instance; each early chunk once, when the gap before it fills;
all of them after an upgrade (the instance, like a canister's heap, starts without the hashes).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.canisters.artifact.running_hash import RunningHashes
from emulator.runtime.stable_store import StableStore
from tests.canister.artifact_harness import ALICE, Harness, chunks_of, new_uuid, payload, sha

KB = 1024


def reads_chunk_run(statement: str) -> bool:
    """The commit's re-read of a session's chunks, or the running hash's catch-up (both in idx order);
    not put_chunk's lookup of one index, which finds no row for a new chunk."""
    return statement.startswith("SELECT data FROM af_chunks") and "ORDER BY idx" in statement


@contextlib.contextmanager
def traced(h: Harness) -> Iterator[list[str]]:
    statements: list[str] = []
    h.store.conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        h.store.conn.set_trace_callback(None)


def _begin(h: Harness, data: bytes) -> str:
    begun = h.begin(ALICE, new_uuid(), data, chunk_size=KB)
    assert begun["success"], begun
    return str(begun["data"]["session"]["session_id"])


def _put(h: Harness, session_id: str, data: bytes, order: list[int]) -> None:
    parts = chunks_of(data, KB)
    for index in order:
        assert h.call(ALICE, "put_chunk", session_id, index, parts[index])["success"]


def _commit(h: Harness, session_id: str, data: bytes) -> dict[str, object]:
    committed = h.call(ALICE, "commit_asset", session_id, sha(data))
    assert committed["success"], committed
    return dict(committed["data"])


def test_in_order_chunks_commit_without_reading_them_back(h: Harness) -> None:
    data = payload(5 * KB + 17)
    session_id = _begin(h, data)
    with traced(h) as puts:
        _put(h, session_id, data, [0, 1, 2, 3, 4, 5])
    with traced(h) as commit:
        done = _commit(h, session_id, data)
    assert done["final_hash"] == sha(data) and done["total_bytes"] == len(data)
    assert not [s for s in puts + commit if reads_chunk_run(s)]


@pytest.mark.parametrize("order", [[0, 2, 1, 3, 5, 4], [5, 4, 3, 2, 1, 0], [1, 0, 3, 2, 5, 4]])
def test_early_chunks_are_read_once_when_the_gap_fills(h: Harness, order: list[int]) -> None:
    data = payload(6 * KB)
    session_id = _begin(h, data)
    with traced(h) as puts:
        _put(h, session_id, data, order)
    with traced(h) as commit:
        done = _commit(h, session_id, data)
    assert done["final_hash"] == sha(data)
    assert not [s for s in commit if reads_chunk_run(s)]
    # One catch-up read per gap that closed, never more than the chunks that came early.
    early = sum(1 for position, index in enumerate(order) if index > min(order[position:]))
    catch_ups = [s for s in puts if reads_chunk_run(s)]
    assert len(catch_ups) <= early


def test_after_an_upgrade_the_commit_hashes_the_stored_chunks(h: Harness) -> None:
    data = payload(4 * KB)
    session_id = _begin(h, data)
    _put(h, session_id, data, [0, 1])
    h.upgrade()  # a new instance: no running hashes
    _put(h, session_id, data, [2, 3])
    with traced(h) as commit:
        done = _commit(h, session_id, data)
    assert done["final_hash"] == sha(data)
    assert [s for s in commit if reads_chunk_run(s)], "the commit re-read the stored chunks"


def test_a_wrong_final_hash_is_still_refused(h: Harness) -> None:
    data = payload(3 * KB)
    session_id = _begin(h, data)
    _put(h, session_id, data, [0, 1, 2])
    refused = h.call(ALICE, "commit_asset", session_id, sha(b"other"))
    assert not refused["success"]


def test_a_rolled_back_message_undoes_its_hash_update(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "c.sqlite3")
    store.conn.execute("CREATE TABLE af_chunks (sid INTEGER, idx INTEGER, data BLOB)")
    hashes = RunningHashes()

    def put(index: int, data: bytes) -> None:
        store.conn.execute("INSERT INTO af_chunks VALUES (1, ?, ?)", (index, data))
        hashes.chunk_stored(store.conn, 1, "s", index, data, store.on_rollback)

    with store.atomic():
        put(0, b"a")
    with pytest.raises(RuntimeError), store.atomic():
        put(1, b"WRONG")
        raise RuntimeError("the message traps after storing its chunk")
    with store.atomic():
        put(1, b"b")
    assert hashes.digest(1, "s", 2) == (sha(b"ab"), 2)

    with pytest.raises(RuntimeError), store.atomic():  # a run begun in a rolled-back message is gone
        store.conn.execute("INSERT INTO af_chunks VALUES (2, 0, ?)", (b"x",))
        hashes.chunk_stored(store.conn, 2, "t", 0, b"x", store.on_rollback)
        raise RuntimeError
    assert hashes.digest(2, "t", 1) is None


def test_runs_are_bounded_and_an_evicted_one_falls_back() -> None:
    hashes = RunningHashes(max_sessions=2)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE af_chunks (sid INTEGER, idx INTEGER, data BLOB)")
    for sid in (1, 2, 3):
        hashes.chunk_stored(db, sid, f"s{sid}", 0, b"x", lambda undo: None)
    assert hashes.digest(1, "s1", 1) is None  # evicted: its commit re-reads
    assert hashes.digest(3, "s3", 1) == (sha(b"x"), 1)
