"""Retries with exponential backoff and jitter, bounded by a per-client budget (seed 1.7, req. 20.3).

Three separate pieces, so each can be reasoned about and tested alone:

* ``RetryPolicy`` is a value: how many retries and how long to wait before each. The delay before
  retry number ``attempt + 1`` is ``min(base * 2**attempt + jitter, max)`` with ``jitter`` drawn
  uniformly from ``[0, policy.jitter]`` by an injected ``random.Random``. Jitter spreads out clients
  that failed together so they do not come back together. Per-operation overrides live in the same
  value (``policy.with_override("put_chunk", retries=5)``).
* ``RetryBudget`` is shared state: a token bucket that lets retries be at most ``ratio`` of calls
  (default 20 %) plus a small floor that refills with time. A target that fails everything then sees
  ~1.2 requests per call instead of 4, which is the point of requirement 19 "do not hammer".
* ``run_with_retry`` ties them together. It retries only when the operation is idempotent *and* the
  error is retryable (``is_retryable_error``), and when it gives up it raises the operation's own
  last error (with ``attempts``, ``retries_exhausted`` and a note listing every attempt), never a
  generic wrapper, so callers keep matching on ``RateLimitedError`` etc.

Which operations are idempotent, per the contract (spec §3–§5): every query; ``put_chunk`` (same
bytes again → success, nothing counted twice); ``commit_asset`` (a completed session commits again
to the same success); ``cancel_upload`` (always success); ``upsert_metadata`` with the same key
(→ "already applied"); ``store_gallery_forever`` and ``add_memory_to_capsule`` (same id → "already
exists", nothing rewritten); ``update_gallery`` (it sets fields to given values); ``register*``.
``begin_asset_upload`` is not idempotent by itself, but the contract's resume rule makes a repeated
begin with the same memory, hash, chunk count and size return the *active* session instead of a
second one, so a begin whose reply was lost and which is sent again yields the same session (and a
begin that was refused for the session limit creates nothing). The seed says to skip retries for
session creation because without that rule a retry could leak sessions; with it, retrying is safe.
``delete_gallery`` is the exception: its repeat answers "Gallery not found", so it is never retried.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .errors import ArtifactError, is_retryable_error

__all__ = ["RetryBudget", "RetryEvent", "RetryPolicy", "run_with_retry"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry; defaults are the seed's (3 retries, 1 s, 10 s)."""

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 10.0
    jitter: float = 1.0
    overrides: tuple[tuple[str, RetryPolicy], ...] = field(default=(), compare=True)

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError("delays and jitter must be >= 0")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt + 1`` (``attempt`` counts from 0)."""
        jitter = rng.uniform(0.0, self.jitter) if self.jitter else 0.0
        return float(min(self.base_delay * 2**attempt + jitter, self.max_delay))

    def for_operation(self, operation: str | None) -> RetryPolicy:
        for name, policy in self.overrides:
            if name == operation:
                return policy
        return self

    def with_override(self, operation: str, **changes: Any) -> RetryPolicy:
        """A copy whose ``operation`` uses this policy changed by ``changes`` (e.g. ``retries=5``)."""
        specific = replace(self, overrides=(), **changes)
        kept = tuple((n, p) for n, p in self.overrides if n != operation)
        return replace(self, overrides=(*kept, (operation, specific)))

    @classmethod
    def none(cls) -> RetryPolicy:
        return cls(retries=0)


class RetryBudget:
    """Token bucket for retries: each call deposits ``ratio`` tokens, each retry withdraws one.

    The bucket starts full at ``floor`` tokens and also refills at ``floor_per_second`` so a client
    that makes few calls can still retry now and then; ``capacity`` bounds how much credit a long
    healthy period builds up (so a sudden outage cannot be met with a burst of stored retries).
    Thread-safe: one budget is shared by all threads of a client.
    """

    def __init__(
        self,
        ratio: float = 0.2,
        floor: float = 10.0,
        floor_per_second: float = 1.0,
        capacity: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ratio < 0 or floor < 0 or floor_per_second < 0 or capacity < floor:
            raise ValueError("invalid retry budget parameters")
        self.ratio = ratio
        self.floor_per_second = floor_per_second
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(floor)
        self._last = clock()
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.refused = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.floor_per_second)
        self._last = now

    def record_call(self) -> None:
        with self._lock:
            self._refill()
            self.calls += 1
            self._tokens = min(self.capacity, self._tokens + self.ratio)

    def try_spend(self) -> bool:
        """Take one retry token; False (and nothing taken) when the budget is exhausted."""
        with self._lock:
            self._refill()
            if self._tokens < 1.0 - 1e-9:  # 5 calls × 0.2 must buy one retry despite float sums
                self.refused += 1
                return False
            self._tokens = max(0.0, self._tokens - 1.0)
            self.retries += 1
            return True

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """Reported to ``on_retry`` just before sleeping: which retry, how long, and why."""

    operation: str | None
    retry: int
    delay: float
    error: BaseException


def _annotate(exc: BaseException, errors: list[BaseException], exhausted: bool, reason: str) -> None:
    if isinstance(exc, ArtifactError):
        exc.attempts = len(errors)
        exc.retries_exhausted = exhausted
    if len(errors) > 1 or reason:
        history = "; ".join(f"#{i + 1}: {type(e).__name__}: {e}" for i, e in enumerate(errors))
        exc.add_note(f"{reason or 'failed'} after {len(errors)} attempt(s): {history}")


def run_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    budget: RetryBudget | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
    operation: str | None = None,
) -> T:
    """Call ``fn`` until it succeeds, the error is permanent, or retries/budget run out.

    Raises the last attempt's exception itself; ``ArtifactError``s get ``attempts`` and
    ``retries_exhausted`` (True when a retryable error outlived the policy or the budget), and every
    exception gets a note with the full attempt history. ``KeyboardInterrupt`` and other
    ``BaseException``s pass straight through: an interrupt is never retried.
    """
    rng = rng or random.Random()
    policy = policy.for_operation(operation)
    if budget is not None:
        budget.record_call()
    errors: list[BaseException] = []
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            errors.append(exc)
            if not idempotent or not is_retryable_error(exc):
                _annotate(exc, errors, exhausted=False, reason="")
                raise
            if attempt >= policy.retries:
                _annotate(exc, errors, exhausted=True, reason="retries exhausted")
                raise
            if budget is not None and not budget.try_spend():
                _annotate(exc, errors, exhausted=True, reason="retry budget exhausted")
                raise
            delay = policy.delay(attempt, rng)
            if on_retry is not None:
                on_retry(RetryEvent(operation, attempt + 1, delay, exc))
            attempt += 1
        sleep(delay)
