"""``is_retryable_error``: the one classification retries, the breaker and exit codes rely on."""

from __future__ import annotations

import httpx
import pytest

from clients.artifact.errors import (
    AlreadyExistsError,
    ArtifactError,
    CircuitOpenError,
    IntegrityError,
    InvalidHashError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RejectedError,
    SessionExpiredError,
    TargetError,
    TransientError,
    UnauthorizedError,
    ValidationError,
    error_from_code,
    error_from_exception,
    error_from_message,
    is_retryable_error,
)
from clients.artifact.types import ErrorCode
from clients.ic.errors import (
    CertificateError,
    HTTPStatusError,
    PollTimeout,
    ProtocolError,
    QuerySignatureError,
    Reject,
    TransportError,
)

URL = "http://127.0.0.1:4943/api/v4/canister/x/call"

CONNECTION_CASES = [
    (TransportError(URL, httpx.ConnectError("refused")), True, TransientError, "transport"),
    (ConnectionResetError("reset"), True, TransientError, "transport"),
    (TimeoutError("slow"), True, TransientError, "transport"),
    (httpx.ReadTimeout("slow"), True, TransientError, "transport"),
    (HTTPStatusError(URL, 429, "slow down"), True, RateLimitedError, "http_429"),
    (HTTPStatusError(URL, 500, "boom"), True, TransientError, "http_5xx"),
    (HTTPStatusError(URL, 503, "unavailable"), True, TransientError, "http_5xx"),
    (HTTPStatusError(URL, 400, "bad envelope"), False, TargetError, "http_4xx"),
    (HTTPStatusError(URL, 403, "forbidden"), False, TargetError, "http_4xx"),
    (Reject(2, "transient"), True, TransientError, "reject_transient"),
    (Reject(6, "unknown outcome"), True, TransientError, "reject_unknown"),
    (Reject(1, "fatal"), False, RejectedError, "rejected"),
    (Reject(3, "no such canister"), False, RejectedError, "rejected"),
    (Reject(4, "canister said no"), False, RejectedError, "rejected"),
    (Reject(5, "trapped", "IC0503", certified=True), False, RejectedError, "trap"),
    (PollTimeout(b"\x01", 60.0, "processing"), True, TransientError, "poll_timeout"),
    (CertificateError("bad signature"), False, IntegrityError, "certificate"),
    (QuerySignatureError("bad node signature"), False, IntegrityError, "query_signature"),
    (ProtocolError("not CBOR"), False, TargetError, "protocol"),
]


@pytest.mark.parametrize(
    ("exc", "retryable", "cls", "kind"),
    CONNECTION_CASES,
    ids=[f"{type(c[0]).__name__}-{c[3]}" for c in CONNECTION_CASES],
)
def test_connection_errors(exc: BaseException, retryable: bool, cls: type, kind: str) -> None:
    assert is_retryable_error(exc) is retryable
    wrapped = error_from_exception(exc, "put_chunk")
    assert wrapped is not None and isinstance(wrapped, cls)
    assert wrapped.kind == kind
    assert wrapped.code is None
    assert wrapped.method == "put_chunk"
    assert wrapped.category == ("retryable" if retryable else "permanent")


def test_reject_and_http_details_are_kept() -> None:
    reject = error_from_exception(Reject(2, "x"))
    assert reject is not None and reject.reject_code == 2
    http = error_from_exception(HTTPStatusError(URL, 503, "x"))
    assert http is not None and http.http_status == 503


CODE_CASES = [
    (ErrorCode("Unauthorized"), False, UnauthorizedError),
    (ErrorCode("NotFound"), False, NotFoundError),
    (ErrorCode("InvalidHash"), False, InvalidHashError),
    (ErrorCode("AlreadyExists"), False, AlreadyExistsError),
    (ErrorCode("Internal", "Rate limit exceeded: 3 concurrent uploads (max 3)"), True, RateLimitedError),
    (ErrorCode("Internal", "Quota exceeded: 1000 uploads in 24 hours"), False, QuotaExceededError),
    (ErrorCode("Internal", "Session expired"), False, SessionExpiredError),
    (ErrorCode("Internal", "Invalid UUID: 'x' is not a canonical lowercase UUID v4"), False, ValidationError),
    (ErrorCode("Internal", "Invalid chunk count"), False, ValidationError),
    (ErrorCode("Internal", "Invalid chunk index"), False, ValidationError),
    (ErrorCode("Internal", "Invalid idempotency key: 'k' is not of the form"), False, ValidationError),
    (ErrorCode("Internal", "Invalid cursor"), False, ValidationError),
    (ErrorCode("Internal", "File size exceeds 100MB limit"), False, ValidationError),
    (ErrorCode("Internal", "Chunk size exceeds 1MB limit"), False, ValidationError),
    (ErrorCode("Internal", "Upload exceeds declared total size"), False, ValidationError),
    (ErrorCode("Internal", "Metadata too large: 70000 bytes encoded (max 65536)"), False, ValidationError),
    (ErrorCode("Internal", "Missing chunks: 2 of 3 not received"), False, ValidationError),
    (ErrorCode("Internal", "Size mismatch: received 1 bytes, expected 2"), False, ValidationError),
    (ErrorCode("Internal", "stable memory busy, try again"), True, TransientError),
    (ErrorCode("Internal", None), True, TransientError),
]


@pytest.mark.parametrize(("code", "retryable", "cls"), CODE_CASES, ids=[str(c[0])[:40] for c in CODE_CASES])
def test_icp_error_codes(code: ErrorCode, retryable: bool, cls: type) -> None:
    err = error_from_code(code, "begin_asset_upload")
    assert type(err) is cls
    assert err.code == code.kind
    assert is_retryable_error(err) is retryable
    assert err.retryable is retryable
    if code.detail:
        assert err.message == code.detail


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Unauthorized: the anonymous principal cannot write", UnauthorizedError),
        ("Invalid UUID: 'x'", ValidationError),
        ("Invalid hash: blob_ref.hash is not the SHA-256 of data", InvalidHashError),
        ("Gallery not found: 123", NotFoundError),
        ("something else", ArtifactError),
    ],
)
def test_plain_record_messages_are_permanent(message: str, cls: type) -> None:
    err = error_from_message(message, "store_gallery_forever")
    assert type(err) is cls
    assert err.code is None
    assert not is_retryable_error(err)


def test_circuit_open_is_retryable_and_programming_errors_are_not() -> None:
    assert is_retryable_error(CircuitOpenError(3.0))
    assert not is_retryable_error(ValueError("bug"))
    assert not is_retryable_error(KeyError("bug"))
    assert error_from_exception(ValueError("bug")) is None


def test_to_json_is_complete() -> None:
    err = error_from_code(ErrorCode("Internal", "Rate limit exceeded: 3"), "begin_asset_upload")
    doc = err.to_json()
    assert doc["type"] == "RateLimitedError"
    assert doc["category"] == "retryable"
    assert doc["code"] == "Internal"
    assert doc["method"] == "begin_asset_upload"
