"""The client's call pipeline: one call, a few small layers around it, composed once from options.

Why a pipeline instead of one method with everything wired in: three consumers share the typed client
and want different things around the same encode/send/decode/check. The CLI and the uploader want
retries and a circuit breaker; the conformance suite wants neither (a test must see each refusal) but
must watch every decoded reply and skip methods the target lacks; Locust wants one timed event per
call. Each of those is a layer or an observer chosen by ``ClientOptions``, so nobody subclasses the
client to change its behaviour (as httpx lets one swap transports and attach event hooks).

The layers, outermost first, and why they sit where they do:

=========  ==================================================================================
observe    ``before_call`` (may veto by raising), then one ``CallReport`` per call: the whole
           call, retries and back-off included, is what an application waits for
encode     once per call, outside the retries (the arguments do not change between attempts)
retry      ``run_with_retry`` with the options' policy, budget, sleep and ``on_retry``; only idempotent
           methods (all but ``delete_gallery``) are retried
check      the method's check turns the decoded reply into the typed result or the contract error;
           inside the retries, so a canister-level refusal such as a rate limit is retried
breaker    around the exchange only: a contract error (a check failure) proves the target is up, so
           it never counts towards opening the breaker; absent when ``breaker=None``
send       the connection's ``query_raw``/``update_raw`` and Candid decoding, failures turned into
           ``ArtifactError``s
=========  ==================================================================================

State: a call's ``Exchange`` is created per call on the caller's stack, so concurrent calls (the
uploader's chunk threads, Locust's greenlets) never share one. The stateful parts of the options (the
breaker, the retry budget, the random source, the observers) are shared by every client made from the
same options, on purpose: they describe one target as seen by one client. Nothing here holds a lock
around a call, so a layer may run work of its own concurrently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

from clients.ic.candid import Method, decode_reply, encode_args

from .breaker import CircuitBreaker
from .errors import TargetError, error_from_exception
from .retry import RetryBudget, RetryEvent, RetryPolicy, run_with_retry

__all__ = [
    "NON_IDEMPOTENT",
    "Call",
    "CallObserver",
    "CallReport",
    "CanisterConnection",
    "Check",
    "ClientOptions",
    "Exchange",
    "Handler",
    "RequestKind",
    "compose",
]

T = TypeVar("T")

RequestKind: TypeAlias = Literal["query", "update"]

Check: TypeAlias = Callable[[str, Any], T]
"""Turns ``(method, decoded reply)`` into the typed result, or raises the contract's error."""

Handler: TypeAlias = Callable[["Exchange"], Any]

# delete_gallery's repeat answers "Gallery not found": retrying it after a lost reply would turn a
# success into an error, so it is the one write never retried (see retry.py for the others).
NON_IDEMPOTENT = frozenset({"delete_gallery"})


class CanisterConnection(Protocol):
    """What the client needs of a connection (``clients.ic.Connection`` is one; a test double can be)."""

    @property
    def identity(self) -> Any: ...

    def query_raw(self, canister_id: str, method: str, arg: bytes) -> bytes: ...

    def update_raw(self, canister_id: str, method: str, arg: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Call:
    """A call as observers see it before it is sent."""

    method: str
    args: tuple[Any, ...]
    kind: RequestKind


@dataclass(frozen=True, slots=True)
class CallReport:
    """What happened to one call: given to every observer's ``after_call``.

    ``replies`` are the decoded replies of the attempts that got one, in order (more than one only
    when the call was retried); ``reply_bytes`` counts the Candid bytes of all of them. ``elapsed`` is
    seconds, retries and back-off included. Exactly one of ``result`` (the typed value the method
    returns) and ``error`` is meaningful.
    """

    call: Call
    replies: tuple[Any, ...]
    reply_bytes: int
    elapsed: float
    result: Any = None
    error: Exception | None = None

    @property
    def reply(self) -> Any:
        """The last decoded reply, None when no attempt got one (a transport-level failure)."""
        return self.replies[-1] if self.replies else None


class CallObserver(Protocol):
    """Sees every call of a client; attach with ``ClientOptions(observers=(…,))``.

    ``before_call`` runs before anything is encoded or sent; raising there vetoes the call (the
    exception propagates, nothing is sent and no ``after_call`` runs). ``after_call`` runs once per
    call that got past every ``before_call`` and ended with an ``Exception`` or a result; an
    exception raised there propagates to the caller. Observers run in the order given, on the
    calling thread or greenlet, so they must be safe to call concurrently.
    """

    def before_call(self, call: Call) -> None: ...

    def after_call(self, report: CallReport) -> None: ...


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How a client calls: a value, changed with ``client.with_options(**changes)``.

    ``breaker=None`` means no breaker at all (the conformance suite, Locust, the uploader's clean-up
    ``cancel_upload``); ``budget=None`` means retries are bounded by the policy alone. The defaults
    are fresh per options value, and shared by every client derived from it with ``with_options``.
    """

    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    budget: RetryBudget | None = field(default_factory=RetryBudget)
    breaker: CircuitBreaker | None = field(default_factory=CircuitBreaker)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    on_retry: Callable[[RetryEvent], None] | None = None
    observers: tuple[CallObserver, ...] = ()


@dataclass(slots=True)
class Exchange:
    """One call in flight: what the layers hand each other (one per call, never shared)."""

    call: Call
    signature: Method
    check: Check[Any]
    arg: bytes = b""
    replies: list[Any] = field(default_factory=list)
    reply_bytes: int = 0


def compose(connection: CanisterConnection, canister_id: str, options: ClientOptions) -> Handler:
    """The pipeline for these options, built inside out (see the module docstring for the order)."""
    handler: Handler = partial(_send, connection, canister_id)
    if options.breaker is not None:
        handler = partial(_guard, options.breaker, handler)
    handler = partial(_encode, partial(_retry, options, partial(_check, handler)))
    if options.observers:
        handler = partial(_observe, options.observers, handler)
    return handler


def _send(connection: CanisterConnection, canister_id: str, exchange: Exchange) -> Any:
    method = exchange.call.method
    transmit = connection.query_raw if exchange.call.kind == "query" else connection.update_raw
    try:
        data = transmit(canister_id, method, exchange.arg)
        exchange.reply_bytes += len(data)
        reply = decode_reply(data, exchange.signature.ret_types)
    except ValueError as exc:
        raise TargetError(f"undecodable reply: {exc}", method=method, kind="protocol") from exc
    except Exception as exc:
        wrapped = error_from_exception(exc, method)
        if wrapped is None or wrapped is exc:
            raise
        raise wrapped from exc
    exchange.replies.append(reply)
    return reply


def _guard(breaker: CircuitBreaker, inner: Handler, exchange: Exchange) -> Any:
    return breaker.call(lambda: inner(exchange), exchange.call.method)


def _check(inner: Handler, exchange: Exchange) -> Any:
    reply = inner(exchange)
    try:
        return exchange.check(exchange.call.method, reply)
    except (ValueError, KeyError, TypeError) as exc:
        message = f"reply does not match the contract: {exc}"
        raise TargetError(message, method=exchange.call.method, kind="protocol") from exc


def _retry(options: ClientOptions, inner: Handler, exchange: Exchange) -> Any:
    method = exchange.call.method
    return run_with_retry(
        lambda: inner(exchange),
        options.retry_policy,
        idempotent=method not in NON_IDEMPOTENT,
        sleep=options.sleep,
        rng=options.rng,
        budget=options.budget,
        on_retry=options.on_retry,
        operation=method,
    )


def _encode(inner: Handler, exchange: Exchange) -> Any:
    exchange.arg = encode_args(exchange.signature.arg_types, exchange.call.args)
    return inner(exchange)


def _observe(observers: tuple[CallObserver, ...], inner: Handler, exchange: Exchange) -> Any:
    for observer in observers:
        observer.before_call(exchange.call)
    started = time.perf_counter()
    result: Any = None
    error: Exception | None = None
    try:
        result = inner(exchange)
    except Exception as exc:  # an interrupt (BaseException) is no outcome to report
        error = exc
    elapsed = time.perf_counter() - started
    report = CallReport(exchange.call, tuple(exchange.replies), exchange.reply_bytes, elapsed, result, error)
    for observer in observers:
        observer.after_call(report)
    if error is not None:
        raise error
    return result
