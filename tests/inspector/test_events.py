"""The upload event stream's economics: no hook without a watcher, coalesced reads, a capped audience.

These run the real broadcaster and metrics registry in-process; the board read is a counter so the
test can see how many reads a burst of calls caused (what the canister thread would pay).
"""

from __future__ import annotations

import asyncio

import pytest

from emulator.server.inspector.events import TooManySubscribers, UploadBroadcaster
from emulator.server.inspector.glance import bucket_quantile, summarise
from emulator.server.metrics import EmulatorMetrics
from emulator.server.replica import CallRecord


def _record(endpoint: str = "call", method: str = "put_chunk") -> CallRecord:
    return CallRecord(endpoint, "aaaaa-aa", method, "2vxsx-fae", "replied", 0.003)


class CountingBoard:
    def __init__(self) -> None:
        self.reads = 0

    async def __call__(self) -> str:
        self.reads += 1
        return f'{{"read": {self.reads}}}'


async def test_no_subscriber_means_no_hook_and_no_reads() -> None:
    metrics, board = EmulatorMetrics(), CountingBoard()
    broadcaster = UploadBroadcaster(metrics, board, min_interval=0.05)
    assert metrics.listener is None
    for _ in range(100):
        metrics.observe(_record())
    await asyncio.sleep(0.1)
    assert board.reads == 0

    sub = broadcaster.subscribe()
    assert metrics.listener is not None
    broadcaster.unsubscribe(sub)
    assert metrics.listener is None


async def test_a_burst_of_calls_costs_one_read_per_interval() -> None:
    metrics, board = EmulatorMetrics(), CountingBoard()
    broadcaster = UploadBroadcaster(metrics, board, min_interval=0.05)
    sub = broadcaster.subscribe()
    for _ in range(500):
        metrics.observe(_record())
        metrics.observe(_record(endpoint="query", method="get_upload_progress"))
    assert await sub.next(timeout=5) == '{"read": 1}'
    await asyncio.sleep(0.2)
    assert board.reads == 1  # 500 calls in one burst: one read, every subscriber gets it
    metrics.observe(_record())
    assert await sub.next(timeout=5) == '{"read": 2}'
    await broadcaster.close()
    assert await sub.next(timeout=5) is None
    assert metrics.listener is None


async def test_queries_do_not_wake_the_board() -> None:
    metrics, board = EmulatorMetrics(), CountingBoard()
    broadcaster = UploadBroadcaster(metrics, board, min_interval=0.01)
    sub = broadcaster.subscribe()
    for _ in range(50):
        metrics.observe(_record(endpoint="query", method="get_upload_progress"))
    assert await sub.next(timeout=0.2) == ""  # nothing new: a keep-alive would be sent
    assert board.reads == 0
    await broadcaster.close()


async def test_subscribers_are_capped() -> None:
    broadcaster = UploadBroadcaster(EmulatorMetrics(), CountingBoard(), max_subscribers=2)
    first, _ = broadcaster.subscribe(), broadcaster.subscribe()
    with pytest.raises(TooManySubscribers):
        broadcaster.subscribe()
    broadcaster.unsubscribe(first)
    broadcaster.subscribe()
    assert broadcaster.subscriber_count == 2
    await broadcaster.close()


def test_percentiles_follow_the_histogram_buckets() -> None:
    buckets = [(0.001, 0.0), (0.01, 50.0), (0.1, 100.0), (float("inf"), 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.01)
    assert bucket_quantile(0.25, buckets) == pytest.approx(0.0055)
    assert bucket_quantile(0.99, buckets) == pytest.approx(0.0982)
    assert bucket_quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    assert bucket_quantile(0.99, [(0.1, 1.0), (float("inf"), 10.0)]) == 0.1  # beyond the last bound

    metrics = EmulatorMetrics()
    for _ in range(3):
        metrics.observe(_record())
    metrics.observe(CallRecord("call", "aaaaa-aa", "put_chunk", "2vxsx-fae", "non_replicated_rejection", 0.2))
    (row,) = summarise(metrics)
    assert (row.method, row.total) == ("put_chunk", 4)
    assert row.outcomes == {"replied": 3, "non_replicated_rejection": 1}
    assert row.percentiles_ms["p50"] is not None and row.percentiles_ms["p50"] < 5
