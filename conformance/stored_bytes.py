"""Stored bytes: does the target keep what it was sent, byte for byte?

Presence answers and a successful `commit_asset` only say the canister *claims* to hold an asset; a
canister that verified the hash on the fly and then kept only a presence record would pass every
reply-level test. So the suite remembers the bytes each session was sent (the first accepted copy of each
chunk, as the contract keeps it) and, on every successful commit, reads back what the target stored and
compares SHA-256 digests. Only targets that can return stored bytes (today the emulator's inspection
capability, an admin download) can be checked; for the others the run says, in the matrix, that stored
bytes were not verified at all and how many commits went unchecked, so "stores forever" is never
reported on the strength of presence alone.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Fetch = Callable[[str], bytes]


class StoredBytesMismatch(AssertionError):
    """What the target returns for a committed memory is not what was sent."""


@dataclass
class _Sent:
    memory_id: str
    chunks: dict[int, bytes] = field(default_factory=dict)


class StoredBytes:
    """Shared by every client of one run (clients may call from several threads)."""

    def __init__(self, fetch: Fetch | None, how: str = "") -> None:
        self._fetch = fetch
        self.how = how
        self._lock = threading.Lock()
        self._sessions: dict[str, _Sent] = {}
        self.verified = 0
        self.unchecked = 0

    @property
    def verifiable(self) -> bool:
        return self._fetch is not None

    def observe(self, method: str, args: Sequence[Any], result: Any) -> None:
        """Called after every successful contract call with its arguments and typed result."""
        if method == "begin_asset_upload":
            session = getattr(result, "session", None)
            if session is not None:
                with self._lock:
                    self._sessions.setdefault(session.session_id, _Sent(str(args[0])))
        elif method == "put_chunk":
            with self._lock:
                sent = self._sessions.get(str(args[0]))
                if sent is not None:
                    sent.chunks.setdefault(int(args[1]), bytes(args[2]))
        elif method == "commit_asset":
            with self._lock:  # the first successful commit is checked; retries answer from the record
                sent = self._sessions.pop(str(args[0]), None)
            if sent is not None:
                self._check(sent)

    def _check(self, sent: _Sent) -> None:
        data = b"".join(sent.chunks[i] for i in sorted(sent.chunks))
        if self._fetch is None:
            with self._lock:
                self.unchecked += 1
            return
        stored = self._fetch(sent.memory_id)
        expected, actual = hashlib.sha256(data).hexdigest(), hashlib.sha256(stored).hexdigest()
        if expected != actual:
            raise StoredBytesMismatch(
                f"memory {sent.memory_id}: the target stored {len(stored)} bytes with SHA-256 {actual}, "
                f"but {len(data)} bytes with SHA-256 {expected} were sent"
            )
        with self._lock:
            self.verified += 1

    def describe(self) -> dict[str, Any]:
        return {
            "verifiable": self.verifiable,
            "how": self.how,
            "verified_commits": self.verified,
            "unchecked_commits": self.unchecked,
        }


def summary(described: dict[str, Any] | None) -> str:
    """The matrix's sentence about stored bytes for one target."""
    if not described:
        return "stored bytes: not recorded by this run"
    if described.get("verifiable"):
        return (
            f"stored bytes: verified — every successful commit was read back and matched the bytes sent "
            f"by SHA-256 ({described.get('verified_commits', 0)} commits, {described.get('how', '')})"
        )
    return (
        "stored bytes: NOT verified — this target cannot return what it stored (presence replies only), "
        f"so {described.get('unchecked_commits', 0)} committed uploads were not checked byte for byte "
        "and this run does not show that the canister stores the bytes"
    )
