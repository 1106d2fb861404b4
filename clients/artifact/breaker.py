"""Circuit breaker (requirement 19, seed 3.3): stop calling a target that keeps failing.

Why: retries make one operation patient, but a client with four upload threads and a retry policy
would otherwise keep a dead or overloaded target busy forever. After ``failure_threshold`` retryable
failures inside ``window_seconds`` the breaker opens and every call fails at once with
``CircuitOpenError`` ("temporarily unavailable", itself retryable) without touching the network.
After ``cool_down_seconds`` it lets exactly one probe call through (half-open): success closes it,
failure opens it for another cool-down. Concurrent callers during the probe are refused, so a
recovering target sees one request, not a thundering herd.

Only failures that say "the target is not answering properly" count (``is_retryable_error``:
transport errors, 429/5xx, reject 2/6, poll timeouts). A permanent error such as ``NotFound`` is
proof the target is up, so it counts as a success.

The behaviour is this transition table; ``_transition`` is the only place ``state`` changes:

=============  ==================  =============
state          event               next state
=============  ==================  =============
closed         success             closed
closed         failure             closed        (below the threshold in the window)
closed         trip                open          (threshold reached in the window)
open           cool_down_elapsed   half_open
half_open      probe_success       closed
half_open      probe_failure       open
half_open      probe_abandoned     half_open     (the probe was interrupted: next call probes)
=============  ==================  =============
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from .errors import CircuitOpenError, is_retryable_error

__all__ = ["TRANSITIONS", "BreakerState", "CircuitBreaker", "CircuitOpenError", "Event"]

T = TypeVar("T")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Event(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    TRIP = "trip"
    COOL_DOWN_ELAPSED = "cool_down_elapsed"
    PROBE_SUCCESS = "probe_success"
    PROBE_FAILURE = "probe_failure"
    PROBE_ABANDONED = "probe_abandoned"


TRANSITIONS: dict[tuple[BreakerState, Event], BreakerState] = {
    (BreakerState.CLOSED, Event.SUCCESS): BreakerState.CLOSED,
    (BreakerState.CLOSED, Event.FAILURE): BreakerState.CLOSED,
    (BreakerState.CLOSED, Event.TRIP): BreakerState.OPEN,
    (BreakerState.OPEN, Event.COOL_DOWN_ELAPSED): BreakerState.HALF_OPEN,
    (BreakerState.HALF_OPEN, Event.PROBE_SUCCESS): BreakerState.CLOSED,
    (BreakerState.HALF_OPEN, Event.PROBE_FAILURE): BreakerState.OPEN,
    (BreakerState.HALF_OPEN, Event.PROBE_ABANDONED): BreakerState.HALF_OPEN,
}


class CircuitBreaker:
    """Thread-safe breaker; ``clock`` is injectable (monotonic seconds) so tests need no sleeping."""

    def __init__(
        self,
        failure_threshold: int = 10,
        window_seconds: float = 30.0,
        cool_down_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or window_seconds <= 0 or cool_down_seconds < 0:
            raise ValueError("invalid circuit breaker parameters")
        self.failure_threshold = failure_threshold
        self.window_seconds = window_seconds
        self.cool_down_seconds = cool_down_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.history: list[tuple[BreakerState, Event, BreakerState]] = []

    # -- state machine (call with the lock held) ------------------------------------------------

    def _transition(self, event: Event) -> None:
        old = self._state
        new = TRANSITIONS.get((old, event))
        if new is None:
            raise RuntimeError(f"circuit breaker: no transition from {old.value} on {event.value}")
        self._state = new
        if new is BreakerState.OPEN and old is not BreakerState.OPEN:
            self._opened_at = self._clock()
            self._failures.clear()
        if new is BreakerState.CLOSED and old is not BreakerState.CLOSED:
            self._failures.clear()
        if new is not old:
            self.history.append((old, event, new))
            if self._on_change is not None:
                self._on_change(old, new)

    def _tick(self) -> None:
        """Apply the time-driven event: an open breaker whose cool-down has passed is half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cool_down_seconds:
            self._transition(Event.COOL_DOWN_ELAPSED)

    def _record_failure(self, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._transition(Event.PROBE_FAILURE)
            return
        if self._state is not BreakerState.CLOSED:
            return  # a call admitted before the breaker opened; the breaker already decided
        now = self._clock()
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.window_seconds:
            self._failures.popleft()
        self._transition(Event.TRIP if len(self._failures) >= self.failure_threshold else Event.FAILURE)

    def _record_success(self, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
            self._transition(Event.PROBE_SUCCESS)
        elif self._state is BreakerState.CLOSED:
            self._transition(Event.SUCCESS)

    # -- public API ------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._tick()
            return self._state

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        with self._lock:
            self._tick()
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.cool_down_seconds - (self._clock() - self._opened_at))

    def _admit(self, method: str | None) -> bool:
        """Let a call through (returning whether it is the probe) or raise ``CircuitOpenError``."""
        with self._lock:
            self._tick()
            if self._state is BreakerState.OPEN:
                raise CircuitOpenError(self.cool_down_seconds - (self._clock() - self._opened_at), method)
            if self._state is BreakerState.HALF_OPEN:
                if self._probe_in_flight:
                    raise CircuitOpenError(0.0, method)
                self._probe_in_flight = True
                return True
            return False

    def call(self, fn: Callable[[], T], method: str | None = None) -> T:
        probe = self._admit(method)
        try:
            result = fn()
        except Exception as exc:
            with self._lock:
                if is_retryable_error(exc):
                    self._record_failure(probe)
                else:
                    self._record_success(probe)
            raise
        except BaseException:
            if probe:
                with self._lock:
                    self._probe_in_flight = False
                    self._transition(Event.PROBE_ABANDONED)
            raise
        with self._lock:
            self._record_success(probe)
        return result

    def reset(self) -> None:
        """Back to closed with no failures (e.g. after an operator fixed the target)."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures.clear()
            self._probe_in_flight = False
