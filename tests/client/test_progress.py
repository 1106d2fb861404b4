"""Progress math (rate over a sliding window, ETA) and the upload sources (no server)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from clients.artifact.uploader import ProgressEvent, RateMeter, chunk_count_for, open_source


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_rate_and_no_eta_before_a_measurement() -> None:
    meter = RateMeter(clock=FakeClock())
    assert meter.rate() is None
    meter.start()
    assert meter.rate() is None
    assert meter.eta(100) is None
    assert meter.eta(0) == 0.0


def test_rate_and_eta_from_acknowledgements() -> None:
    clock = FakeClock()
    meter = RateMeter(window_seconds=5.0, clock=clock)
    meter.start()
    clock.now = 1.0
    meter.add(1_000_000)
    assert meter.rate() == pytest.approx(1_000_000)
    clock.now = 2.0
    meter.add(2_000_000)
    assert meter.rate() == pytest.approx(1_000_000)
    assert meter.eta(3_000_000) == pytest.approx(3.0)


def test_rate_follows_the_sliding_window() -> None:
    clock = FakeClock()
    meter = RateMeter(window_seconds=5.0, clock=clock)
    meter.start()
    total = 0
    for _ in range(10):  # 10 s at 1 MB/s
        clock.now += 1.0
        total += 1_000_000
        meter.add(total)
    assert meter.rate() == pytest.approx(1_000_000)
    for _ in range(10):  # then 10 s at 4 MB/s: the window forgets the slow start
        clock.now += 1.0
        total += 4_000_000
        meter.add(total)
    assert meter.rate() == pytest.approx(4_000_000, rel=0.01)
    assert meter.eta(8_000_000) == pytest.approx(2.0, rel=0.01)


def test_a_stall_lowers_the_rate() -> None:
    clock = FakeClock()
    meter = RateMeter(window_seconds=4.0, clock=clock)
    meter.start()
    clock.now = 1.0
    meter.add(4_000_000)
    clock.now = 5.0
    meter.add(4_000_000)  # an acknowledgement of an empty chunk after a 4 s stall
    rate = meter.rate()
    assert rate is not None and rate < 4_000_000


def test_zero_elapsed_time_has_no_rate() -> None:
    clock = FakeClock()
    meter = RateMeter(clock=clock)
    meter.start()
    meter.add(10)
    assert meter.rate() is None


def test_progress_event_fraction() -> None:
    e = ProgressEvent("m", "uploading", 1, 4, 250, 1000)
    assert e.fraction == 0.25
    assert ProgressEvent("m", "done", 1, 1, 0, 0).fraction == 1.0


@pytest.mark.parametrize(
    ("size", "chunk", "count"),
    [
        (0, 1024, 1),
        (1, 1024, 1),
        (1024, 1024, 1),
        (1025, 1024, 2),
        (3 * 2**20, 2**20, 3),
        (3 * 2**20 + 1, 2**20, 4),
    ],
)
def test_chunk_count(size: int, chunk: int, count: int) -> None:
    assert chunk_count_for(size, chunk) == count


def test_chunk_count_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        chunk_count_for(10, 0)


class NonSeekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self._buf.read(len(b))
        b[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("kind", ["bytes", "path", "seekable", "pipe"])
def test_sources_hash_and_read_the_same_bytes(tmp_path: Path, kind: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    if kind == "bytes":
        src = open_source(data)
    elif kind == "path":
        src = open_source(path)
    elif kind == "seekable":
        src = open_source(io.BytesIO(data))
    else:
        src = open_source(io.BufferedReader(NonSeekable(data)))  # type: ignore[type-var]
    try:
        assert src.size == len(data)
        seen: list[int] = []
        assert src.sha256(seen.append) == hashlib.sha256(data).hexdigest()
        assert seen[-1] == len(data) and seen == sorted(seen)
        assert src.read(1024 * 1024, 100) == data[1024 * 1024 : 1024 * 1024 + 100]
        assert src.read(len(data) - 5, 100) == data[-5:]
    finally:
        src.close()
