"""The artifact client as Locust sees it: every canister call becomes one ``events.request``.

Why instrument ``ArtifactClient._invoke`` (a subclass) rather than wrap each public method: it is the
one place every method of the typed client passes through, including the calls that the client's
own ``upload()`` makes from its chunk threads. A wrapper around the public methods would miss those,
and the per-method tables (``put_chunk``, ``commit_asset``...) would then be empty for exactly the
traffic that matters.

What one event says:

* ``request_type``: ``query`` or ``update``, as the canister's ``.did`` declares the method;
* ``name``: the method, so Locust's tables and charts are per method; an *expected* refusal gets a
  distinct name (``begin_asset_upload:rate_limited``) and counts as a success, so a prober that
  provokes the limit on purpose does not show up as failures, yet its refusals stay visible;
* ``response_time``: the whole typed call in ms (encode, sign, HTTP, certificate or query-signature
  verification, decode), i.e. what an application waits for;
* ``response_length``: the reply's Candid bytes (``MeteredConnection`` counts them);
* ``exception``: the ``ArtifactError`` (or transport error) for an unexpected failure.

Retries and the circuit breaker are off by default (profile ``client.retries``): with them on, a
transient failure would be retried inside the call and a 0-failure gate could never see it, and the
prober's expected rate-limit refusals (retryable by the client's rules) would trip the breaker.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from clients.artifact.breaker import CircuitBreaker
from clients.artifact.client import ArtifactClient
from clients.artifact.errors import RateLimitedError
from clients.artifact.retry import RetryPolicy
from clients.ic import Connection

from .events import fire_request

if TYPE_CHECKING:  # importing Locust monkey-patches the process with gevent; types only
    from locust.event import EventHook

__all__ = [
    "REPORTED",
    "LocustArtifactClient",
    "MeteredConnection",
    "expected_outcome",
    "mark_reported",
    "was_reported",
]

T = TypeVar("T")

REPORTED = "_loadtests_reported"
"""Attribute set on an exception already reported as a failure event (so the task is not logged twice)."""

_reply_bytes: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "loadtests_reply_bytes", default=None
)


class MeteredConnection(Connection):
    """A ``Connection`` that adds each reply's size to the counter of the call in progress.

    The counter lives in a context variable, which greenlets and threads each have their own copy
    of, so the concurrent chunk uploads of one user never add to each other's events. ``with_identity``
    copies the object, so every per-user clone keeps counting.
    """

    def query_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        reply = super().query_raw(canister_id, method, arg)
        _add_reply_bytes(len(reply))
        return reply

    def update_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        reply = super().update_raw(canister_id, method, arg)
        _add_reply_bytes(len(reply))
        return reply


def _add_reply_bytes(n: int) -> None:
    counter = _reply_bytes.get()
    if counter is not None:
        counter[0] += n


def expected_outcome(method: str, exc: BaseException, expected_rate_limits: Iterable[str]) -> str | None:
    """The label of an expected refusal (``rate_limited``), or None when ``exc`` is a real failure.

    Only the canister's own ``Internal("Rate limit exceeded …")`` qualifies; an HTTP 429 from a
    boundary node is a different limit and stays a failure.
    """
    if method in expected_rate_limits and isinstance(exc, RateLimitedError) and exc.code == "Internal":
        return "rate_limited"
    return None


def was_reported(exc: BaseException) -> bool:
    return bool(getattr(exc, REPORTED, False))


def mark_reported(exc: BaseException) -> None:
    with contextlib.suppress(AttributeError, TypeError):  # exceptions with __slots__ stay unmarked
        setattr(exc, REPORTED, True)


ACK_LEDGER_ENV = "STOREFOREVER_ACK_LEDGER"
"""When set, a JSON-lines file to which every acknowledged ``commit_asset`` is appended.

The chaos test (tests/security/test_chaos.py) kills the emulator during a load run and then checks
that every commit a client saw acknowledged is intact; only the load generator knows which those are.
"""


class AckLedger:
    """Appends one line per acknowledged commit: principal, memory id, SHA-256, size."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, principal: str, reply: Any) -> None:
        if self.path is None or not getattr(reply, "success", False):
            return
        line = json.dumps(
            {
                "principal": principal,
                "memory_id": reply.memory_id,
                "sha256": reply.final_hash,
                "total_bytes": reply.total_bytes,
            }
        )
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


ACK_LEDGER = AckLedger(os.environ.get(ACK_LEDGER_ENV) or None)


class LocustArtifactClient(ArtifactClient):
    """An ``ArtifactClient`` that fires ``request_event`` once per canister call.

    ``expected_rate_limits`` names the methods whose rate-limit refusals are expected outcomes for
    this user (the prober's ``begin_asset_upload``). Everything else about the client is unchanged:
    the same Candid encoding, verification and error classification a real application gets.
    """

    def __init__(
        self,
        connection: Any,
        canister_id: str,
        request_event: EventHook,
        *,
        retries: int = 0,
        expected_rate_limits: Iterable[str] = (),
        did_text: str | None = None,
    ) -> None:
        super().__init__(
            connection,
            canister_id,
            retry_policy=RetryPolicy(retries=retries) if retries else RetryPolicy.none(),
            # A breaker that never opens: see the module docstring.
            breaker=CircuitBreaker(failure_threshold=2**31, window_seconds=1.0),
            did_text=did_text,
        )
        self.request_event = request_event
        self.expected_rate_limits = frozenset(expected_rate_limits)
        self.principal_text = self.principal  # derived once; every event carries it

    def request_type(self, method: str) -> str:
        return "query" if self.service[method].is_query else "update"

    def _invoke(self, method: str, args: Sequence[Any], check: Callable[[Any], T]) -> T:
        counter = [0]
        token = _reply_bytes.set(counter)
        started = time.perf_counter()
        try:
            result = super()._invoke(method, args, check)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000.0
            label = expected_outcome(method, exc, self.expected_rate_limits)
            if label is not None:
                self._fire(f"{method}:{label}", method, elapsed, counter[0], None)
            else:
                self._fire(method, method, elapsed, counter[0], exc)
                mark_reported(exc)
            raise
        finally:
            _reply_bytes.reset(token)
        self._fire(method, method, (time.perf_counter() - started) * 1000.0, counter[0], None)
        if method == "commit_asset":
            ACK_LEDGER.record(self.principal_text, result)
        return result

    def _fire(
        self, name: str, method: str, elapsed_ms: float, length: int, exc: BaseException | None
    ) -> None:
        fire_request(
            self.request_event,
            request_type=self.request_type(method),
            name=name,
            response_time=elapsed_ms,
            response_length=length,
            exception=exc,
            context={"principal": self.principal_text},
        )
