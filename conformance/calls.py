"""`SuiteClient`: the engineers' `ArtifactClient`, observed, never replaced.

The suite must fail where an application would fail, so every call goes through
`clients.artifact.ArtifactClient` (its Candid types, its reply checks, its error classes). The
subclass changes four things only, all around the client's single call path (`_invoke`):

* no retries and a breaker that never opens: a conformance test must see each refusal the target
  gives, not the client's recovery from it (a retried rate-limit error would hide the rule under test);
* a call to a contract method the target does not declare skips the test as "not implemented by
  target" instead of erroring, whatever the test's markers say;
* the decoded reply (the `ICPResult` envelope as it came off the wire, before the client unwraps it)
  is kept in `last_raw` for error-model assertions and recorded for parity snapshots;
* the bytes each upload sends are remembered and, after every successful commit, compared with what
  the target stored where it can say (`stored_bytes.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

import pytest

from clients.artifact.breaker import CircuitBreaker
from clients.artifact.client import ArtifactClient
from clients.artifact.errors import ArtifactError
from clients.artifact.retry import RetryPolicy

from .catalog import NOT_IMPLEMENTED
from .snapshot import Recorder
from .stored_bytes import StoredBytes

__all__ = ["SuiteClient"]

T = TypeVar("T")
_NEVER_OPENS = 1_000_000_000


class SuiteClient(ArtifactClient):
    """One principal talking to the target; `label` names it in snapshots ("alice", "anonymous")."""

    def __init__(
        self,
        connection: Any,
        canister_id: str,
        *,
        label: str,
        target_methods: Collection[str],
        recorder: Recorder | None,
        did_text: str,
        stored_bytes: StoredBytes | None = None,
    ) -> None:
        super().__init__(
            connection,
            canister_id,
            retry_policy=RetryPolicy.none(),
            breaker=CircuitBreaker(failure_threshold=_NEVER_OPENS),
            did_text=did_text,
        )
        self.label = label
        self._target_methods = frozenset(target_methods)
        self._recorder = recorder
        self._local = threading.local()
        self._stored_bytes = stored_bytes

    def observe(self, recorder: Recorder | None) -> None:
        """Record into another test's recorder (clients made by module-scoped fixtures)."""
        self._recorder = recorder

    def call_icp(self, method: str, *args: Any) -> Any:
        """Call an `ICPResult` method with arguments the typed method would not send as given
        (e.g. an empty idempotency key, which `upsert_metadata` replaces by a computed one); the
        payload is unwrapped and failures raised exactly as the typed methods do."""
        return self._invoke(method, args, lambda raw: self._payload(method, raw))

    @property
    def last_raw(self) -> Any:
        """The last decoded reply this thread received (None after a transport-level failure)."""
        return getattr(self._local, "raw", None)

    def _invoke(self, method: str, args: Sequence[Any], check: Callable[[Any], T]) -> T:
        if method not in self._target_methods:
            pytest.skip(f"{NOT_IMPLEMENTED}{method}")
        seen: list[Any] = []

        def observed(raw: Any) -> T:
            seen.append(raw)
            return check(raw)

        self._local.raw = None
        try:
            result = super()._invoke(method, args, observed)
        except ArtifactError as exc:
            self._local.raw = seen[-1] if seen else None
            self._record(method, args, seen, exc)
            raise
        self._local.raw = seen[-1] if seen else None
        self._record(method, args, seen, None)
        if self._stored_bytes is not None:
            self._stored_bytes.observe(method, args, result)
        return result

    def _record(self, method: str, args: Sequence[Any], seen: list[Any], exc: ArtifactError | None) -> None:
        if self._recorder is None:
            return
        entry: dict[str, Any] = {"call": method, "as": self.label, "args": list(args)}
        if seen:
            entry["reply"] = seen[-1]
        elif exc is not None:
            # No reply to show: the target rejected the call or answered outside the protocol.
            entry["failure"] = {
                "kind": exc.kind,
                "reject_code": exc.reject_code,
                "http_status": exc.http_status,
            }
        self._recorder.record(entry)
