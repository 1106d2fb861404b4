"""RetryPolicy delays, the retry budget, and ``run_with_retry`` (no server: sleep and rng injected)."""

from __future__ import annotations

import random

import pytest

from clients.artifact.errors import RateLimitedError, TransientError, UnauthorizedError
from clients.artifact.retry import RetryBudget, RetryEvent, RetryPolicy, run_with_retry


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """Fails with the given errors in order, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_defaults_are_the_seeds() -> None:
    p = RetryPolicy()
    assert (p.retries, p.base_delay, p.max_delay) == (3, 1.0, 10.0)


def test_delay_without_jitter_is_exponential_and_capped() -> None:
    p = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.0)
    rng = random.Random(0)
    assert [p.delay(a, rng) for a in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_stays_within_bounds_and_varies() -> None:
    p = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5)
    rng = random.Random(42)
    for attempt in range(4):
        samples = [p.delay(attempt, rng) for _ in range(500)]
        low = 2.0**attempt
        assert all(low <= s <= min(low + 0.5, 10.0) for s in samples)
        assert max(samples) - min(samples) > 0.3  # really random, not a constant
    assert all(p.delay(10, rng) == 10.0 for _ in range(50))  # the cap holds with jitter too


def test_per_operation_overrides() -> None:
    p = RetryPolicy().with_override("put_chunk", retries=6, base_delay=0.5)
    assert p.for_operation("put_chunk").retries == 6
    assert p.for_operation("put_chunk").base_delay == 0.5
    assert p.for_operation("commit_asset") == p
    p2 = p.with_override("put_chunk", retries=1)
    assert p2.for_operation("put_chunk").retries == 1
    assert len(p2.overrides) == 1
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def test_retries_transient_errors_then_succeeds() -> None:
    slept: list[float] = []
    events: list[RetryEvent] = []
    fn = Flaky(TransientError("503"), TransientError("503"))
    result = run_with_retry(
        fn,
        RetryPolicy(jitter=0.0),
        idempotent=True,
        sleep=slept.append,
        rng=random.Random(1),
        on_retry=events.append,
        operation="put_chunk",
    )
    assert result == "ok"
    assert fn.calls == 3
    assert slept == [1.0, 2.0]
    assert [(e.operation, e.retry, e.delay) for e in events] == [("put_chunk", 1, 1.0), ("put_chunk", 2, 2.0)]


def test_permanent_errors_are_not_retried() -> None:
    slept: list[float] = []
    fn = Flaky(UnauthorizedError("Unauthorized"))
    with pytest.raises(UnauthorizedError) as info:
        run_with_retry(fn, RetryPolicy(), idempotent=True, sleep=slept.append)
    assert fn.calls == 1 and slept == []
    assert info.value.attempts == 1 and not info.value.retries_exhausted


def test_non_idempotent_operations_are_not_retried() -> None:
    fn = Flaky(TransientError("503"))
    with pytest.raises(TransientError):
        run_with_retry(fn, RetryPolicy(), idempotent=False, sleep=lambda s: None)
    assert fn.calls == 1


def test_exhausted_retries_raise_the_operations_own_error_with_history() -> None:
    first, second = TransientError("first 503"), TransientError("second 503")
    third, last = RateLimitedError("429"), TransientError("last 503")
    fn = Flaky(first, second, third, last, TransientError("never reached"))
    with pytest.raises(TransientError) as info:
        run_with_retry(fn, RetryPolicy(jitter=0.0), idempotent=True, sleep=lambda s: None)
    err = info.value
    assert err is last  # the error itself, not a wrapper
    assert fn.calls == 4  # 1 + 3 retries
    assert err.attempts == 4 and err.retries_exhausted
    note = "\n".join(err.__notes__)
    assert "retries exhausted after 4 attempt(s)" in note
    assert "first 503" in note and "429" in note


def test_interrupts_pass_through() -> None:
    def fn() -> str:
        raise KeyboardInterrupt

    slept: list[float] = []
    with pytest.raises(KeyboardInterrupt):
        run_with_retry(fn, RetryPolicy(), idempotent=True, sleep=slept.append)
    assert slept == []


def test_budget_allows_ratio_plus_floor() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, floor=2.0, floor_per_second=0.0, capacity=100.0, clock=clock)
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()  # floor used up, no calls deposited
    for _ in range(10):
        budget.record_call()  # 10 calls × 0.2 = 2 retries
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()
    assert budget.refused == 2 and budget.retries == 4


def test_budget_floor_refills_with_time_and_is_capped() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, floor=1.0, floor_per_second=0.5, capacity=3.0, clock=clock)
    assert budget.try_spend()
    assert not budget.try_spend()
    clock.now += 2.0  # +1 token
    assert budget.try_spend()
    clock.now += 1000.0
    assert budget.tokens == pytest.approx(3.0)


def test_exhausted_budget_keeps_the_original_error() -> None:
    budget = RetryBudget(ratio=0.0, floor=1.0, floor_per_second=0.0, clock=FakeClock())
    original = TransientError("the target is down")
    fn = Flaky(TransientError("503 a"), original, TransientError("never"))
    with pytest.raises(TransientError) as info:
        run_with_retry(fn, RetryPolicy(), idempotent=True, sleep=lambda s: None, budget=budget)
    assert info.value is original
    assert fn.calls == 2  # one retry from the floor, then the budget said no
    assert info.value.retries_exhausted
    assert "retry budget exhausted" in "\n".join(info.value.__notes__)


def test_budget_bounds_load_on_a_dead_target() -> None:
    """100 operations against a target failing everything: at most ~20 % extra requests + floor."""
    budget = RetryBudget(ratio=0.2, floor=5.0, floor_per_second=0.0, clock=FakeClock())
    requests = 0

    def always_down() -> str:
        nonlocal requests
        requests += 1
        raise TransientError("503")

    for _ in range(100):
        with pytest.raises(TransientError):
            run_with_retry(always_down, RetryPolicy(), idempotent=True, sleep=lambda s: None, budget=budget)
    assert requests <= 100 + 5 + 20 + 1
