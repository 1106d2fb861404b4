"""Circuit breaker transitions with a fake clock (no sleeping, no server)."""

from __future__ import annotations

import threading

import pytest

from clients.artifact.breaker import TRANSITIONS, BreakerState, CircuitBreaker, Event
from clients.artifact.errors import CircuitOpenError, NotFoundError, TransientError

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail() -> None:
    raise TransientError("503")


def ok() -> str:
    return "ok"


def breaker(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=threshold, window_seconds=10.0, cool_down_seconds=5.0, clock=clock
    )


def trip(b: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(TransientError):
            b.call(fail)


def test_table_is_complete_for_the_documented_transitions() -> None:
    assert TRANSITIONS[(CLOSED, Event.TRIP)] is OPEN
    assert TRANSITIONS[(OPEN, Event.COOL_DOWN_ELAPSED)] is HALF_OPEN
    assert TRANSITIONS[(HALF_OPEN, Event.PROBE_SUCCESS)] is CLOSED
    assert TRANSITIONS[(HALF_OPEN, Event.PROBE_FAILURE)] is OPEN
    assert (OPEN, Event.SUCCESS) not in TRANSITIONS  # an open breaker never runs a call


def test_opens_after_n_failures_in_the_window_and_refuses_without_calling() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 2)
    assert b.state is CLOSED
    trip(b, 1)
    assert b.state is OPEN
    calls = []
    with pytest.raises(CircuitOpenError) as info:
        b.call(lambda: calls.append(1))
    assert calls == []
    assert "temporarily unavailable" in str(info.value)
    assert info.value.retryable
    assert info.value.retry_after == pytest.approx(5.0)


def test_failures_outside_the_window_do_not_count() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 2)
    clock.now += 11.0
    trip(b, 2)
    assert b.state is CLOSED
    trip(b, 1)
    assert b.state is OPEN


def test_permanent_errors_and_successes_do_not_trip() -> None:
    b = breaker(FakeClock())
    for _ in range(10):
        with pytest.raises(NotFoundError):
            b.call(lambda: (_ for _ in ()).throw(NotFoundError("NotFound")))
        assert b.call(ok) == "ok"
    assert b.state is CLOSED


def test_half_open_probe_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.now += 4.9
    assert b.state is OPEN
    clock.now += 0.1
    assert b.state is HALF_OPEN
    assert b.call(ok) == "ok"
    assert b.state is CLOSED
    trip(b, 2)  # the failure count started over
    assert b.state is CLOSED
    assert [(o, e, n) for o, e, n in b.history] == [
        (CLOSED, Event.TRIP, OPEN),
        (OPEN, Event.COOL_DOWN_ELAPSED, HALF_OPEN),
        (HALF_OPEN, Event.PROBE_SUCCESS, CLOSED),
    ]


def test_half_open_probe_failure_reopens_for_a_new_cool_down() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.now += 5.0
    with pytest.raises(TransientError):
        b.call(fail)
    assert b.state is OPEN
    assert b.retry_after() == pytest.approx(5.0)
    clock.now += 5.0
    assert b.state is HALF_OPEN


def test_exactly_one_probe_while_half_open() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.now += 5.0
    entered, release = threading.Event(), threading.Event()
    results: list[str] = []

    def slow_probe() -> str:
        entered.set()
        release.wait(5)
        return "probe"

    t = threading.Thread(target=lambda: results.append(b.call(slow_probe)))
    t.start()
    assert entered.wait(5)
    for _ in range(5):  # concurrent callers during the probe are refused at once
        with pytest.raises(CircuitOpenError):
            b.call(ok)
    release.set()
    t.join(5)
    assert results == ["probe"]
    assert b.state is CLOSED


def test_an_interrupted_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    b = breaker(clock)
    trip(b, 3)
    clock.now += 5.0

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        b.call(interrupted)
    assert b.state is HALF_OPEN
    assert b.call(ok) == "ok"
    assert b.state is CLOSED


def test_concurrent_failures_are_counted_safely() -> None:
    b = CircuitBreaker(failure_threshold=1000, window_seconds=60.0, cool_down_seconds=1.0)

    def worker() -> None:
        for _ in range(100):
            with pytest.raises(TransientError):
                b.call(fail)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.state is CLOSED  # 800 < 1000
    for _ in range(200):
        with pytest.raises(TransientError):
            b.call(fail)
    assert b.state is OPEN


def test_reset_closes() -> None:
    b = breaker(FakeClock())
    trip(b, 3)
    b.reset()
    assert b.state is CLOSED
    assert b.call(ok) == "ok"
