"""Python client of the Store Forever artifact canister (issue 4; seed tasks 1.7, 3.1–3.4).

Layers, each usable alone: ``types`` (the contract's records as dataclasses), ``errors`` (one
exception tree and ``is_retryable_error``), ``retry`` (policy, budget, ``run_with_retry``),
``breaker`` (circuit breaker), ``pipeline`` (the call path: ``ClientOptions``, the layers, the
``CallObserver`` hook), ``client`` (``ArtifactClient``: one typed method per canister method),
``uploader`` (chunked, resumable, verified ``upload``), ``manifest`` and ``orchestrator``
(``store_gallery``: a whole gallery, memory by memory, with storage-edge output). The command line
lives in ``clients.cli``.
"""

from .breaker import BreakerState, CircuitBreaker
from .client import (
    DEFAULT_CANISTER_ID,
    ArtifactClient,
    TargetLimits,
    canonical_metadata_json,
    load_artifact_did,
    metadata_idempotency_key,
)
from .errors import (
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
    is_retryable_error,
)
from .manifest import Manifest, ManifestError, MemorySpec, load_manifest, parse_manifest
from .orchestrator import GalleryOutcome, MemoryOutcome, StorageEdge, store_gallery
from .pipeline import Call, CallObserver, CallReport, CanisterConnection, ClientOptions
from .retry import RetryBudget, RetryEvent, RetryPolicy, run_with_retry
from .types import MemoryType, SimpleMemoryMetadata
from .uploader import ProgressEvent, RateMeter, UploadResult, upload

__all__ = [
    "DEFAULT_CANISTER_ID",
    "AlreadyExistsError",
    "ArtifactClient",
    "ArtifactError",
    "BreakerState",
    "Call",
    "CallObserver",
    "CallReport",
    "CanisterConnection",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClientOptions",
    "GalleryOutcome",
    "IntegrityError",
    "InvalidHashError",
    "Manifest",
    "ManifestError",
    "MemoryOutcome",
    "MemorySpec",
    "MemoryType",
    "NotFoundError",
    "ProgressEvent",
    "QuotaExceededError",
    "RateLimitedError",
    "RateMeter",
    "RejectedError",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "SessionExpiredError",
    "SimpleMemoryMetadata",
    "StorageEdge",
    "TargetError",
    "TargetLimits",
    "TransientError",
    "UnauthorizedError",
    "UploadResult",
    "ValidationError",
    "canonical_metadata_json",
    "is_retryable_error",
    "load_artifact_did",
    "load_manifest",
    "metadata_idempotency_key",
    "parse_manifest",
    "run_with_retry",
    "store_gallery",
    "upload",
]
