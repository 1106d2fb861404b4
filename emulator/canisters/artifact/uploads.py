"""Chunked asset uploads: sessions, chunks, commit, cancel, expiry, progress (seed 1.4-1.6).

Session lifecycle, the only moves there are (anything else is a bug and traps):

    Active --commit ok-------------> Completed   chunks become the asset's bytes
    Active --hash/size mismatch----> Failed      chunks freed; the client must start again (18.4)
    Active --cancel_upload---------> Cancelled   chunks freed
    Active --lifetime passed-------> Expired     chunks freed (by any call that touches it, or the timer)

"Active" in the contract means status Active *and* not past `expires_at`; a row can sit in status
Active after its lifetime until a call or the clean-up timer finishes it, so every read that asks
"active?" also checks the clock. Finished rows keep their status and final hash for at least the
retention period so that commit retries and progress queries can answer.

Bytes live in `af_chunks`, one row per chunk. Committing does not copy them: the asset row points at
its session's `sid`, and the chunk rows go when the asset is replaced.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from emulator.canisters.artifact import ids
from emulator.canisters.artifact.counters import Counter, bump
from emulator.canisters.artifact.errors import (
    Refused,
    already_exists,
    internal,
    invalid_hash,
    not_found,
    ok,
    some,
    unauthorized,
)
from emulator.canisters.artifact.limits import DAY_NS, Limits, size_label
from emulator.canisters.artifact.ownership import claim_memory, ensure_capsule, is_foreign_memory
from emulator.canisters.artifact.records import (
    ChunkResponse,
    CommitResponse,
    ICPResult,
    UploadProgressResponse,
    UploadSession,
    UploadSessionResponse,
    UserUploadSessionsResponse,
)
from emulator.canisters.artifact.running_hash import RunningHashes
from emulator.principal import Principal

NAT32_MAX = 0xFFFF_FFFF


class Status(StrEnum):
    ACTIVE = "Active"
    COMPLETED = "Completed"
    EXPIRED = "Expired"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class Event(StrEnum):
    COMMIT = "commit"
    CORRUPT = "corrupt"
    CANCEL = "cancel"
    EXPIRE = "expire"


TRANSITIONS: dict[tuple[Status, Event], Status] = {
    (Status.ACTIVE, Event.COMMIT): Status.COMPLETED,
    (Status.ACTIVE, Event.CORRUPT): Status.FAILED,
    (Status.ACTIVE, Event.CANCEL): Status.CANCELLED,
    (Status.ACTIVE, Event.EXPIRE): Status.EXPIRED,
}


# The Active filter as SQL text (not a bound parameter) so the planner can use the partial indexes
# declared `WHERE status = 'Active'` in the schema.
ACTIVE = f"status = '{Status.ACTIVE.value}'"


class InvalidTransition(RuntimeError):
    """A session was asked to move in a way the lifecycle does not allow (a canister bug)."""


SESSION_COLUMNS = (
    "sid, session_id, owner, memory_id, expected_hash, chunk_count, total_size, created_at, expires_at, "
    "status, chunks_received, bytes_received, last_chunk_at, finished_at, final_hash"
)


@dataclass(frozen=True, slots=True)
class Session:
    sid: int
    session_id: str
    owner: bytes
    memory_id: str
    expected_hash: str
    chunk_count: int
    total_size: int
    created_at: int
    expires_at: int
    status: Status
    chunks_received: int
    bytes_received: int
    last_chunk_at: int | None
    finished_at: int | None
    final_hash: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Session:
        """From a row selected with `SESSION_COLUMNS` (SQLite already gives ints, str and bytes)."""
        values = list(row)
        values[9] = Status(values[9])
        return cls(*values)

    def is_expired(self, now: int) -> bool:
        """Past its lifetime while still nominally Active ("passes created_at + lifetime")."""
        return self.status is Status.ACTIVE and now > self.expires_at

    def effective_status(self, now: int) -> Status:
        return Status.EXPIRED if self.is_expired(now) else self.status


def load_session(db: sqlite3.Connection, session_id: str) -> Session | None:
    row = db.execute(
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return None if row is None else Session.from_row(row)


def _finish(
    db: sqlite3.Connection, session: Session, event: Event, now: int, final_hash: str | None = None
) -> int:
    """Move an Active session to its final state; returns how many chunk rows were freed."""
    target = TRANSITIONS.get((session.status, event))
    if target is None:
        raise InvalidTransition(f"session {session.session_id}: no move from {session.status} on {event}")
    freed = 0 if target is Status.COMPLETED else free_chunks(db, session.sid, session.bytes_received)
    db.execute(
        "UPDATE af_sessions SET status = ?, finished_at = ?, final_hash = ? WHERE sid = ?",
        (target.value, now, final_hash, session.sid),
    )
    bump(db, Counter.ACTIVE_SESSIONS, -1)
    return freed


def free_chunks(db: sqlite3.Connection, sid: int, stored_bytes: int) -> int:
    """Delete a session's chunk rows (`stored_bytes` is what they hold, for the gauge)."""
    bump(db, Counter.STORED_BYTES, -stored_bytes)
    return db.execute("DELETE FROM af_chunks WHERE sid = ?", (sid,)).rowcount


def _received_flags(db: sqlite3.Connection, session: Session) -> list[bool]:
    flags = [False] * session.chunk_count
    for (idx,) in db.execute("SELECT idx FROM af_chunks WHERE sid = ? ORDER BY idx", (session.sid,)):
        flags[idx] = True
    return flags


def _session_record(db: sqlite3.Connection, session: Session) -> UploadSession:
    return {
        "session_id": session.session_id,
        "memory_id": session.memory_id,
        "expected_hash": session.expected_hash,
        "chunk_count": session.chunk_count,
        "total_size": session.total_size,
        "created_at": session.created_at,
        "chunks_received": _received_flags(db, session),
        "bytes_received": session.bytes_received,
    }


def _owned_session(db: sqlite3.Connection, caller: Principal, session_id: str) -> Session:
    """The caller's session, or the refusal every session method starts with."""
    if caller.is_anonymous:
        raise Refused(unauthorized())
    session = load_session(db, session_id)
    if session is None:
        raise Refused(not_found())
    if session.owner != caller.raw:
        raise Refused(unauthorized())
    return session


def _require_active(db: sqlite3.Connection, session: Session, now: int) -> None:
    """Refuse a session that is not active; an expired one is finished as Expired on the way."""
    if session.is_expired(now):
        _finish(db, session, Event.EXPIRE, now)
        raise Refused(internal("Session expired"))
    if session.status is Status.ACTIVE:
        return
    message = {
        Status.EXPIRED: "Session expired",
        Status.CANCELLED: "Session cancelled: begin a new upload",
        Status.FAILED: "Session failed: begin a new upload",
        Status.COMPLETED: "Session already committed",
    }[session.status]
    raise Refused(internal(message))


# -- begin -----------------------------------------------------------------------------------------


def begin_asset_upload(
    db: sqlite3.Connection,
    caller: Principal,
    now: int,
    limits: Limits,
    memory_id: str,
    expected_hash: str,
    chunk_count: int,
    total_size: int,
) -> ICPResult[UploadSessionResponse]:
    """The contract's ten checks, in its order; nothing is written unless all pass."""
    if caller.is_anonymous:  # 1
        raise Refused(unauthorized())
    if not ids.is_canonical_uuid_v4(memory_id):  # 2
        raise Refused(internal(ids.invalid_uuid_message(memory_id)))
    if is_foreign_memory(db, memory_id, caller):  # 3
        raise Refused(unauthorized())
    if not ids.is_sha256_hex(expected_hash):  # 4
        raise Refused(invalid_hash())
    expected_hash = expected_hash.lower()
    if total_size > limits.max_asset_size:  # 5
        raise Refused(internal(f"File size exceeds {size_label(limits.max_asset_size)} limit"))
    if (  # 6
        chunk_count == 0
        or chunk_count > limits.max_chunk_count
        or total_size > chunk_count * limits.max_chunk_size
        or chunk_count > max(total_size, 1)
    ):
        raise Refused(internal("Invalid chunk count"))
    committed = db.execute("SELECT sha256 FROM af_assets WHERE memory_id = ?", (memory_id,)).fetchone()
    if committed is not None and committed[0] == expected_hash:  # 7
        raise Refused(already_exists())
    resumable = db.execute(  # 8
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE owner = ? AND memory_id = ? AND {ACTIVE} "
        "AND expires_at >= ? AND expected_hash = ? AND chunk_count = ? AND total_size = ? "
        "ORDER BY created_at DESC LIMIT 1",
        (caller.raw, memory_id, now, expected_hash, chunk_count, total_size),
    ).fetchone()
    if resumable is not None:
        session = Session.from_row(resumable)
        return ok(_session_ok(db, session, "Resuming the active upload session for this memory"))
    active = count_active_sessions(db, caller, now)
    if active >= limits.max_active_sessions:  # 9
        raise Refused(
            internal(f"Rate limit exceeded: {active} concurrent uploads (max {limits.max_active_sessions})")
        )
    committed_bytes, begins_total = _caller_stats(db, caller)
    if _daily_quota_full(db, caller, now, limits, begins_total):  # 10
        raise Refused(
            internal(
                f"Quota exceeded: {limits.daily_upload_quota} uploads begun in the last 24 hours "
                f"(max {limits.daily_upload_quota} per day)"
            )
        )
    if committed_bytes + total_size > limits.byte_quota:
        raise Refused(
            internal(
                f"Quota exceeded: {committed_bytes} committed bytes + {total_size} would exceed "
                f"the {limits.byte_quota}-byte quota"
            )
        )
    _expire_callers_sessions(db, caller, now)
    claim_memory(db, memory_id, caller, now)
    ensure_capsule(db, caller, now)
    session_id = _unused_session_id(db)
    seq = begins_total + 1
    db.execute(
        "INSERT INTO af_sessions (session_id, owner, owner_seq, memory_id, expected_hash, chunk_count, "
        "total_size, created_at, expires_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session_id,
            caller.raw,
            seq,
            memory_id,
            expected_hash,
            chunk_count,
            total_size,
            now,
            now + limits.session_lifetime_ns,
            Status.ACTIVE.value,
        ),
    )
    bump(db, Counter.ACTIVE_SESSIONS, 1)
    db.execute(
        "INSERT INTO af_caller_stats (owner, begins_total) VALUES (?, ?) "
        "ON CONFLICT (owner) DO UPDATE SET begins_total = excluded.begins_total",
        (caller.raw, seq),
    )
    created = load_session(db, session_id)
    assert created is not None
    return ok(_session_ok(db, created, "Upload session created"))


def _session_ok(db: sqlite3.Connection, session: Session, message: str) -> UploadSessionResponse:
    return {"success": True, "session": _session_record(db, session), "message": message, "error": None}


def _unused_session_id(db: sqlite3.Connection) -> str:
    while True:
        candidate = ids.new_session_id()
        if db.execute("SELECT 1 FROM af_sessions WHERE session_id = ?", (candidate,)).fetchone() is None:
            return candidate


def count_active_sessions(db: sqlite3.Connection, caller: Principal, now: int) -> int:
    row = db.execute(
        f"SELECT COUNT(*) FROM af_sessions WHERE owner = ? AND {ACTIVE} AND expires_at >= ?",
        (caller.raw, now),
    ).fetchone()
    return int(row[0])


def _caller_stats(db: sqlite3.Connection, caller: Principal) -> tuple[int, int]:
    row = db.execute(
        "SELECT committed_bytes, begins_total FROM af_caller_stats WHERE owner = ?", (caller.raw,)
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _daily_quota_full(
    db: sqlite3.Connection, caller: Principal, now: int, limits: Limits, begins: int
) -> bool:
    """Exact sliding 24-hour window in one lookup.

    Sessions carry a per-caller sequence number, so "the quota-th most recent begin" is a primary
    key away; the window is full iff that begin lies within the last 24 hours. Finished sessions are
    kept for at least 24 hours, so a purged one is always outside the window.
    """
    quota = limits.daily_upload_quota
    if begins < quota:
        return False
    row = db.execute(
        "SELECT created_at FROM af_sessions WHERE owner = ? AND owner_seq = ?",
        (caller.raw, begins - quota + 1),
    ).fetchone()
    return row is not None and int(row[0]) > now - DAY_NS


def _expire_callers_sessions(db: sqlite3.Connection, caller: Principal, now: int) -> None:
    """Finish the caller's sessions that outlived their lifetime, so their chunks go now."""
    rows = db.execute(
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE owner = ? AND {ACTIVE} AND expires_at < ?",
        (caller.raw, now),
    ).fetchall()
    for row in rows:
        _finish(db, Session.from_row(row), Event.EXPIRE, now)


# -- chunks ----------------------------------------------------------------------------------------


def put_chunk(
    db: sqlite3.Connection,
    caller: Principal,
    now: int,
    limits: Limits,
    session_id: str,
    chunk_index: int,
    chunk_data: bytes,
    hashes: RunningHashes | None = None,
    on_rollback: Callable[[Callable[[], None]], None] = lambda undo: None,
) -> ICPResult[ChunkResponse]:
    session = _owned_session(db, caller, session_id)
    _require_active(db, session, now)
    if len(chunk_data) > limits.max_chunk_size:
        raise Refused(internal(f"Chunk size exceeds {size_label(limits.max_chunk_size)} limit"))
    if chunk_index >= session.chunk_count:
        raise Refused(internal("Invalid chunk index"))
    stored = db.execute(
        "SELECT data FROM af_chunks WHERE sid = ? AND idx = ?", (session.sid, chunk_index)
    ).fetchone()
    if stored is not None:
        # Retries are judged before the size rule: a retried chunk was counted once already.
        if bytes(stored[0]) != chunk_data:
            raise Refused(already_exists())
        return ok(
            _chunk_ok(chunk_index, session.bytes_received, "Chunk already received; nothing counted twice")
        )
    if session.bytes_received + len(chunk_data) > session.total_size:
        raise Refused(internal("Upload exceeds declared total size"))
    db.execute(
        "INSERT INTO af_chunks (sid, idx, size, data) VALUES (?, ?, ?, ?)",
        (session.sid, chunk_index, len(chunk_data), chunk_data),
    )
    if hashes is not None:
        hashes.chunk_stored(db, session.sid, session.session_id, chunk_index, chunk_data, on_rollback)
    bump(db, Counter.STORED_BYTES, len(chunk_data))
    received = session.bytes_received + len(chunk_data)
    db.execute(
        "UPDATE af_sessions SET chunks_received = chunks_received + 1, bytes_received = ?, last_chunk_at = ? "
        "WHERE sid = ?",
        (received, now, session.sid),
    )
    return ok(_chunk_ok(chunk_index, received, "Chunk received"))


def _chunk_ok(chunk_index: int, bytes_received: int, message: str) -> ChunkResponse:
    return {
        "success": True,
        "chunk_index": chunk_index,
        # nat32 on the wire; only a max_asset_size above 4 GiB could reach the cap.
        "bytes_received": min(bytes_received, NAT32_MAX),
        "message": message,
        "error": None,
    }


# -- commit ----------------------------------------------------------------------------------------


def commit_asset(
    db: sqlite3.Connection,
    caller: Principal,
    now: int,
    session_id: str,
    final_hash: str,
    hashes: RunningHashes | None = None,
) -> ICPResult[CommitResponse]:
    session = _owned_session(db, caller, session_id)
    if session.status is Status.COMPLETED:
        # A retry of a commit whose reply was lost gets the same success.
        return ok(_commit_ok(session, session.final_hash or session.expected_hash, session.bytes_received))
    _require_active(db, session, now)
    missing = session.chunk_count - session.chunks_received
    if missing > 0:
        raise Refused(internal(f"Missing chunks: {missing} of {session.chunk_count} not received"))
    if session.bytes_received != session.total_size:
        # All chunks are in and chunks are immutable, so this session can never succeed.
        _finish(db, session, Event.CORRUPT, now)
        raise Refused(
            internal(f"Size mismatch: received {session.bytes_received} bytes, expected {session.total_size}")
        )
    if final_hash.lower() != session.expected_hash:
        _finish(db, session, Event.CORRUPT, now)
        raise Refused(invalid_hash())
    digest, length = stored_digest(db, session, hashes)
    if length != session.total_size:
        _finish(db, session, Event.CORRUPT, now)
        raise Refused(internal(f"Size mismatch: assembled {length} bytes, expected {session.total_size}"))
    if digest != session.expected_hash:
        _finish(db, session, Event.CORRUPT, now)
        raise Refused(invalid_hash())
    _store_asset(db, session, caller, now, digest, length)
    _finish(db, session, Event.COMMIT, now, final_hash=digest)
    ensure_capsule(db, caller, now)
    return ok(_commit_ok(session, digest, length))


def stored_digest(db: sqlite3.Connection, session: Session, hashes: RunningHashes | None) -> tuple[str, int]:
    """SHA-256 and length of exactly the stored bytes: the hash kept as the chunks arrived, else (after
    a restart or an upgrade, or for a session the running hashes dropped) the stored chunks re-read."""
    kept = hashes.digest(session.sid, session.session_id, session.chunk_count) if hashes else None
    if hashes is not None:
        hashes.forget(session.sid, session.session_id)
    return kept if kept is not None else _hash_stored_chunks(db, session.sid)


def _hash_stored_chunks(db: sqlite3.Connection, sid: int) -> tuple[str, int]:
    """SHA-256 and length of the stored chunks, read one row at a time (assets reach 100 MiB)."""
    sha = hashlib.sha256()
    length = 0
    for (data,) in db.execute("SELECT data FROM af_chunks WHERE sid = ? ORDER BY idx", (sid,)):
        sha.update(data)
        length += len(data)
    return sha.hexdigest(), length


def _store_asset(
    db: sqlite3.Connection, session: Session, caller: Principal, now: int, digest: str, length: int
) -> None:
    previous = db.execute(
        "SELECT sid, total_bytes FROM af_assets WHERE memory_id = ?", (session.memory_id,)
    ).fetchone()
    released = 0
    if previous is not None:
        old_sid, released = int(previous[0]), int(previous[1])
        free_chunks(db, old_sid, released)
    bump(db, Counter.ASSETS, 0 if previous is not None else 1)
    bump(db, Counter.ASSET_BYTES, length - released)
    db.execute(
        "INSERT INTO af_assets (memory_id, owner, sid, sha256, total_bytes, chunk_count, committed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (memory_id) DO UPDATE SET sid = excluded.sid, "
        "sha256 = excluded.sha256, total_bytes = excluded.total_bytes, chunk_count = excluded.chunk_count, "
        "committed_at = excluded.committed_at",
        (session.memory_id, caller.raw, session.sid, digest, length, session.chunk_count, now),
    )
    db.execute(
        "INSERT INTO af_caller_stats (owner, committed_bytes) VALUES (?, ?) "
        "ON CONFLICT (owner) DO UPDATE SET committed_bytes = committed_bytes + ?",
        (caller.raw, length, length - released),
    )


def _commit_ok(session: Session, digest: str, length: int) -> CommitResponse:
    return {
        "success": True,
        "memory_id": session.memory_id,
        "final_hash": digest,
        "total_bytes": length,
        "message": "Asset committed",
        "error": None,
    }


# -- cancel ----------------------------------------------------------------------------------------


def cancel_upload(db: sqlite3.Connection, caller: Principal, now: int, session_id: str) -> ICPResult[object]:
    """Always succeeds for the caller's own (or unknown) ids: a cancel must be safe to repeat."""
    if caller.is_anonymous:
        raise Refused(unauthorized())
    session = load_session(db, session_id)
    if session is not None:
        if session.owner != caller.raw:
            raise Refused(unauthorized())
        if session.is_expired(now):
            _finish(db, session, Event.EXPIRE, now)
        elif session.status is Status.ACTIVE:
            _finish(db, session, Event.CANCEL, now)
    return ok(some(None))


# -- progress --------------------------------------------------------------------------------------


def _progress(session: Session, now: int) -> UploadProgressResponse:
    status = session.effective_status(now)
    return {
        "session_id": session.session_id,
        "memory_id": session.memory_id,
        "total_chunks": session.chunk_count,
        "chunks_received": session.chunks_received,
        "bytes_received": session.bytes_received,
        "total_size": session.total_size,
        "progress_percentage": session.chunks_received / session.chunk_count * 100.0,
        "estimated_time_remaining": estimate_remaining_ns(session, status, now),
        "status": {status.value: None},
        "created_at": session.created_at,
        "expires_at": session.expires_at,
    }


def estimate_remaining_ns(session: Session, status: Status, now: int) -> int | None:
    """Remaining bytes at this session's average rate so far (bytes received / time since begin).

    Measured against the current time, so a stalled upload's estimate grows instead of freezing.
    Finished sessions have nothing left to wait for (Completed: 0) or never will (others: null).
    """
    if status is Status.COMPLETED:
        return 0
    if status is not Status.ACTIVE:
        return None
    remaining = session.total_size - session.bytes_received
    if remaining <= 0:
        return 0
    elapsed = now - session.created_at
    if session.bytes_received == 0 or elapsed <= 0:
        return None
    return -(-remaining * elapsed // session.bytes_received)  # ceiling division


def get_upload_progress(
    db: sqlite3.Connection, caller: Principal, now: int, session_id: str
) -> ICPResult[UploadProgressResponse]:
    session = load_session(db, session_id)
    if session is None or session.owner != caller.raw:
        raise Refused(not_found())
    return ok(_progress(session, now))


def get_user_upload_sessions(
    db: sqlite3.Connection, caller: Principal, now: int, limits: Limits
) -> ICPResult[UserUploadSessionsResponse]:
    rows = db.execute(
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE owner = ? AND {ACTIVE} AND expires_at >= ? "
        "ORDER BY created_at DESC, sid DESC LIMIT ?",
        (caller.raw, now, limits.max_listed_sessions),
    ).fetchall()
    return ok({"sessions": [_progress(Session.from_row(row), now) for row in rows]})


# -- clean-up --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CleanupReport:
    expired: int
    chunks_freed: int
    purged: int


def cleanup(db: sqlite3.Connection, now: int, limits: Limits) -> CleanupReport:
    """One bounded step of the periodic clean-up, driven by the expiry and finished-at indexes."""
    rows = db.execute(
        f"SELECT {SESSION_COLUMNS} FROM af_sessions WHERE {ACTIVE} AND expires_at < ? "
        "ORDER BY expires_at LIMIT ?",
        (now, limits.cleanup_batch_size),
    ).fetchall()
    freed = 0
    for row in rows:
        freed += _finish(db, Session.from_row(row), Event.EXPIRE, now)
    purged = db.execute(
        "DELETE FROM af_sessions WHERE sid IN (SELECT sid FROM af_sessions WHERE finished_at IS NOT NULL "
        "AND finished_at < ? ORDER BY finished_at LIMIT ?)",
        (now - limits.finished_retention_ns, limits.cleanup_batch_size),
    ).rowcount
    return CleanupReport(expired=len(rows), chunks_freed=freed, purged=purged)


# -- reading committed assets (admin download) -------------------------------------------------------


def iter_asset_chunks(db: sqlite3.Connection, memory_id: str) -> Iterator[bytes]:
    """A committed asset's bytes, chunk by chunk in order; empty if none is committed.

    Runs on the given connection, so iterate inside the caller's read transaction.
    """
    row = db.execute("SELECT sid FROM af_assets WHERE memory_id = ?", (memory_id,)).fetchone()
    if row is None:
        return
    for (data,) in db.execute("SELECT data FROM af_chunks WHERE sid = ? ORDER BY idx", (int(row[0]),)):
        yield bytes(data)
