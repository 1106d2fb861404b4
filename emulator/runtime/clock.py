"""The canister clock (`ic0.time`): wall-clock time plus a forward-only offset set by tests.

Only canister logic reads this clock. Certificates, query-signature timestamps and ingress-expiry
checks stay on wall-clock time, because agents reject certificates far from their own clock. The
offset is kept in the stable store so a restart does not move a test's virtual time backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.runtime.stable_store import StableStore

OFFSET_KEY = "clock_offset_ns"


class ClockError(ValueError):
    """The clock was asked to move backwards."""


class CanisterClock:
    def __init__(self, store: StableStore, wall_clock: Callable[[], int] = time.time_ns) -> None:
        self._store = store
        self._wall = wall_clock
        self._last = 0
        self.offset_ns = 0
        self.reload()

    def reload(self) -> None:
        raw = self._store.get_meta(OFFSET_KEY)
        self.offset_ns = int.from_bytes(raw, "big") if raw else 0

    def now(self) -> int:
        """Strictly increasing, like the IC's time across messages."""
        self._last = max(self._wall() + self.offset_ns, self._last + 1)
        return self._last

    def advance(self, delta_ns: int) -> int:
        """Move forward by `delta_ns`; must run inside a store write so the new offset is durable."""
        if delta_ns < 0:
            raise ClockError("the canister clock only moves forward")
        before = (self.offset_ns, self._last)
        self.offset_ns += delta_ns
        self._store.set_meta(OFFSET_KEY, self.offset_ns.to_bytes(16, "big"))
        self._store.on_rollback(lambda: self._restore(*before))
        return self.now()

    def _restore(self, offset_ns: int, last: int) -> None:
        self.offset_ns, self._last = offset_ns, last
