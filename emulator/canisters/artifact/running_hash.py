"""SHA-256 of each active session's bytes, kept as its chunks arrive, so a commit need not re-read them.

A 100 MiB commit used to read every stored chunk back and hash it inside the commit's message (a fifth
of the emulator's time per uploaded MiB). Instead the canister keeps, per session, the hash of the
longest run of chunks stored from index 0: a chunk that extends the run is hashed from the bytes just
stored; a chunk that arrives early waits in the store and is read once, when the gap before it fills.

The state lives in the canister instance only (memory, not stable memory), like a canister's heap: an
upgrade or a restart starts without it, and a commit then falls back to hashing the stored chunks. It
is exactly the hash of the stored bytes, because only bytes written in the same message are hashed and
every update is undone if that message's writes are rolled back (`CallContext.on_rollback`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_TRACKED_SESSIONS = 4096
"""Sessions whose hashes are kept (a hash state is ~200 bytes); the least recently fed is dropped and
its commit re-reads its chunks."""


@dataclass(slots=True)
class _Run:
    next_index: int
    length: int
    sha: Any  # hashlib's _Hash


class RunningHashes:
    def __init__(self, max_sessions: int = MAX_TRACKED_SESSIONS) -> None:
        self._runs: OrderedDict[tuple[int, str], _Run] = OrderedDict()
        self._max = max_sessions

    def chunk_stored(
        self,
        db: sqlite3.Connection,
        sid: int,
        session_id: str,
        index: int,
        data: bytes,
        on_rollback: Callable[[Callable[[], None]], None],
    ) -> None:
        """Chunk `index` (`data`) was just stored for session `sid` in the current message.

        Runs are keyed by the session's random id as well as its row id: a snapshot loaded into the
        canister can bring back row ids this instance has seen for other sessions.
        """
        key = (sid, session_id)
        run = self._runs.get(key)
        if run is None:
            if index != 0:
                return  # the run from chunk 0 is not known here (begun before a restart): fall back
            run = _Run(0, 0, hashlib.sha256())
            self._runs[key] = run
            on_rollback(lambda: self.forget(*key))
        elif run.next_index != index:
            return  # early: hashed when the gap before it fills
        else:
            saved = _Run(run.next_index, run.length, run.sha.copy())
            on_rollback(lambda: self._restore(key, saved))
        run.sha.update(data)
        run.length += len(data)
        run.next_index = index + 1
        # Chunks that arrived early and now continue the run: found on the (sid, idx) index without
        # touching their bytes, then read once, in order, up to the next gap.
        last = index
        for (idx,) in db.execute(
            "SELECT idx FROM af_chunks WHERE sid = ? AND idx > ? ORDER BY idx", (sid, index)
        ):
            if idx != last + 1:
                break
            last = idx
        if last > index:
            for (stored,) in db.execute(
                "SELECT data FROM af_chunks WHERE sid = ? AND idx > ? AND idx <= ? ORDER BY idx",
                (sid, index, last),
            ):
                run.sha.update(stored)
                run.length += len(stored)
            run.next_index = last + 1
        self._runs.move_to_end(key)
        while len(self._runs) > self._max:
            self._runs.popitem(last=False)

    def digest(self, sid: int, session_id: str, chunk_count: int) -> tuple[str, int] | None:
        """(SHA-256 hex, length) of all `chunk_count` chunks if every one was hashed here, else None."""
        run = self._runs.get((sid, session_id))
        if run is None or run.next_index != chunk_count:
            return None
        return run.sha.hexdigest(), run.length

    def forget(self, sid: int, session_id: str) -> None:
        self._runs.pop((sid, session_id), None)

    def _restore(self, key: tuple[int, str], saved: _Run) -> None:
        self._runs[key] = saved
