"""The artifact client as Locust sees it: every canister call becomes one ``events.request``.

Why an observer on the client's pipeline (``LocustObserver``) rather than a wrapper around each
public method: the pipeline is the one place every method of the typed client passes through,
including the calls that the client's own ``upload()`` makes from its chunk threads (its clones made
with ``with_options`` keep the same observers). A wrapper around the public methods would miss those,
and the per-method tables (``put_chunk``, ``commit_asset``...) would then be empty for exactly the
traffic that matters.

What one event says:

* ``request_type``: ``query`` or ``update``, as the canister's ``.did`` declares the method;
* ``name``: the method, so Locust's tables and charts are per method; an *expected* refusal gets a
  distinct name (``begin_asset_upload:rate_limited``) and counts as a success, so a prober that
  provokes the limit on purpose does not show up as failures, yet its refusals stay visible;
* ``response_time``: the whole typed call in ms (encode, sign, HTTP, certificate or query-signature
  verification, decode), i.e. what an application waits for;
* ``response_length``: the reply's Candid bytes (the pipeline's report counts them per call, so
  concurrent chunk uploads never add to each other's events);
* ``exception``: the ``ArtifactError`` (or transport error) for an unexpected failure.

Retries are off by default (profile ``client.retries``) and there is no circuit breaker: with retries
on, a transient failure would be retried inside the call and a 0-failure gate could never see it, and
the prober's expected rate-limit refusals (retryable by the client's rules) would trip a breaker.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from clients.artifact.client import ArtifactClient
from clients.artifact.errors import RateLimitedError
from clients.artifact.pipeline import Call, CallReport, CanisterConnection, ClientOptions
from clients.artifact.retry import RetryPolicy
from clients.ic.bls import verify_bls
from clients.ic.identity import principal_of

from .events import fire_request

if TYPE_CHECKING:  # importing Locust monkey-patches the process with gevent; types only
    from locust.event import EventHook

__all__ = [
    "ACK_LEDGER",
    "REPORTED",
    "LocustObserver",
    "expected_outcome",
    "locust_client",
    "mark_reported",
    "verify_bls_on_native_thread",
    "was_reported",
]

REPORTED = "_loadtests_reported"
"""Attribute set on an exception already reported as a failure event (so the task is not logged twice)."""


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


def verify_bls_on_native_thread(signature48: bytes, message: bytes, public_key96: bytes) -> bool:
    """``verify_bls`` on one of gevent's native threads, so the other users run meanwhile.

    Why: Locust runs every user as a greenlet on one OS thread, so a verification on the calling
    greenlet stops them all for its whole ~2 ms. arkworks releases the GIL for the pairing (two
    thirds of it, see ``clients/ic/bls.py``); on a native thread that part runs on another core while
    this process's hub serves the other greenlets. The calling greenlet still waits for the verdict
    (``apply`` returns what ``verify_bls`` returned, or raises what it raised), so no reply is used
    before its certificate verified. The hub's pool is gevent's own (10 threads by default).
    """
    import gevent  # here, not at module level: importing gevent's hub is Locust's business

    verdict: bool = gevent.get_hub().threadpool.apply(verify_bls, (signature48, message, public_key96))
    return verdict


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


class LocustObserver:
    """Fires one request event per call, and appends acknowledged commits to the ``ACK_LEDGER``.

    ``expected_rate_limits`` names the methods whose rate-limit refusals are expected outcomes for
    this user (the prober's ``begin_asset_upload``). Everything else about the client is unchanged:
    the same Candid encoding, verification and error classification a real application gets.
    """

    def __init__(
        self, request_event: EventHook, principal: str, expected_rate_limits: Iterable[str] = ()
    ) -> None:
        self.request_event = request_event
        self.principal = principal  # derived once; every event carries it
        self.expected_rate_limits = frozenset(expected_rate_limits)

    def before_call(self, call: Call) -> None:
        """Nothing to do before: the report carries the elapsed time."""

    def after_call(self, report: CallReport) -> None:
        method, error = report.call.method, report.error
        name, exception = method, error
        if error is not None:
            label = expected_outcome(method, error, self.expected_rate_limits)
            if label is not None:
                name, exception = f"{method}:{label}", None
            else:
                mark_reported(error)
        fire_request(
            self.request_event,
            request_type=report.call.kind,
            name=name,
            response_time=report.elapsed * 1000.0,
            response_length=report.reply_bytes,
            exception=exception,
            context={"principal": self.principal},
        )
        if error is None and method == "commit_asset":
            ACK_LEDGER.record(self.principal, report.result)


def locust_client(
    connection: CanisterConnection,
    canister_id: str,
    request_event: EventHook,
    *,
    retries: int = 0,
    expected_rate_limits: Iterable[str] = (),
    did_text: str | None = None,
) -> ArtifactClient:
    """An ``ArtifactClient`` whose calls are Locust request events (see the module docstring)."""
    observer = LocustObserver(request_event, principal_of(connection.identity), expected_rate_limits)
    options = ClientOptions(
        retry_policy=RetryPolicy(retries=retries) if retries else RetryPolicy.none(),
        breaker=None,
        observers=(observer,),
    )
    return ArtifactClient(connection, canister_id, options, did_text=did_text)
