"""Candid arguments are decoded off the canister's worker thread, one decode per caller at a time.

Why: a canister executes one message at a time on its own thread. If that thread also decoded the
arguments, four clients sending arguments that cost the decoder its whole budget (~100 ms each) would
make everybody else's query wait for the sum of their decodes. Decoded on a pool of their own, the
costly decodes and an ordinary query's take turns on the GIL (every 5 ms) instead, and the canister's
thread only executes. Decoding is a pure function of the bytes and the method's Candid types
(`CanisterHost.decode_arguments`), so it needs no ordering with the messages that run.

Fairness between callers: each caller (the envelope's sender) has at most `PER_CALLER` decode in the
pool; its further requests wait in that caller's own line, so one identity opening many connections
takes one turn, not the pool. All anonymous callers share one line. Identities are free, so this does
not stop an attacker who signs with many keys: the pool's size (`DECODE_THREADS`) bounds how many
decodes share the CPU at once, and past it decodes wait their turn in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from emulator.principal import Principal

T = TypeVar("T")

DECODE_THREADS = 32
PER_CALLER = 1


@dataclass
class _Line:
    turn: asyncio.Semaphore
    users: int = 0


class DecodeScheduler:
    """Runs decodes on a thread pool of their own, taking turns per caller.

    Used from the event loop only (the lines are asyncio primitives); the figures `waiting` and
    `running` are what `/metrics` shows and what the fairness test watches.
    """

    def __init__(self, threads: int = DECODE_THREADS, per_caller: int = PER_CALLER) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="candid-decode")
        self._per_caller = per_caller
        self._lines: dict[Principal, _Line] = {}
        self.waiting = 0
        self.running = 0
        self.completed = 0

    async def run(self, caller: Principal, decode: Callable[[], T]) -> T:
        line = self._lines.get(caller)
        if line is None:
            line = self._lines[caller] = _Line(asyncio.Semaphore(self._per_caller))
        line.users += 1
        self.waiting += 1
        started = False
        try:
            async with line.turn:
                self.waiting -= 1
                started = True
                self.running += 1
                try:
                    return await asyncio.get_running_loop().run_in_executor(self._pool, decode)
                finally:
                    self.running -= 1
                    self.completed += 1
        finally:
            if not started:
                self.waiting -= 1
            line.users -= 1
            if line.users == 0:
                del self._lines[caller]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
