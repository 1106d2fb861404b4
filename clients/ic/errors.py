"""Every failure the connection layer reports, as one small tree.

Callers catch by branch, so a test can tell "the target said no" (``Reject``) from "the target is
lying or misconfigured" (``VerificationError``) from "we never got an answer" (``TransportError``)::

    ICError
    ├── TransportError        the request did not complete: connect/read failure, timeout (carries url, cause)
    ├── HTTPStatusError       the target answered with a non-2xx status, e.g. the emulator's 400 texts
    ├── ProtocolError         the target answered 2xx, but the body is not what the interface specifies
    ├── Reject                the canister (or the replica on its behalf) rejected the call
    ├── PollTimeout           an update was accepted but no terminal status arrived in time
    └── VerificationError     a cryptographic check failed; never retry these silently
        ├── CertificateError      certificate signature, delegation, time or canister range
        └── QuerySignatureError   node signature on a query response

httpx exceptions are translated once, in ``Connection``, and always chained with ``from exc``.
Programmer mistakes (wrong argument count or types for a Candid call) stay ordinary ``TypeError``
/ ``ValueError``: they are not something the target did.
"""

from __future__ import annotations

__all__ = [
    "CertificateError",
    "HTTPStatusError",
    "ICError",
    "PollTimeout",
    "ProtocolError",
    "QuerySignatureError",
    "Reject",
    "TransportError",
    "VerificationError",
]


class ICError(Exception):
    """Base class: anything that went wrong talking to an IC target."""


class TransportError(ICError):
    """The HTTP exchange itself failed (connection refused, reset, timeout)."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"{url}: {type(cause).__name__}: {cause}")
        self.url = url
        self.cause = cause


class HTTPStatusError(ICError):
    """The target answered with a status the interface uses for envelope-level refusals (4xx/5xx)."""

    def __init__(self, url: str, status_code: int, body: str) -> None:
        super().__init__(f"{url}: HTTP {status_code}: {body}")
        self.url = url
        self.status_code = status_code
        self.body = body


class ProtocolError(ICError):
    """A 2xx body that does not follow the IC HTTP interface (bad CBOR, missing fields)."""


class Reject(ICError):
    """The call reached the replica and was rejected.

    ``certified`` is True only when the reject was read from a verified certificate (the certified
    request status of an update); query rejects and non-replicated rejections are not certified.
    """

    def __init__(
        self,
        reject_code: int,
        reject_message: str,
        error_code: str | None = None,
        *,
        certified: bool = False,
    ) -> None:
        label = f"{reject_code}/{error_code}" if error_code else str(reject_code)
        super().__init__(f"reject {label}: {reject_message}")
        self.reject_code = reject_code
        self.reject_message = reject_message
        self.error_code = error_code
        self.certified = certified


class PollTimeout(ICError):
    """An update was accepted but did not reach a terminal status before the deadline."""

    def __init__(self, request_id: bytes, waited: float, last_status: str | None) -> None:
        super().__init__(
            f"request 0x{request_id.hex()} not terminal after {waited:.1f}s (last status: {last_status})"
        )
        self.request_id = request_id
        self.waited = waited
        self.last_status = last_status


class VerificationError(ICError):
    """A cryptographic or freshness check on the target's answer failed."""


class CertificateError(VerificationError):
    """A certificate failed verification against the configured root key."""


class QuerySignatureError(VerificationError):
    """A query response's node signature (or its timestamp) failed verification."""
