"""Failures of the artifact client, each with a category that decides whether retrying can help.

Callers catch one type (``ArtifactError``) and ask one question (``is_retryable_error``): the retry
loop, the circuit breaker, the uploader and the CLI's exit codes all depend on the same answer, so it
is computed in exactly one place (seed task 1.7) from this table:

=====================================================  =====================  =========  =============
what failed                                            class                  ``code``   category
=====================================================  =====================  =========  =============
``ICPErrorCode::Unauthorized``                         ``UnauthorizedError``  tag        permanent
``ICPErrorCode::NotFound``                             ``NotFoundError``      tag        permanent
``ICPErrorCode::InvalidHash``                          ``InvalidHashError``   tag        permanent
``ICPErrorCode::AlreadyExists``                        ``AlreadyExistsError`` tag        permanent
``Internal("Rate limit exceeded …")``                  ``RateLimitedError``   Internal   retryable
``Internal("Quota exceeded …")``                       ``QuotaExceededError`` Internal   permanent
``Internal("Session expired")``                        ``SessionExpiredError`` Internal  permanent
``Internal`` validation texts: Invalid UUID / chunk    ``ValidationError``    Internal   permanent
count / chunk index / idempotency key / cursor, File
size exceeds, Chunk size exceeds, Upload exceeds
declared total size, Metadata too large, Missing
chunks, Size mismatch
any other ``Internal(text)`` (transient, e.g. a trap   ``TransientError``     Internal   retryable
turned into an error by the canister, "try again")
plain-record failure ``success = false`` + message     by message prefix:     None       permanent
                                                       Unauthorized… /
                                                       Invalid UUID… /
                                                       Invalid hash… /
                                                       …not found → the
                                                       classes above, else
                                                       ``ArtifactError``
``TransportError`` (connect/read failure, timeout),    ``TransientError``     None       retryable
``ConnectionError``/``TimeoutError``/httpx transport
HTTP 429                                               ``RateLimitedError``   None       retryable
HTTP 5xx                                               ``TransientError``     None       retryable
other HTTP 4xx                                         ``TargetError``        None       permanent
reject code 2 (SYS_TRANSIENT)                          ``TransientError``     None       retryable
reject code 6 (SYS_UNKNOWN: outcome unknown)           ``TransientError``     None       retryable
reject codes 1, 3, 4 (fatal, no such canister or       ``RejectedError``      None       permanent
method, canister reject)
reject code 5 (CANISTER_ERROR: a trap)                 ``RejectedError``      None       permanent
``PollTimeout`` (accepted, no terminal status yet)     ``TransientError``     None       retryable
certificate / query-signature verification failure    ``IntegrityError``     None       permanent
local integrity checks (hash or presence after         ``IntegrityError``     None       permanent
commit)
``ProtocolError`` (a 2xx body that is not IC)          ``TargetError``        None       permanent
``CircuitOpenError`` (the breaker refused to call)     ``CircuitOpenError``   None       retryable
anything else (a programming error)                    not wrapped            —          permanent
=====================================================  =====================  =========  =============

Why reject 6 is retryable though the seed only names code 2: it means "the outcome is unknown", and
the client only ever retries idempotent operations, for which trying again is exactly right. Why a
canister trap (5) is not: the same message would trap the same way. Why verification failures are
never retried: a target that fails signature checks is lying or misconfigured, and retrying would
hide it.
"""

from __future__ import annotations

from typing import Literal

import httpx

from clients.ic.errors import (
    HTTPStatusError,
    ICError,
    PollTimeout,
    ProtocolError,
    QuerySignatureError,
    Reject,
    TransportError,
    VerificationError,
)

from .types import ErrorCode

__all__ = [
    "AlreadyExistsError",
    "ArtifactError",
    "Category",
    "CircuitOpenError",
    "IntegrityError",
    "InvalidHashError",
    "NotFoundError",
    "QuotaExceededError",
    "RateLimitedError",
    "RejectedError",
    "SessionExpiredError",
    "TargetError",
    "TransientError",
    "UnauthorizedError",
    "ValidationError",
    "error_from_code",
    "error_from_exception",
    "error_from_message",
    "is_retryable_error",
]

Category = Literal["retryable", "permanent"]


class ArtifactError(Exception):
    """A failed artifact operation.

    ``code`` is the ``ICPErrorCode`` tag when the canister answered with one (``"Internal"`` for its
    texts), else None. ``kind`` is a finer, stable label for logs and ``--json`` output. ``attempts``
    and ``retries_exhausted`` are filled in by the retry loop: the error raised after the last retry is
    the operation's own error, not a wrapper, so callers can still match on its class.
    """

    default_category: Category = "permanent"
    default_kind = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        category: Category | None = None,
        kind: str | None = None,
        method: str | None = None,
        reject_code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"{method}: {message}" if method else message)
        self.reject_code = reject_code
        self.http_status = http_status
        self.message = message
        self.code = code
        self.category: Category = category or self.default_category
        self.kind = kind or self.default_kind
        self.method = method
        self.attempts = 1
        self.retries_exhausted = False

    @property
    def retryable(self) -> bool:
        return self.category == "retryable"

    def to_json(self) -> dict[str, object]:
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "category": self.category,
            "kind": self.kind,
            "method": self.method,
            "reject_code": self.reject_code,
            "http_status": self.http_status,
            "attempts": self.attempts,
            "retries_exhausted": self.retries_exhausted,
        }


class UnauthorizedError(ArtifactError):
    default_kind = "unauthorized"


class NotFoundError(ArtifactError):
    default_kind = "not_found"


class InvalidHashError(ArtifactError):
    default_kind = "invalid_hash"


class AlreadyExistsError(ArtifactError):
    default_kind = "already_exists"


class ValidationError(ArtifactError):
    """The request broke a contract rule (ids, sizes, counts, keys); sending it again cannot help."""

    default_kind = "validation"


class QuotaExceededError(ArtifactError):
    """Requirement 22.3: daily uploads or stored bytes used up; waits of seconds do not help."""

    default_kind = "quota_exceeded"


class SessionExpiredError(ArtifactError):
    """The upload session outlived its lifetime; the uploader starts a new one instead."""

    default_kind = "session_expired"


class RateLimitedError(ArtifactError):
    """Too many concurrent uploads, or HTTP 429: backing off is the documented remedy (20.3)."""

    default_category: Category = "retryable"
    default_kind = "rate_limited"


class TransientError(ArtifactError):
    default_category: Category = "retryable"
    default_kind = "transient"


class RejectedError(ArtifactError):
    """The replica rejected the call with a non-transient reject code (``kind`` ``trap`` for code 5)."""

    default_kind = "rejected"


class TargetError(ArtifactError):
    """The target answered in a way the protocol does not allow (bad body, 4xx other than 429)."""

    default_kind = "target"


class IntegrityError(ArtifactError):
    """A verification failed: certificate or signature, or the stored asset is not what was sent."""

    default_kind = "integrity"


class CircuitOpenError(ArtifactError):
    """The circuit breaker is open: the target is temporarily unavailable, no call was made."""

    default_category: Category = "retryable"
    default_kind = "circuit_open"

    def __init__(self, retry_after: float, method: str | None = None) -> None:
        super().__init__(
            f"target temporarily unavailable (circuit open); retry in {max(retry_after, 0.0):.1f}s",
            method=method,
        )
        self.retry_after = retry_after


_CODE_CLASSES: dict[str, type[ArtifactError]] = {
    "Unauthorized": UnauthorizedError,
    "NotFound": NotFoundError,
    "InvalidHash": InvalidHashError,
    "AlreadyExists": AlreadyExistsError,
}

# Prefixes of the canister's Internal texts (spec §3, §5), compared case-insensitively.
_INTERNAL_PREFIXES: tuple[tuple[str, type[ArtifactError]], ...] = (
    ("rate limit exceeded", RateLimitedError),
    ("quota exceeded", QuotaExceededError),
    ("session expired", SessionExpiredError),
    ("invalid uuid", ValidationError),
    ("invalid chunk count", ValidationError),
    ("invalid chunk index", ValidationError),
    ("invalid idempotency key", ValidationError),
    ("invalid cursor", ValidationError),
    ("file size exceeds", ValidationError),
    ("chunk size exceeds", ValidationError),
    ("upload exceeds declared total size", ValidationError),
    ("metadata too large", ValidationError),
    ("missing chunks", ValidationError),
    ("size mismatch", ValidationError),
)


def error_from_code(code: ErrorCode, method: str | None = None) -> ArtifactError:
    """The exception for an ``ICPErrorCode`` a canister answered with."""
    if code.kind in _CODE_CLASSES:
        return _CODE_CLASSES[code.kind](code.kind, code=code.kind, method=method)
    text = code.detail or ""
    lowered = text.strip().lower()
    for prefix, cls in _INTERNAL_PREFIXES:
        if lowered.startswith(prefix):
            return cls(text, code=code.kind, method=method)
    return TransientError(text or code.kind, code=code.kind, method=method, kind="internal")


def error_from_message(message: str, method: str | None = None) -> ArtifactError:
    """The exception for a plain-record failure (``success = false`` with a message, no code)."""
    lowered = message.strip().lower()
    if lowered.startswith("unauthorized"):
        return UnauthorizedError(message, method=method)
    if lowered.startswith("invalid uuid"):
        return ValidationError(message, method=method)
    if lowered.startswith("invalid hash"):
        return InvalidHashError(message, method=method)
    if "not found" in lowered.split(":", 1)[0]:
        return NotFoundError(message, method=method)
    return ArtifactError(message, method=method, kind="refused")


def error_from_exception(exc: BaseException, method: str | None = None) -> ArtifactError | None:
    """The ``ArtifactError`` for a connection-layer or network exception; None for anything else.

    The original exception is not chained here; callers ``raise … from exc``.
    """
    if isinstance(exc, ArtifactError):
        return exc
    if isinstance(exc, TransportError | ConnectionError | TimeoutError | httpx.TransportError):
        return TransientError(str(exc), method=method, kind="transport")
    if isinstance(exc, HTTPStatusError):
        status = exc.status_code
        if status == 429:
            return RateLimitedError(str(exc), method=method, kind="http_429", http_status=status)
        if status >= 500:
            return TransientError(str(exc), method=method, kind="http_5xx", http_status=status)
        return TargetError(str(exc), method=method, kind="http_4xx", http_status=status)
    if isinstance(exc, Reject):
        if exc.reject_code in (2, 6):
            kind = "reject_transient" if exc.reject_code == 2 else "reject_unknown"
            return TransientError(str(exc), method=method, kind=kind, reject_code=exc.reject_code)
        kind = "trap" if exc.reject_code == 5 else "rejected"
        return RejectedError(str(exc), reject_code=exc.reject_code, method=method, kind=kind)
    if isinstance(exc, PollTimeout):
        return TransientError(str(exc), method=method, kind="poll_timeout")
    if isinstance(exc, VerificationError):
        kind = "query_signature" if isinstance(exc, QuerySignatureError) else "certificate"
        return IntegrityError(str(exc), method=method, kind=kind)
    if isinstance(exc, ProtocolError):
        return TargetError(str(exc), method=method, kind="protocol")
    if isinstance(exc, ICError):
        return TargetError(str(exc), method=method)
    return None


def is_retryable_error(exc: BaseException) -> bool:
    """True when trying the same idempotent operation again may succeed (see the module table)."""
    wrapped = error_from_exception(exc)
    return wrapped is not None and wrapped.category == "retryable"
