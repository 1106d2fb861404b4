"""A canister's messages still run one at a time, in order, after its executor was replaced.

`CanisterThread` took over from a one-worker `ThreadPoolExecutor` to make the query path's hand-off
cheaper (issue 13). These are the executor's promises the replica relies on: one job at a time and in
the order handed over (whichever thread hands it over: the event loop or a decode thread), the job's
exception reaches the awaiting coroutine, a job whose coroutine was cancelled before it started does
not run, and closing runs everything handed over before the thread ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from emulator.server.replica import CanisterThread


async def test_jobs_run_one_at_a_time_in_the_order_they_were_handed_over() -> None:
    thread = CanisterThread("canister-test")
    running = 0
    overlaps: list[int] = []
    order: list[int] = []
    threads: set[str] = set()

    def job(n: int) -> int:
        nonlocal running
        running += 1
        overlaps.append(running)
        order.append(n)
        threads.add(threading.current_thread().name)
        running -= 1
        return n * n

    loop = asyncio.get_running_loop()
    from_elsewhere = loop.create_future()
    # Half the jobs are handed over from another thread, as the decode pool does.
    poster = threading.Thread(target=lambda: thread.post(lambda: job(-1), loop, from_elsewhere))
    results = await asyncio.gather(*(thread.run(functools.partial(job, n)) for n in range(50)))
    poster.start()
    poster.join()
    assert await from_elsewhere == 1
    thread.close()
    assert results == [n * n for n in range(50)]
    assert order == [*range(50), -1]
    assert set(overlaps) == {1}
    assert threads == {"canister-test"}


async def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    thread = CanisterThread("canister-test")

    def fails() -> None:
        raise ValueError("trapped")

    with pytest.raises(ValueError, match="trapped"):
        await thread.run(fails)
    assert await thread.run(lambda: "still serving") == "still serving"
    thread.close()


async def test_a_job_cancelled_before_it_started_does_not_run_and_close_drains_the_rest() -> None:
    thread = CanisterThread("canister-test")
    gate = threading.Event()
    ran: list[str] = []
    loop = asyncio.get_running_loop()
    blocker = asyncio.ensure_future(thread.run(lambda: gate.wait(5.0)))
    skipped = loop.create_future()
    thread.post(lambda: ran.append("skipped"), loop, skipped)
    kept = loop.create_future()
    thread.post(lambda: ran.append("kept"), loop, kept, skip_if_cancelled=False)
    later = loop.create_future()
    thread.post(lambda: ran.append("later"), loop, later)
    skipped.cancel()
    kept.cancel()
    gate.set()
    assert await blocker is True
    thread.close()  # waits for the jobs already handed over
    assert ran == ["kept", "later"]
    with pytest.raises(RuntimeError):
        thread.post(lambda: None, loop, loop.create_future())
    thread.close()  # idempotent


class ClosesOnHandBack(asyncio.SelectorEventLoop):
    """A real loop that closes right after the thread checked it: the shut-down race, made certain."""

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        self.close()
        return super().call_soon_threadsafe(callback, *args, context=context)  # raises: closed


def test_a_loop_closing_as_a_job_hands_back_does_not_end_the_thread() -> None:
    thread = CanisterThread("canister-test")
    racing = ClosesOnHandBack()
    done = threading.Event()
    thread.post(done.set, racing, racing.create_future())
    assert done.wait(5.0)
    # Bounded: a dead thread would leave this waiting forever.
    assert asyncio.run(asyncio.wait_for(thread.run(lambda: "still serving"), 10.0)) == "still serving"
    assert racing.is_closed()
    thread.close()
